/* cmd_ring_attention.c: `mpirun -np R clattn ring-attention --q Q.npy --k K.npy --v V.npy --out
 * O.npy [--lse L.npy] [--causal] ...`: the attention of `clattn attention` with the sequence split
 * across R ranks (clattn_ring_sdpa, include/clattn_ring.h). Rank 0 reads the files and sends each
 * rank its slices (the --layout's chunks of the queries and of the keys and values), every rank
 * attends on its own device, and rank 0 gathers the result and writes the same files `clattn
 * attention` writes: out [B, Hq, Sq, Dv] and lse [B, Hq, Sq]. Float32 and float16 files; three
 * float16 inputs keep half storage and give a float16 out (as `clattn attention` by default),
 * otherwise everything is float32. Options by position only (no --mask, no --kv-lens). Every
 * rank exits non-zero when any fails. */
#include "cli_sdpa.h"
#include "cli_util.h"
#include "commands.h"
#include "npy.h"
#include "outputs.h"
#include "ring_cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "ring-attention"

/* What rank 0 learns from the files and sends every rank. */
enum { H_OK, H_B, H_HQ, H_SQ, H_D, H_HKV, H_SKV, H_DV, H_DT, H_SLOPES, H_SLOPE_BATCH, H_COUNT };

static int load(const char *opt, const char *path, clattn_npy_array *a) {
    char err[512];
    clattn_status st = clattn_npy_read(path, a, err, sizeof err);
    if (st == CLATTN_SUCCESS && (a->dtype != CLATTN_NPY_F32 && a->dtype != CLATTN_NPY_F16))
        snprintf(err, sizeof err, "%s holds %s; expected float32 or float16", path,
                 clattn_npy_dtype_descr(a->dtype));
    else if (st == CLATTN_SUCCESS && a->ndim != 4)
        snprintf(err, sizeof err, "%s has %d dimensions, expected 4", path, a->ndim);
    else if (st == CLATTN_SUCCESS)
        return 0;
    fprintf(stderr, "clattn %s: --%s: %s\n", CMD, opt, err);
    return 1;
}

/* Rank 0: reads and checks the inputs into h (and the slopes, through xo and d). */
static int read_inputs(const char *qp, const char *kp, const char *vp, clattn_npy_array *in,
                       cli_sdpa_options *xo, clattn_sdpa_desc *d, int64_t *h) {
    if (load("q", qp, &in[0]) || load("k", kp, &in[1]) || load("v", vp, &in[2])) return 1;
    const int half = in[0].dtype == CLATTN_NPY_F16 && in[1].dtype == CLATTN_NPY_F16 &&
                     in[2].dtype == CLATTN_NPY_F16;
    char err[512];
    for (int i = 0; i < 3 && !half; i++)
        if (clattn_npy_to_f32(&in[i], i == 0 ? "q" : i == 1 ? "k" : "v", err, sizeof err)) {
            fprintf(stderr, "clattn %s: %s\n", CMD, err);
            return 1;
        }
    const int64_t *q = in[0].shape, *k = in[1].shape, *v = in[2].shape;
    if (k[0] != q[0] || k[3] != q[3] || v[0] != q[0] || v[1] != k[1] || v[2] != k[2]) {
        fprintf(stderr,
                "clattn %s: shape mismatch: q [%lld, %lld, %lld, %lld], k [%lld, %lld, %lld, "
                "%lld], v [%lld, %lld, %lld, %lld]\n",
                CMD, (long long)q[0], (long long)q[1], (long long)q[2], (long long)q[3],
                (long long)k[0], (long long)k[1], (long long)k[2], (long long)k[3], (long long)v[0],
                (long long)v[1], (long long)v[2], (long long)v[3]);
        return 1;
    }
    const int64_t vals[] = {q[0], q[1], q[2], q[3], k[1], k[2], v[3]};
    for (int i = 0; i < 7; i++)
        if (vals[i] < 1) {
            fprintf(stderr, "clattn %s: empty tensors are not attention problems\n", CMD);
            return 1;
        }
    memcpy(&h[H_B], vals, sizeof vals);
    h[H_DT] = half ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32;
    d->batch = q[0], d->heads = q[1];
    if (cli_sdpa_options_alibi(CMD, xo, d)) return 1;
    h[H_SLOPE_BATCH] = d->alibi_slopes && d->alibi_batch > 1 ? d->alibi_batch : 0;
    h[H_SLOPES] = d->alibi_slopes ? (h[H_SLOPE_BATCH] ? h[H_SLOPE_BATCH] : 1) * q[1] : 0;
    h[H_OK] = 1;
    return 0;
}

/* A device buffer holding `bytes` (copied from init when not NULL). */
static cl_mem buffer(clattn_context *ctx, size_t bytes, void *init) {
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(clattn_context_cl_context(ctx),
                              CL_MEM_READ_WRITE | (init ? CL_MEM_COPY_HOST_PTR : 0),
                              bytes ? bytes : 4, init, &err);
    if (err != CL_SUCCESS) fprintf(stderr, "clattn %s: clCreateBuffer failed (%d)\n", CMD, err);
    return err == CL_SUCCESS ? m : NULL;
}

