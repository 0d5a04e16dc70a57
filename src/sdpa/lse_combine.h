/* lse_combine.h: the host side of the one combine kernel (cl/lse_combine.cl), which merges N
 * partial (output, lse) pairs exactly. The split-KV decode path (launch_decode.c) and the public
 * clattn_lse_combine (lse_combine_api.c) both describe their layout in one
 * clattn_lse_combine_args and go through these two calls. */
#ifndef CLATTN_SDPA_LSE_COMBINE_H
#define CLATTN_SDPA_LSE_COMBINE_H

#include "core/internal.h"

/* The values of enum clattn_lse_combine_arg (cl/kernel_iface.h), plus the output's type. Part
 * n's output row r starts at part_out[n * part_out_st[0] + r * part_out_st[1]] and its lse is
 * part_lse[part_lse_st[0] + n * part_lse_st[1] + r * part_lse_st[2]]; row r = (b * heads + h) *
 * seq + i goes to out by out_st (batch, head, seq, in elements of out_dtype) and to lse[r]. */
typedef struct {
    cl_mem part_out, part_lse, out, lse; /* lse may be NULL; part_out may be part_lse */
    int out_dtype;                       /* CLATTN_STORAGE_* */
    cl_long parts, rows, heads, seq, head_dim_v;
    cl_long part_out_st[2], part_lse_st[3], out_st[3];
} clattn_lse_combine_args;

/* Builds the combine kernel for a->out_dtype and sets every argument from *a (checking the
 * kernel's argument count against the interface first). Enqueues nothing, so a caller can have
 * it ready before it enqueues anything of its own. The caller releases *kern. */
clattn_status clattn__lse_combine_kernel(clattn_context *ctx, const clattn_lse_combine_args *a,
                                         cl_kernel *kern);
/* Enqueues that kernel over a's rows after `wait`. */
clattn_status clattn__lse_combine_enqueue(clattn_context *ctx, cl_kernel kern,
                                          const clattn_lse_combine_args *a, cl_uint num_wait,
                                          const cl_event *wait, cl_event *event);

#endif /* CLATTN_SDPA_LSE_COMBINE_H */
