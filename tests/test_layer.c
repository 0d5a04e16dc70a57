/* test_layer.c: the attention layer (include/clattn_layer.h) against the float64 reference of
 * tests/ref/layer_ref.c: fresh random weights and inputs, y poisoned before each call and every
 * element checked. Odd sizes (E 48 and 96, head dims 8..32, S 1, 7 and 59, B 1..3), MHA, GQA
 * and MQA, biases on and off, causal and not, ragged lengths (padding rows of x hold NaN, which
 * must not reach any valid row; padding rows of y must be 0), float32/float16/bfloat16 storage,
 * RoPE in both pairings (part of the head, a position scale); one case with the attention's GPU
 * flavour. Also: split weights and nn.MultiheadAttention's packed in_proj_weight give the same
 * bits; a ragged prefill then decode steps over paged and contiguous KV caches equal the
 * one-shot forward; the device form behind a user event; .npy folders in both namings; every
 * refusal leaves y and the cache as they were. */
#include "core/internal.h" /* the context's caps, to force 16 lanes below */
#include "layer_ref.h"
#include "npy.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int64_t E, Hq, Hkv, D, Dv; /* D 0: E / Hq; Dv 0: D */
    int qkv_bias, out_bias;
    clattn_dtype dtype;
    int64_t B, S;
    int causal, ragged;
    double theta; /* RoPE base; 0: none */
    int gptj;
    int64_t rope_dim;  /* 0: all of D */
    double rope_scale; /* 0: 1 */
} layer_case;

/* Random weights of a layer in the split form, owned by the struct. */
typedef struct {
    clattn_mha_layer_desc d; /* resolved by hand: every dim set */
    float *wq, *wk, *wv, *wo, *bq, *bk, *bv, *bo;
} weights;

static float *randn(int64_t n, float scale) {
    float *x = tu_alloc_floats(n);
    tu_fill_normal(x, n, scale);
    return x;
}

static void make_weights(const layer_case *c, weights *w) {
    memset(w, 0, sizeof *w);
    clattn_mha_layer_desc_init(&w->d, sizeof w->d);
    const int64_t D = c->D ? c->D : c->E / c->Hq, Dv = c->Dv ? c->Dv : D;
    w->d.embed_dim = c->E, w->d.heads = c->Hq, w->d.kv_heads = c->Hkv;
    w->d.head_dim = D, w->d.head_dim_v = Dv;
    w->d.has_qkv_bias = c->qkv_bias, w->d.has_out_bias = c->out_bias;
    w->d.dtype = c->dtype;
    w->d.rope_theta = c->theta, w->d.rope_style = c->gptj ? CLATTN_ROPE_GPTJ : CLATTN_ROPE_NEOX;
    w->d.rope_dim = c->rope_dim, w->d.rope_position_scale = c->rope_scale ? c->rope_scale : 1.0;
    /* unit-variance projections: weights of standard deviation 1 / sqrt(fan-in) */
    const float si = 1.0f / sqrtf((float)c->E), so = 1.0f / sqrtf((float)(c->Hq * Dv));
    w->wq = randn(c->Hq * D * c->E, si);
    w->wk = randn(c->Hkv * D * c->E, si);
    w->wv = randn(c->Hkv * Dv * c->E, si);
    w->wo = randn(c->E * c->Hq * Dv, so);
    if (c->qkv_bias) {
        w->bq = randn(c->Hq * D, 0.5f);
        w->bk = randn(c->Hkv * D, 0.5f);
        w->bv = randn(c->Hkv * Dv, 0.5f);
    }
    if (c->out_bias) w->bo = randn(c->E, 0.5f);
}

static void free_weights(weights *w) {
    free(w->wq), free(w->wk), free(w->wv), free(w->wo);
    free(w->bq), free(w->bk), free(w->bv), free(w->bo);
}

static clattn_mha_weights split_form(const weights *w) {
    clattn_mha_weights hw;
    memset(&hw, 0, sizeof hw);
    hw.q_proj = w->wq, hw.k_proj = w->wk, hw.v_proj = w->wv, hw.o_proj = w->wo;
    hw.q_bias = w->bq, hw.k_bias = w->bk, hw.v_bias = w->bv, hw.o_bias = w->bo;
    return hw;
}

/* nn.MultiheadAttention's packed in_proj_weight [3 E, E] and in_proj_bias [3 E] of an MHA w. */
static void pack(const weights *w, float **in_w, float **in_b) {
    const int64_t E = w->d.embed_dim;
    const float *ws[3] = {w->wq, w->wk, w->wv}, *bs[3] = {w->bq, w->bk, w->bv};
    *in_w = tu_alloc_floats(3 * E * E);
    *in_b = tu_alloc_floats(3 * E);
    for (int i = 0; i < 3; i++) {
        memcpy(*in_w + i * E * E, ws[i], (size_t)(E * E) * sizeof(float));
        if (bs[i]) memcpy(*in_b + i * E, bs[i], (size_t)E * sizeof(float));
    }
}

/* Fresh weights for c and the layer made from them (split form); checks the status. */
static clattn_mha_layer *layer_of(clattn_context *ctx, const layer_case *c, weights *w) {
    make_weights(c, w);
    const clattn_mha_weights hw = split_form(w);
    clattn_mha_layer *layer = NULL;
    clattn_status st = clattn_mha_layer_create(ctx, &w->d, &hw, &layer);
    TU_CHECK(st == CLATTN_SUCCESS, "layer E=%lld Hq=%lld Hkv=%lld created (%s)", (long long)c->E,
             (long long)c->Hq, (long long)c->Hkv, st ? clattn_context_last_error(ctx) : "ok");
    return layer;
}

static double store_f16(double x) {
    return tu_round_to(CLATTN_DTYPE_F16, (float)x);
}
static double store_bf16(double x) {
    return tu_round_to(CLATTN_DTYPE_BF16, (float)x);
}

