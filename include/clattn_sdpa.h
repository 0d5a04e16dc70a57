/* clattn_sdpa.h: scaled dot-product attention (MHA, MQA, GQA; naive, FlashAttention-1 and -2)
 * on device buffers and host arrays. Self-contained (includes clattn_core.h); clattn.h includes
 * it. Descriptors and plans follow the struct rule at the top of clattn_core.h.
 */
#ifndef CLATTN_SDPA_H
#define CLATTN_SDPA_H

#include "clattn_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Scaled dot-product attention (MHA, MQA, GQA) ------------------------------------------- */
/* Where a query row sits among the keys when Sq != Skv (causal mask, window, ALiBi). */
typedef enum {
    CLATTN_CAUSAL_BOTTOM_RIGHT = 0, /* query i sits at key i + Skv - Sq: decode needs no case */
    CLATTN_CAUSAL_TOP_LEFT = 1      /* query i sits at key i, as PyTorch's is_causal */
} clattn_causal_align;

/* Storage type of a tensor. Whatever q, k, v, out and the mask are stored in, the kernels
 * accumulate in float32 and lse is float32. */
typedef enum {
    CLATTN_DTYPE_F32 = 0, /* float */
    CLATTN_DTYPE_F16 = 1, /* IEEE half (binary16), as 16-bit words */
    CLATTN_DTYPE_BF16 = 2 /* bfloat16: the upper 16 bits of a float, as 16-bit words */
} clattn_dtype;

typedef enum {
    CLATTN_ALGO_AUTO = 0,
    CLATTN_ALGO_NAIVE = 1,  /* CLBlast GEMM, masked softmax, GEMM; materialises S */
    CLATTN_ALGO_FLASH1 = 2, /* FlashAttention: outer loop over K/V blocks, O/l/m in global */
    CLATTN_ALGO_FLASH2 = 3, /* FlashAttention-2: outer loop over Q blocks, lse stored */
    /* Split-KV decode (FlashDecoding): for at most 32 query rows per kv head (Sq * Hq / Hkv),
     * e.g. one generated token. The keys are cut into splits so every compute unit works even
     * at B = 1, each split reads its K/V once for all the query heads sharing a kv head, and
     * the splits merge exactly through their log-sum-exp. AUTO takes it for such problems. */
    CLATTN_ALGO_DECODE = 4
} clattn_algo;

/* Shapes: q [B, Hq, Sq, D], k [B, Hkv, Skv, D], v [B, Hkv, Skv, Dv], out [B, Hq, Sq, Dv],
 * lse [B, Hq, Sq] (contiguous, float; natural log-sum-exp of the scaled, masked scores), mask
 * [mask_batch, mask_heads, Sq, Skv] (contiguous, additive, mask_dtype; -inf removes a key) with
 * mask_batch in {1, B} and mask_heads in {1, Hq}; 0 (the init value) means B / Hq.
 * Hq must be a multiple of Hkv (else CLATTN_ERROR_SHAPE_MISMATCH); query head h reads kv head
 * h / (Hq / Hkv): MHA, GQA and MQA are one call. D and Dv are 1..256 (larger:
 * CLATTN_ERROR_UNSUPPORTED).
 * Non-finite values follow IEEE arithmetic (and PyTorch), in every algorithm and flavour:
 *  - a query row all of whose keys are removed (by -inf in the mask or by causality) gives out
 *    0 and lse -inf: the only case that yields those values;
 *  - a NaN that reaches a row's scores (NaN in q, in a key the row may see, or in the row's
 *    mask) makes that row's whole output and its lse NaN; other rows are unaffected;
 *  - +inf in the mask makes the row NaN (inf - inf in the softmax), as the float64 reference;
 *  - a NaN or infinity in v reaches the output columns of the rows that weight its key above 0
 *    (whether a key the row cannot see still spreads it, through 0 * NaN, is unspecified).
 * Strides are in elements, for the dimensions (batch, head, seq); the last dimension is always
 * contiguous. A stride of 0 means the contiguous [B, H, S, dim] default for that dimension, so
 * [B, S, H, D] data is described by strides {S*H*D, D, H*D}. A seq stride must be at least the
 * row length, and out's strides must not make two elements share memory. */
