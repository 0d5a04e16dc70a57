/* host_steady.c: is this host steady enough to time short calls on? Issue 15's question, asked
 * without OpenCL. One thread per CPU (pinned), two loops, each run for a few seconds and sampled
 * in windows of 100 ms:
 *   fma    independent FMAs on registers only (12 vector accumulators): the core's FMA throughput,
 *          which no memory and no other thread's loads can slow;
 *   score  the shape of cl/flash_cpu.cl's score loop as PoCL compiles it on AVX2 (objdump of the
 *          built kernel): per step two query vectors loaded and four keys broadcast from
 * L1-resident rows, eight FMAs into eight accumulators. Load-heavy, as every register-blocked GEMM
 *          loop with 16 vector registers is.
 * For each loop and CPU it prints the min / median / max GFLOP/s over the windows and the
 * slowest / fastest window. If `fma` is steady and `score` is not, something outside this
 * process (on a VM: another guest on the same physical core) competes for the core's load
 * and cache ports, and no launch shape or thread placement inside the process removes that.
 *
 *   cc -O3 -march=native -pthread -o /tmp/host_steady bench/host_steady.c
 *   /tmp/host_steady [seconds per loop, default 4] [window ms, default 100]
 *
 * Written with GCC/Clang vector extensions (8 floats, 32 bytes) so that it builds on any host;
 * -march=native makes the multiply-adds FMAs where the CPU has them. bench/steady.py builds and
 * runs it with --host. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef float v8 __attribute__((vector_size(32), aligned(32)));

/* a * b + c: one FMA instruction where the target has them (compilers do not contract vector
 * expressions reliably), two otherwise. */
#if defined(__FMA__) && defined(__AVX__)
#include <immintrin.h>
static inline v8 fmav(v8 a, v8 b, v8 c) {
    return (v8)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
}
#else
static inline v8 fmav(v8 a, v8 b, v8 c) {
    return a * b + c;
}
#endif
static inline v8 bcast(float x) {
    return (v8){x, x, x, x, x, x, x, x};
}

#define MAX_CPUS   64
#define MAX_WINDOW 4096

static volatile long g_done[MAX_CPUS]; /* inner blocks finished, per thread */
static volatile int g_stop;
static volatile float g_sink;
static int g_loop; /* 0: fma, 1: score */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* FLOPs of one inner block of each loop (what g_done counts). */
#define FMA_STEPS  4096
#define SCORE_KEYS 64
#define SCORE_DIM  64
static const double block_flops[2] = {FMA_STEPS * 12.0 * 8 * 2,
                                      (double)SCORE_KEYS *SCORE_DIM * 2 * 8 * 2};

/* 12 independent chains: enough to cover FMA latency x throughput on current cores. */
static float fma_block(v8 a[12]) {
    const v8 m = {0.999999f, 0.999999f, 0.999999f, 0.999999f,
                  0.999999f, 0.999999f, 0.999999f, 0.999999f};
    const v8 b = {1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f};
    v8 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7],
       a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11];
    for (int k = 0; k < FMA_STEPS; k++) {
        a0 = fmav(a0, m, b), a1 = fmav(a1, m, b), a2 = fmav(a2, m, b), a3 = fmav(a3, m, b);
        a4 = fmav(a4, m, b), a5 = fmav(a5, m, b), a6 = fmav(a6, m, b), a7 = fmav(a7, m, b);
        a8 = fmav(a8, m, b), a9 = fmav(a9, m, b), a10 = fmav(a10, m, b), a11 = fmav(a11, m, b);
    }
    /* Every chain feeds the result, so none is dead code. */
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3, a[4] = a4, a[5] = a5, a[6] = a6, a[7] = a7;
    a[8] = a8, a[9] = a9, a[10] = a10, a[11] = a11;
    const v8 t = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    return t[0];
}

/* S^T = K Q^T for SCORE_KEYS keys of SCORE_DIM dims against 16 query rows (two vectors), four
 * keys at a time: the flash_cpu score loop at block_q 16. */
