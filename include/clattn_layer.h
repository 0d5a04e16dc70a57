/* clattn_layer.h: a whole multi-head attention layer on the device (projections, rotary
 * embeddings, attention over the input or over a KV cache, output projection) in the weight
 * layouts PyTorch checkpoints have, and the GQA paper's MHA-to-GQA checkpoint conversion.
 * Self-contained (includes clattn_kv_cache.h and clattn_rope.h); clattn.h includes it.
 * Descriptors follow the struct rule at the top of clattn_core.h.
 *
 * Shapes. E = embed_dim, Hq = heads, Hkv = kv_heads, D = head_dim, Dv = head_dim_v.
 *   q = x Wq^T + bq   [B, S, Hq * D]     (Wq = q_proj, [Hq * D, E], nn.Linear's [out, in])
 *   k = x Wk^T + bk   [B, S, Hkv * D]    (Wk = k_proj, [Hkv * D, E])
 *   v = x Wv^T + bv   [B, S, Hkv * Dv]   (Wv = v_proj, [Hkv * Dv, E])
 *   q, k rotated (RoPE) at their positions; a = attention(q, k, v) [B, S, Hq * Dv], head h of q
 *   reading kv head h / (Hq / Hkv);   y = a Wo^T + bo   [B, S, E]   (Wo = o_proj, [E, Hq * Dv]).
 * nn.MultiheadAttention's packed in_proj_weight [3 E, E] is Wq, Wk, Wv stacked (Hq = Hkv,
 * Hq * D = E), in_proj_bias [3 E], out_proj.weight [E, E], out_proj.bias [E]. */
#ifndef CLATTN_LAYER_H
#define CLATTN_LAYER_H

#include "clattn_kv_cache.h"
#include "clattn_rope.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clattn_mha_layer clattn_mha_layer;

typedef struct {
    size_t struct_size;           /* set by clattn_mha_layer_desc_init: the caller's sizeof */
    int64_t embed_dim;            /* E >= 1 */
    int64_t heads;                /* Hq >= 1 */
    int64_t kv_heads;             /* Hkv, dividing Hq; 0 (the init value) = heads (MHA); 1 = MQA */
    int64_t head_dim;             /* D, 1..256; 0 (the init value) = E / heads (E must divide) */
    int64_t head_dim_v;           /* Dv, 1..256; 0 (the init value) = head_dim */
    int has_qkv_bias;             /* q, k and v projections have biases; 0 (the init value): none */
    int has_out_bias;             /* the output projection has a bias; 0 (the init value): none */
    double rope_theta;            /* RoPE base; 0 (the init value): no rotation */
    clattn_rope_style rope_style; /* NEOX (the init value) or GPTJ */
    int64_t rope_dim;             /* rotated leading dims of each head; 0 (the init value) = D */
    double rope_position_scale;   /* positions multiplied by it; 1 (the init value) */
    double scale;                 /* softmax scale; 0 (the init value) = 1 / sqrt(D) */
    clattn_dtype dtype; /* storage of the projected q, k, v and the attention output between the
                           stages: F32 (the init value), F16 or BF16; x, y, weights are float32 */
} clattn_mha_layer_desc;
#define CLATTN_MHA_LAYER_DESC_MIN_SIZE sizeof(clattn_mha_layer_desc)

CLATTN_API clattn_status clattn_mha_layer_desc_init(clattn_mha_layer_desc *desc, size_t size);

/* Host weights, float32, row-major in nn.Linear's [out, in] layout. Either the split form
 * (q_proj, k_proj, v_proj and their biases) or, with q_proj NULL, the packed form of
 * nn.MultiheadAttention (in_proj_weight, in_proj_bias; MHA with Hq * D = E only). o_proj always.
 * Biases are read only when the descriptor says the layer has them. */
typedef struct {
    const float *q_proj, *k_proj, *v_proj, *o_proj;
    const float *q_bias, *k_bias, *v_bias, *o_bias;
    const float *in_proj_weight, *in_proj_bias;
} clattn_mha_weights;

/* Creates the layer and copies the weights to the device (the caller's arrays are not kept). */
CLATTN_API clattn_status clattn_mha_layer_create(clattn_context *ctx,
                                                 const clattn_mha_layer_desc *desc,
                                                 const clattn_mha_weights *weights,
                                                 clattn_mha_layer **out);
