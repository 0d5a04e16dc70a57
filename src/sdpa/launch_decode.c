/* launch_decode.c: launcher of the split-KV decode path (cl/decode.cl): one launch of
 * decode_cpu or decode_gpu writes every split's partial output and lse into a scratch buffer,
 * then the shared combine kernel (cl/lse_combine.cl, the one behind clattn_lse_combine) merges
 * them into out and lse. The split kernels take the one SDPA interface; block_kv carries the
 * split size. Both kernels are built before anything is enqueued. The scratch is released once
 * both are enqueued (OpenCL keeps it until they are done). */
#include "kernel_iface.h"
#include "sdpa/kernel_args.h"
#include "sdpa/lse_combine.h"
#include "sdpa/plan.h"

#include <stdio.h>
#include <string.h>

static void build_options(const clattn_context *ctx, const clattn_sdpa_problem *p,
                          const clattn_sdpa_plan *plan, int64_t dvcap, char *s, size_t n) {
    const int gpu = plan->flavour == CLATTN_FLAVOUR_GPU;
    const int64_t dcap = gpu ? clattn__gpu_dim_cap(p->D) : clattn__cpu_dim_cap(p->D);
    const int64_t bk = clattn__decode_block(&ctx->caps, plan->flavour, plan->block_q, dcap);
    /* The CPU kernel's vectors run over the head dim: 16 lanes only where the device prefers
     * them and the head dims fill them. */
    const int vw = ctx->caps.preferred_vector_width_float >= 16 && dcap >= 16 ? 16 : 8;
    snprintf(s, n, "-DRCAP=%lld -DDCAP=%lld -DDVCAP=%lld -DBK=%lld -DVW=%d -DWG=%lld",
             (long long)plan->block_q, (long long)dcap, (long long)dvcap, (long long)bk, vw,
             (long long)(gpu ? plan->work_group : 1));
    /* The storage types, -D only where not float32; not out's: only the combine writes out. */
    clattn__sdpa_dtype_options(p, 0, s, n);
    /* A paged K/V (a KV cache) compiles the page lookup in; other builds keep plain strides. */
    if (p->page_size > 0) {
        const size_t len = strlen(s);
        if (len < n) snprintf(s + len, n - len, " -DKV_PAGED=1");
    }
}

/* The splits' records as the combine's parts: split s's row r is DVCAP floats at
 * (s * rows + r) * (DVCAP + 1), its lse right after them. Only the ceil(Skv / split size) splits
 * that can hold keys are parts; those past them (forced counts above Skv) are never read. */
static void combine_args(const clattn_sdpa_problem *p, const clattn_sdpa_plan *plan,
                         const clattn_sdpa_buffers *buf, cl_mem scratch, int64_t dvcap,
                         clattn_lse_combine_args *c) {
    const cl_long rows = p->B * p->Hq * p->Sq, rec = dvcap + 1;
    *c = (clattn_lse_combine_args){
        .part_out = scratch,
        .part_lse = scratch,
        .out = buf->out,
        .lse = p->has_lse ? buf->lse : NULL,
        .out_dtype = p->o_dtype,
        .parts = (p->Skv + plan->block_kv - 1) / plan->block_kv,
        .rows = rows,
        .heads = p->Hq,
        .seq = p->Sq,
        .head_dim_v = p->Dv,
        .part_out_st = {rows * rec, rec},
        .part_lse_st = {dvcap, rows * rec, rec},
        .out_st = {p->o_st[0], p->o_st[1], p->o_st[2]},
    };
}

clattn_status clattn__sdpa_decode(clattn_context *ctx, const clattn_sdpa_problem *p,
                                  const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                  cl_uint num_wait, const cl_event *wait, cl_event *event) {
    if (event) *event = NULL;
    const int gpu = plan->flavour == CLATTN_FLAVOUR_GPU;
    const int64_t dvcap = gpu ? clattn__gpu_dim_cap(p->Dv) : clattn__cpu_dim_cap(p->Dv);
    char opts[200];
    build_options(ctx, p, plan, dvcap, opts, sizeof opts);
    cl_kernel split = NULL, combine = NULL;
    cl_mem scratch = NULL;
    cl_event split_done = NULL;
    clattn_status st =
        clattn__kernel(ctx, "decode", opts, gpu ? "decode_gpu" : "decode_cpu", &split);
    if (st == CLATTN_SUCCESS)
        st = clattn__alloc(ctx, plan->scratch_bytes, CL_MEM_READ_WRITE, NULL,
                           "decode partial outputs", &scratch);
    clattn_sdpa_kernel_args args;
    clattn__sdpa_kernel_args_init(&args, p, plan, buf, scratch);
    if (st == CLATTN_SUCCESS) st = clattn__sdpa_kernel_args_set(ctx, split, &args, "decode");
    clattn_lse_combine_args cargs;
    combine_args(p, plan, buf, scratch, dvcap, &cargs);
    if (st == CLATTN_SUCCESS) st = clattn__lse_combine_kernel(ctx, &cargs, &combine);
    if (st == CLATTN_SUCCESS) {
        const size_t global[2] = {(size_t)plan->global_size[0], (size_t)plan->global_size[1]};
        const size_t local_gpu[1] = {(size_t)plan->work_group}, local_cpu[2] = {1, 1};
        st = clattn__launch(ctx, split, gpu ? 1 : 2, global, gpu ? local_gpu : local_cpu, num_wait,
                            wait, &split_done, gpu ? "decode_gpu" : "decode_cpu");
    }
    if (st == CLATTN_SUCCESS) {
        st = clattn__lse_combine_enqueue(ctx, combine, &cargs, 1, &split_done, event);
        if (st != CLATTN_SUCCESS) clWaitForEvents(1, &split_done); /* nothing outlives the call */
    }
    clattn__release_event(&split_done);
    clattn__release_mem(&scratch);
    if (split) clReleaseKernel(split);
    if (combine) clReleaseKernel(combine);
    return st;
}