typedef struct {
    size_t struct_size; /* set by clattn_sdpa_desc_init: the caller's sizeof */
    int64_t batch, heads, kv_heads, seq_q, seq_kv, head_dim, head_dim_v; /* head_dim_v 0: = D */
    float scale;  /* 0 (the init value) means 1/sqrt(head_dim); 1 is Luong's dot product */
    int causal;   /* query i sees keys j <= i' (bottom-right by default: causal_align below) */
    int has_mask; /* an additive float mask is passed */
    int64_t mask_batch, mask_heads; /* 1 or B, 1 or Hq; 0 = B, Hq */
    int64_t q_strides[3], k_strides[3], v_strides[3], out_strides[3];
    clattn_algo algo;
    clattn_flavour flavour;
    /* 0: the dispatcher chooses; otherwise forced (tests, tuning); forcing one keeps the
     * dispatcher's choice for the other. A forced tile that does not fit is
     * CLATTN_ERROR_UNSUPPORTED. */
    int64_t block_q, block_kv;

    /* ---- Options. Zero in every field (the init value) is "off", as for a caller built before
     * they existed. They combine freely with each other, with causal and with the mask, in every
     * algorithm and flavour. Positions: query i sits at i' = i + Skv - Sq (bottom-right, the
     * default and FlashAttention-2's convention) or i' = i (top-left, PyTorch's is_causal); the
     * two differ only when Sq != Skv. position_offset (at the end) moves i' further. */
    clattn_causal_align causal_align; /* where causal, the window and ALiBi put query i */
    /* Sliding window (Mistral, Gemma): with window set, query i sees keys j with
     * i' - window_left <= j <= i' + window_right; -1 leaves that side unbounded. Causal is the
     * window (unbounded, 0); both together take the narrower. Whole K/V blocks outside the
     * window are skipped, so the work grows with N x window, not N^2. */
    int window;
    int64_t window_left, window_right;
    /* Logit softcap (Gemma 2): > 0 replaces every scaled score s by softcap * tanh(s / softcap)
     * before ALiBi and the mask are added. */
    float softcap;
    /* ALiBi (BLOOM, MPT): adds -slope * |i' - j| to the scaled score of key j, computed in the
     * kernels, never materialised. Host array of slopes, [Hq] (alibi_batch 0 or 1) or [B, Hq]
     * (alibi_batch = B), read during the call; NULL: none. */
    const float *alibi_slopes;
    int64_t alibi_batch;
    /* Ragged batches: host array [B], or NULL. Sequence b attends to its first kv_lens[b] keys
     * only (0 <= kv_lens[b] <= seq_kv), with bottom-right alignment against its own length
     * (i' = i + kv_lens[b] - Sq); a sequence of length 0 gives out 0 and lse -inf. Read during
     * the call. Whole K/V blocks past a sequence's length are never read. */
    const int32_t *kv_lens;
    /* Decode: the number of splits of the keys (0: the dispatcher chooses from the compute
     * units, B, Hkv and Skv). More splits than keys is allowed (the extra ones are empty); more
     * than 2^20 is refused (CLATTN_ERROR_INVALID_ARGUMENT). */
    int64_t decode_splits;
    /* Storage types (0, the init value: float32 everywhere). k and v share kv_dtype; the mask
     * has its own. Narrow types are widened on load and out is rounded to nearest even; the
     * arithmetic, lse and the ALiBi slopes stay float32. Element sizes, strides (in elements)
     * and buffer sizes follow the types; host arrays are 16-bit words for F16 and BF16. */
    clattn_dtype q_dtype, kv_dtype, out_dtype, mask_dtype;
    /* Position offset: moves every query row along the keys, for causal, the window and ALiBi:
     * i' = i + Skv - Sq + position_offset (bottom-right; per sequence with kv_lens) or
     * i + position_offset (top-left). A piece of a longer sequence attends by its global
     * positions with it: queries at global q0 + i against keys at global k0 + j are top-left
     * with position_offset = q0 - k0 (the ring of include/clattn_seqpar.h does this). Beyond
     * +-CLATTN_SDPA_MAX_POSITION_OFFSET it is CLATTN_ERROR_INVALID_ARGUMENT. */
    int64_t position_offset;
} clattn_sdpa_desc;
/* 2^48 positions: far beyond any sequence, and small enough that i' +- the window and the
 * sizes never overflow the kernels' 64-bit position arithmetic. */