static layer_ref ref_of(const weights *w) {
    layer_ref r;
    memset(&r, 0, sizeof r);
    const clattn_mha_layer_desc *d = &w->d;
    r.E = d->embed_dim, r.Hq = d->heads, r.Hkv = d->kv_heads, r.D = d->head_dim;
    r.Dv = d->head_dim_v;
    r.wq = w->wq, r.wk = w->wk, r.wv = w->wv, r.wo = w->wo;
    r.bq = w->bq, r.bk = w->bk, r.bv = w->bv, r.bo = w->bo;
    r.scale = d->scale != 0.0 ? d->scale : 1.0 / sqrt((double)d->head_dim);
    r.rope_theta = d->rope_theta;
    r.rope_gptj = d->rope_style == CLATTN_ROPE_GPTJ;
    r.rope_dim = d->rope_dim ? d->rope_dim : d->head_dim;
    r.rope_scale = d->rope_position_scale;
    r.store = d->dtype == CLATTN_DTYPE_F16    ? store_f16
              : d->dtype == CLATTN_DTYPE_BF16 ? store_bf16
                                              : NULL;
    return r;
}

/* Random lengths in 0..S with S and (for B > 1) 0 among them; NaN in x's padding rows. */
static int32_t *ragged_lengths(int64_t B, int64_t S, float *x, int64_t E) {
    int32_t *len = tu_alloc_zeroed((size_t)B * sizeof *len);
    for (int64_t b = 0; b < B; b++) len[b] = (int32_t)(tu_uniform() * (double)(S + 1));
    len[0] = (int32_t)S;
    if (B > 2) len[B - 1] = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = len[b]; t < S; t++)
            for (int64_t e = 0; e < E; e++) x[(b * S + t) * E + e] = NAN;
    return len;
}

static double atol_of(clattn_dtype t) {
    return t == CLATTN_DTYPE_F32 ? 2e-5 : t == CLATTN_DTYPE_F16 ? 4e-3 : 3e-2;
}

static const char *dt_name(clattn_dtype t) {
    return t == CLATTN_DTYPE_F16 ? "f16" : t == CLATTN_DTYPE_BF16 ? "bf16" : "f32";
}

/* "RoPE neox 10000 dim 4 scale 0.25", or "" */
static const char *rope_name(const layer_case *c, char *buf, size_t n) {
    if (c->theta == 0.0) return "";
    snprintf(buf, n, " RoPE %s %g dim %lld scale %g", c->gptj ? "gptj" : "neox", c->theta,
             (long long)c->rope_dim, c->rope_scale ? c->rope_scale : 1.0);
    return buf;
}

/* One forward of a fresh layer against the reference. */
static void run_case(clattn_context *ctx, const layer_case *c) {
    char label[200], rope[64];
    snprintf(label, sizeof label,
             "E=%lld Hq=%lld Hkv=%lld D=%lld Dv=%lld bias=%d/%d %s B=%lld S=%lld%s%s%s",
             (long long)c->E, (long long)c->Hq, (long long)c->Hkv, (long long)c->D,
             (long long)c->Dv, c->qkv_bias, c->out_bias, dt_name(c->dtype), (long long)c->B,
             (long long)c->S, c->causal ? " causal" : "", c->ragged ? " ragged" : "",
             rope_name(c, rope, sizeof rope));
    weights w;
    clattn_mha_layer *layer = layer_of(ctx, c, &w);
    if (!layer) {
        free_weights(&w);
        return;
    }
    const int64_t n = c->B * c->S * c->E;
    float *x = randn(n, 1.0f), *y = tu_alloc_floats(n);
    int32_t *len = c->ragged ? ragged_lengths(c->B, c->S, x, c->E) : NULL;
    tu_poison(y, n);
    clattn_mha_forward_desc fd;
    clattn_mha_forward_desc_init(&fd, sizeof fd);
    fd.batch = c->B, fd.seq = c->S, fd.causal = c->causal, fd.lengths = len;
    clattn_status st = clattn_mha_layer_forward_host(layer, &fd, x, y);
    double *ref = tu_alloc_zeroed((size_t)n * sizeof *ref);
    const layer_ref r = ref_of(&w);
    if (ref_mha_layer(&r, c->B, c->S, x, len, c->causal, ref)) {
        printf("FAIL: reference allocation\n");
        exit(1);
    }
    TU_CHECK(st == CLATTN_SUCCESS &&
                 tu_compare("y", y, ref, n, atol_of(c->dtype), atol_of(c->dtype) / 2),
             "%s: y matches the reference (%s)", label, st ? clattn_context_last_error(ctx) : "ok");
    clattn_mha_layer_destroy(layer);
    free(x), free(y), free(len), free(ref);
    free_weights(&w);
}

/* nn.MultiheadAttention's packed weights: the same layer, the same bits. */
static void packed_equals_split(clattn_context *ctx) {
    const layer_case c = {48, 6, 6, 0, 0, 1, 1, CLATTN_DTYPE_F32, 2, 7, 1, 1, 0, 0, 0, 0};
    weights w;
    make_weights(&c, &w);
    const int64_t E = c.E;
    float *in_w, *in_b;
    pack(&w, &in_w, &in_b);
    clattn_mha_weights split = split_form(&w), packed;
    memset(&packed, 0, sizeof packed);
    packed.in_proj_weight = in_w, packed.in_proj_bias = in_b;
    packed.o_proj = w.wo, packed.o_bias = w.bo;
    clattn_mha_layer *a = NULL, *b = NULL;
    const int64_t n = c.B * c.S * E;
    float *x = randn(n, 1.0f), *ya = tu_alloc_floats(n), *yb = tu_alloc_floats(n);
    int32_t *len = ragged_lengths(c.B, c.S, x, E);
    tu_poison(ya, n);
    tu_poison(yb, n);
    clattn_mha_forward_desc fd;
    clattn_mha_forward_desc_init(&fd, sizeof fd);
    fd.batch = c.B, fd.seq = c.S, fd.causal = 1, fd.lengths = len;
    clattn_status st = clattn_mha_layer_create(ctx, &w.d, &split, &a);
    if (st == CLATTN_SUCCESS) st = clattn_mha_layer_create(ctx, &w.d, &packed, &b);
    if (st == CLATTN_SUCCESS) st = clattn_mha_layer_forward_host(a, &fd, x, ya);
    if (st == CLATTN_SUCCESS) st = clattn_mha_layer_forward_host(b, &fd, x, yb);
    TU_CHECK(st == CLATTN_SUCCESS && memcmp(ya, yb, (size_t)n * sizeof(float)) == 0,
             "packed in_proj_weight and split q/k/v_proj give the same bits (%s)",
             st ? clattn_context_last_error(ctx) : "ok");
    clattn_mha_layer_destroy(a);
    clattn_mha_layer_destroy(b);
    free(in_w), free(in_b), free(x), free(ya), free(yb), free(len);
    free_weights(&w);
}

