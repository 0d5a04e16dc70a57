/* test_vexp.c: cl/common.cl's vector 2^x, e^x, sigmoid and tanh (CLATTN_DEFINE_VEXP, what the
 * RNN gates, the additive step and the softcap compute with) against float64, on float4, float8
 * and float16 alike: random arguments over the whole float exponent range and the edges the
 * kernels rely on (exactly 0 far below 2^-126, finite 2^127 for huge or infinite arguments, +-1
 * and 1 where tanh and sigmoid saturate, NaN kept). The probe kernel is built from the embedded
 * kernel_iface.h and common.cl through CLATTN_KERNEL_DIR, the way every kernel family gets them. */
#include "core/internal.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { FN_EXP2, FN_EXP, FN_SIGMOID, FN_TANH, N_FN };
enum { N_WIDTH = 3 }; /* float16, float8, float4 */
static const char *fn_name[N_FN] = {"exp2", "exp", "sigmoid", "tanh"};
static const int width[N_WIDTH] = {16, 8, 4};

/* out[(fn * 3 + width) * n + i]: each function of x[i] computed in each vector width. */
static const char *probe_src =
    "CLATTN_DEFINE_VEXP(float16, convert_int16) /* flash_cpu.cl's, where VW is 16 */\n"
    "#define VEXP_ALL(T, N, w)                                                      \\\n"
    "    for (int c = 0; c < 16; c += N) {                                          \\\n"
    "        const int i = base + c;                                                \\\n"
    "        const T v = vload##N(0, x + i);                                        \\\n"
    "        vstore##N(clattn_exp2_##T(v), 0, out + (0 * 3 + w) * n + i);           \\\n"
    "        vstore##N(clattn_exp_##T(v), 0, out + (1 * 3 + w) * n + i);            \\\n"
    "        vstore##N(clattn_sigmoid_##T(v), 0, out + (2 * 3 + w) * n + i);        \\\n"
    "        vstore##N(clattn_tanh_##T(v), 0, out + (3 * 3 + w) * n + i);           \\\n"
    "    }\n"
    "__kernel void vexp(__global const float *x, __global float *out, int n) {\n"
    "    const int base = get_global_id(0) * 16;\n"
    "    VEXP_ALL(float16, 16, 0)\n"
    "    VEXP_ALL(float8, 8, 1)\n"
    "    VEXP_ALL(float4, 4, 2)\n"
    "}\n";