static float score_block(const float *k, const v8 *q) {
    v8 t = {0};
    for (int j = 0; j < SCORE_KEYS; j += 4) {
        v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
        const float *k0 = k + j * SCORE_DIM, *k1 = k0 + SCORE_DIM, *k2 = k1 + SCORE_DIM,
                    *k3 = k2 + SCORE_DIM;
        for (int c = 0; c < SCORE_DIM; c++) {
            v8 q0 = q[2 * c], q1 = q[2 * c + 1];
#if defined(__x86_64__) && defined(__AVX__)
            /* In registers, as PoCL's code has them: two loads per step, not one per FMA. */
            __asm__("" : "+x"(q0), "+x"(q1));
#endif
            const v8 b0 = bcast(k0[c]), b1 = bcast(k1[c]), b2 = bcast(k2[c]), b3 = bcast(k3[c]);
            a0 = fmav(b0, q0, a0), a1 = fmav(b0, q1, a1), a2 = fmav(b1, q0, a2);
            a3 = fmav(b1, q1, a3), a4 = fmav(b2, q0, a4), a5 = fmav(b2, q1, a5);
            a6 = fmav(b3, q0, a6), a7 = fmav(b3, q1, a7);
        }
        t += a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    }
    return t[0];
}

static void *worker(void *arg) {
    const int id = (int)(long)arg;
    float *k = aligned_alloc(64, sizeof(float) * SCORE_KEYS * SCORE_DIM);
    v8 *q = aligned_alloc(64, sizeof(v8) * 2 * SCORE_DIM);
    v8 a[12];
    if (!k || !q) {
        free(k);
        free(q);
        return NULL;
    }
    for (int i = 0; i < SCORE_KEYS * SCORE_DIM; i++) k[i] = 1e-3f * (float)(i % 97);
    for (int i = 0; i < 2 * SCORE_DIM; i++)
        for (int l = 0; l < 8; l++) q[i][l] = 1e-3f * (float)((i + l) % 89);
    for (int i = 0; i < 12; i++)
        for (int l = 0; l < 8; l++) a[i][l] = (float)(i + l);
    float x = 0.0f;
    while (!g_stop) {
        x += g_loop == 0 ? fma_block(a) : score_block(k, q);
        g_done[id]++;
    }
    g_sink = x;
    free(k);
    free(q);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const double secs = argc > 1 ? atof(argv[1]) : 4.0;
    const double window = (argc > 2 ? atof(argv[2]) : 100.0) * 1e-3;
    if (!(secs > 0) || !(window > 0) || secs / window > MAX_WINDOW) {
        fprintf(stderr,
                "usage: host_steady [seconds per loop > 0] [window ms > 0], at most %d "
                "windows\n",
                MAX_WINDOW);
        return 2;
    }
    cpu_set_t allowed;
    int cpus[MAX_CPUS], n = 0;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
        perror("sched_getaffinity");
        return 1;
    }
    for (int c = 0; c < CPU_SETSIZE && n < MAX_CPUS; c++)
        if (CPU_ISSET(c, &allowed)) cpus[n++] = c;
    static double rate[MAX_CPUS][MAX_WINDOW];
    const char *names[2] = {"fma", "score"};
    printf("host_steady: %d CPUs, %.1f s per loop, %.0f ms windows (GFLOP/s per CPU)\n", n, secs,
           window * 1e3);
    for (g_loop = 0; g_loop < 2; g_loop++) {
        pthread_t th[MAX_CPUS];
        g_stop = 0;
        for (int i = 0; i < n; i++) {
            g_done[i] = 0;
            pthread_attr_t at;
            cpu_set_t one;
            pthread_attr_init(&at);
            CPU_ZERO(&one);
            CPU_SET(cpus[i], &one);
            pthread_attr_setaffinity_np(&at, sizeof one, &one);
            if (pthread_create(&th[i], &at, worker, (void *)(long)i) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                return 1;
            }
            pthread_attr_destroy(&at);
        }
        usleep(100000); /* let every thread start and its core settle */
        long prev[MAX_CPUS];
        for (int i = 0; i < n; i++) prev[i] = g_done[i];
        int w = 0;
        double t0 = now_s(), tp = t0;
        while (w < MAX_WINDOW && now_s() - t0 < secs) {
            usleep((useconds_t)(window * 1e6));
            const double tn = now_s();
            for (int i = 0; i < n; i++) {
                const long d = g_done[i];
                rate[i][w] = (double)(d - prev[i]) * block_flops[g_loop] / (tn - tp) * 1e-9;
                prev[i] = d;
            }
            tp = tn, w++;
        }
        g_stop = 1;
        for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
        for (int i = 0; i < n; i++) {
            double s[MAX_WINDOW];
            memcpy(s, rate[i], sizeof(double) * (size_t)w);
            qsort(s, (size_t)w, sizeof(double), cmp_double);
            printf("%-5s cpu %2d: min %6.1f median %6.1f max %6.1f  slowest/fastest window %.2f"
                   " (%d windows)\n",
                   names[g_loop], cpus[i], s[0], s[w / 2], s[w - 1],
                   s[w - 1] > 0 ? s[0] / s[w - 1] : 0.0, w);
        }
    }
    return 0;
}
