/* clattn_kv_cache.h: a KV cache for inference: the keys and values of many sequences ("slots")
 * kept on the device, contiguous or paged, appended to token by token and attended over by new
 * queries with the split-KV decode kernels (few query rows) or the prefill kernels (a prompt).
 * Self-contained (includes clattn_sdpa.h and, for the rotating append, clattn_rope.h); clattn.h
 * includes it. Descriptors and output structs follow the struct rule at the top of clattn_core.h.
 *
 * Layouts. Each of K and V is one pool of pages, [num_pages, kv_heads, page_size, head_dim]
 * (head_dim_v for V), of the cache's storage type. Paged (page_size > 0): every sequence has a
 * block table of pages taken from the pool as it grows and returned by a reset (as vLLM does),
 * so ragged sequences do not reserve their capacity; any page size works. Contiguous
 * (page_size 0): slot s owns page s, of `capacity` tokens, for the cache's life.
 *
 * Ordering. Every call enqueues on the context's queue. The cache's host state (lengths, block
 * tables) changes when an append or reset returns, so later calls see it at once; with the
 * in-order queue clattn creates the device work follows in the same order. On an out-of-order
 * queue the caller orders appends and attention calls with their events, and waits for attention
 * calls reading a sequence before resetting it and appending to others (its pages may be reused).
 * Calls on one cache are serialised by a lock in the cache; do not destroy it while others use it.
 */
#ifndef CLATTN_KV_CACHE_H
#define CLATTN_KV_CACHE_H

#include "clattn_rope.h"
#include "clattn_sdpa.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clattn_kv_cache clattn_kv_cache;

/* What a cache holds. Every field through num_pages is required (the first version). */
typedef struct {
    size_t struct_size; /* set by clattn_kv_cache_desc_init: the caller's sizeof */
    int64_t slots;      /* sequences the cache holds, addressed as slots 0..slots-1 */
    int64_t kv_heads;
    int64_t capacity;   /* most tokens one sequence may hold (1..2^31-1) */
    int64_t head_dim;   /* of K, 1..256 */
    int64_t head_dim_v; /* of V, 1..256; 0 (the init value) = head_dim */
    clattn_dtype dtype; /* storage of K and V: F32, F16 or BF16 (appends round to nearest even) */
    int64_t page_size;  /* tokens per page; 0 (the init value): contiguous */
    int64_t num_pages;  /* paged: the pool; 0 (the init value): slots * ceil(capacity / page_size),
                           enough for every slot at capacity */
} clattn_kv_cache_desc;
#define CLATTN_KV_CACHE_DESC_MIN_SIZE sizeof(clattn_kv_cache_desc)

/* Fills `size` bytes (the caller's sizeof *desc) with the defaults and sets struct_size. */
CLATTN_API clattn_status clattn_kv_cache_desc_init(clattn_kv_cache_desc *desc, size_t size);

/* Allocates the pools (CLATTN_ERROR_OUT_OF_MEMORY naming the bytes when they do not fit the
 * device) with every sequence empty. The cache keeps ctx: it must outlive the cache, and errors
 * of calls on the cache are ctx's (clattn_context_last_error). */
CLATTN_API clattn_status clattn_kv_cache_create(clattn_context *ctx,
                                                const clattn_kv_cache_desc *desc,
                                                clattn_kv_cache **out);
/* Waits for the work enqueued on the cache and frees it; NULL is allowed. */
CLATTN_API void clattn_kv_cache_destroy(clattn_kv_cache *cache);

/* ---- Appending new tokens ------------------------------------------------------------------- */
/* An append to num_seqs sequences at once, each at its own current length: sequence i (slot
 * slots[i]) gets counts[i] new tokens, rows 0..counts[i]-1 of entry i of the new K
 * [num_seqs, kv_heads, seq, head_dim] and V [num_seqs, kv_heads, seq, head_dim_v], float32,
 * converted to the cache's type on the device. */
typedef struct {
    size_t struct_size;    /* set by clattn_kv_append_desc_init */
    int64_t num_seqs;      /* >= 1 */
    const int32_t *slots;  /* host [num_seqs]: distinct slot ids, read during the call */
    const int32_t *counts; /* host [num_seqs]: new tokens of each, >= 0, read during the call */
    int64_t seq;           /* the token extent of the new K/V; 0 (the init value): max(counts) */
    /* Strides in elements of (sequence, head, token) of the new K and V, as clattn_sdpa_desc's:
     * 0 means the contiguous default, so [num_seqs, seq, kv_heads, D] data (a projection's
     * output) is {seq * kv_heads * D, D, kv_heads * D}. */
    int64_t k_strides[3], v_strides[3];
    /* Rotary embeddings applied to K as it is stored (clattn_rope.h's angles and pairing): the
     * new row t of sequence i is rotated at its position in the sequence, the slot's length
     * before this append + t, times rope_position_scale. V is never rotated. */
    double rope_theta;            /* the base; 0 (the init value): K stored as given */
    clattn_rope_style rope_style; /* NEOX (the init value) or GPTJ */
    int64_t rope_dim;             /* rotated leading dims, even; 0 (the init value) = head_dim */
    double rope_position_scale;   /* 1 (the init value); used only when rope_theta > 0 */
} clattn_kv_append_desc;
/* The first version: through v_strides (no rotation). */
#define CLATTN_KV_APPEND_DESC_MIN_SIZE offsetof(clattn_kv_append_desc, rope_theta)

CLATTN_API clattn_status clattn_kv_append_desc_init(clattn_kv_append_desc *desc, size_t size);