static int write_file(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    const int ok = fwrite(text, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Copies the embedded source `name` into dir. */
static int copy_embedded(clattn_context *ctx, const char *dir, const char *name) {
    char *src = NULL, path[256];
    size_t len = 0;
    if (clattn__kernel_source(ctx, name, &src, &len) != CLATTN_SUCCESS) return 0;
    snprintf(path, sizeof path, "%s/%s%s", dir, name, clattn__kernel_file_ext(name));
    const int ok = write_file(path, src, len);
    free(src);
    return ok;
}

/* Runs the probe on x[0..n) (n a multiple of 16); out gets N_FN * N_WIDTH * n floats. */
static int run_probe(clattn_context *ctx, const float *x, int n, float *out) {
    char dir[] = "/tmp/clattn-vexp-XXXXXX", path[256];
    if (!mkdtemp(dir)) return 0;
    snprintf(path, sizeof path, "%s/vexp.cl", dir);
    int ok = copy_embedded(ctx, dir, CLATTN_KERNEL_IFACE) &&
             copy_embedded(ctx, dir, CLATTN_KERNEL_COMMON) &&
             write_file(path, probe_src, strlen(probe_src));
    const char *old = getenv("CLATTN_KERNEL_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("CLATTN_KERNEL_DIR", dir, 1);
    cl_kernel k = NULL;
    cl_mem xm = NULL, om = NULL;
    const size_t obytes = (size_t)N_FN * N_WIDTH * (size_t)n * sizeof(float);
    size_t g = (size_t)n / 16;
    cl_int ni = n;
    ok = ok && clattn__kernel(ctx, "vexp", "", "vexp", &k) == CLATTN_SUCCESS &&
         clattn__upload(ctx, x, (int64_t)n * 4, "vexp x", &xm) == CLATTN_SUCCESS &&
         clattn__alloc(ctx, obytes, CL_MEM_READ_WRITE, NULL, "vexp out", &om) == CLATTN_SUCCESS &&
         clattn__set_args(ctx, k, "vexp", sizeof(cl_mem), &xm, sizeof(cl_mem), &om, sizeof ni, &ni,
                          (size_t)0) == CLATTN_SUCCESS &&
         clattn__launch(ctx, k, 1, &g, NULL, 0, NULL, NULL, "vexp") == CLATTN_SUCCESS &&
         clattn__download(ctx, om, out, obytes, 0, NULL, "vexp out") == CLATTN_SUCCESS;
    if (!ok) printf("  probe: %s\n", clattn_context_last_error(ctx));
    if (k) clReleaseKernel(k);
    clattn__release_mem(&xm), clattn__release_mem(&om);
    if (saved)
        setenv("CLATTN_KERNEL_DIR", saved, 1);
    else
        unsetenv("CLATTN_KERNEL_DIR");
    free(saved);
    const char *names[] = {"vexp", CLATTN_KERNEL_IFACE, CLATTN_KERNEL_COMMON};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s%s", dir, names[i], clattn__kernel_file_ext(names[i]));
        unlink(path);
    }
    rmdir(dir);
    return ok;
}

/* Whether got is the function's value at x within the bound the kernels rely on. */
static int close_enough(int fn, float x, float got) {
    if (isnan(x)) return isnan(got);
    if (isnan(got) || isinf(got)) return 0;
    const double xd = x;
    switch (fn) {
    case FN_EXP2:
    case FN_EXP: {
        /* the kernel's argument of 2^: x itself, or x log2(e) rounded to float as it computes it */
        const double y = fn == FN_EXP2 ? xd : (double)(x * 1.4426950408889634f);
        if (y >= 127.0) return got == 0x1p127f; /* clamped, finite */
        if (y < -126.5) return got == 0.0f;     /* exactly 0 */
        /* The polynomial's relative error, and for e^x that rounding of x log2(e) (up to |x| 6e-8
         * relative); below 2^-125 the product may be subnormal or flushed to 0, which the gates
         * and scores never see. */
        const double ref = fn == FN_EXP2 ? exp2(xd) : exp(xd);
        const double tol = (3e-7 + (fn == FN_EXP ? 1e-7 * fabs(xd) : 0.0)) * ref + 0x1p-125;
        return fabs(got - ref) <= tol;
    }
    case FN_SIGMOID:
        if (x == INFINITY) return got == 1.0f;
        if (x == -INFINITY) return got >= 0.0f && got < 1e-37f;
        return fabs(got - 1.0 / (1.0 + exp(-xd))) <= 2e-7;
    default: /* tanh: exactly +-1 once float cannot tell tanh from it */
        if (fabs(xd) >= 10.0) return got == (x > 0 ? 1.0f : -1.0f);
        return fabs(got - tanh(xd)) <= 2e-7;
    }
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    const float edges[] = {0.0f,
                           -0.0f,
                           1.0f,
                           -1.0f,
                           0.5f,
                           -0.5f,
                           1e-8f,
                           -1e-8f,
                           2e-4f,
                           88.0f,
                           -88.0f,
                           126.0f,
                           126.9f,
                           127.0f,
                           127.5f,
                           128.0f,
                           1000.0f,
                           3e38f,
                           -125.9f,
                           -126.0f,
                           -126.4f,
                           -126.6f,
                           -127.0f,
                           -150.0f,
                           -1000.0f,
                           -3e38f,
                           9.99f,
                           -9.99f,
                           10.0f,
                           -10.0f,
                           20.0f,
                           -20.0f,
                           INFINITY,
                           -INFINITY,
                           NAN,
                           -NAN,
                           0.34657359f,
                           0.5f * 12582912.0f,
                           -0.5f * 12582912.0f};
    const int ne = (int)(sizeof edges / sizeof edges[0]);
    const int n = 4096;
    float *x = tu_alloc_floats(n), *out = tu_alloc_floats((int64_t)N_FN * N_WIDTH * n);
    memcpy(x, edges, sizeof edges);
    /* The rest: uniform over [-140, 140] (every exponent the clamp passes, and past it) and over
     * [-12, 12], where the gates and scores live, in turns. */
    for (int i = ne; i < n; i++) {
        const float r = (float)tu_uniform();
        x[i] = (i & 1) ? 280.0f * r - 140.0f : 24.0f * r - 12.0f;
    }
    tu_poison(out, (int64_t)N_FN * N_WIDTH * n);
    const int ran = run_probe(ctx, x, n, out);
    TU_CHECK(ran, "the probe kernel built from kernel_iface.h and common.cl ran");
    for (int fn = 0; ran && fn < N_FN; fn++)
        for (int w = 0; w < N_WIDTH; w++) {
            const float *o = out + ((int64_t)fn * N_WIDTH + w) * n;
            int bad = 0, first = -1, differ = 0;
            for (int i = 0; i < n; i++) {
                if (!close_enough(fn, x[i], o[i])) bad++, first = first < 0 ? i : first;
                /* every width runs the same arithmetic, so the same bits (or both NaN) */
                const float o16 = out[(int64_t)fn * N_WIDTH * n + i];
                if (memcmp(&o[i], &o16, 4) != 0 && !(isnan(o[i]) && isnan(o16))) differ++;
            }
            if (first >= 0)
                printf("  %s float%d: x = %.9g gives %.9g\n", fn_name[fn], width[w], x[first],
                       o[first]);
            TU_CHECK(bad == 0 && differ == 0,
                     "%s on float%d: %d of %d values out of bounds, %d differ from float16's",
                     fn_name[fn], width[w], bad, n, differ);
        }
    free(x), free(out);
    clattn_context_destroy(ctx);
    return tu_finish();
}