/* ---- the KV cache: prefill then decode steps equal one forward over the whole sequence ---- */

/* Sequences of total lengths T[b] (B = 3, slots 2, 0, 3 of a 4-slot cache): a ragged prefill
 * (7, 3 and 0 tokens: the masked path), two tokens at once (1 or 2 each: ragged again, on the
 * decode kernels), then single-token steps with finished sequences at length 0. With B = 1 the
 * first sequence alone: its single-token steps are one row (the projections' GEMV path). Each
 * step's rows must equal the one-shot causal forward's rows of the same tokens (float32 tolerance:
 * the algorithms differ) and the float64 reference; padding rows 0. */
static void cache_matches_full(clattn_context *ctx, const layer_case *c, int64_t page_size, int B) {
    enum { BMAX = 3, TMAX = 13, SLOTS = 4, CAP = 16 };
    static const int32_t T[BMAX] = {13, 9, 11}, slots[BMAX] = {2, 0, 3}, prefill[BMAX] = {7, 3, 0};
    char label[160], rope[64];
    snprintf(label, sizeof label, "cache (%d sequence%s, %s, %s, Hq %lld Hkv %lld%s)", B,
             B > 1 ? "s" : "", page_size ? "paged by 5" : "contiguous", dt_name(c->dtype),
             (long long)c->Hq, (long long)c->Hkv, rope_name(c, rope, sizeof rope));
    weights w;
    clattn_mha_layer *layer = layer_of(ctx, c, &w);
    const int64_t E = c->E, n = B * TMAX * E;
    clattn_kv_cache *cache = NULL;
    clattn_kv_cache_desc cd;
    clattn_kv_cache_desc_init(&cd, sizeof cd);
    cd.slots = SLOTS, cd.kv_heads = w.d.kv_heads, cd.capacity = CAP;
    cd.head_dim = w.d.head_dim, cd.head_dim_v = w.d.head_dim_v;
    cd.page_size = page_size;
    cd.dtype = c->dtype; /* K and V stored as the one-shot forward stores them */
    clattn_status st = layer ? clattn_kv_cache_create(ctx, &cd, &cache) : CLATTN_ERROR_INTERNAL;
    if (!TU_CHECK(st == CLATTN_SUCCESS, "%s: layer and cache created (%s)", label,
                  clattn_context_last_error(ctx))) {
        clattn_mha_layer_destroy(layer);
        free_weights(&w);
        return;
    }
    float *x = randn(n, 1.0f), *full = tu_alloc_floats(n), *got = tu_alloc_floats(n);
    tu_poison(full, n);
    tu_poison(got, n);
    clattn_mha_forward_desc fd;
    clattn_mha_forward_desc_init(&fd, sizeof fd);
    fd.batch = B, fd.seq = TMAX, fd.causal = 1, fd.lengths = T;
    st = clattn_mha_layer_forward_host(layer, &fd, x, full);
    TU_CHECK(st == CLATTN_SUCCESS, "%s: one-shot forward (%s)", label,
             st ? clattn_context_last_error(ctx) : "ok");
    /* the steps: tokens [done[b], done[b] + len[b]) of each sequence */
    int32_t done[BMAX] = {0, 0, 0};
    int ok = st == CLATTN_SUCCESS, zero_pad = 1;
    for (int step = 0; ok; step++) {
        int32_t len[BMAX];
        int64_t S = step == 0 ? 7 : step == 1 ? 2 : 1, left = 0;
        for (int b = 0; b < B; b++) {
            len[b] = step == 0 ? prefill[b] : (int32_t)(T[b] - done[b]);
            if (step == 1) len[b] = b == 1 ? 1 : 2;
            if (len[b] > S) len[b] = (int32_t)S;
            left += T[b] - done[b];
        }
        if (left == 0) break;
        float *xs = tu_alloc_floats(B * S * E), *ys = tu_alloc_floats(B * S * E);
        for (int b = 0; b < B; b++)
            for (int64_t t = 0; t < S; t++)
                for (int64_t e = 0; e < E; e++)
                    xs[(b * S + t) * E + e] =
                        t < len[b] ? x[(b * TMAX + done[b] + t) * E + e] : NAN;
        tu_poison(ys, B * S * E);
        clattn_mha_forward_desc sd;
        clattn_mha_forward_desc_init(&sd, sizeof sd);
        sd.batch = B, sd.seq = S, sd.causal = 1, sd.lengths = len, sd.cache = cache;
        sd.slots = slots;
        st = clattn_mha_layer_forward_host(layer, &sd, xs, ys);
        ok = TU_CHECK(st == CLATTN_SUCCESS, "%s: step %d (seq %lld) (%s)", label, step,
                      (long long)S, st ? clattn_context_last_error(ctx) : "ok");
        for (int b = 0; ok && b < B; b++) {
            for (int64_t t = 0; t < S; t++)
                for (int64_t e = 0; e < E; e++) {
                    const float v = ys[(b * S + t) * E + e];
                    if (t < len[b])
                        got[(b * TMAX + done[b] + t) * E + e] = v;
                    else
                        zero_pad &= v == 0.0f;
                }
            done[b] += len[b];
        }
        free(xs), free(ys);
    }
    int32_t held[SLOTS], want[SLOTS] = {0, 0, 0, 0};
    for (int b = 0; b < B; b++) want[slots[b]] = T[b];
    clattn_kv_cache_lengths(cache, held, SLOTS);
    TU_CHECK(memcmp(held, want, sizeof held) == 0, "%s: the slots hold the sequences (%d %d %d %d)",
             label, held[0], held[1], held[2], held[3]);
    TU_CHECK(zero_pad, "%s: padding rows of every step are 0", label);
    /* rows past each T[b] are compared as the one-shot's zeros */
    for (int b = 0; b < B; b++)
        for (int64_t i = T[b] * E; i < TMAX * E; i++) got[b * TMAX * E + i] = 0.0f;
    double *ref = tu_alloc_zeroed((size_t)n * sizeof *ref),
           *fulld = tu_alloc_zeroed((size_t)n * sizeof *fulld);
    const layer_ref r = ref_of(&w);
    if (ref_mha_layer(&r, B, TMAX, x, T, 1, ref)) exit(1);
    for (int64_t i = 0; i < n; i++) fulld[i] = full[i];
    /* float32 storage: only the algorithms differ; 16-bit: an attention output a hair's breadth
     * from a rounding boundary may round the other way */
    const double tol = c->dtype == CLATTN_DTYPE_F32 ? 1e-5 : atol_of(c->dtype) / 4;
    TU_CHECK(ok && tu_compare("steps vs one-shot", got, fulld, n, tol, tol),
             "%s: prefill + steps equal the one-shot forward", label);
    TU_CHECK(ok && tu_compare("steps vs reference", got, ref, n, atol_of(c->dtype),
                              atol_of(c->dtype) / 2),
             "%s: prefill + steps match the reference", label);
    clattn_kv_cache_destroy(cache);
    clattn_mha_layer_destroy(layer);
    free(x), free(full), free(got), free(ref), free(fulld);
    free_weights(&w);
}

