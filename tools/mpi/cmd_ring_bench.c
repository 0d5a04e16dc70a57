/* cmd_ring_bench.c: `mpirun -np R clattn ring-bench --seq N --heads H --dim D [--causal]`: times
 * ring attention (clattn_ring_sdpa) on random slices of one problem of N positions, and how much
 * of the K/V exchange its overlap hides. After a warm-up call (kernel builds), each of --iters
 * rounds runs the ring twice, every rank starting together (a barrier before each):
 *   - overlapped (the ring as it always runs): its time T_ov;
 *   - serial (clattn_ring_desc.serial: each step's exchange starts only once its attention is
 *     done): its time T_ser, made of the exchange alone T_x (the ring's exchange_wait_seconds)
 *     and the compute alone T_c = T_ser - T_x.
 * Each rank prints the medians over the rounds, saved_ms = T_ser - T_ov, and hidden =
 * (T_ser - T_ov) / T_x clamped to 0..1: the share of the exchange's time that overlapping took
 * off the whole call (1: the exchange costs nothing). It is end to end on purpose: in an
 * overlapped run the host blocks in the exchange while the device computes, so the time it
 * blocks says nothing of what was hidden; the difference of the two runs also absorbs the device
 * idling between serial steps, and the noise of a shared machine. Bytes are the K/V bytes the
 * rank sent and received per call. Rank 0 prints the ranks' lines in order and a line for the
 * ring (the slowest rank's times, the bytes of all). The exchange alone includes waiting for a
 * neighbour that is still computing, so it also measures imbalance: causal attention on the
 * contiguous layout shows it. */
#include "cli_sdpa.h"
#include "cli_util.h"
#include "commands.h"
#include "ring_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "ring-bench"

