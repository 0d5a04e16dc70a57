/* sdpa_internal.h: the contract between the SDPA front end (src/sdpa/api.c: validation, plan,
 * host wrappers), the planner (src/sdpa/plan*.c, pure) and the launchers (src/sdpa/launch_*.c,
 * found through the table in src/sdpa/launchers.c). A launcher receives a problem that has
 * already been validated and whose strides are all resolved, and a plan whose tiles fit; it
 * sets its kernels' arguments through src/sdpa/kernel_args.h.
 */
#ifndef CLATTN_SDPA_INTERNAL_H
#define CLATTN_SDPA_INTERNAL_H

#include "core/internal.h"

/* A validated problem. Strides are in elements for (batch, head, seq); the last dim is
 * contiguous. Mask strides are 0 in a broadcast dimension. scale is resolved (never 0). */
typedef struct {
    int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
    int64_t group; /* Hq / Hkv: query head h reads kv head h / group */
    float scale;
    int causal;
    int has_mask, has_lse;
    /* CLATTN_STORAGE_* (= clattn_dtype) of q, of k and v, of out and of the mask */
    int q_dtype, kv_dtype, o_dtype, m_dtype;
    /* Options (src/sdpa/options.c). Query i sits at key i + diag. */
    int64_t diag;
    int window;                        /* window_left/right apply; -1 is an open side */
    int64_t window_left, window_right; /* -1 also when window is off */
    float softcap;                     /* 0: off */
    const float *alibi;                /* host slopes [alibi_batch, Hq], or NULL */
    int64_t alibi_batch;               /* 1 or B */
    int top_left;                      /* diag is 0 rather than Skv - Sq */
    const int32_t *kv_lens;            /* host [B] (validated), or NULL */
    int64_t q_st[3], k_st[3], v_st[3], o_st[3], m_st[3];
    /* Paged K/V (a KV cache's pool, src/kvcache/; only the decode path takes it): key j of batch
     * entry b is row j % page_size of page block_table[b][j / page_size], and k_st[0], v_st[0]
     * are the page strides. page_size 0: plain strides. */
    int64_t page_size, pages_per_seq;
} clattn_sdpa_problem;

/* Bytes of one element of a storage type (CLATTN_STORAGE_*); what the kernels accumulate in and
 * write to lse and scratch is always float (ACC_T). */
int64_t clattn__storage_bytes(int storage);
/* Appends to s (a NUL-terminated string of capacity n) the -D options that select p's storage
 * types in cl/kernel_iface.h: nothing for float32, so float32 builds keep their option strings
 * and cached binaries. */
void clattn__sdpa_dtype_options(const clattn_sdpa_problem *p, int with_out, char *s, size_t n);
#define CLATTN_ACC_BYTES ((int64_t)sizeof(cl_float))

typedef struct {
    cl_mem q, k, v, mask, out, lse; /* mask and lse may be NULL */
    cl_mem alibi;                   /* the slopes on the device, or NULL */
    cl_mem kv_lens;                 /* the lengths on the device, or NULL */
    cl_mem block_table;             /* int [B, pages_per_seq] of a paged problem, or NULL */
} clattn_sdpa_buffers;

/* Validates the options of d into p (after the sizes are in p). */
clattn_status clattn__sdpa_options(clattn_context *ctx, const clattn_sdpa_desc *d,
                                   clattn_sdpa_problem *p);

/* ---- The steps of clattn_sdpa (api.c), for entry points built on it (the KV cache) ---- */
/* The caller's descriptor, whatever its version, as a full-size struct with defaults. */
clattn_status clattn__sdpa_desc_in(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                   clattn_sdpa_desc *d);
/* Fills 0 strides of a [., H, S, dim] tensor with the contiguous default and checks the rest;
 * `name` names the tensor in messages. */
clattn_status clattn__sdpa_resolve_strides(clattn_context *ctx, const char *name, const int64_t *in,
                                           int64_t H, int64_t S, int64_t dim, int64_t *out);
