/* reg_block.c: how fast each register blocking of cl/flash_cpu.cl's score loop can run on this
 * host, without OpenCL: NV query-row vectors (8 floats) times JB keys per step, the query
 * vectors loaded and the keys broadcast from L1-resident arrays, NV x JB accumulators, over a
 * 64-dim row, repeated. On a core with two FMA pipes of latency 4, fewer than 8 accumulators
 * cannot keep both pipes busy, and NV x JB + NV + 1 vectors must fit the 16 AVX2 registers, so
 * 2 x 4 (block_q 16 before 2026-12-02) and 3 x 4 (block_q 24, src/sdpa/cpu_tiles.c) are the
 * shapes to compare; 2 x 6 and 4 x 3 are there for scale.
 *
 *   cc -O3 -march=native -o /tmp/reg_block bench/reg_block.c && /tmp/reg_block
 *
 * It prints GFLOP/s per shape for two passes, on one core (run it under `taskset -c N`, or two
 * copies on two cores to see the shared-host rate). AVX2 and FMA are required. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define DIM 64

float g_q[DIM * 4 * 8] __attribute__((aligned(64)));
float g_k[8][DIM] __attribute__((aligned(64)));
float g_out[8] __attribute__((aligned(32))); /* where the accumulators end up */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* One shape: reps passes over the DIM columns, each step NV loads, JB broadcasts, NV x JB FMAs.
 * The empty asm after each pass keeps the compiler from hoisting the loads out of the
 * repetitions; the accumulators stay in registers (objdump shows no stores in the loop). */
#define SHAPE(NV, JB)                                                                              \
    static double shape_##NV##x##JB(long reps) {                                                   \
        __m256 acc[JB][NV];                                                                        \
        for (int u = 0; u < JB; u++)                                                               \
            for (int w = 0; w < NV; w++) acc[u][w] = _mm256_setzero_ps();                          \
        const double t0 = now_s();                                                                 \
        for (long r = 0; r < reps; r++) {                                                          \
            for (int c = 0; c < DIM; c++) {                                                        \
                __m256 qc[NV];                                                                     \
                for (int w = 0; w < NV; w++) qc[w] = _mm256_load_ps(g_q + (c * NV + w) * 8);       \
                for (int u = 0; u < JB; u++) {                                                     \
                    const __m256 kb = _mm256_broadcast_ss(&g_k[u][c]);                             \
                    for (int w = 0; w < NV; w++)                                                   \
                        acc[u][w] = _mm256_fmadd_ps(kb, qc[w], acc[u][w]);                         \
                }                                                                                  \
            }                                                                                      \
            __asm__ volatile("" ::: "memory");                                                     \
        }                                                                                          \
        const double t = now_s() - t0;                                                             \
        for (int u = 0; u < JB; u++)                                                               \
            for (int w = 0; w < NV; w++) _mm256_store_ps(g_out, acc[u][w]);                        \
        return 2.0 * 8 * NV * JB * DIM * (double)reps / t * 1e-9;                                  \
    }

SHAPE(2, 4)
SHAPE(3, 4)
SHAPE(2, 6)
SHAPE(4, 3)

int main(void) {
    for (int i = 0; i < DIM * 4 * 8; i++) g_q[i] = 1e-3f * (float)(i % 7);
    for (int i = 0; i < 8 * DIM; i++) g_k[i / DIM][i % DIM] = 1e-3f;
    const long reps = 1500000; /* about a second per shape at 100 GFLOP/s */
    for (int pass = 0; pass < 2; pass++)
        printf("GFLOP/s  2x4 %6.1f  3x4 %6.1f  2x6 %6.1f  4x3 %6.1f\n", shape_2x4(reps),
               shape_3x4(reps * 2 / 3), shape_2x6(reps * 2 / 3), shape_4x3(reps * 2 / 3));
    return g_out[0] != g_out[0]; /* uses the results; 0 unless NaN */
}