/* The five tensors (q, k, v, out, lse) of the problem: heads, whole length, bytes of a row. */
typedef struct {
    clattn_ring_layout layout;
    int ranks;
    int64_t B, H[5], S[5], W[5];
} tensors;

/* Bytes of rank r's slice of tensor t (0 when the sequence is shorter than the chunks). */
static size_t slice_bytes(const tensors *x, int r, int t) {
    int64_t start[2], len[2];
    int n;
    if (clattn_ring_chunks(x->layout, x->ranks, r, x->S[t], start, len, &n) != CLATTN_SUCCESS)
        return 0;
    return (size_t)(x->B * x->H[t] * (len[0] + len[1]) * x->W[t]);
}

static void *xmalloc(size_t n) { /* host memory for a transfer every rank waits on */
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "clattn %s: out of host memory\n", CMD);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return p;
}

/* Rank 0 sends every other rank its slices of q, k and v and keeps its own in mine. */
static void scatter(const tensors *x, int rank, const clattn_npy_array *in, unsigned char **mine,
                    const size_t *bytes) {
    for (int t = 0; t < 3; t++) {
        if (rank != 0) {
            ring_cli_recv(mine[t], bytes[t], 0);
            continue;
        }
        for (int r = 0; r < x->ranks; r++) {
            const size_t nb = slice_bytes(x, r, t);
            unsigned char *part = r ? xmalloc(nb) : mine[t];
            clattn_ring_scatter_host(x->layout, x->ranks, r, x->B, x->H[t], x->S[t], x->W[t],
                                     in[t].data, part);
            if (r) ring_cli_send(part, nb, r);
            if (r) free(part);
        }
    }
}

/* Every rank sends rank 0 its slice of tensor t, which rank 0 puts in place in a new array. */
static unsigned char *gather(const tensors *x, int rank, int t, unsigned char *mine, size_t bytes) {
    if (rank != 0) {
        ring_cli_send(mine, bytes, 0);
        return NULL;
    }
    unsigned char *whole = xmalloc((size_t)(x->B * x->H[t] * x->S[t] * x->W[t]));
    for (int r = 0; r < x->ranks; r++) {
        const size_t nb = slice_bytes(x, r, t);
        unsigned char *part = r ? xmalloc(nb) : mine;
        if (r) ring_cli_recv(part, nb, r);
        clattn_ring_gather_host(x->layout, x->ranks, r, x->B, x->H[t], x->S[t], x->W[t], part,
                                whole);
        if (r) free(part);
    }
    return whole;
}

