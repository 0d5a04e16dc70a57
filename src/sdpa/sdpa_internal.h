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
} clattn_sdpa_buffers;

/* Validates the options of d into p (after the sizes are in p). */
clattn_status clattn__sdpa_options(clattn_context *ctx, const clattn_sdpa_desc *d,
                                   clattn_sdpa_problem *p);
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
