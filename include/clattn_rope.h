/* clattn_rope.h: rotary position embeddings (RoPE, Su et al. 2021) applied to query or key
 * tensors on the device, in place or out of place, at positions the caller gives. Both pairing
 * conventions in use: GPT-NeoX/Llama (the two halves of the rotated dims pair up) and GPT-J
 * (adjacent dims pair up). Self-contained (includes clattn_sdpa.h, for clattn_dtype); clattn.h
 * includes it. The descriptor follows the struct rule at the top of clattn_core.h.
 *
 * For a token at position p, pair i (0 <= i < rotary_dim / 2) turns by the angle
 *     p * position_scale * theta ^ (-2 i / rotary_dim)
 * and the pair is (x[i], x[i + rotary_dim / 2]) for NEOX, (x[2 i], x[2 i + 1]) for GPTJ:
 *     x' = x0 cos - x1 sin,   y' = x0 sin + x1 cos.
 * Dims past rotary_dim are copied unchanged. */
#ifndef CLATTN_ROPE_H
#define CLATTN_ROPE_H

#include "clattn_sdpa.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CLATTN_ROPE_NEOX = 0, /* pairs (i, i + rotary_dim / 2): GPT-NeoX, Llama, HF's rotate_half */
    CLATTN_ROPE_GPTJ = 1  /* pairs (2 i, 2 i + 1): GPT-J, the paper's interleaved form */
} clattn_rope_style;

/* x is [batch, heads, seq, head_dim] as the strides say (the last dim contiguous). */
typedef struct {
    size_t struct_size; /* set by clattn_rope_desc_init: the caller's sizeof */
    int64_t batch, heads, seq;
    int64_t head_dim;   /* even, 2..256 */
    int64_t rotary_dim; /* leading dims rotated: even, <= head_dim; 0 (the init value) = all */
    /* Strides in elements of (batch, head, token), as clattn_sdpa_desc's: all 0 (the init value)
     * means contiguous [batch, heads, seq, head_dim]; a projection's [batch, seq, heads, D]
     * output is {seq * heads * D, D, heads * D}. */
    int64_t in_strides[3], out_strides[3];
    clattn_rope_style style; /* NEOX (the init value) */
    double theta;            /* the base; 10000 (the init value) */
    double position_scale;   /* positions are multiplied by it (linear scaling / position
                                interpolation uses 1 / factor); 1 (the init value) */
    int positions_per_batch; /* 0 (the init value): positions is int32 [seq], the same for every
                                batch entry; 1: int32 [batch, seq] */
    clattn_dtype dtype;      /* storage of in and out: F32 (the init value), F16 or BF16 */
} clattn_rope_desc;
#define CLATTN_ROPE_DESC_MIN_SIZE sizeof(clattn_rope_desc)

CLATTN_API clattn_status clattn_rope_desc_init(clattn_rope_desc *desc, size_t size);

/* Enqueues the rotation after the wait list; `event` (may be NULL) completes with it. out may be
 * in (in place, when the strides are the same); otherwise they must not overlap. Positions may be
 * any int32, negative included. Refusals (nothing enqueued, nothing changed): NULL pointers,
 * sizes out of range or odd dims: CLATTN_ERROR_INVALID_ARGUMENT; a non-finite or non-positive
 * theta or position_scale: CLATTN_ERROR_INVALID_ARGUMENT; buffers smaller than their shape and
 * strides need: CLATTN_ERROR_BUFFER_TOO_SMALL. */
CLATTN_API clattn_status clattn_rope(clattn_context *ctx, const clattn_rope_desc *desc, cl_mem in,
                                     cl_mem out, cl_mem positions, cl_uint num_wait,
                                     const cl_event *wait_list, cl_event *event);
/* The same on host arrays (in and out of the descriptor's dtype; out may be in); synchronous. */
CLATTN_API clattn_status clattn_rope_host(clattn_context *ctx, const clattn_rope_desc *desc,
                                          const void *in, void *out, const int32_t *positions);

#ifdef __cplusplus
}
#endif
#endif
