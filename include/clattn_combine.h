/* clattn_combine.h: the exact merge of partial attentions through their log-sum-exp. Attention
 * over a set of keys can be computed in parts, each over a disjoint subset of the keys (on other
 * devices, in other processes, or over a cache split in pages), and merged afterwards without
 * loss: this is that merge, the one the split-KV decode path uses for its splits. Self-contained
 * (includes clattn_sdpa.h for clattn_dtype); clattn.h includes it. The descriptor follows the
 * struct rule at the top of clattn_core.h.
 */
#ifndef CLATTN_COMBINE_H
#define CLATTN_COMBINE_H

#include "clattn_sdpa.h"

#ifdef __cplusplus
extern "C" {
#endif

/* N partial attentions of the same B x H x S query rows, part n computed over its own subset of
 * the keys (the subsets disjoint), each as clattn_sdpa gives it: a normalised output row and the
 * natural log-sum-exp of the row's scores. With M = max_n lse_n, row by row:
 *     out = sum_n e^(lse_n - M) out_n / sum_n e^(lse_n - M),    lse = M + log(sum_n e^(lse_n - M))
 * which is the attention over the union of the subsets (the arithmetic is float32, in base 2).
 * Layout, all contiguous: part_out float32 [N, B, H, S, Dv]; part_lse float32 [N, B, H, S];
 * out [B, H, S, Dv] in out_dtype (rounded to nearest even when narrow); lse float32 [B, H, S].
 * Non-finite values, as clattn_sdpa's rule for a row:
 *  - a part whose lse is -inf (it saw no key of the row) weighs 0, and its output row is not
 *    read: it may hold anything, NaN included (nor is that of a part whose weight underflows to
 *    0 in float32: lse_n some 87 to 103 below M, by the device's denormal handling);
 *  - a row with lse -inf in every part gives out 0 and lse -inf;
 *  - a NaN lse in any part makes the row's whole output and its lse NaN; so does +inf (whose
 *    weight would be e^(inf - inf)). NaN or inf in the output row of a part that weighs more than 0
 *    reaches the output columns it is in. */
typedef struct {
    size_t struct_size; /* set by clattn_lse_combine_desc_init: the caller's sizeof */
    int64_t parts;      /* N >= 1 */
    int64_t batch, heads, seq, head_dim_v; /* B, H, S, Dv: each >= 1 */
    clattn_dtype out_dtype;                /* CLATTN_DTYPE_F32 (the init value), _F16 or _BF16 */
} clattn_lse_combine_desc;
/* The required fields end before out_dtype. */
#define CLATTN_LSE_COMBINE_DESC_MIN_SIZE offsetof(clattn_lse_combine_desc, out_dtype)

/* Fills `size` bytes (the caller's sizeof *desc) with the defaults and sets struct_size. */
CLATTN_API clattn_status clattn_lse_combine_desc_init(clattn_lse_combine_desc *desc, size_t size);

/* Enqueues the merge on device buffers; lse may be NULL. Every buffer's CL_MEM_SIZE is checked
 * against its shape; out and lse must not share a buffer with each other or the inputs (the two
 * inputs may share one). Waits for the wait list; if `event` is not NULL it receives an event
 * that completes with the call (release it). On failure *event is NULL; a call refused by
 * validation or a kernel build has enqueued nothing and written nothing the caller owns. Sizes
 * whose byte counts overflow int64 are CLATTN_ERROR_OVERFLOW. May be called from several threads
 * on one context. */
CLATTN_API clattn_status clattn_lse_combine(clattn_context *ctx,
                                            const clattn_lse_combine_desc *desc, cl_mem part_out,
                                            cl_mem part_lse, cl_mem out, cl_mem lse,
                                            cl_uint num_wait, const cl_event *wait_list,
                                            cl_event *event);

/* The same on host arrays; synchronous. out holds elements of out_dtype (16-bit words for F16 and
 * BF16); lse may be NULL. */
CLATTN_API clattn_status clattn_lse_combine_host(clattn_context *ctx,
                                                 const clattn_lse_combine_desc *desc,
                                                 const float *part_out, const float *part_lse,
                                                 void *out, float *lse);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_COMBINE_H */