/* What a rank reports, as doubles for one MPI_Gather. */
enum { M_OV, M_SER, M_X, M_SENT, M_RECV, M_PIECES, M_SKIPPED, M_COUNT };

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double clamp01(double x) {
    return fmin(1.0, fmax(0.0, x));
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A device buffer of `count` random float32 values in [-1, 1). */
static cl_mem random_buffer(clattn_context *ctx, int64_t count, uint64_t *seed) {
    float *h = malloc((size_t)(count > 0 ? count : 1) * sizeof *h);
    if (!h) return NULL;
    for (int64_t i = 0; i < count; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        h[i] = (float)((double)(*seed >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    cl_int err = CL_SUCCESS;
    cl_mem m =
        clCreateBuffer(clattn_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                       (size_t)(count > 0 ? count : 1) * sizeof *h, h, &err);
    free(h);
    return err == CL_SUCCESS ? m : NULL;
}

int cmd_ring_bench(int argc, char **argv) {
    int64_t batch = 1, heads = 0, kv_heads = 0, seq = 0, dim = 0, iters = 5;
    int causal = 0, per_rank = 0;
    const char *layout_s = NULL;
    const cli_opt opts[] = {
        {"seq", OPT_INT, &seq, "N: the whole sequence's length, queries and keys (required)"},
        {"heads", OPT_INT, &heads, "query heads H (required)"},
        {"kv-heads", OPT_INT, &kv_heads, "key/value heads (default H)"},
        {"dim", OPT_INT, &dim, "head dimension D (required)"},
        {"batch", OPT_INT, &batch, "batch B (default 1)"},
        {"causal", OPT_FLAG, &causal, "causal attention"},
        {"layout", OPT_STRING, &layout_s, "zigzag (default) or contiguous"},
        {"iters", OPT_INT, &iters, "timed rounds (default 5; the medians are printed)"},
        {"device-per-rank", OPT_FLAG, &per_rank, "each rank of a node takes its own device"},
        {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts,
                       "--seq N --heads H --dim D [--kv-heads H] [--batch B] [--causal] "
                       "[--layout zigzag|contiguous] [--iters R] [--device-per-rank]   (under "
                       "mpirun -np R)");
    if (rc) return rc == 1 ? 0 : rc;
    if (!seq) return cli_missing(CMD, "seq");
    if (!heads) return cli_missing(CMD, "heads");
    if (!dim) return cli_missing(CMD, "dim");
    clattn_ring_desc rd;
    clattn_ring_desc_init(&rd, sizeof rd);
    if (ring_cli_layout(CMD, layout_s, &rd.layout)) return 2;
    if (iters < 1 || iters > 1000) {
        fprintf(stderr, "clattn %s: --iters %lld: expected 1..1000\n", CMD, (long long)iters);
        return 2;
    }
    int rank = 0, R = 1;
    if (ring_cli_start(CMD, &rank, &R)) return 1;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = batch, d.heads = heads, d.kv_heads = kv_heads ? kv_heads : heads;
    d.seq_q = d.seq_kv = seq, d.head_dim = dim, d.causal = causal;
    int64_t start[2], len[2];
    int n = 0;
    clattn_context *ctx = NULL;
    cl_mem mem[5] = {NULL};
    double *m = calloc((size_t)iters * M_COUNT, sizeof *m), *all = NULL;
    int bad = !m || clattn_ring_chunks(rd.layout, R, rank, seq, start, len, &n) != CLATTN_SUCCESS;
    if (bad && rank == 0)
        fprintf(stderr, "clattn %s: --seq %lld is shorter than the layout's chunks over %d ranks\n",
                CMD, (long long)seq, R);
    if (!bad) bad = !(ctx = ring_cli_context(CMD, per_rank));
    const int64_t s = len[0] + len[1], hk = d.kv_heads;
    const int64_t counts[5] = {batch * heads * s * dim, batch * hk * s * dim, batch * hk * s * dim,
                               batch * heads * s * dim, batch * heads * s};
    uint64_t seed = 0x9E3779B97F4A7C15ull ^ (uint64_t)rank;
    for (int t = 0; t < 5 && !bad; t++) bad = !(mem[t] = random_buffer(ctx, counts[t], &seed));
    if ((rc = ring_cli_agree(bad))) goto done;
    clattn_ring_stats st;
    rd.stats = &st;
    rd.stats_size = sizeof st;
    /* Warm-up (kernel builds), then the rounds. */
    clattn_status s0 =
        clattn_ring_sdpa(ctx, &d, &rd, MPI_COMM_WORLD, mem[0], mem[1], mem[2], mem[3], mem[4]);
    for (int64_t i = 0; i < iters && s0 == CLATTN_SUCCESS; i++)
        for (int serial = 0; serial < 2 && s0 == CLATTN_SUCCESS; serial++) {
            rd.serial = serial;
            MPI_Barrier(MPI_COMM_WORLD);
            s0 = clattn_ring_sdpa(ctx, &d, &rd, MPI_COMM_WORLD, mem[0], mem[1], mem[2], mem[3],
                                  mem[4]);
            double *r = m + i * M_COUNT;
            if (!serial) {
                r[M_OV] = st.seconds;
            } else {
                r[M_SER] = st.seconds, r[M_X] = st.exchange_wait_seconds;
            }
            r[M_SENT] = (double)st.bytes_sent, r[M_RECV] = (double)st.bytes_received;
            r[M_PIECES] = (double)st.pieces_computed, r[M_SKIPPED] = (double)st.pieces_skipped;
        }
    if (s0 != CLATTN_SUCCESS) { /* every rank failed with it: the ring agrees */
        rc = cli_fail(CMD, ctx, s0);
        goto done;
    }
    double med[M_COUNT], col[1000];
    for (int c = 0; c < M_COUNT; c++) {
        for (int64_t i = 0; i < iters; i++) col[i] = m[i * M_COUNT + c];
        med[c] = median(col, (int)iters);
    }
    if (rank == 0 && !(all = malloc((size_t)R * M_COUNT * sizeof *all)))
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Gather(med, M_COUNT, MPI_DOUBLE, all, M_COUNT, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("ring-bench: ranks=%d B=%lld H=%lld Hkv=%lld N=%lld D=%lld causal=%d layout=%s "
               "iters=%lld\n",
               R, (long long)batch, (long long)heads, (long long)hk, (long long)seq, (long long)dim,
               causal, rd.layout == CLATTN_RING_ZIGZAG ? "zigzag" : "contiguous", (long long)iters);
        double wov = 0, wser = 0, wx = 0, sent = 0;
        for (int r = 0; r < R; r++) {
            const double *a = all + r * M_COUNT;
            const double comp = a[M_SER] - a[M_X];
            const double hidden = a[M_X] > 0 ? clamp01((a[M_SER] - a[M_OV]) / a[M_X]) : 1.0;
            printf("rank=%d time_ms=%.3f serial_ms=%.3f compute_ms=%.3f exchange_ms=%.3f "
                   "saved_ms=%.3f sent_bytes=%.0f recv_bytes=%.0f pieces=%.0f skipped=%.0f "
                   "hidden=%.2f\n",
                   r, 1e3 * a[M_OV], 1e3 * a[M_SER], 1e3 * comp, 1e3 * a[M_X],
                   1e3 * (a[M_SER] - a[M_OV]), a[M_SENT], a[M_RECV], a[M_PIECES], a[M_SKIPPED],
                   hidden);
            wov = fmax(wov, a[M_OV]), wser = fmax(wser, a[M_SER]), wx = fmax(wx, a[M_X]);
            sent += a[M_SENT];
        }
        printf("ring: time_ms=%.3f serial_ms=%.3f exchange_ms=%.3f saved_ms=%.3f bytes=%.0f "
               "hidden=%.2f\n",
               1e3 * wov, 1e3 * wser, 1e3 * wx, 1e3 * (wser - wov), sent,
               wx > 0 ? clamp01((wser - wov) / wx) : 1.0);
    }
    rc = 0;
done:
    for (int t = 0; t < 5; t++)
        if (mem[t]) clReleaseMemObject(mem[t]);
    clattn_context_destroy(ctx);
    free(m);
    free(all);
    ring_cli_end();
    return rc ? 1 : 0;
}
