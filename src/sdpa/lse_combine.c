/* lse_combine.c: builds, sets up and enqueues the combine kernel (cl/lse_combine.cl) for the
 * decode path and the public entry point alike: arguments by the named indices of
 * cl/kernel_iface.h, one program per output type (-DO_DTYPE only where it is not float32). */
#include "sdpa/lse_combine.h"

#include "kernel_iface.h"

#include <stdio.h>

clattn_status clattn__lse_combine_kernel(clattn_context *ctx, const clattn_lse_combine_args *a,
                                         cl_kernel *kern) {
    *kern = NULL;
    char opts[32] = "";
    if (a->out_dtype != CLATTN_STORAGE_F32)
        snprintf(opts, sizeof opts, "-DO_DTYPE=%d", a->out_dtype);
    clattn_status st = clattn__kernel(ctx, "lse_combine", opts, "lse_combine", kern);
    if (st != CLATTN_SUCCESS) return st;
    cl_uint nargs = 0;
    cl_int err = clGetKernelInfo(*kern, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL);
    if (err != CL_SUCCESS)
        st = clattn__cl_fail(ctx, err, "lse_combine: clGetKernelInfo(CL_KERNEL_NUM_ARGS) failed");
    else if (nargs != CLATTN_LSE_COMBINE_ARG_COUNT)
        st = clattn__fail(ctx, CLATTN_ERROR_INTERNAL,
                          "lse_combine has %u arguments; its interface has %d", nargs,
                          (int)CLATTN_LSE_COMBINE_ARG_COUNT);
    const struct {
        cl_uint index;
        size_t size;
        const void *value;
    } args[] = {
        {CLATTN_LSE_COMBINE_ARG_PART_OUT, sizeof a->part_out, &a->part_out},
        {CLATTN_LSE_COMBINE_ARG_PART_LSE, sizeof a->part_lse, &a->part_lse},
        {CLATTN_LSE_COMBINE_ARG_OUT, sizeof a->out, &a->out},
        {CLATTN_LSE_COMBINE_ARG_LSE, sizeof a->lse, &a->lse},
        {CLATTN_LSE_COMBINE_ARG_PARTS, sizeof a->parts, &a->parts},
        {CLATTN_LSE_COMBINE_ARG_ROWS, sizeof a->rows, &a->rows},
        {CLATTN_LSE_COMBINE_ARG_HEADS, sizeof a->heads, &a->heads},
        {CLATTN_LSE_COMBINE_ARG_SEQ, sizeof a->seq, &a->seq},
        {CLATTN_LSE_COMBINE_ARG_HEAD_DIM_V, sizeof a->head_dim_v, &a->head_dim_v},
        {CLATTN_LSE_COMBINE_ARG_PART_OUT_STRIDES, sizeof(cl_long), &a->part_out_st[0]},
        {CLATTN_LSE_COMBINE_ARG_PART_OUT_STRIDES + 1, sizeof(cl_long), &a->part_out_st[1]},
        {CLATTN_LSE_COMBINE_ARG_PART_LSE_STRIDES, sizeof(cl_long), &a->part_lse_st[0]},
        {CLATTN_LSE_COMBINE_ARG_PART_LSE_STRIDES + 1, sizeof(cl_long), &a->part_lse_st[1]},
        {CLATTN_LSE_COMBINE_ARG_PART_LSE_STRIDES + 2, sizeof(cl_long), &a->part_lse_st[2]},
        {CLATTN_LSE_COMBINE_ARG_OUT_STRIDES, sizeof(cl_long), &a->out_st[0]},
        {CLATTN_LSE_COMBINE_ARG_OUT_STRIDES + 1, sizeof(cl_long), &a->out_st[1]},
        {CLATTN_LSE_COMBINE_ARG_OUT_STRIDES + 2, sizeof(cl_long), &a->out_st[2]},
    };
    for (size_t i = 0; i < sizeof args / sizeof args[0] && st == CLATTN_SUCCESS; i++) {
        err = clSetKernelArg(*kern, args[i].index, args[i].size, args[i].value);
        if (err != CL_SUCCESS)
            st = clattn__cl_fail(ctx, err, "lse_combine: clSetKernelArg(%u) failed", args[i].index);
    }
    if (st != CLATTN_SUCCESS) {
        clReleaseKernel(*kern);
        *kern = NULL;
    }
    return st;
}

clattn_status clattn__lse_combine_enqueue(clattn_context *ctx, cl_kernel kern,
                                          const clattn_lse_combine_args *a, cl_uint num_wait,
                                          const cl_event *wait, cl_event *event) {
    const size_t global[2] = {
        (size_t)((a->head_dim_v + CLATTN_LSE_COMBINE_COLS - 1) / CLATTN_LSE_COMBINE_COLS),
        (size_t)a->rows};
    return clattn__launch(ctx, kern, 2, global, NULL, num_wait, wait, event, "lse_combine");
}