#define CLATTN_SDPA_MAX_POSITION_OFFSET ((int64_t)1 << 48)
/* The required fields end before algo: a shorter struct is refused, and algo, flavour, block_q
 * and block_kv take their init values (automatic) when the caller's struct ends before them. */
#define CLATTN_SDPA_DESC_MIN_SIZE offsetof(clattn_sdpa_desc, algo)

/* Fills `size` bytes (the caller's sizeof *desc) with the defaults and sets struct_size. */
CLATTN_API clattn_status clattn_sdpa_desc_init(clattn_sdpa_desc *desc, size_t size);

/* The dispatcher's choice for a descriptor on this context's device (before any kernel build;
 * the launcher may still fall back to a smaller tile if the built kernel does not fit). */
typedef struct {
    clattn_algo algo;
    clattn_flavour flavour;    /* naive reports the flavour of the device */
    int64_t block_q, block_kv; /* Br, Bc (0 for naive) */
    int64_t work_group;        /* work-items per work-group */
    int64_t local_mem_bytes;   /* __local memory one work-group uses */
    /* Device memory the call uses besides its arguments (the staging copies' buffers may come
     * from those the context keeps between calls: clattn_context_trim): naive's S, flash1's m and
     * l, decode's partial results, and the float32 copies of float16/bfloat16 tensors a path runs
     * on (naive: q, k, v, out; flash1: out, its running output; CPU-flavour flash2: k and v where
     * many query blocks share them and the copies take at most an eighth of the global memory,
     * and there also float32 k and v whose rows are not packed, such as [B, S, H, D], from 1024
     * or 2048 query rows per kv head: see the README's "Strided K/V on CPU devices"; otherwise
     * the flash kernels read the tensors in place, widening narrow q, k, v as they load). */
    int64_t scratch_bytes;
    int64_t global_size[2]; /* the NDRange of the main kernel */
    int64_t splits;         /* decode: splits of the keys (block_kv keys each); else 0 */
} clattn_sdpa_plan;
#define CLATTN_SDPA_PLAN_MIN_SIZE offsetof(clattn_sdpa_plan, work_group)

/* Validates the descriptor exactly as clattn_sdpa does (without buffers) and writes the plan
 * (`size` bytes: the caller's sizeof *plan; nothing on failure).
 * Naive refuses with CLATTN_ERROR_OUT_OF_MEMORY, naming the bytes, when its S matrix
 * (B*Hq*Sq*Skv floats) exceeds the device's largest allocation or its global memory; naive and
 * flash1 likewise when a float32 copy of a narrow tensor exceeds the largest allocation or their
 * scratch_bytes the global memory. */
CLATTN_API clattn_status clattn_sdpa_plan_get(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                              clattn_sdpa_plan *plan, size_t size);

/* Enqueues attention on device buffers. mask and lse may be NULL (mask iff desc->has_mask).
 * Every buffer's CL_MEM_SIZE is checked against the span its shape and strides need; out and
 * lse must not share a buffer with anything else. Waits for the wait list; if `event` is not
 * NULL it receives an event that completes with the call (release it). On failure *event is
 * NULL; a call refused by validation, planning or a kernel build has enqueued nothing and
 * written nothing the caller owns. May be called from several threads on one context. */
CLATTN_API clattn_status clattn_sdpa(clattn_context *ctx, const clattn_sdpa_desc *desc, cl_mem q,
                                     cl_mem k, cl_mem v, cl_mem mask, cl_mem out, cl_mem lse,
                                     cl_uint num_wait, const cl_event *wait_list, cl_event *event);

/* The same on host arrays laid out as the descriptor says; synchronous. q, k, v, mask and out
 * hold elements of their descriptor dtypes (float for the default F32); lse is always float.
 * Elements of out that its strides skip are left as they were. */
CLATTN_API clattn_status clattn_sdpa_host(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                          const void *q, const void *k, const void *v,
                                          const void *mask, void *out, float *lse);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_SDPA_H */
