/* kernel_args.h: the host side of the one SDPA kernel interface (cl/kernel_iface.h). Every
 * launcher fills one clattn_sdpa_kernel_args from the validated problem, its plan and the
 * buffers, and sets all of a kernel's arguments with one call; nothing sets an argument by a
 * bare index. */
#ifndef CLATTN_SDPA_KERNEL_ARGS_H
#define CLATTN_SDPA_KERNEL_ARGS_H

#include "kernel_iface.h"
#include "sdpa/sdpa_internal.h"

/* The values of enum clattn_sdpa_arg, as the kernels receive them. */
typedef struct {
    cl_mem q, k, v, mask, out, lse, scratch; /* mask, lse, scratch may be NULL */
    cl_long batch, heads, group, seq_q, seq_kv;
    cl_int head_dim, head_dim_v;
    cl_float scale_log2;
    cl_int flags, block_kv;
    cl_long kv_start;
    cl_mem alibi;
    cl_long alibi_sb, diag, window_left, window_right;
    cl_float softcap_log2;
    cl_mem kv_lens;
    cl_long strides[5][3]; /* q, k, v, out, mask: (batch, head, seq) in elements */
    cl_mem block_table;    /* paged K/V: int [B, pages_per_seq]; else NULL */
    cl_long page_size, pages_per_seq;
} clattn_sdpa_kernel_args;

/* The arguments for problem p run with `plan` on `buf`, with `scratch` (may be NULL) as the
 * kernel's scratch buffer. kv_start is 0. */
void clattn__sdpa_kernel_args_init(clattn_sdpa_kernel_args *a, const clattn_sdpa_problem *p,
                                   const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                   cl_mem scratch);

/* Sets every argument of an SDPA kernel (one built with CLATTN_SDPA_PARAMS); first checks that
 * the kernel has exactly CLATTN_SDPA_ARG_COUNT arguments, so a kernel that drifted from the
 * interface fails loudly instead of reading garbage. `what` names the kernel in messages. */
clattn_status clattn__sdpa_kernel_args_set(clattn_context *ctx, cl_kernel kern,
                                           const clattn_sdpa_kernel_args *a, const char *what);

/* Re-sets the one argument that changes between the launches of a multi-launch path. */
clattn_status clattn__sdpa_kernel_args_set_kv_start(clattn_context *ctx, cl_kernel kern,
                                                    cl_long kv_start, const char *what);

#endif /* CLATTN_SDPA_KERNEL_ARGS_H */
