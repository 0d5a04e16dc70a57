/* clattn_additive.h: additive (Bahdanau) attention, after "Neural Machine Translation by Jointly
 * Learning to Align and Translate". Self-contained (includes clattn_core.h); clattn.h includes it,
 * and its encoder, the bidirectional GRU, is in clattn_rnn.h. Descriptors and plans follow the
 * struct rule at the top of clattn_core.h.
 *
 * Alignment model: e[b,q,j] = v . tanh(W_h keys[b,j] + W_s query[b,q] + bias), masked to
 * j < lengths[b], softmaxed over j into alpha[b,q,:], and context[b,q] = sum_j alpha[b,q,j]
 * keys[b,j]. Shapes (row-major, contiguous): keys [B, T, Dk], query [B, Tq, Ds] (Tq = 1 is the
 * usual [B, Ds]), W_h [A, Dk], W_s [A, Ds], v [A], bias [A], context [B, Tq, Dk], weights
 * [B, Tq, T]. All float32 with float32 accumulation: additive attention is float32 only (it has
 * no storage-type fields; the float16 / bfloat16 storage of clattn_sdpa_desc is SDPA's).
 *
 * The key projection W_h keys is the same for every decoder step, so it is computed once (one
 * GEMM) into a clattn_additive_keys handle, which then serves any number of steps: each step is one
 * small GEMM (W_s query) and one fused kernel (tanh, dot with v, masked softmax, weighted sum).
 *
 * Source lengths are always a host array (int32 or int64, as the descriptor says), in the
 * device-buffer forms too, as cuDNN does for sequence lengths: they are metadata the host knows,
 * and checking 1 <= length <= T on the host costs no device round trip. NULL means "all T".
 */
#ifndef CLATTN_ADDITIVE_H
#define CLATTN_ADDITIVE_H

#include "clattn_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Additive attention ---------------------------------------------------------------------- */
typedef struct {
    size_t struct_size; /* set by clattn_additive_desc_init: the caller's sizeof */
    int64_t batch;      /* B */
    int64_t seq;        /* T: source positions (keys per batch entry) */
    int64_t key_dim;    /* Dk */
    int64_t query_dim;  /* Ds */
    int64_t attn_dim;   /* A */
    int64_t steps;      /* Tq: query rows per batch entry; 1 (the init value) for [B, Ds] */
    clattn_lengths_type lengths_type;
    clattn_flavour flavour; /* AUTO: from the device's local memory type */
    int64_t block_t;        /* source positions per tile; 0: the dispatcher chooses */
    int64_t work_group;     /* GPU flavour work-group size; 0: the dispatcher chooses */
} clattn_additive_desc;
/* The required fields end before steps: a shorter struct is refused, and the fields from steps
 * on take their init values when the caller's struct ends before them. */
#define CLATTN_ADDITIVE_DESC_MIN_SIZE offsetof(clattn_additive_desc, steps)

/* Fills `size` bytes (the caller's sizeof *desc) with the defaults and sets struct_size. */
CLATTN_API clattn_status clattn_additive_desc_init(clattn_additive_desc *desc, size_t size);

/* What the dispatcher chose for the fused step kernel. */
typedef struct {
    clattn_flavour flavour;
    int64_t block_t;         /* positions scored per tile */
    int64_t lanes;           /* GPU: work-items sharing one position's dot product over A */
    int64_t work_group;      /* work-items per work-group (1 for the CPU flavour) */
    int stage_query;         /* GPU: W_s query + bias and v are staged in __local memory */
    int64_t local_mem_bytes; /* __local memory one work-group uses */
} clattn_additive_plan;
#define CLATTN_ADDITIVE_PLAN_MIN_SIZE offsetof(clattn_additive_plan, lanes)

/* Writes the plan (`size` bytes: the caller's sizeof *plan; nothing on failure). */
CLATTN_API clattn_status clattn_additive_plan_get(clattn_context *ctx,
                                                  const clattn_additive_desc *desc,
                                                  clattn_additive_plan *plan, size_t size);

/* Projected keys of one batch of sources, plus everything a decoder step needs besides the query:
 * the keys, the lengths, W_s, v and the bias. Thread-safety: a handle is immutable after create,
 * so several threads may run steps on it at once (each step allocates its own scratch). */
typedef struct clattn_additive_keys clattn_additive_keys;

/* Device-buffer form. keys, w_h, w_s, v are required; bias may be NULL (zero). The handle retains
 * keys, w_s, v and bias (no copy): do not modify them while the handle lives. Enqueues the key
 * projection after the wait list; `event` (may be NULL) completes with it. */
CLATTN_API clattn_status clattn_additive_keys_create(clattn_context *ctx,
                                                     const clattn_additive_desc *desc, cl_mem keys,
                                                     cl_mem w_h, cl_mem w_s, cl_mem v, cl_mem bias,
                                                     const void *lengths, cl_uint num_wait,
                                                     const cl_event *wait_list, cl_event *event,
                                                     clattn_additive_keys **out);
/* Host-pointer form: copies everything to the device; synchronous. */
CLATTN_API clattn_status clattn_additive_keys_create_host(clattn_context *ctx,
                                                          const clattn_additive_desc *desc,
                                                          const float *keys, const float *w_h,
                                                          const float *w_s, const float *v,
                                                          const float *bias, const void *lengths,
                                                          clattn_additive_keys **out);
CLATTN_API void clattn_additive_keys_destroy(clattn_additive_keys *keys);

/* One or several decoder steps: query [B, steps, Ds] -> context [B, steps, Dk] and, when weights
 * is not NULL, alpha [B, steps, T]. `steps` may differ from the descriptor's (0 uses it).
 * Positions past a source's length get weight 0. */
CLATTN_API clattn_status clattn_additive_step(clattn_context *ctx, const clattn_additive_keys *keys,
                                              int64_t steps, cl_mem query, cl_mem context,
                                              cl_mem weights, cl_uint num_wait,
                                              const cl_event *wait_list, cl_event *event);
CLATTN_API clattn_status clattn_additive_step_host(clattn_context *ctx,
                                                   const clattn_additive_keys *keys, int64_t steps,
                                                   const float *query, float *context,
                                                   float *weights);

/* One shot: precompute and step(s) in one call (the handle is made and freed inside). */
CLATTN_API clattn_status clattn_additive(clattn_context *ctx, const clattn_additive_desc *desc,
                                         cl_mem keys, cl_mem query, cl_mem w_h, cl_mem w_s,
                                         cl_mem v, cl_mem bias, const void *lengths, cl_mem context,
                                         cl_mem weights, cl_uint num_wait,
                                         const cl_event *wait_list, cl_event *event);
CLATTN_API clattn_status clattn_additive_host(clattn_context *ctx, const clattn_additive_desc *desc,
                                              const float *keys, const float *query,
                                              const float *w_h, const float *w_s, const float *v,
                                              const float *bias, const void *lengths,
                                              float *context, float *weights);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_ADDITIVE_H */
