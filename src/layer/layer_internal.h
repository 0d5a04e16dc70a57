/* layer_internal.h: the attention layer object (include/clattn_layer.h) as its parts see it:
 * desc.c (the descriptors: defaults and the resolved layer shape), create.c (weights onto the
 * device), load.c (weights from .npy files), forward_check.c (a forward call checked against the
 * layer and the cache before anything is enqueued) and forward.c (the stages on the device).
 *
 * The projection layout. q, k and v come from one GEMM, x [B*S, E] times the stacked weights,
 * into a [B*S, ld] buffer whose row holds q (columns 0..Hq*D-1), then k from column off_k, then
 * v from column off_v. The clattn entry points that read q, k and v (clattn_sdpa, clattn_rope,
 * clattn_kv_cache_append) take a cl_mem and strides, no offset, so k and v are sub-buffers
 * starting at columns off_k and off_v of the first row; OpenCL wants a sub-buffer's origin
 * aligned to CL_DEVICE_MEM_BASE_ADDR_ALIGN, so off_k, off_v and ld are rounded up to a multiple
 * of that alignment in 16-bit elements (then it holds for float32 too), and the stacked weights
 * have zero columns in the gaps. The gaps cost at most three alignment units of GEMM columns
 * (3 x 64 on a 128-byte alignment): small beside 3 x E columns once E is a few hundred, and no
 * copy of q, k or v is ever made to line them up.
 *
 * The weights are kept transposed, [in, out] (Wqkv^T [E, ld], Wo^T [Hq * Dv, E]). On GPUs they
 * are row-major: with the activations as the GEMM's A operand, CLBlast then copies (pads or
 * transposes) only the small activations on each call, never the weights. On CPU devices the
 * projections are cl/layer.cl's layer_linear instead (enqueued by core/linear.c, which the
 * additive key projection shares), and the weights are stored in panels of
 * `panel` columns ([ceil(n / panel)][k][panel], zeros past the last column), so each work-item
 * reads one contiguous run: 2.0-4.0x CLBlast's GEMM from 16 to 2048 rows of E = 2048, and a
 * decode step's single row near the machine's read rate (figures in cl/layer.cl). */
#ifndef CLATTN_LAYER_INTERNAL_H
#define CLATTN_LAYER_INTERNAL_H

#include "core/internal.h"

struct clattn_mha_layer {
    clattn_context *ctx;
    clattn_mha_layer_desc d; /* resolved: kv_heads, head_dim, head_dim_v, rope_dim, scale set */
    int64_t E, Hq, Hkv, D, Dv;
    int64_t off_k, off_v, ld; /* the projection row: q at 0, k at off_k, v at off_v, ld wide */
    cl_mem w_qkv;             /* float [E, ld]: (Wq, Wk, Wv)^T, zero columns in the gaps */
    cl_mem b_qkv;             /* float [ld] (zeros in the gaps), or NULL without biases */
    cl_mem w_o;               /* float [Hq * Dv, E]: Wo^T */
    cl_mem b_o;               /* float [E], or NULL */
    /* CPU devices: layer_linear's lanes (16 or 8), whose panels (clattn__linear_panel: 64 or 16
     * columns) are the layout of w_qkv and w_o; 0 elsewhere (row-major, CLBlast) */
    int lanes;
};

/* The caller's layer descriptor (any version) checked and resolved into *out: kv_heads,
 * head_dim, head_dim_v, rope_dim and scale hold their effective values (never 0). Refuses
 * sizes out of range, Hq not a multiple of Hkv, E not a multiple of Hq when head_dim is 0, bad
 * RoPE settings (with rope_theta > 0: an odd head_dim or rope_dim, a rope_dim past head_dim,
 * a position scale that is not finite and positive), a scale or theta that is not finite, an
 * unknown style or dtype, and shapes whose products overflow. */
clattn_status clattn__mha_desc_resolve(clattn_context *ctx, const clattn_mha_layer_desc *in,
                                       clattn_mha_layer_desc *out);

/* The projection row layout of a resolved descriptor on ctx's device (off_k, off_v, ld). */
clattn_status clattn__mha_layout(clattn_context *ctx, const clattn_mha_layer_desc *d,
                                 int64_t *off_k, int64_t *off_v, int64_t *ld);

/* SHAPE_MISMATCH unless the resolved d can be held in nn.MultiheadAttention's packed form. */
clattn_status clattn__mha_packed_fits(clattn_context *ctx, const clattn_mha_layer_desc *d);

/* Which form `w` is in for the resolved descriptor d (1: nn.MultiheadAttention's packed
 * in_proj_weight, 0: split), after checking that every array that form needs is there and that
 * the packed form fits d (MHA, Hq * D = E, Dv = D). */
clattn_status clattn__mha_weights_form(clattn_context *ctx, const clattn_mha_layer_desc *d,
                                       const clattn_mha_weights *w, int *packed);

/* A forward call as checked (forward_check.c), before anything is enqueued. */
typedef struct {
    clattn_mha_forward_desc d; /* the caller's, full size */
    int64_t B, S, rows;        /* rows = B * S tokens */
    const int32_t *lens;       /* the caller's lengths [B], or NULL (every token valid) */
    /* With a cache: counts [B] of new tokens (lens or S), first [B] each sequence's length
     * before the call, skv the longest after it; `masked` when the causal rule needs the
     * additive mask (a sequence with 0 < count < S: see cl/layer.cl). */
    int32_t *counts, *first;
    int64_t skv;
    int masked;
} clattn_mha_call;

/* Checks a forward call against the layer and, with a cache, against the cache's shape and
 * state (slots, capacity, free pages): every refusal of clattn_mha_layer_forward that does not
 * need the buffers. On success the caller frees the call with clattn__mha_call_free. */
clattn_status clattn__mha_call_check(clattn_mha_layer *l, const clattn_mha_forward_desc *desc,
                                     clattn_mha_call *c);
void clattn__mha_call_free(clattn_mha_call *c);

#endif /* CLATTN_LAYER_INTERNAL_H */