/* ---- the device form: a wait list and an event ---- */

static void device_form(clattn_context *ctx) {
    const layer_case c = {48, 6, 2, 0, 0, 1, 1, CLATTN_DTYPE_F32, 2, 7, 1, 0, 0, 0, 0, 0};
    weights w;
    clattn_mha_layer *layer = layer_of(ctx, &c, &w);
    const int64_t n = c.B * c.S * c.E;
    float *x = randn(n, 1.0f), *yh = tu_alloc_floats(n), *yd = tu_alloc_floats(n);
    tu_poison(yh, n);
    tu_poison(yd, n);
    clattn_mha_forward_desc fd;
    clattn_mha_forward_desc_init(&fd, sizeof fd);
    fd.batch = c.B, fd.seq = c.S, fd.causal = 1;
    clattn_status st = clattn_mha_layer_forward_host(layer, &fd, x, yh);
    cl_context clc = clattn_context_cl_context(ctx);
    cl_int err = CL_SUCCESS;
    cl_mem dx = clCreateBuffer(clc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                               (size_t)n * sizeof(float), x, &err);
    cl_mem dy = clCreateBuffer(clc, CL_MEM_READ_WRITE, (size_t)n * sizeof(float), NULL, &err);
    cl_event gate = clCreateUserEvent(clc, &err), done = NULL;
    if (st == CLATTN_SUCCESS) st = clattn_mha_layer_forward(layer, &fd, dx, dy, 1, &gate, &done);
    cl_int state = CL_COMPLETE;
    if (done) clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL);
    const int waited = state != CL_COMPLETE; /* nothing may finish before the gate opens */
    clSetUserEventStatus(gate, CL_COMPLETE);
    if (done) clWaitForEvents(1, &done);
    if (st == CLATTN_SUCCESS)
        clEnqueueReadBuffer(clattn_context_queue(ctx), dy, CL_TRUE, 0, (size_t)n * sizeof(float),
                            yd, 0, NULL, NULL);
    TU_CHECK(st == CLATTN_SUCCESS && done && waited &&
                 memcmp(yh, yd, (size_t)n * sizeof(float)) == 0,
             "device form behind a user event: waits for it, gives an event, the host form's "
             "bits (%s)",
             st ? clattn_context_last_error(ctx) : "ok");
    if (done) clReleaseEvent(done);
    clReleaseEvent(gate);
    clReleaseMemObject(dx);
    clReleaseMemObject(dy);
    clattn_mha_layer_destroy(layer);
    free(x), free(yh), free(yd);
    free_weights(&w);
}

/* ---- .npy folders: both naming schemes, float64 files, refusals ---- */

static char tmpdir[] = "/tmp/clattn-layer-XXXXXX";

static void write_npy(const char *name, int ndim, int64_t d0, int64_t d1, const float *data,
                      int as_f64) {
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/%s.npy", tmpdir, name);
    const int64_t shape[2] = {d0, d1}, count = ndim == 2 ? d0 * d1 : d0;
    double *wide = NULL;
    if (as_f64) {
        wide = tu_alloc_zeroed((size_t)count * sizeof *wide);
        for (int64_t i = 0; i < count; i++) wide[i] = data[i];
    }
    if (clattn_npy_write(path, as_f64 ? CLATTN_NPY_F64 : CLATTN_NPY_F32, ndim, shape,
                         as_f64 ? (const void *)wide : data, err, sizeof err) != CLATTN_SUCCESS)
        printf("FAIL: writing %s: %s\n", path, err);
    free(wide);
}

static void clear_dir(void) {
    static const char *const names[] = {"q_proj",          "k_proj",       "v_proj",
                                        "o_proj",          "q_proj_bias",  "k_proj_bias",
                                        "v_proj_bias",     "o_proj_bias",  "in_proj_weight",
                                        "out_proj_weight", "in_proj_bias", "out_proj_bias"};
    char path[600];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s.npy", tmpdir, names[i]);
        remove(path);
    }
}

/* The layer loaded from the folder gives the bits of the layer made from w. */
static int loaded_equals(clattn_context *ctx, const weights *w, const clattn_mha_layer_desc *d,
                         const char *what) {
    const clattn_mha_weights hw = split_form(w);
    const int64_t B = 2, S = 5, n = B * S * d->embed_dim;
    float *x = randn(n, 1.0f), *ya = tu_alloc_floats(n), *yb = tu_alloc_floats(n);
    tu_poison(ya, n);
    tu_poison(yb, n);
    clattn_mha_forward_desc fd;
    clattn_mha_forward_desc_init(&fd, sizeof fd);
    fd.batch = B, fd.seq = S, fd.causal = 1;
    clattn_mha_layer *a = NULL, *b = NULL;
    clattn_status st = clattn_mha_layer_create(ctx, d, &hw, &a);
    if (st == CLATTN_SUCCESS) st = clattn_mha_layer_load(ctx, d, tmpdir, &b);
    if (st == CLATTN_SUCCESS) st = clattn_mha_layer_forward_host(a, &fd, x, ya);
    if (st == CLATTN_SUCCESS) st = clattn_mha_layer_forward_host(b, &fd, x, yb);
    const int ok = TU_CHECK(st == CLATTN_SUCCESS && memcmp(ya, yb, (size_t)n * sizeof(float)) == 0,
                            "load %s: the same bits as the layer made from the arrays (%s)", what,
                            st ? clattn_context_last_error(ctx) : "ok");
    clattn_mha_layer_destroy(a);
    clattn_mha_layer_destroy(b);
    free(x), free(ya), free(yb);
    return ok;
}

