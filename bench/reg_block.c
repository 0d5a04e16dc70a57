/* reg_block.c: how fast each register blocking of cl/flash_cpu.cl's score loop can run on this
 * host, without OpenCL: NV query-row vectors (8 floats) times JB keys per step, the query
 * vectors loaded and the keys broadcast from L1-resident arrays, NV x JB accumulators, over a
 * 64-dim row, repeated; and, for scale, the same 12 FMAs a step with no loads at all (fma-only:
 * the core's FMA rate). On a core with two FMA pipes of latency 4-5, 8 accumulators may not
 * keep both pipes busy, and NV x JB + NV + 1 vectors must fit the 16 AVX2 registers, so 2 x 4
 * (block_q 16 before 2026-12-02) and 3 x 4 (block_q 24, src/sdpa/cpu_tiles.c) are the shapes to
 * compare; 2 x 6 is there for scale, and 4 x 3 needs 17 registers (it spills: a lower bound).
 *
 *   cc -O3 -march=native -o /tmp/reg_block bench/reg_block.c && /tmp/reg_block
 *
 * It prints GFLOP/s per shape for three passes, on one core (run it under `taskset -c N`, and two
 * copies on two cores to see the rate when both are busy, as the kernels keep them). The shared
 * VMs here move the loaded loops' rate by up to 1.4x between passes while fma-only holds: compare
 * shapes within a pass. AVX2 and FMA are required. Check with objdump that each loop holds
 * NV x JB FMAs, NV + JB loads and no stores (GCC 12 does at -O3). */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define DIM 64

float g_q[DIM * 4 * 8] __attribute__((aligned(64)));
float g_k[8][DIM] __attribute__((aligned(64)));
/* Where the accumulators end up, one slot each: with a single slot GCC kept only the last
 * accumulator's chain (every other store was dead), so every shape ran one FMA per step at the
 * FMA latency and the "rates" were only proportional to NV x JB (found 2026-12-02). */
float g_out[4 * 6][8] __attribute__((aligned(32)));

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* One shape: reps passes over the DIM columns, each step NV loads, JB broadcasts, NV x JB FMAs.
 * The empty asm at each pass makes the array pointers opaque, so the compiler cannot hoist the
 * loads out of the repetitions; it has no memory clobber, which would force the accumulators
 * through the stack at every step. Check with objdump that the loop holds NV x JB FMAs and no
 * stores. */
#define SHAPE(NV, JB)                                                                              \
    static double shape_##NV##x##JB(long reps) {                                                   \
        __m256 acc[JB][NV];                                                                        \
        for (int u = 0; u < JB; u++)                                                               \
            for (int w = 0; w < NV; w++) acc[u][w] = _mm256_setzero_ps();                          \
        const float *q = g_q, *k = &g_k[0][0];                                                     \
        const double t0 = now_s();                                                                 \
        for (long r = 0; r < reps; r++) {                                                          \
            __asm__ volatile("" : "+r"(q), "+r"(k));                                               \
            for (int c = 0; c < DIM; c++) {                                                        \
                __m256 qc[NV];                                                                     \
                for (int w = 0; w < NV; w++) {                                                     \
                    qc[w] = _mm256_load_ps(q + (c * NV + w) * 8);                                  \
                    __asm__("" : "+x"(qc[w])); /* one load per vector, as the kernel: GCC would */ \
                }                              /* otherwise fold a load into every FMA */          \
                for (int u = 0; u < JB; u++) {                                                     \
                    const __m256 kb = _mm256_broadcast_ss(k + u * DIM + c);                        \
                    for (int w = 0; w < NV; w++)                                                   \
                        acc[u][w] = _mm256_fmadd_ps(kb, qc[w], acc[u][w]);                         \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        const double t = now_s() - t0;                                                             \
        for (int u = 0; u < JB; u++)                                                               \
            for (int w = 0; w < NV; w++) _mm256_store_ps(g_out[u * NV + w], acc[u][w]);            \
        return 2.0 * 8 * NV * JB * DIM * (double)reps / t * 1e-9;                                  \
    }

SHAPE(2, 4)
SHAPE(3, 4)
SHAPE(2, 6)
SHAPE(4, 3)

/* 3 x 4's FMAs with the query vectors and the broadcast held in registers: no loads. The empty
 * asm on the broadcast at every step keeps the compiler from folding the repetitions. */
static double fma_only(long reps) {
    __m256 acc[4][3], qc[3];
    for (int u = 0; u < 4; u++)
        for (int w = 0; w < 3; w++) acc[u][w] = _mm256_setzero_ps();
    for (int w = 0; w < 3; w++) qc[w] = _mm256_load_ps(g_q + w * 8);
    __m256 kb = _mm256_broadcast_ss(&g_k[0][0]);
    const double t0 = now_s();
    for (long r = 0; r < reps; r++)
        for (int c = 0; c < DIM; c++) {
            __asm__("" : "+x"(kb));
            for (int u = 0; u < 4; u++)
                for (int w = 0; w < 3; w++) acc[u][w] = _mm256_fmadd_ps(kb, qc[w], acc[u][w]);
        }
    const double t = now_s() - t0;
    for (int u = 0; u < 4; u++)
        for (int w = 0; w < 3; w++) _mm256_store_ps(g_out[u * 3 + w], acc[u][w]);
    return 2.0 * 8 * 12 * DIM * (double)reps / t * 1e-9;
}

int main(void) {
    for (int i = 0; i < DIM * 4 * 8; i++) g_q[i] = 1e-3f * (float)(i % 7);
    for (int i = 0; i < 8 * DIM; i++) g_k[i / DIM][i % DIM] = 1e-3f;
    const long reps = 900000; /* about 0.6 s per shape at 100 GFLOP/s */
    for (int pass = 0; pass < 3; pass++)
        printf("GFLOP/s  2x4 %6.1f  3x4 %6.1f  2x6 %6.1f  4x3 %6.1f  fma-only %6.1f\n",
               shape_2x4(reps), shape_3x4(reps * 2 / 3), shape_2x6(reps * 2 / 3),
               shape_4x3(reps * 2 / 3), fma_only(reps * 2 / 3));
    return g_out[0][0] != g_out[0][0]; /* uses the results; 0 unless NaN */
}