/* The same from a folder of .npy files (float32, or float64 converted) named after the PyTorch
 * parameters: q_proj.npy k_proj.npy v_proj.npy o_proj.npy (+ q_proj_bias.npy ... o_proj_bias.npy
 * when the descriptor asks for biases), or in_proj_weight.npy out_proj_weight.npy
 * (+ in_proj_bias.npy out_proj_bias.npy). Shapes are checked against the descriptor. */
CLATTN_API clattn_status clattn_mha_layer_load(clattn_context *ctx,
                                               const clattn_mha_layer_desc *desc, const char *dir,
                                               clattn_mha_layer **out);
/* Waits for the layer's work and frees it; NULL is allowed. */
CLATTN_API void clattn_mha_layer_destroy(clattn_mha_layer *layer);

/* One forward call on x [batch, seq, E] (float32, contiguous) into y [batch, seq, E]. */
typedef struct {
    size_t struct_size; /* set by clattn_mha_forward_desc_init */
    int64_t batch, seq;
    int causal; /* causal attention (bottom-right: new token i of a sequence that already holds
                   n tokens sees keys 0..n + i) */
    /* Host int32 [batch] or NULL (all seq tokens valid): sequence b's valid tokens are
     * x[b, 0 .. lengths[b] - 1] (key padding). Padding rows of y are 0. Read during the call. */
    const int32_t *lengths;
    /* NULL: self-attention over x alone, positions 0 .. seq - 1. Otherwise sequence b's valid
     * new tokens are appended (k rotated) to the cache's slot slots[b] at positions
     * n_b .. n_b + len_b - 1 (n_b its length before the call) and its queries attend over the
     * whole cached sequence: a prompt's prefill (seq > 1) or a decode step (seq = 1). The
     * cache's kv_heads, head_dim and head_dim_v must be the layer's. */
    clattn_kv_cache *cache;
    const int32_t *slots; /* host [batch], distinct, with a cache; read during the call */
} clattn_mha_forward_desc;
#define CLATTN_MHA_FORWARD_DESC_MIN_SIZE sizeof(clattn_mha_forward_desc)

CLATTN_API clattn_status clattn_mha_forward_desc_init(clattn_mha_forward_desc *desc, size_t size);

/* Enqueues the forward after the wait list; `event` (may be NULL) completes with it. Refusals
 * change nothing (y, the cache): NULL pointers, shapes that disagree with the layer or the cache,
 * a sequence that would pass the cache's capacity: CLATTN_ERROR_INVALID_ARGUMENT or
 * CLATTN_ERROR_SHAPE_MISMATCH; x or y too small: CLATTN_ERROR_BUFFER_TOO_SMALL. */
CLATTN_API clattn_status clattn_mha_layer_forward(clattn_mha_layer *layer,
                                                  const clattn_mha_forward_desc *desc, cl_mem x,
                                                  cl_mem y, cl_uint num_wait,
                                                  const cl_event *wait_list, cl_event *event);
/* The same on host arrays; synchronous. */
CLATTN_API clattn_status clattn_mha_layer_forward_host(clattn_mha_layer *layer,
                                                       const clattn_mha_forward_desc *desc,
                                                       const float *x, float *y);

/* GQA from MHA (Ainslie et al. 2023): mean-pools the key and value projection heads of the layer
 * `desc` describes (its kv_heads heads, from `in` in either form) into `kv_heads` groups of
 * desc's kv_heads / kv_heads consecutive heads (it must divide; 1 gives MQA, desc's kv_heads the
 * identity). Writes k_proj [kv_heads * D, E], v_proj [kv_heads * Dv, E] and, when desc has q/k/v
 * biases, k_bias [kv_heads * D] and v_bias [kv_heads * Dv] (else they may be NULL). The query and
 * output projections are unchanged; a refused call writes nothing. desc and `in` are checked as
 * clattn_mha_layer_create checks them (a whole layer's weights, o_proj included, though only k
 * and v are read). Host work only (float64 sums rounded once); ctx is required (NULL:
 * CLATTN_ERROR_INVALID_ARGUMENT) and holds the message of a refusal. */
CLATTN_API clattn_status clattn_mha_to_gqa(clattn_context *ctx, const clattn_mha_layer_desc *desc,
                                           const clattn_mha_weights *in, int64_t kv_heads,
                                           float *k_proj, float *v_proj, float *k_bias,
                                           float *v_bias);

#ifdef __cplusplus
}
#endif
#endif
