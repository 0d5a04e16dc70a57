/* convert_gqa.c: clattn_mha_to_gqa, the GQA paper's checkpoint conversion (Ainslie et al. 2023,
 * section 2.1): the key and value projection heads of an attention layer are mean-pooled into
 * fewer groups. Host-only float32 work on the caller's arrays (no device is involved), but it
 * takes the context like every other call so its refusals leave a message in the context's last
 * error; ctx NULL is refused with CLATTN_ERROR_INVALID_ARGUMENT and no message, as elsewhere. */
#include "core/internal.h"

#include <string.h>

/* The shape of the layer the descriptor describes, as the conversion needs it. */
typedef struct {
    int64_t E, Hq, Hkv, D, Dv;
    int has_bias;
} gqa_shape;

/* Resolves the descriptor's defaults (kv_heads, head_dim and head_dim_v at 0) and checks the
 * fields the conversion reads; the rest (RoPE, scale, storage type) do not change the weights. */
static clattn_status read_shape(clattn_context *ctx, const clattn_mha_layer_desc *in,
                                gqa_shape *s) {
    /* Every field read here has 0 as its init value, so zeros are the defaults a shorter
     * (older) caller's struct gets for the fields it lacks. */
    clattn_mha_layer_desc d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    clattn_status st = clattn__struct_in(ctx, "clattn_mha_to_gqa: desc", in,
                                         CLATTN_MHA_LAYER_DESC_MIN_SIZE, &d, sizeof d);
    if (st != CLATTN_SUCCESS) return st;
    if (d.embed_dim < 1 || d.heads < 1)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_mha_to_gqa: embed_dim %lld and heads %lld must be >= 1",
                            (long long)d.embed_dim, (long long)d.heads);
    s->E = d.embed_dim, s->Hq = d.heads;
    s->Hkv = d.kv_heads ? d.kv_heads : d.heads;
    if (s->Hkv < 1 || s->Hq % s->Hkv != 0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_mha_to_gqa: desc kv_heads %lld must divide heads %lld",
                            (long long)d.kv_heads, (long long)s->Hq);
    if (d.head_dim == 0 && s->E % s->Hq != 0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_mha_to_gqa: head_dim 0 means embed_dim / heads, but heads "
                            "%lld does not divide embed_dim %lld",
                            (long long)s->Hq, (long long)s->E);
    s->D = d.head_dim ? d.head_dim : s->E / s->Hq;
    s->Dv = d.head_dim_v ? d.head_dim_v : s->D;
    if (s->D < 1 || s->D > 256 || s->Dv < 1 || s->Dv > 256)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_mha_to_gqa: head_dim %lld and head_dim_v %lld must be in "
                            "1..256",
                            (long long)s->D, (long long)s->Dv);
    s->has_bias = d.has_qkv_bias != 0;
    return CLATTN_SUCCESS;
}

/* out[g, c] = mean over the r rows j of group g of in[g * r + j, c]: rows of `cols` floats,
 * heads of `rows_per_head` rows, summed in double and rounded once. */
static void pool_heads(const float *in, float *out, int64_t groups, int64_t r,
                       int64_t rows_per_head, int64_t cols) {
    const int64_t head = rows_per_head * cols; /* floats per head */
    for (int64_t g = 0; g < groups; g++)
        for (int64_t i = 0; i < head; i++) {
            double sum = 0.0;
            for (int64_t j = 0; j < r; j++) sum += in[(g * r + j) * head + i];
            out[g * head + i] = (float)(sum / (double)r);
        }
}

