/* cmd_bench_layer.c: `clattn bench-layer`: times one attention layer's forward
 * (include/clattn_layer.h) on random device-resident x and weights, B sequences of S tokens:
 * the q/k/v and output projections, RoPE when asked, and self-attention over the S tokens. One
 * warm-up call then R timed calls (cli_timed_median: profiling events around the call); prints
 * the median as ms= with gflops= (the projections' 2 * B * S * E * (Hq * D + 2 * Hkv * D, Dv
 * apart, + Hq * Dv) and the attention's 2 * (D + Dv) per head and (query, key) pair the mask
 * leaves), tokens_per_s= and the fastest and slowest call. bench/layer_bench.py runs it beside
 * PyTorch's nn.MultiheadAttention. */
#include "cli_sdpa.h"
#include "cli_timing.h"
#include "cli_util.h"
#include "commands.h"
#include "core/internal.h"
#include "layer/layer_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CMD "bench-layer"

typedef struct {
    clattn_mha_layer *layer;
    const clattn_mha_forward_desc *f;
    cl_mem x, y;
} bench_call;

static clattn_status call_fn(const void *arg, cl_event *ev) {
    const bench_call *c = arg;
    return clattn_mha_layer_forward(c->layer, c->f, c->x, c->y, 0, NULL, ev);
}

/* FLOPs of one forward as the header comment counts them. */
static double layer_flops(const clattn_mha_layer_desc *d, int64_t B, int64_t S, int causal) {
    const double E = (double)d->embed_dim, Hq = (double)d->heads, Hkv = (double)d->kv_heads;
    const double D = (double)d->head_dim, Dv = (double)d->head_dim_v, tok = (double)(B * S);
    const double proj = 2.0 * tok * E * (Hq * D + Hkv * D + Hkv * Dv + Hq * Dv);
    const double pairs = causal ? 0.5 * (double)S * (double)(S + 1) : (double)S * (double)S;
    return proj + 2.0 * (double)B * Hq * pairs * (D + Dv);
}

int cmd_bench_layer(int argc, char **argv) {
    int64_t B = 1, S = 0, E = 0, H = 0, G = 0, D = 0, R = 5;
    double theta = 0.0;
    int causal = 0;
    const char *dts = NULL;
    const cli_opt opts[] = {
        {"batch", OPT_INT, &B, "sequences B (default 1)"},
        {"seq", OPT_INT, &S, "tokens per sequence S (required)"},
        {"embed", OPT_INT, &E, "model width E (required)"},
        {"heads", OPT_INT, &H, "query heads Hq (required)"},
        {"kv-heads", OPT_INT, &G, "key/value heads, dividing Hq (default: Hq)"},
        {"head-dim", OPT_INT, &D, "per head (default: E / Hq)"},
        {"causal", OPT_FLAG, &causal, "causal attention"},
        {"rope-theta", OPT_FLOAT, &theta, "rotary embeddings with this base (default: none)"},
        {"dtype", OPT_STRING, &dts, "f32|f16|bf16 storage of q, k, v between stages (default f32)"},
        {"repeat", OPT_INT, &R, "timed runs: min, median and max reported (default 5)"},
        {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts,
                       "--seq S --embed E --heads H [--batch B] [--kv-heads G] [--head-dim D] "
                       "[--causal] [--rope-theta T] [--dtype f32|f16|bf16] [--repeat R]");
    if (rc) return rc == 1 ? 0 : rc;
    const int64_t dims[4] = {B, S, E, R};
    static const char *const names[4] = {"batch", "seq", "embed", "repeat"};
    if (cli_sizes_in_range(CMD, dims, names, 4)) return 2;
    if (H < 1) return cli_missing(CMD, "heads");
    clattn_mha_layer_desc d;
    clattn_mha_layer_desc_init(&d, sizeof d);
    d.embed_dim = E, d.heads = H, d.kv_heads = G, d.head_dim = D, d.rope_theta = theta;
    if (dts && cli_sdpa_dtype(CMD, "dtype", dts, &d.dtype)) return 2;
    size_t xbytes = 0;
    const int64_t xdims[3] = {B, S, E};
    if (cli_bytes(CMD, "x", xdims, 3, sizeof(float), &xbytes)) return 2;
    clattn_context *ctx = cli_open_context();
    if (!ctx) return 1;
    rc = 1;
    clattn_mha_layer *layer = NULL;
    cl_mem x = NULL, y = NULL;
    float *host = NULL;
    double *times = malloc((size_t)R * sizeof(double));
    /* The layer's shape as it resolves it (kv heads, head dims; the sizes refused there). */
    clattn_status st = clattn__mha_desc_resolve(ctx, &d, &d);
    /* one host array serves x and every weight matrix (the values only need to be tame) */
    const int64_t wq = d.heads * d.head_dim, wkv = d.kv_heads * (d.head_dim + d.head_dim_v);
    const int64_t wo = E * d.heads * d.head_dim_v, nw = (wq + wkv) * E > wo ? (wq + wkv) * E : wo;
    const int64_t nh = nw > B * S * E ? nw : B * S * E;
    if (st == CLATTN_SUCCESS && (!times || !(host = malloc((size_t)nh * sizeof(float))))) {
        fprintf(stderr, "clattn %s: out of host memory\n", CMD);
        goto done;
    }
    if (st == CLATTN_SUCCESS) {
        cli_fill_tame(host, nh, 1.0f / sqrtf((float)E));
        const clattn_mha_weights w = {.q_proj = host,
                                      .k_proj = host + wq * E,
                                      .v_proj = host + (wq + d.kv_heads * d.head_dim) * E,
                                      .o_proj = host};
        st = clattn_mha_layer_create(ctx, &d, &w, &layer);
    }
    if (st == CLATTN_SUCCESS) st = clattn__upload(ctx, host, (int64_t)xbytes, "bench-layer x", &x);
    if (st == CLATTN_SUCCESS)
        st = clattn__alloc(ctx, (int64_t)xbytes, CL_MEM_READ_WRITE, NULL, "bench-layer y", &y);
    if (st != CLATTN_SUCCESS) {
        cli_fail(CMD, ctx, st);
        goto done;
    }
    clattn_mha_forward_desc f;
    clattn_mha_forward_desc_init(&f, sizeof f);
    f.batch = B, f.seq = S, f.causal = causal;
    const bench_call call = {layer, &f, x, y};
    double ms[3];
    if ((st = cli_timed_median(ctx, call_fn, &call, R, times, ms)) != CLATTN_SUCCESS) {
        cli_fail(CMD, ctx, st);
        goto done;
    }
    printf("batch=%lld seq=%lld embed=%lld heads=%lld kv_heads=%lld head_dim=%lld causal=%d "
           "dtype=%s timing=%s\n",
           (long long)B, (long long)S, (long long)E, (long long)d.heads, (long long)d.kv_heads,
           (long long)d.head_dim, causal, dts ? dts : "f32",
           ctx->queue_profiling ? "events" : "host");
    printf("gflops=%.2f ms=%.3f min_ms=%.3f max_ms=%.3f tokens_per_s=%.0f\n",
           layer_flops(&d, B, S, causal) / (ms[0] * 1e6), ms[0], ms[1], ms[2],
           1e3 * (double)(B * S) / ms[0]);
    rc = 0;
done:
    clattn_mha_layer_destroy(layer);
    clattn__release_mem(&x);
    clattn__release_mem(&y);
    clattn_context_destroy(ctx);
    free(host), free(times);
    return rc;
}