/* A load that must be refused with `want`, naming `needle`, *out left NULL. */
static void load_refused(clattn_context *ctx, const clattn_mha_layer_desc *d, clattn_status want,
                         const char *needle, const char *what) {
    clattn_mha_layer *l = (clattn_mha_layer *)&l; /* must become NULL */
    clattn_status st = clattn_mha_layer_load(ctx, d, tmpdir, &l);
    const char *msg = clattn_context_last_error(ctx);
    TU_CHECK(st == want && l == NULL && strstr(msg, needle) != NULL, "load refused: %s (%s: %s)",
             what, clattn_status_string(st), msg);
    if (st == CLATTN_SUCCESS) clattn_mha_layer_destroy(l);
}

static void npy_folders(clattn_context *ctx) {
    if (!mkdtemp(tmpdir)) {
        TU_CHECK(0, "mkdtemp %s", tmpdir);
        return;
    }
    /* split form, GQA with biases, o_proj and a bias as float64 files */
    const layer_case c = {48, 4, 2, 10, 14, 1, 1, CLATTN_DTYPE_F32, 1, 1, 0, 0, 0, 0, 0, 0};
    weights w;
    make_weights(&c, &w);
    const int64_t E = c.E, q = 4 * 10, k = 2 * 10, v = 2 * 14;
    write_npy("q_proj", 2, q, E, w.wq, 0);
    write_npy("k_proj", 2, k, E, w.wk, 0);
    write_npy("v_proj", 2, v, E, w.wv, 0);
    write_npy("o_proj", 2, E, 4 * 14, w.wo, 1);
    write_npy("q_proj_bias", 1, q, 0, w.bq, 0);
    write_npy("k_proj_bias", 1, k, 0, w.bk, 1);
    write_npy("v_proj_bias", 1, v, 0, w.bv, 0);
    write_npy("o_proj_bias", 1, E, 0, w.bo, 0);
    loaded_equals(ctx, &w, &w.d, "split form (float32 and float64 files)");
    clattn_mha_layer_desc d = w.d;
    d.has_out_bias = 0; /* the bias file is there but not asked for: not read */
    weights nob = w;
    nob.bo = NULL;
    loaded_equals(ctx, &nob, &d, "split form without the output bias");
    d = w.d;
    d.kv_heads = 4; /* k_proj.npy is [20, 48]; the descriptor wants [40, 48] */
    load_refused(ctx, &d, CLATTN_ERROR_SHAPE_MISMATCH, "k_proj.npy has shape [20, 48]",
                 "k_proj of the wrong shape");
    write_npy("v_proj_bias", 2, v, 1, w.bv, 0);
    load_refused(ctx, &w.d, CLATTN_ERROR_SHAPE_MISMATCH, "v_proj_bias.npy has shape [28, 1]",
                 "a bias of two dims");
    char path[600];
    snprintf(path, sizeof path, "%s/v_proj_bias.npy", tmpdir);
    remove(path);
    load_refused(ctx, &w.d, CLATTN_ERROR_IO, "v_proj_bias.npy", "a missing bias file");
    d = w.d;
    d.head_dim = 0; /* 48 / 4 = 12, not the files' 10 */
    load_refused(ctx, &d, CLATTN_ERROR_SHAPE_MISMATCH, "q_proj.npy", "q_proj of the wrong shape");
    clear_dir();
    free_weights(&w);

    /* nn.MultiheadAttention's names */
    const layer_case m = {48, 6, 6, 0, 0, 1, 1, CLATTN_DTYPE_F32, 1, 1, 0, 0, 0, 0, 0, 0};
    make_weights(&m, &w);
    float *in_w, *in_b;
    pack(&w, &in_w, &in_b);
    write_npy("in_proj_weight", 2, 3 * E, E, in_w, 0);
    write_npy("out_proj_weight", 2, E, E, w.wo, 1);
    write_npy("in_proj_bias", 1, 3 * E, 0, in_b, 0);
    write_npy("out_proj_bias", 1, E, 0, w.bo, 0);
    loaded_equals(ctx, &w, &w.d, "nn.MultiheadAttention names");
    d = w.d;
    d.kv_heads = 2;
    load_refused(ctx, &d, CLATTN_ERROR_SHAPE_MISMATCH, "packed", "packed weights for a GQA layer");
    write_npy("out_proj_weight", 2, E, E - 1, w.wo, 0);
    load_refused(ctx, &w.d, CLATTN_ERROR_SHAPE_MISMATCH, "out_proj_weight.npy has shape [48, 47]",
                 "out_proj_weight of the wrong shape");
    clear_dir();
    load_refused(ctx, &w.d, CLATTN_ERROR_IO, "neither q_proj.npy", "an empty folder");
    rmdir(tmpdir);
    free(in_w), free(in_b);
    free_weights(&w);
}

/* ---- bad input: refused with a status, nothing changed ---- */