clattn_status clattn_mha_to_gqa(clattn_context *ctx, const clattn_mha_layer_desc *desc,
                                const clattn_mha_weights *in, int64_t kv_heads, float *k_proj,
                                float *v_proj, float *k_bias, float *v_bias) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    gqa_shape s = {0}; /* read_shape fills it on success; zeroed for the compiler */
    clattn_status st = read_shape(ctx, desc, &s);
    if (st != CLATTN_SUCCESS) return st;
    if (!in || !k_proj || !v_proj || (s.has_bias && (!k_bias || !v_bias)))
        return clattn__fail(
            ctx, CLATTN_ERROR_INVALID_ARGUMENT,
            "clattn_mha_to_gqa: in and the outputs k_proj, v_proj%s must not be NULL",
            s.has_bias ? ", k_bias and v_bias (the layer has q/k/v biases)" : "");
    if (kv_heads < 1 || s.Hkv % kv_heads != 0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_mha_to_gqa: kv_heads %lld must divide the layer's %lld kv "
                            "heads (1 gives MQA, %lld the identity)",
                            (long long)kv_heads, (long long)s.Hkv, (long long)s.Hkv);
    /* The inputs' element counts bound every index below; the outputs are smaller. */
    const int64_t fk[3] = {s.Hkv, s.D, s.E}, fv[3] = {s.Hkv, s.Dv, s.E};
    int64_t nk, nv;
    if (clattn__prod64(fk, 3, &nk) || clattn__prod64(fv, 3, &nv) ||
        (uint64_t)nk > SIZE_MAX / sizeof(float) || (uint64_t)nv > SIZE_MAX / sizeof(float))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                            "clattn_mha_to_gqa: the projections of %lld kv heads of %lld x %lld "
                            "(keys) and %lld x %lld (values) floats overflow",
                            (long long)s.Hkv, (long long)s.D, (long long)s.E, (long long)s.Dv,
                            (long long)s.E);
    /* The sources: the split form, or k and v as the middle and last thirds of the packed
     * [3 E, E] in_proj_weight (and in_proj_bias [3 E]). */
    const float *wk, *wv, *bk = NULL, *bv = NULL;
    if (in->q_proj) {
        wk = in->k_proj, wv = in->v_proj;
        if (s.has_bias) bk = in->k_bias, bv = in->v_bias;
        if (!wk || !wv || (s.has_bias && (!bk || !bv)))
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "clattn_mha_to_gqa: the split weights (q_proj set) need k_proj "
                                "and v_proj%s",
                                s.has_bias ? ", k_bias and v_bias" : "");
    } else {
        if (!in->in_proj_weight || (s.has_bias && !in->in_proj_bias))
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "clattn_mha_to_gqa: q_proj is NULL, so the weights are the packed "
                                "form, which needs in_proj_weight%s",
                                s.has_bias ? " and in_proj_bias" : "");
        int64_t width, packed;
        if (s.Hkv != s.Hq || clattn__mul64(s.Hq, s.D, &width) || width != s.E || s.Dv != s.D)
            return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                                "clattn_mha_to_gqa: the packed in_proj_weight holds MHA with "
                                "heads * head_dim = embed_dim and head_dim_v = head_dim; the "
                                "layer has heads %lld, kv_heads %lld, head_dim %lld, head_dim_v "
                                "%lld, embed_dim %lld",
                                (long long)s.Hq, (long long)s.Hkv, (long long)s.D, (long long)s.Dv,
                                (long long)s.E);
        /* nk = E * E here; the offsets below reach 3 E * E. */
        if (clattn__mul64(3, nk, &packed) || (uint64_t)packed > SIZE_MAX / sizeof(float))
            return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                                "clattn_mha_to_gqa: in_proj_weight [3 * %lld, %lld] overflows",
                                (long long)s.E, (long long)s.E);
        wk = in->in_proj_weight + s.E * s.E, wv = in->in_proj_weight + 2 * s.E * s.E;
        if (s.has_bias) bk = in->in_proj_bias + s.E, bv = in->in_proj_bias + 2 * s.E;
    }
    const int64_t r = s.Hkv / kv_heads; /* heads pooled into each group */
    pool_heads(wk, k_proj, kv_heads, r, s.D, s.E);
    pool_heads(wv, v_proj, kv_heads, r, s.Dv, s.E);
    if (s.has_bias) {
        pool_heads(bk, k_bias, kv_heads, r, s.D, 1);
        pool_heads(bv, v_bias, kv_heads, r, s.Dv, 1);
    }
    return CLATTN_SUCCESS;
}
