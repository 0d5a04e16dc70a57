/* convert_gqa.c: clattn_mha_to_gqa, the GQA paper's checkpoint conversion (Ainslie et al. 2023,
 * section 2.1): the key and value projection heads of an attention layer are mean-pooled into
 * fewer groups. Host-only float32 work on the caller's arrays (no device is involved), but it
 * takes the context like every other call so its refusals leave a message in the context's last
 * error; ctx NULL is refused with CLATTN_ERROR_INVALID_ARGUMENT and no message, as elsewhere.
 * The descriptor and the weights are checked by the layer's own rules (layer_internal.h). */
#include "layer/layer_internal.h"

#include <stdint.h>

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
    /* The layer and its weights as clattn_mha_layer_create checks them (o_proj included, though
     * only k and v are read here). */
    clattn_mha_layer_desc d;
    int packed = 0;
    clattn_status st = clattn__mha_desc_resolve(ctx, desc, &d);
    if (st == CLATTN_SUCCESS) st = clattn__mha_weights_form(ctx, &d, in, &packed);
    if (st != CLATTN_SUCCESS) return st;
    const int64_t E = d.embed_dim, Hkv = d.kv_heads, D = d.head_dim, Dv = d.head_dim_v;
    const int bias = d.has_qkv_bias != 0;
    if (!k_proj || !v_proj || (bias && (!k_bias || !v_bias)))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_mha_to_gqa: the outputs k_proj, v_proj%s must not be NULL",
                            bias ? ", k_bias and v_bias (the layer has q/k/v biases)" : "");
    if (kv_heads < 1 || Hkv % kv_heads != 0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_mha_to_gqa: kv_heads %lld must divide the layer's %lld kv "
                            "heads (1 gives MQA, %lld the identity)",
                            (long long)kv_heads, (long long)Hkv, (long long)Hkv);
    /* The inputs' element counts bound every index below; the outputs are smaller. */
    const int64_t fk[3] = {Hkv, D, E}, fv[3] = {Hkv, Dv, E};
    int64_t nk, nv, np;
    if (clattn__prod64(fk, 3, &nk) || clattn__prod64(fv, 3, &nv) ||
        (uint64_t)nk > SIZE_MAX / sizeof(float) || (uint64_t)nv > SIZE_MAX / sizeof(float) ||
        (packed && (clattn__mul64(3, nk, &np) || (uint64_t)np > SIZE_MAX / sizeof(float))))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                            "clattn_mha_to_gqa: the %s of %lld kv heads of %lld x %lld (keys) "
                            "and %lld x %lld (values) floats overflow",
                            packed ? "in_proj_weight" : "projections", (long long)Hkv, (long long)D,
                            (long long)E, (long long)Dv, (long long)E);
    /* The sources: the split form, or k and v as the middle and last thirds of the packed
     * [3 E, E] in_proj_weight (and in_proj_bias [3 E]); nk = E * E there. */
    const float *wk = in->k_proj, *wv = in->v_proj, *bk = in->k_bias, *bv = in->v_bias;
    if (packed) {
        wk = in->in_proj_weight + nk, wv = in->in_proj_weight + 2 * nk;
        bk = bias ? in->in_proj_bias + E : NULL, bv = bias ? in->in_proj_bias + 2 * E : NULL;
    }
    const int64_t r = Hkv / kv_heads; /* heads pooled into each group */
    pool_heads(wk, k_proj, kv_heads, r, D, E);
    pool_heads(wv, v_proj, kv_heads, r, Dv, E);
    if (bias) {
        pool_heads(bk, k_bias, kv_heads, r, D, 1);
        pool_heads(bv, v_bias, kv_heads, r, Dv, 1);
    }
    return CLATTN_SUCCESS;
}
