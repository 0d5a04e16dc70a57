/* testutil.c: the shared test helpers declared in testutil.h. */
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int tu_passed, tu_failed;

int tu_check(int cond, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", cond ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (cond)
        tu_passed++;
    else
        tu_failed++;
    return cond;
}

int tu_finish(void) {
    printf("%d passed, %d failed\n", tu_passed, tu_failed);
    return (tu_failed == 0 && tu_passed > 0) ? 0 : 1;
}

static uint64_t tu_state;

uint64_t tu_seed(void) {
    if (tu_state == 0) {
        const char *s = getenv("CLATTN_TEST_SEED");
        uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
        if (seed == 0) seed = 0x9E3779B97F4A7C15ull;
        tu_state = seed;
        printf("seed: CLATTN_TEST_SEED=%llu\n", (unsigned long long)seed);
    }
    return tu_state;
}

static uint64_t tu_next(void) {
    tu_seed();
    tu_state ^= tu_state >> 12;
    tu_state ^= tu_state << 25;
    tu_state ^= tu_state >> 27;
    return tu_state * 0x2545F4914F6CDD1Dull;
}

double tu_uniform(void) {
    return (double)(tu_next() >> 11) * (1.0 / 9007199254740992.0);
}

void tu_fill_uniform(float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)tu_uniform();
}

void tu_fill_normal(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) {
        double u1 = tu_uniform(), u2 = tu_uniform();
        if (u1 < 1e-300) u1 = 1e-300;
        x[i] = (float)(scale * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
}

float *tu_alloc_floats(int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!p) {
        printf("FAIL: test could not allocate %lld floats\n", (long long)n);
        exit(1);
    }
    return p;
}

void *tu_alloc_zeroed(size_t bytes) {
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) {
        printf("FAIL: test could not allocate %zu bytes\n", bytes);
        exit(1);
    }
    return p;
}

/* The poison: a quiet NaN with a payload no arithmetic produces from the tests' inputs. */
static const uint32_t poison_bits = 0x7fc0dead;

void tu_poison(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) memcpy(&x[i], &poison_bits, sizeof poison_bits);
}

static int is_poison(const float *x) {
    return memcmp(x, &poison_bits, sizeof poison_bits) == 0;
}

int tu_compare(const char *what, const float *got, const double *ref, int64_t n, double atol,
               double rtol) {
    int64_t bad = 0, worst = -1;
    double worst_excess = -1.0;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i];
        int ok;
        if (isnan(r)) /* NaN expected: a NaN the library wrote, not the poison left in place */
            ok = isnan(g) && !is_poison(&got[i]);
        else if (isinf(r))
            ok = (g == r);
        else if (!isfinite(g))
            ok = 0;
        else
            ok = fabs(g - r) <= atol + rtol * fabs(r);
        if (!ok) bad++;
        double excess = isfinite(g) && isfinite(r) ? fabs(g - r) - (atol + rtol * fabs(r))
                                                   : (ok ? -1.0 : INFINITY);
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (bad) {
        printf("  %s: %lld of %lld elements out of tolerance; worst [%lld] got %.9g want %.9g\n",
               what, (long long)bad, (long long)n, (long long)worst, (double)got[worst],
               ref[worst]);
    }
    return bad == 0 && n > 0;
}

clattn_context *tu_context(void) {
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(NULL, &ctx);
    if (st != CLATTN_SUCCESS) {
        printf("FAIL: no OpenCL context: %s\n", clattn_status_string(st));
        printf("0 passed, 1 failed\n");
        exit(1);
    }
    return ctx;
}

clattn_context *tu_gpu_context(int64_t local_bytes) {
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)local_bytes);
    setenv("CLATTN_LOCAL_MEM_TYPE", "local", 1);
    setenv("CLATTN_LOCAL_MEM_BYTES", b, 1);
    clattn_context *ctx = tu_context();
    unsetenv("CLATTN_LOCAL_MEM_TYPE");
    unsetenv("CLATTN_LOCAL_MEM_BYTES");
    return ctx;
}

/* ---- Storage-type conversions on the host, written independently of the kernels' ---- */

/* float -> binary16, round to nearest even, subnormals and overflow included. */
uint16_t tu_f2h(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00u | (uint16_t)((ax >> 13) & 0x3ffu);
    if (ax >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520 rounds to inf */
    if (ax < 0x38800000u) {                       /* below 2^-14: a multiple of 2^-24 */
        float a;
        memcpy(&a, &ax, 4);
        return sign | (uint16_t)nearbyint((double)a * 16777216.0); /* exact product; RNE */
    }
    uint32_t m = ax - 0x38000000u; /* exponent bias 127 -> 15 */
    m += 0xfffu + ((m >> 13) & 1u);
    return sign | (uint16_t)(m >> 13);
}

float tu_h2f(uint16_t h) {
    const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    float f;
    if (e == 31) {
        const uint32_t x = 0x7f800000u | (m << 13);
        memcpy(&f, &x, 4);
    } else {
        f = e == 0 ? ldexpf((float)m, -24) : ldexpf((float)(m | 0x400u), (int)e - 25);
    }
    return (h & 0x8000u) ? -f : f;
}

uint16_t tu_f2b(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if (isnan(f)) return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

float tu_b2f(uint16_t w) {
    const uint32_t x = (uint32_t)w << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

float tu_round_to(clattn_dtype t, float x) {
    return t == CLATTN_DTYPE_F16    ? tu_h2f(tu_f2h(x))
           : t == CLATTN_DTYPE_BF16 ? tu_b2f(tu_f2b(x))
                                    : x;
}