/* Bytes each tensor spans in its buffer. */
typedef struct {
    int64_t q, k, v, mask, out, lse;
} clattn_sdpa_spans;
/* Validates d (the full-size copy) into p and the spans of its tensors; has_lse: lse wanted. */
clattn_status clattn__sdpa_validate(clattn_context *ctx, const clattn_sdpa_desc *d, int has_lse,
                                    clattn_sdpa_problem *p, clattn_sdpa_spans *s);
/* The dispatcher's plan for a validated problem, with the message on failure. */
clattn_status clattn__sdpa_plan(clattn_context *ctx, const clattn_sdpa_desc *d,
                                const clattn_sdpa_problem *p, clattn_sdpa_plan *plan);
/* INVALID_ARGUMENT unless a mask is passed (has_mask) exactly when the problem has one. */
clattn_status clattn__sdpa_check_mask(clattn_context *ctx, const clattn_sdpa_problem *p,
                                      int has_mask);
/* Checks the caller's q, mask, out and lse against the spans, and that out and lse share no
 * buffer with each other or with q, the mask, k or v (k and v may be NULL: not the caller's). */
clattn_status clattn__sdpa_check_io(clattn_context *ctx, const clattn_sdpa_problem *p,
                                    const clattn_sdpa_spans *s, cl_mem q, cl_mem k, cl_mem v,
                                    cl_mem mask, cl_mem out, cl_mem lse);
/* Runs a validated, planned problem on buf (q, k, v, mask, out, lse and, when paged, the block
 * table): uploads the ALiBi slopes and kv lengths the problem holds, then the plan's launcher. */
clattn_status clattn__sdpa_run(clattn_context *ctx, const clattn_sdpa_problem *p,
                               const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                               cl_uint num_wait, const cl_event *wait, cl_event *event);
/* The device call behind a host-array form: q, k, v, mask, out and lse are device copies. */
typedef clattn_status (*clattn_sdpa_device_call)(void *arg, cl_mem q, cl_mem k, cl_mem v,
                                                 cl_mem mask, cl_mem out, cl_mem lse,
                                                 cl_event *event);
/* The host-array form of a validated problem with spans s: copies q, k, v and mask (any may be
 * NULL) to the device, runs `call` and reads out and lse (may be NULL) back; synchronous. */
clattn_status clattn__sdpa_host_run(clattn_context *ctx, const clattn_sdpa_problem *p,
                                    const clattn_sdpa_spans *s, const void *q, const void *k,
                                    const void *v, const void *mask, void *out, float *lse,
                                    clattn_sdpa_device_call call, void *arg);
/* The CLATTN_KF_* bits the kernels get for p. */
int clattn__sdpa_kernel_flags(const clattn_sdpa_problem *p);

/* Each launcher enqueues the whole computation after `wait` and returns one event for it. A
 * launcher is one row of the table in launchers.c: adding a path is one launcher and one row. */
typedef clattn_status (*clattn_sdpa_launcher)(clattn_context *ctx, const clattn_sdpa_problem *p,
                                              const clattn_sdpa_plan *plan,
                                              const clattn_sdpa_buffers *buf, cl_uint num_wait,
                                              const cl_event *wait, cl_event *event);

/* The launcher of (algo, flavour), or NULL when there is none (AUTO never reaches it). */
clattn_sdpa_launcher clattn__sdpa_launcher(clattn_algo algo, clattn_flavour flavour);

clattn_status clattn__sdpa_decode(clattn_context *ctx, const clattn_sdpa_problem *p,
                                  const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                  cl_uint num_wait, const cl_event *wait, cl_event *event);
clattn_status clattn__sdpa_naive(clattn_context *ctx, const clattn_sdpa_problem *p,
                                 const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                 cl_uint num_wait, const cl_event *wait, cl_event *event);
clattn_status clattn__sdpa_flash_gpu(clattn_context *ctx, const clattn_sdpa_problem *p,
                                     const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                     cl_uint num_wait, const cl_event *wait, cl_event *event);
clattn_status clattn__sdpa_flash_cpu(clattn_context *ctx, const clattn_sdpa_problem *p,
                                     const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                     cl_uint num_wait, const cl_event *wait, cl_event *event);

#endif /* CLATTN_SDPA_INTERNAL_H */
