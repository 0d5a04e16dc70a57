/* test_layer.c: the attention layer (include/clattn_layer.h) against the float64 reference of
 * tests/ref/layer_ref.c: fresh random weights and inputs, y poisoned before each call and every
 * element checked. Odd sizes (E 48 and 96, head dims 8..32, S 1, 7 and 59, B 1..3), MHA, GQA
 * and MQA, biases on and off, causal and not, ragged lengths (padding rows of x hold NaN, which
 * must not reach any valid row; padding rows of y must be 0), float32/float16/bfloat16 storage.
 * The split weights and nn.MultiheadAttention's packed in_proj_weight give the same result bit
 * for bit. */
#include "layer_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t E, Hq, Hkv, D, Dv; /* D 0: E / Hq; Dv 0: D */
    int qkv_bias, out_bias;
    clattn_dtype dtype;
    int64_t B, S;
    int causal, ragged;
} layer_case;

/* Random weights of a layer in the split form, owned by the struct. */
typedef struct {
    clattn_mha_layer_desc d; /* resolved by hand: every dim set */
    float *wq, *wk, *wv, *wo, *bq, *bk, *bv, *bo;
} weights;

static void *xalloc(size_t n) {
    void *p = calloc(n ? n : 1, 1);
    if (!p) {
        printf("FAIL: host allocation\n");
        exit(1);
    }
    return p;
}

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
    int32_t *len = xalloc((size_t)B * sizeof *len);
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

/* One forward of a fresh layer against the reference. */
static void run_case(clattn_context *ctx, const layer_case *c) {
    char label[160];
    snprintf(label, sizeof label,
             "E=%lld Hq=%lld Hkv=%lld D=%lld Dv=%lld bias=%d/%d %s B=%lld S=%lld%s%s",
             (long long)c->E, (long long)c->Hq, (long long)c->Hkv, (long long)c->D,
             (long long)c->Dv, c->qkv_bias, c->out_bias, dt_name(c->dtype), (long long)c->B,
             (long long)c->S, c->causal ? " causal" : "", c->ragged ? " ragged" : "");
    weights w;
    make_weights(c, &w);
    const clattn_mha_weights hw = split_form(&w);
    clattn_mha_layer *layer = NULL;
    clattn_status st = clattn_mha_layer_create(ctx, &w.d, &hw, &layer);
    if (!TU_CHECK(st == CLATTN_SUCCESS, "%s: create (%s)", label, clattn_context_last_error(ctx))) {
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
    st = clattn_mha_layer_forward_host(layer, &fd, x, y);
    double *ref = xalloc((size_t)n * sizeof *ref);
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
    const layer_case c = {48, 6, 6, 0, 0, 1, 1, CLATTN_DTYPE_F32, 2, 7, 1, 1};
    weights w;
    make_weights(&c, &w);
    const int64_t E = c.E;
    float *in_w = tu_alloc_floats(3 * E * E), *in_b = tu_alloc_floats(3 * E);
    memcpy(in_w, w.wq, (size_t)(E * E) * sizeof(float));
    memcpy(in_w + E * E, w.wk, (size_t)(E * E) * sizeof(float));
    memcpy(in_w + 2 * E * E, w.wv, (size_t)(E * E) * sizeof(float));
    memcpy(in_b, w.bq, (size_t)E * sizeof(float));
    memcpy(in_b + E, w.bk, (size_t)E * sizeof(float));
    memcpy(in_b + 2 * E, w.bv, (size_t)E * sizeof(float));
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

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    static const layer_case cases[] = {
        /* E  Hq Hkv D Dv  bias  dtype             B  S  causal ragged */
        {48, 6, 6, 0, 0, 0, 0, CLATTN_DTYPE_F32, 1, 1, 0, 0},
        {48, 6, 6, 0, 0, 1, 1, CLATTN_DTYPE_F32, 2, 7, 1, 0},
        {96, 6, 3, 0, 0, 1, 0, CLATTN_DTYPE_F32, 3, 59, 1, 1},
        {96, 3, 1, 0, 0, 0, 1, CLATTN_DTYPE_F32, 2, 7, 0, 1},
        {48, 4, 2, 10, 14, 1, 1, CLATTN_DTYPE_F32, 3, 7, 1, 1},
        {96, 6, 3, 0, 0, 1, 1, CLATTN_DTYPE_F16, 3, 59, 1, 1},
        {48, 6, 1, 0, 0, 0, 1, CLATTN_DTYPE_F16, 1, 7, 0, 0},
        {96, 3, 3, 0, 0, 1, 0, CLATTN_DTYPE_BF16, 2, 59, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(ctx, &cases[i]);
    packed_equals_split(ctx);
    clattn_context_destroy(ctx);
    return tu_finish();
}