static void create_refusals(clattn_context *ctx) {
    const layer_case c = {48, 6, 2, 0, 0, 1, 0, CLATTN_DTYPE_F32, 1, 1, 0, 0, 0, 0, 0, 0};
    weights w;
    make_weights(&c, &w);
    const clattn_mha_weights good = split_form(&w);
    static const struct {
        const char *what;
        int64_t E, heads, kv_heads, head_dim, rope_dim;
        double theta, scale;
        int dtype, size;
        clattn_status want;
    } bad[] = {
        {"E 50 not a multiple of 6 heads", 50, 6, 2, 0, 0, 0, 0, 0, 0, CLATTN_ERROR_SHAPE_MISMATCH},
        {"6 heads over 4 kv heads", 48, 6, 4, 0, 0, 0, 0, 0, 0, CLATTN_ERROR_SHAPE_MISMATCH},
        {"more kv heads than heads", 48, 6, 12, 0, 0, 0, 0, 0, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"head_dim 300", 48, 6, 2, 300, 0, 0, 0, 0, 0, CLATTN_ERROR_UNSUPPORTED},
        {"heads 0", 48, 0, 0, 0, 0, 0, 0, 0, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"E 0", 0, 6, 2, 0, 0, 0, 0, 0, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"dtype 9", 48, 6, 2, 0, 0, 0, 0, 9, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"scale NaN", 48, 6, 2, 0, 0, 0, NAN, 0, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"rope_theta -1", 48, 6, 2, 0, 0, -1, 0, 0, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"RoPE on head_dim 7", 42, 6, 2, 0, 0, 1e4, 0, 0, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"rope_dim 3", 48, 6, 2, 0, 3, 1e4, 0, 0, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"rope_dim 10 > head_dim 8", 48, 6, 2, 0, 10, 1e4, 0, 0, 0, CLATTN_ERROR_INVALID_ARGUMENT},
        {"struct_size 3", 48, 6, 2, 0, 0, 0, 0, 0, 3, CLATTN_ERROR_INVALID_ARGUMENT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        clattn_mha_layer_desc d = w.d;
        d.embed_dim = bad[i].E, d.heads = bad[i].heads, d.kv_heads = bad[i].kv_heads;
        d.head_dim = bad[i].head_dim, d.head_dim_v = 0, d.rope_dim = bad[i].rope_dim;
        d.rope_theta = bad[i].theta, d.scale = bad[i].scale, d.dtype = (clattn_dtype)bad[i].dtype;
        if (bad[i].size) d.struct_size = (size_t)bad[i].size;
        clattn_mha_layer *l = (clattn_mha_layer *)&l;
        clattn_status st = clattn_mha_layer_create(ctx, &d, &good, &l);
        TU_CHECK(st == bad[i].want && l == NULL, "create refused: %s (%s: %s)", bad[i].what,
                 clattn_status_string(st), clattn_context_last_error(ctx));
    }
    clattn_mha_weights missing = good;
    missing.k_bias = NULL;
    clattn_mha_weights packed_gqa = good;
    packed_gqa.q_proj = NULL, packed_gqa.in_proj_weight = w.wq, packed_gqa.in_proj_bias = w.bq;
    clattn_mha_weights no_k = good;
    no_k.k_proj = NULL;
    const struct {
        const char *what;
        const clattn_mha_weights *w;
        clattn_status want;
    } bad_w[] = {
        {"NULL weights", NULL, CLATTN_ERROR_INVALID_ARGUMENT},
        {"k_proj NULL", &no_k, CLATTN_ERROR_INVALID_ARGUMENT},
        {"a bias the descriptor asks for is NULL", &missing, CLATTN_ERROR_INVALID_ARGUMENT},
        {"packed weights for a GQA layer", &packed_gqa, CLATTN_ERROR_SHAPE_MISMATCH}};
    for (size_t i = 0; i < sizeof bad_w / sizeof *bad_w; i++) {
        clattn_mha_layer *l = (clattn_mha_layer *)&l;
        clattn_status st = clattn_mha_layer_create(ctx, &w.d, bad_w[i].w, &l);
        TU_CHECK(st == bad_w[i].want && l == NULL, "create refused: %s (%s: %s)", bad_w[i].what,
                 clattn_status_string(st), clattn_context_last_error(ctx));
    }
    TU_CHECK(clattn_mha_layer_create(ctx, &w.d, &good, NULL) == CLATTN_ERROR_INVALID_ARGUMENT &&
                 clattn_mha_layer_create(NULL, &w.d, &good, NULL) == CLATTN_ERROR_INVALID_ARGUMENT,
             "create refuses a NULL out or context");
    clattn_mha_layer_destroy(NULL);
    free_weights(&w);
}

/* The state a refused call must leave: y's bits, the cache's lengths and free pages. */
typedef struct {
    clattn_context *ctx;
    clattn_mha_layer *layer;
    clattn_kv_cache *cache;
    const float *x;
    float *y, *y0;
    int64_t n;
} refusal_env;

static int cache_state(clattn_kv_cache *cache, int32_t *len, int64_t *free_pages) {
    clattn_kv_cache_info info;
    if (clattn_kv_cache_get_info(cache, &info, sizeof info) != CLATTN_SUCCESS) return 0;
    *free_pages = info.free_pages;
    return clattn_kv_cache_lengths(cache, len, 2) == CLATTN_SUCCESS;
}

static void refused(const refusal_env *env, clattn_mha_layer *layer,
                    const clattn_mha_forward_desc *d, const float *x, float *y, clattn_status want,
                    const char *what) {
    int32_t len0[2] = {0, 0}, len1[2] = {1, 1};
    int64_t free0 = -1, free1 = -2;
    cache_state(env->cache, len0, &free0);
    memcpy(env->y, env->y0, (size_t)env->n * sizeof(float));
    clattn_status st = clattn_mha_layer_forward_host(layer, d, x, y);
    cache_state(env->cache, len1, &free1);
    TU_CHECK(st == want && memcmp(env->y, env->y0, (size_t)env->n * sizeof(float)) == 0 &&
                 memcmp(len0, len1, sizeof len0) == 0 && free0 == free1,
             "forward refused: %s, y and the cache unchanged (%s: %s)", what,
             clattn_status_string(st), clattn_context_last_error(env->ctx));
}

static void forward_refusals(clattn_context *ctx) {
    enum { S = 4, PAGE = 3 };
    const layer_case c = {48, 6, 2, 0, 0, 1, 1, CLATTN_DTYPE_F32, 2, S, 1, 0, 0, 0, 0, 0};
    weights w;
    clattn_mha_layer *layer = layer_of(ctx, &c, &w);
    clattn_kv_cache *cache = NULL, *wrong_heads = NULL, *wrong_dim = NULL;
    clattn_kv_cache_desc cd;
    clattn_kv_cache_desc_init(&cd, sizeof cd);
    cd.slots = 2, cd.kv_heads = 2, cd.capacity = 8, cd.head_dim = 8, cd.page_size = PAGE;
    cd.num_pages = 4;
    clattn_status st = layer ? clattn_kv_cache_create(ctx, &cd, &cache) : CLATTN_ERROR_INTERNAL;
    cd.kv_heads = 3;
    if (st == CLATTN_SUCCESS) st = clattn_kv_cache_create(ctx, &cd, &wrong_heads);
    cd.kv_heads = 2, cd.head_dim = 16;
    if (st == CLATTN_SUCCESS) st = clattn_kv_cache_create(ctx, &cd, &wrong_dim);
    const int64_t n = c.B * S * c.E;
    float *x = randn(n, 1.0f), *y = tu_alloc_floats(n), *y0 = tu_alloc_floats(n);
    tu_poison(y0, n);
    const int32_t slots[2] = {0, 1}, one[1] = {0};
    int32_t lens[2] = {S, S};
    clattn_mha_forward_desc good;
    clattn_mha_forward_desc_init(&good, sizeof good);
    good.batch = 1, good.seq = S, good.causal = 1, good.cache = cache, good.slots = one;
    /* slot 0 holds 4 tokens (2 pages of 3; 2 of the 4 pages left) */
    if (st == CLATTN_SUCCESS) st = clattn_mha_layer_forward_host(layer, &good, x, y);
    if (!TU_CHECK(st == CLATTN_SUCCESS, "refusals: setup (%s)", clattn_context_last_error(ctx)))
        goto done;
    refusal_env env = {ctx, layer, cache, x, y, y0, n};
    clattn_mha_forward_desc d = good;
    d.batch = 2, d.slots = slots, d.lengths = lens;
    lens[1] = S + 1;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "lengths[1] = seq + 1");
    lens[1] = -1;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "lengths[1] = -1");
    lens[1] = S;
    d.batch = 0;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "batch 0");
    d.batch = 2, d.seq = 0;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "seq 0");
    d.seq = S, d.struct_size = 1;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "struct_size 1");
    refused(&env, layer, NULL, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "a NULL descriptor");
    d = good;
    d.seq = 5; /* slot 0 holds 4 of its 8 */
    refused(&env, layer, &d, x, y, CLATTN_ERROR_INVALID_ARGUMENT,
            "a sequence past the cache's capacity (positions past the cache)");
    d = good;
    d.slots = NULL;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "a cache without slots");
    const int32_t out_of_range[1] = {2}, twice[2] = {1, 1};
    d.slots = out_of_range;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "slot 2 of 2");
    d.batch = 2, d.slots = twice;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "a slot named twice");
    /* slots 0 and 1, 4 tokens each: slot 0 needs 1 more page (8 tokens: 3), slot 1 two: 3 > 2 */
    d.slots = slots;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_OUT_OF_MEMORY, "more pages than the pool has free");
    d = good;
    d.cache = wrong_heads;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_SHAPE_MISMATCH, "a cache of 3 kv heads");
    d.cache = wrong_dim;
    refused(&env, layer, &d, x, y, CLATTN_ERROR_SHAPE_MISMATCH, "a cache of head_dim 16");
    clattn_context *other = tu_context();
    clattn_kv_cache *foreign = NULL;
    cd.head_dim = 8;
    if (clattn_kv_cache_create(other, &cd, &foreign) == CLATTN_SUCCESS) {
        d.cache = foreign;
        refused(&env, layer, &d, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "a cache of another context");
    }
    clattn_kv_cache_destroy(foreign);
    clattn_context_destroy(other);
    refused(&env, layer, &good, NULL, y, CLATTN_ERROR_INVALID_ARGUMENT, "x NULL");
    refused(&env, NULL, &good, x, y, CLATTN_ERROR_INVALID_ARGUMENT, "layer NULL");
    TU_CHECK(clattn_mha_layer_forward_host(layer, &good, x, NULL) == CLATTN_ERROR_INVALID_ARGUMENT,
             "forward refused: y NULL");

    /* the device form: buffers too small, wait lists that disagree */
    cl_context clc = clattn_context_cl_context(ctx);
    cl_int err = CL_SUCCESS;
    const size_t bytes = (size_t)(S * c.E) * sizeof(float);
    cl_mem dx = clCreateBuffer(clc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, x, &err);
    cl_mem dy = clCreateBuffer(clc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, y0, &err);
    cl_mem small = clCreateBuffer(clc, CL_MEM_READ_WRITE, bytes - 4, NULL, &err);
    int32_t len0[2] = {0, 0}, len1[2] = {1, 1};
    int64_t f0 = -1, f1 = -2;
    cache_state(cache, len0, &f0);
    cl_event ev = (cl_event)&ev;
    const struct {
        const char *what;
        cl_mem x, y;
        cl_uint num_wait;
        clattn_status want;
    } dev[] = {{"x one float too small", small, dy, 0, CLATTN_ERROR_BUFFER_TOO_SMALL},
               {"y one float too small", dx, small, 0, CLATTN_ERROR_BUFFER_TOO_SMALL},
               {"x NULL", NULL, dy, 0, CLATTN_ERROR_INVALID_ARGUMENT},
               {"num_wait 1 with no wait list", dx, dy, 1, CLATTN_ERROR_INVALID_ARGUMENT}};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) {
        ev = (cl_event)&ev;
        st = clattn_mha_layer_forward(layer, &good, dev[i].x, dev[i].y, dev[i].num_wait, NULL, &ev);
        clEnqueueReadBuffer(clattn_context_queue(ctx), dy, CL_TRUE, 0, bytes, y, 0, NULL, NULL);
        cache_state(cache, len1, &f1);
        TU_CHECK(st == dev[i].want && ev == NULL && memcmp(y, y0, bytes) == 0 &&
                     memcmp(len0, len1, sizeof len0) == 0 && f0 == f1,
                 "device forward refused: %s, y and the cache unchanged, no event (%s: %s)",
                 dev[i].what, clattn_status_string(st), clattn_context_last_error(ctx));
    }
    clReleaseMemObject(dx);
    clReleaseMemObject(dy);
    clReleaseMemObject(small);