/* Enqueues the append after the wait list; `event` (may be NULL) completes with it. Everything
 * is checked before anything is enqueued, and a refused call changes nothing (lengths, pages,
 * stored tokens):
 *   - a slot outside 0..slots-1, a slot named twice, a negative count, counts past seq, a NULL
 *     pointer: CLATTN_ERROR_INVALID_ARGUMENT;
 *   - a sequence that would pass the capacity: CLATTN_ERROR_INVALID_ARGUMENT (naming it);
 *   - more new pages than the pool has free: CLATTN_ERROR_OUT_OF_MEMORY (reset sequences to
 *     return theirs);
 *   - k or v smaller than their shape and strides need: CLATTN_ERROR_BUFFER_TOO_SMALL;
 *   - a rope_theta neither 0 nor finite and > 0; with rope_theta > 0, an odd head_dim, a
 *     rope_dim odd or past head_dim, an unknown rope_style or a rope_position_scale not finite
 *     and > 0: CLATTN_ERROR_INVALID_ARGUMENT. */
CLATTN_API clattn_status clattn_kv_cache_append(clattn_kv_cache *cache,
                                                const clattn_kv_append_desc *desc, cl_mem k,
                                                cl_mem v, cl_uint num_wait,
                                                const cl_event *wait_list, cl_event *event);
/* The same from host arrays laid out as the descriptor says; synchronous. */
CLATTN_API clattn_status clattn_kv_cache_append_host(clattn_kv_cache *cache,
                                                     const clattn_kv_append_desc *desc,
                                                     const float *k, const float *v);

/* Empties slot `slot` (its pages go back to the pool); slot -1 empties every slot. */
CLATTN_API clattn_status clattn_kv_cache_reset(clattn_kv_cache *cache, int64_t slot);

/* The current lengths of slots 0..n-1 into lengths[0..n-1] (n <= slots). */
CLATTN_API clattn_status clattn_kv_cache_lengths(clattn_kv_cache *cache, int32_t *lengths,
                                                 int64_t n);

/* The cache's shape and pool use. An output struct: see the rule in clattn_core.h. */
typedef struct {
    int64_t slots, kv_heads, capacity, head_dim, head_dim_v;
    clattn_dtype dtype;
    int paged;             /* 0: contiguous */
    int64_t page_size;     /* tokens per page (the capacity when contiguous) */
    int64_t num_pages;     /* pages in the pool (the slots when contiguous) */
    int64_t free_pages;    /* pages no sequence holds (0 when contiguous) */
    int64_t pages_per_seq; /* ceil(capacity / page_size): a block table's length */
    int64_t device_bytes;  /* bytes of the K and V pools */
    int64_t tokens;        /* tokens held, over all slots */
} clattn_kv_cache_info;
#define CLATTN_KV_CACHE_INFO_MIN_SIZE sizeof(clattn_kv_cache_info)

/* Writes `size` bytes (the caller's sizeof *info). */
CLATTN_API clattn_status clattn_kv_cache_get_info(clattn_kv_cache *cache,
                                                  clattn_kv_cache_info *info, size_t size);

/* ---- Attention over the cache ---------------------------------------------------------------- */
/* Attention of new queries over the cached sequences slots[0..B-1] (host, read during the call;
 * a slot may appear twice). desc describes the queries as for clattn_sdpa: batch = B, heads,
 * seq_q, head_dim (= the cache's; 0 takes it), the options (causal, window, ALiBi, softcap,
 * mask, causal_align), algo, flavour, decode_splits, q/out strides and dtypes. The key side
 * comes from the cache, and its fields must be left at their init values or agree with it:
 * kv_heads (0 or the cache's), head_dim_v (0 or the cache's), kv_dtype (F32, the init value, or
 * the cache's), kv_lens NULL and k/v strides 0 (else CLATTN_ERROR_SHAPE_MISMATCH or
 * _INVALID_ARGUMENT). Sequence b has its current length of keys: seq_kv is 0, meaning the
 * longest of them (at least 1), or a larger Skv the caller fixes; it is the last dimension of
 * the mask, [mask_batch, mask_heads, Sq, Skv] (key j of each sequence is column j). As everywhere
 * in clattn, causality, the window and ALiBi align bottom-right against each sequence's own
 * length: append the new tokens' K/V first and query i of Sq sits at key len - Sq + i.
 * Few query rows per kv head (AUTO, or algo DECODE) read the pages in place with the split-KV
 * decode kernels; other plans (a prompt's prefill) first gather the sequences into a contiguous
 * scratch of B * kv_heads * Skv * (D + Dv) elements (an O(Skv * D) copy beside their
 * O(Sq * Skv * D) work) and run as clattn_sdpa. A refused call has enqueued nothing. */
CLATTN_API clattn_status clattn_kv_cache_attention(clattn_kv_cache *cache,
                                                   const clattn_sdpa_desc *desc,
                                                   const int32_t *slots, cl_mem q, cl_mem mask,
                                                   cl_mem out, cl_mem lse, cl_uint num_wait,
                                                   const cl_event *wait_list, cl_event *event);
/* The same on host arrays (q, mask, out of their descriptor dtypes; lse float); synchronous. */
CLATTN_API clattn_status clattn_kv_cache_attention_host(clattn_kv_cache *cache,
                                                        const clattn_sdpa_desc *desc,
                                                        const int32_t *slots, const void *q,
                                                        const void *mask, void *out, float *lse);
/* The plan such a call would run now (its key side as the cache and the lengths are). */
CLATTN_API clattn_status clattn_kv_cache_plan_get(clattn_kv_cache *cache,
                                                  const clattn_sdpa_desc *desc,
                                                  const int32_t *slots, clattn_sdpa_plan *plan,
                                                  size_t size);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_KV_CACHE_H */
