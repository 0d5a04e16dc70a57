/* launch_decode.c: launcher of the split-KV decode path (cl/decode.cl): one launch of
 * decode_cpu or decode_gpu writes every split's partial output and lse into a scratch buffer,
 * then decode_combine merges them into out and lse. Both kernels take the one SDPA interface;
 * block_kv carries the split size. The scratch is released once both are enqueued (OpenCL keeps
 * it until they are done). */
#include "kernel_iface.h"
#include "sdpa/kernel_args.h"
#include "sdpa/plan.h"

#include <stdio.h>
#include <string.h>

static void build_options(const clattn_context *ctx, const clattn_sdpa_problem *p,
                          const clattn_sdpa_plan *plan, char *s, size_t n) {
    const int gpu = plan->flavour == CLATTN_FLAVOUR_GPU;
    const int64_t dcap = gpu ? clattn__gpu_dim_cap(p->D) : clattn__cpu_dim_cap(p->D);
    const int64_t dvcap = gpu ? clattn__gpu_dim_cap(p->Dv) : clattn__cpu_dim_cap(p->Dv);
    const int64_t bk = clattn__decode_block(&ctx->caps, plan->flavour, plan->block_q, dcap);
    /* The CPU kernel's vectors run over the head dim: 16 lanes only where the device prefers
     * them and the head dims fill them. */
    const int vw = ctx->caps.preferred_vector_width_float >= 16 && dcap >= 16 ? 16 : 8;
    snprintf(s, n, "-DRCAP=%lld -DDCAP=%lld -DDVCAP=%lld -DBK=%lld -DVW=%d -DWG=%lld",
             (long long)plan->block_q, (long long)dcap, (long long)dvcap, (long long)bk, vw,
             (long long)(gpu ? plan->work_group : 1));
    clattn__sdpa_dtype_options(p, 1, s, n); /* the storage types, -D only where not float32 */
    /* A paged K/V (a KV cache) compiles the page lookup in; other builds keep plain strides. */
    if (p->page_size > 0) {
        const size_t len = strlen(s);
        if (len < n) snprintf(s + len, n - len, " -DKV_PAGED=1");
    }
}

clattn_status clattn__sdpa_decode(clattn_context *ctx, const clattn_sdpa_problem *p,
                                  const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                  cl_uint num_wait, const cl_event *wait, cl_event *event) {
    if (event) *event = NULL;
    const int gpu = plan->flavour == CLATTN_FLAVOUR_GPU;
    char opts[200];
    build_options(ctx, p, plan, opts, sizeof opts);
    cl_kernel split = NULL, combine = NULL;
    cl_mem scratch = NULL;
    cl_event split_done = NULL;
    clattn_status st =
        clattn__kernel(ctx, "decode", opts, gpu ? "decode_gpu" : "decode_cpu", &split);
    if (st == CLATTN_SUCCESS) st = clattn__kernel(ctx, "decode", opts, "decode_combine", &combine);
    if (st == CLATTN_SUCCESS)
        st = clattn__alloc(ctx, plan->scratch_bytes, CL_MEM_READ_WRITE, NULL,
                           "decode partial outputs", &scratch);
    clattn_sdpa_kernel_args args;
    clattn__sdpa_kernel_args_init(&args, p, plan, buf, scratch);
    if (st == CLATTN_SUCCESS) st = clattn__sdpa_kernel_args_set(ctx, split, &args, "decode");
    if (st == CLATTN_SUCCESS)
        st = clattn__sdpa_kernel_args_set(ctx, combine, &args, "decode_combine");
    if (st == CLATTN_SUCCESS) {
        const size_t global[2] = {(size_t)plan->global_size[0], (size_t)plan->global_size[1]};
        const size_t local_gpu[1] = {(size_t)plan->work_group}, local_cpu[2] = {1, 1};
        st = clattn__launch(ctx, split, gpu ? 1 : 2, global, gpu ? local_gpu : local_cpu, num_wait,
                            wait, &split_done, gpu ? "decode_gpu" : "decode_cpu");
    }
    if (st == CLATTN_SUCCESS) {
        const size_t rows = (size_t)(p->B * p->Hq * p->Sq);
        st = clattn__launch(ctx, combine, 1, &rows, NULL, 1, &split_done, event, "decode_combine");
        if (st != CLATTN_SUCCESS) clWaitForEvents(1, &split_done); /* nothing outlives the call */
    }
    clattn__release_event(&split_done);
    clattn__release_mem(&scratch);
    if (split) clReleaseKernel(split);
    if (combine) clReleaseKernel(combine);
    return st;
}