done:
    clattn_kv_cache_destroy(cache);
    clattn_kv_cache_destroy(wrong_heads);
    clattn_kv_cache_destroy(wrong_dim);
    clattn_mha_layer_destroy(layer);
    free(x), free(y), free(y0);
    free_weights(&w);
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    static const layer_case cases[] = {
        /* E  Hq Hkv D Dv  bias  dtype  B  S  causal ragged  RoPE: theta gptj dim scale */
        {48, 6, 6, 0, 0, 0, 0, CLATTN_DTYPE_F32, 1, 1, 0, 0, 0, 0, 0, 0},
        {48, 6, 6, 0, 0, 1, 1, CLATTN_DTYPE_F32, 2, 7, 1, 0, 0, 0, 0, 0},
        {96, 6, 3, 0, 0, 1, 0, CLATTN_DTYPE_F32, 3, 59, 1, 1, 0, 0, 0, 0},
        {96, 3, 1, 0, 0, 0, 1, CLATTN_DTYPE_F32, 2, 7, 0, 1, 0, 0, 0, 0},
        {48, 4, 2, 10, 14, 1, 1, CLATTN_DTYPE_F32, 3, 7, 1, 1, 0, 0, 0, 0},
        {96, 6, 3, 0, 0, 1, 1, CLATTN_DTYPE_F16, 3, 59, 1, 1, 0, 0, 0, 0},
        {48, 6, 1, 0, 0, 0, 1, CLATTN_DTYPE_F16, 1, 7, 0, 0, 0, 0, 0, 0},
        {96, 3, 3, 0, 0, 1, 0, CLATTN_DTYPE_BF16, 2, 59, 1, 1, 0, 0, 0, 0},
        /* RoPE: both pairings, part of the head rotated, a position scale */
        {96, 6, 2, 0, 0, 1, 1, CLATTN_DTYPE_F32, 3, 59, 1, 1, 10000, 0, 0, 0},
        {48, 4, 2, 10, 14, 1, 0, CLATTN_DTYPE_F32, 3, 7, 1, 1, 10000, 1, 0, 0},
        {48, 6, 6, 0, 0, 0, 1, CLATTN_DTYPE_F16, 2, 7, 1, 0, 500, 1, 4, 0},
        {96, 3, 1, 0, 0, 1, 1, CLATTN_DTYPE_F32, 1, 59, 0, 0, 10000, 0, 12, 0.25},
        /* on CPU devices every projection is layer_linear, 1, 2 or 4 rows a work-item (1, 2 or 6
         * with 8 lanes, two panels for 1 or 2): here 2, 5, 8 and 9 rows, so whole and partial row
         * blocks; E = 36 leaves the output projection's columns in one partial panel of 64
         * columns (16 lanes), or in 3 panels of 16, the last partial and, two panels a
         * work-item at 2 rows, the second work-item's second panel past the end (8 lanes) */
        {36, 4, 2, 9, 9, 1, 1, CLATTN_DTYPE_F32, 1, 2, 1, 0, 0, 0, 0, 0},
        {36, 4, 2, 10, 9, 1, 0, CLATTN_DTYPE_F32, 1, 5, 1, 0, 10000, 0, 0, 0},
        {36, 4, 2, 9, 9, 0, 1, CLATTN_DTYPE_F16, 2, 4, 1, 1, 0, 0, 0, 0},
        {36, 4, 2, 9, 9, 1, 1, CLATTN_DTYPE_F32, 3, 3, 1, 1, 0, 0, 0, 0},
        /* 343 x 6 = 2058 query rows per kv head over k and v rows 128 floats apart in the
         * projection: on CPU devices the attention runs on contiguous copies of them
         * (src/sdpa/plan_cpu.h: clattn__cpu_stage_kv), ragged, with RoPE */
        {96, 6, 1, 0, 0, 1, 1, CLATTN_DTYPE_F32, 2, 343, 1, 1, 10000, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(ctx, &cases[i]);
    /* the attention's GPU flavour (local-memory tiles) on the same device */
    clattn_context *gpu = tu_gpu_context(32768);
    run_case(gpu, &cases[8]);
    run_case(gpu, &cases[0]); /* one row: CLBlast's GEMV where layer_linear is for CPU devices */
    clattn_context_destroy(gpu);
    /* layer_linear at 8 lanes (an AVX2 host's panels of 16 columns, 6 rows a work-item, two
     * panels for 1 or 2 rows) */
    setenv("CLATTN_VECTOR_WIDTH", "8", 1);
    clattn_context *lanes8 = tu_context();
    unsetenv("CLATTN_VECTOR_WIDTH");
    run_case(lanes8, &cases[0]);  /* 1 row, E = 48: two panels a work-item; the output's 3
                                   * panels leave the last work-item's second past the end */
    run_case(lanes8, &cases[2]);  /* 177 rows, the last block of 6 partial (3 rows) */
    run_case(lanes8, &cases[13]); /* 5 rows, E = 36: partial panels */
    clattn_context_destroy(lanes8);
    /* ... and at 16 lanes (panels of 64 columns, 4 rows a work-item), which CLATTN_VECTOR_WIDTH
     * cannot raise an AVX2 host to: the context is made to believe its device prefers 16-wide
     * floats before the layers are created (PoCL runs float16 on any host). */
    clattn_context *lanes16 = tu_context();
    lanes16->caps.preferred_vector_width_float = 16;
    run_case(lanes16, &cases[0]);  /* 1 row */
    run_case(lanes16, &cases[2]);  /* 177 rows, the last block of 4 partial (1 row) */
    run_case(lanes16, &cases[13]); /* 5 rows, E = 36: one partial panel */
    clattn_context_destroy(lanes16);
    packed_equals_split(ctx);
    const layer_case gqa = {96, 6, 2, 0, 0, 1, 1, CLATTN_DTYPE_F32, 3, 0, 1, 1, 10000, 0, 0, 0};
    cache_matches_full(ctx, &gqa, 5, 3);
    cache_matches_full(ctx, &gqa, 0, 3);
    cache_matches_full(ctx, &gqa, 5, 1);
    const layer_case mqa16 = {48, 6, 1, 0, 0, 1, 0, CLATTN_DTYPE_F16, 3, 0, 1, 1, 500, 1, 6, 0};
    cache_matches_full(ctx, &mqa16, 5, 3);
    device_form(ctx);
    npy_folders(ctx);
    create_refusals(ctx);
    forward_refusals(ctx);
    clattn_context_destroy(ctx);
    return tu_finish();
}
