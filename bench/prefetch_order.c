/* prefetch_order.c: does this host overlap a decode kernel's reads with its arithmetic, and in
 * which read and prefetch orders? A model of cl/decode.cl's CPU kernel, not of clattn itself:
 * one thread streams a buffer of 512-byte rows (a D=128 float32 K or V row) in blocks of 32 rows,
 * does W groups of 8 independent FMAs per 32 bytes read, and prefetches the next block while it
 * computes this one. W=2 (the default) runs the arithmetic alone at about 11 GB/s on the stop-22
 * VM, near decode_cpu's 13.5 GB/s per core at a GQA group of 4. Each pattern prints GB/s, the
 * median of the passes:
 *
 *   rows          every row front to back, block after block (plain address order)
 *   columns       the P V passes' order: line c of every row of the block, then line c + 1
 *   key pairs     the score loop's order: two rows at once, 32 bytes of each in turn
 *
 * each without prefetch and with the next block prefetched (rows: in address order; columns:
 * in column order, as decode_cpu did until stop 22, and in address order, as it does now; key
 * pairs: each pair's two rows of the next block as one burst). "cached" runs the arithmetic
 * over a 256 KiB buffer: the arithmetic's own rate. Two runs on the 2-core AVX2 VM of stop 22
 * (one core, 256 MiB): cached 11.1; rows 7.3-8.1 without prefetch, 8.3-9.3 with; columns 4.2-4.4,
 * 5.7-5.8 with column-order prefetch, 9.4-9.6 with address-order prefetch; key pairs 5.1-5.2,
 * 8.7-9.0 with their bursts. The order of the prefetches, not of the reads, decided whether the
 * reads overlapped the arithmetic.
 *
 *   cc -O2 -march=native -o /tmp/prefetch_order bench/prefetch_order.c && /tmp/prefetch_order
 *   /tmp/prefetch_order [MiB (256)] [passes (5)]      (-DW=N at build time for more arithmetic)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef W
#define W 2
#endif
#define ROW   128 /* floats per row */
#define BLOCK 32  /* rows per block */
#define LINE  16  /* floats per 64-byte line */

typedef float v8 __attribute__((vector_size(32)));

enum { ROWS, COLUMNS, KEY_PAIRS };
enum { NONE, ADDRESS, COLUMN }; /* prefetch order */

static float sink; /* what the arithmetic adds up to, printed so that it is not optimised away */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The arithmetic for 32 bytes: W groups of 8 FMAs into 8 accumulators (independent chains). */
static inline void work(v8 acc[8], const float *p) {
    v8 x;
    memcpy(&x, p, sizeof x);
    const v8 q = {1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f};
    /* unrolled, so that the accumulators are registers rather than an indexed array */
#pragma GCC unroll 16
    for (int w = 0; w < W; w++)
#pragma GCC unroll 8
        for (int a = 0; a < 8; a++) acc[a] = acc[a] * q + x; /* one FMA: nothing to share */
}

static void prefetch(const float *p) {
    __builtin_prefetch(p, 0, 2);
}

/* One block of BLOCK rows at blk; nxt is the next block (prefetched per `pf`). */
/* The accumulators are the block's own: a local array whose address never escapes stays in
 * registers, where a global one could alias the buffer and make every FMA wait on a store. */
static float block(int order, int pf, const float *blk, const float *nxt) {
    v8 s[8];
    memset(s, 0, sizeof s);
    if (order == ROWS) {
        for (int r = 0; r < BLOCK; r++) {
            if (pf == ADDRESS)
                for (int l = 0; l < ROW / LINE; l++) prefetch(nxt + r * ROW + l * LINE);
            for (int c = 0; c < ROW; c += 8) work(s, blk + r * ROW + c);
        }
    } else if (order == COLUMNS) {
        for (int l = 0; l < ROW / LINE; l++)
            for (int r = 0; r < BLOCK; r++) {
                if (pf == COLUMN) prefetch(nxt + r * ROW + l * LINE);
                if (pf == ADDRESS) prefetch(nxt + (l * BLOCK + r) * LINE);
                work(s, blk + r * ROW + l * LINE);
                work(s, blk + r * ROW + l * LINE + 8);
            }
    } else {
        for (int r = 0; r < BLOCK; r += 2) {
            if (pf == ADDRESS)
                for (int l = 0; l < 2 * ROW / LINE; l++) prefetch(nxt + r * ROW + l * LINE);
            for (int c = 0; c < ROW; c += 8) {
                work(s, blk + r * ROW + c);
                work(s, blk + (r + 1) * ROW + c);
            }
        }
    }
    float f = 0.0f;
    for (int a = 0; a < 8; a++)
        for (int e = 0; e < 8; e++) f += s[a][e];
    return f;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* GB/s of `bytes` streamed in `order` with prefetch `pf`, median of `passes` (at most 64). */
static double run(const float *buf, size_t bytes, size_t reps, int order, int pf, int passes) {
    const size_t blocks = bytes / (sizeof(float) * ROW * BLOCK);
    double g[64];
    float f = 0.0f;
    for (int p = 0; p < passes; p++) {
        const double t0 = now_s();
        for (size_t k = 0; k < reps; k++)
            for (size_t i = 0; i < blocks; i++) {
                const float *blk = buf + i * ROW * BLOCK;
                f += block(order, pf, blk, blk + ROW * BLOCK); /* one spare block at the end */
            }
        g[p] = (double)bytes * (double)reps / (now_s() - t0) / 1e9;
    }
    sink += f;
    qsort(g, (size_t)passes, sizeof g[0], cmp_double);
    return g[passes / 2];
}

int main(int argc, char **argv) {
    const size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 256;
    int passes = argc > 2 ? atoi(argv[2]) : 5;
    if (passes < 1 || passes > 64 || mib < 1) {
        fprintf(stderr, "usage: %s [MiB >= 1] [passes 1..64]\n", argv[0]);
        return 2;
    }
    const size_t bytes = mib << 20, spare = sizeof(float) * ROW * BLOCK;
    float *buf = aligned_alloc(64, bytes + spare);
    if (!buf) {
        fprintf(stderr, "%s: cannot allocate %zu MiB\n", argv[0], mib);
        return 1;
    }
    for (size_t i = 0; i < (bytes + spare) / sizeof(float); i++) buf[i] = (float)(i & 255);
    const size_t small = 256 << 10; /* the cached case: reread enough to match the big pass */
    printf("W=%d FMA groups per 32 bytes, %zu MiB, median of %d passes (GB/s)\n", W, mib, passes);
    printf("  cached (arithmetic alone)         %6.2f\n",
           run(buf, small, bytes / small, ROWS, NONE, passes));
    static const struct {
        int order, pf;
        const char *name;
    } cases[] = {
        {ROWS, NONE, "rows, no prefetch"},
        {ROWS, ADDRESS, "rows, prefetch in address order"},
        {COLUMNS, NONE, "columns, no prefetch"},
        {COLUMNS, COLUMN, "columns, prefetch in column order"},
        {COLUMNS, ADDRESS, "columns, prefetch in address order"},
        {KEY_PAIRS, NONE, "key pairs, no prefetch"},
        {KEY_PAIRS, ADDRESS, "key pairs, burst prefetch per pair"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        printf("  %-34s %6.2f\n", cases[c].name,
               run(buf, bytes, 1, cases[c].order, cases[c].pf, passes));
    printf("(checksum %g)\n", (double)sink);
    free(buf);
    return 0;
}