int cmd_ring_attention(int argc, char **argv) {
    const char *layout_s = NULL;
    int per_rank = 0;
    cli_sdpa_files f;
    cli_opt fopts[CLI_SDPA_FILE_OPTS];
    cli_sdpa_file_opts(&f, fopts);
    cli_sdpa_options xo;
    cli_opt xopts[CLI_SDPA_OPTION_OPTS];
    cli_sdpa_option_opts(&xo, xopts);
    const cli_opt opts[] = {
        fopts[0],
        fopts[1],
        fopts[2],
        fopts[3],
        fopts[4],
        fopts[5],
        fopts[6],
        fopts[7],
        fopts[8],
        {"layout", OPT_STRING, &layout_s,
         "zigzag (default: rank r holds chunks r and 2R-1-r, balanced under causal) or "
         "contiguous"},
        {"device-per-rank", OPT_FLAG, &per_rank,
         "each rank of a node takes its own device (GPUs first), by node-local rank"},
        xopts[0],
        xopts[1],
        xopts[2],
        xopts[3],
        {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts,
                       "--q Q.npy --k K.npy --v V.npy --out O.npy [--lse L.npy] [--causal] "
                       "[--causal-align bottom-right|top-left] [--window L,R] [--softcap C] "
                       "[--alibi [SLOPES.npy]] [--scale S] [--layout zigzag|contiguous] "
                       "[--device-per-rank]   (under mpirun -np R)");
    if (rc) return rc == 1 ? 0 : rc;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    clattn_ring_desc rd;
    clattn_ring_desc_init(&rd, sizeof rd);
    if (cli_sdpa_files_desc(CMD, &f, &d) || cli_sdpa_options_desc(CMD, &xo, &d) ||
        ring_cli_layout(CMD, layout_s, &rd.layout))
        return 2;
    const char *qp = f.q, *kp = f.k, *vp = f.v, *op = f.out, *lp = f.lse;
    int rank = 0, R = 1;
    if (ring_cli_start(CMD, &rank, &R)) return 1;

    clattn_npy_array in[3] = {{0}, {0}, {0}};
    cli_outputs outs;
    cli_outputs_init(&outs, CMD);
    cli_outputs_add(&outs, "out", op);
    cli_outputs_add(&outs, "lse", lp);
    int64_t h[H_COUNT] = {0};
    float *slopes = NULL;
    unsigned char *mine[5] = {NULL}, *whole[2] = {NULL};
    size_t bytes[5] = {0};
    cl_mem mem[5] = {NULL};
    clattn_context *ctx = NULL;
    int bad = 0;
    /* Rank 0 reads the inputs; every rank learns their shapes, or that they are refused. */
    if (rank == 0) {
        const cli_file inputs[4] = {
            {"q", qp}, {"k", kp}, {"v", vp}, {"alibi", cli_sdpa_options_file(&xo)}};
        if (!cli_outputs_check(&outs, inputs, 4)) read_inputs(qp, kp, vp, in, &xo, &d, h);
    }
    MPI_Bcast(h, H_COUNT, MPI_INT64_T, 0, MPI_COMM_WORLD);
    if (!h[H_OK]) {
        rc = 1;
        goto done;
    }
    const int64_t es = h[H_DT] == CLATTN_DTYPE_F16 ? 2 : 4;
    const tensors x = {rd.layout,
                       R,
                       h[H_B],
                       {h[H_HQ], h[H_HKV], h[H_HKV], h[H_HQ], h[H_HQ]},
                       {h[H_SQ], h[H_SKV], h[H_SKV], h[H_SQ], h[H_SQ]},
                       {h[H_D] * es, h[H_D] * es, h[H_DV] * es, h[H_DV] * es, 4}};
    for (int t = 0; t < 5; t++)
        if (!(bytes[t] = slice_bytes(&x, rank, t))) {
            if (rank == 0)
                fprintf(stderr,
                        "clattn %s: a sequence of %lld is shorter than the %d chunks of the "
                        "layout over %d ranks\n",
                        CMD, (long long)x.S[t], rd.layout == CLATTN_RING_ZIGZAG ? 2 * R : R, R);
            rc = 1;
            goto done; /* every rank sees the same */
        }
    if (h[H_SLOPES] > 0) {
        slopes = xmalloc((size_t)h[H_SLOPES] * sizeof *slopes);
        if (rank == 0) memcpy(slopes, d.alibi_slopes, (size_t)h[H_SLOPES] * sizeof *slopes);
        MPI_Bcast(slopes, (int)h[H_SLOPES], MPI_FLOAT, 0, MPI_COMM_WORLD);
    }
    d.batch = h[H_B], d.heads = h[H_HQ], d.seq_q = h[H_SQ], d.head_dim = h[H_D];
    d.kv_heads = h[H_HKV], d.seq_kv = h[H_SKV], d.head_dim_v = h[H_DV];
    d.q_dtype = d.kv_dtype = d.out_dtype = (clattn_dtype)h[H_DT];
    d.alibi_slopes = slopes;
    d.alibi_batch = h[H_SLOPE_BATCH];
    for (int t = 0; t < 5; t++) mine[t] = xmalloc(bytes[t]);
    scatter(&x, rank, in, mine, bytes);
    /* Each rank's device and buffers; all ranks ready, or none starts the ring. */
    bad = !(ctx = ring_cli_context(CMD, per_rank));
    for (int t = 0; t < 5 && !bad; t++)
        if ((t < 4 || lp) && !(mem[t] = buffer(ctx, bytes[t], t < 3 ? mine[t] : NULL))) bad = 1;
    if ((rc = ring_cli_agree(bad))) goto done;
    clattn_status st =
        clattn_ring_sdpa(ctx, &d, &rd, MPI_COMM_WORLD, mem[0], mem[1], mem[2], mem[3], mem[4]);
    if (st != CLATTN_SUCCESS) { /* every rank failed with it: the ring agrees */
        rc = cli_fail(CMD, ctx, st);
        goto done;
    }
    for (int t = 3; t < 5 && !bad; t++)
        if ((t == 3 || lp) && clEnqueueReadBuffer(clattn_context_queue(ctx), mem[t], CL_TRUE, 0,
                                                  bytes[t], mine[t], 0, NULL, NULL) != CL_SUCCESS) {
            fprintf(stderr, "clattn %s: reading the result failed\n", CMD);
            bad = 1;
        }
    if ((rc = ring_cli_agree(bad))) goto done;
    whole[0] = gather(&x, rank, 3, mine[3], bytes[3]);
    if (lp) whole[1] = gather(&x, rank, 4, mine[4], bytes[4]);
    if (rank == 0) {
        const int64_t shape[4] = {x.B, h[H_HQ], h[H_SQ], h[H_DV]};
        bad = cli_outputs_write(&outs, "out", es == 2 ? CLATTN_NPY_F16 : CLATTN_NPY_F32, 4, shape,
                                whole[0]) ||
              cli_outputs_write(&outs, "lse", CLATTN_NPY_F32, 3, shape, whole[1]) ||
              cli_outputs_commit(&outs);
    }
    rc = ring_cli_agree(bad);
done:
    for (int t = 0; t < 5; t++) {
        if (mem[t]) clReleaseMemObject(mem[t]);
        free(mine[t]);
    }
    free(whole[0]);
    free(whole[1]);
    free(slopes);
    cli_outputs_free(&outs);
    cli_sdpa_options_free(&xo);
    clattn_context_destroy(ctx);
    for (int i = 0; i < 3; i++) clattn_npy_free(&in[i]);
    ring_cli_end();
    return rc ? 1 : 0;
}
