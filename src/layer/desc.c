/* desc.c: the attention layer's two descriptors (include/clattn_layer.h): their defaults, and
 * the layer descriptor checked and resolved to the shape every other part of the layer uses. */
#include "layer/layer_internal.h"
#include "rope/rope_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Head dims the attention and RoPE kernels take. */
#define LAYER_MAX_HEAD_DIM 256

static void layer_defaults(clattn_mha_layer_desc *d) {
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->rope_style = CLATTN_ROPE_NEOX;
    d->rope_position_scale = 1.0;
    d->dtype = CLATTN_DTYPE_F32;
}

clattn_status clattn_mha_layer_desc_init(clattn_mha_layer_desc *desc, size_t size) {
    clattn_mha_layer_desc d;
    layer_defaults(&d);
    return clattn__desc_init(desc, size, CLATTN_MHA_LAYER_DESC_MIN_SIZE, &d, sizeof d);
}

clattn_status clattn_mha_forward_desc_init(clattn_mha_forward_desc *desc, size_t size) {
    clattn_mha_forward_desc d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    return clattn__desc_init(desc, size, CLATTN_MHA_FORWARD_DESC_MIN_SIZE, &d, sizeof d);
}

/* The RoPE settings of a descriptor whose head_dim is resolved (clattn_rope's own check). */
static clattn_status check_rope(clattn_context *ctx, clattn_mha_layer_desc *d) {
    if (!isfinite(d->rope_theta) || d->rope_theta < 0.0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha layer: rope_theta is %g; it must be finite and >= 0 (0: no RoPE)",
                            d->rope_theta);
    if (d->rope_theta == 0.0) {
        d->rope_dim = 0;
        return CLATTN_SUCCESS;
    }
    clattn_rope_table t;
    clattn_status st = clattn__rope_table(ctx, "mha layer (RoPE)", d->head_dim, d->rope_dim,
                                          d->rope_style, d->rope_theta, d->rope_position_scale, &t);
    if (st == CLATTN_SUCCESS) d->rope_dim = 2 * (int64_t)t.half;
    return st;
}

clattn_status clattn__mha_desc_resolve(clattn_context *ctx, const clattn_mha_layer_desc *in,
                                       clattn_mha_layer_desc *out) {
    clattn_mha_layer_desc d;
    layer_defaults(&d);
    clattn_status st = clattn__struct_in(ctx, "clattn_mha_layer_desc", in,
                                         CLATTN_MHA_LAYER_DESC_MIN_SIZE, &d, sizeof d);
    if (st != CLATTN_SUCCESS) return st;
    if (d.embed_dim < 1 || d.embed_dim > INT32_MAX || d.heads < 1 || d.heads > INT32_MAX ||
        d.kv_heads < 0 || d.kv_heads > d.heads)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha layer: embed_dim %lld and heads %lld must be 1..2^31-1, kv_heads "
                            "%lld 0..heads (0: heads)",
                            (long long)d.embed_dim, (long long)d.heads, (long long)d.kv_heads);
    if (d.kv_heads == 0) d.kv_heads = d.heads;
    if (d.heads % d.kv_heads != 0)
        return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                            "mha layer: heads (%lld) is not a multiple of kv_heads (%lld)",
                            (long long)d.heads, (long long)d.kv_heads);
    if (d.head_dim == 0) {
        if (d.embed_dim % d.heads != 0)
            return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                                "mha layer: embed_dim %lld is not a multiple of heads %lld (set "
                                "head_dim to choose the head size)",
                                (long long)d.embed_dim, (long long)d.heads);
        d.head_dim = d.embed_dim / d.heads;
    }
    if (d.head_dim_v == 0) d.head_dim_v = d.head_dim;
    if (d.head_dim < 1 || d.head_dim > LAYER_MAX_HEAD_DIM || d.head_dim_v < 1 ||
        d.head_dim_v > LAYER_MAX_HEAD_DIM)
        return clattn__fail(ctx,
                            d.head_dim > LAYER_MAX_HEAD_DIM || d.head_dim_v > LAYER_MAX_HEAD_DIM
                                ? CLATTN_ERROR_UNSUPPORTED
                                : CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha layer: head_dim %lld and head_dim_v %lld must be 1..%d",
                            (long long)d.head_dim, (long long)d.head_dim_v, LAYER_MAX_HEAD_DIM);
    if ((st = check_rope(ctx, &d)) != CLATTN_SUCCESS) return st;
    if (!isfinite(d.scale) || fabs(d.scale) > FLT_MAX)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha layer: scale is %g; it must be a finite float (0: 1/sqrt(D))",
                            d.scale);
    if (d.scale == 0.0) d.scale = 1.0 / sqrt((double)d.head_dim);
    if ((int)d.dtype < CLATTN_DTYPE_F32 || (int)d.dtype > CLATTN_DTYPE_BF16)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha layer: dtype is %d; it must be CLATTN_DTYPE_F32, _F16 or _BF16",
                            (int)d.dtype);
    *out = d;
    return CLATTN_SUCCESS;
}
