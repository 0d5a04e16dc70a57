/* launch_flash_gpu.c: launcher of the GPU-flavour FlashAttention kernels (cl/flash_gpu.cl:
 * flash1_gpu and flash2_gpu). Builds the kernel for the plan's tiles (head dims bucketed, so one
 * build serves many D), then checks the built kernel against the device: when
 * CL_KERNEL_WORK_GROUP_SIZE is below the plan's work-group, CL_KERNEL_LOCAL_MEM_SIZE above the
 * local memory, or the build or launch runs out of resources, it asks the dispatcher for the next
 * smaller tile and retries. */
#include "sdpa/kernel_args.h"
#include "sdpa/plan.h"
#include "sdpa/staging.h"

#include <stdio.h>

/* Retries after a build failure: a failure that is not about resources repeats at every size. */
#define MAX_BUILD_RETRIES 2

static void options(const clattn_sdpa_problem *p, const clattn_sdpa_plan *plan, char *s, size_t n) {
    snprintf(s, n, "-DBR=%lld -DBC=%lld -DTPR=%lld -DDCAP=%lld -DDVCAP=%lld",
             (long long)plan->block_q, (long long)plan->block_kv,
             (long long)(plan->work_group / plan->block_q), (long long)clattn__gpu_dim_cap(p->D),
             (long long)clattn__gpu_dim_cap(p->Dv));
    clattn__sdpa_dtype_options(p, 1, s, n);
}

/* Builds the plan's kernel and checks it against the device; *fits is 0 when a smaller tile is
 * needed, with *kernel_wg the built kernel's work-group limit. */
static clattn_status build(clattn_context *ctx, const clattn_sdpa_problem *p,
                           const clattn_sdpa_plan *plan, cl_kernel *kern, int *fits,
                           int64_t *kernel_wg) {
    const int flash1 = plan->algo == CLATTN_ALGO_FLASH1;
    char opts[224];
    options(p, plan, opts, sizeof opts);
    *fits = 1;
    *kernel_wg = plan->work_group;
    clattn_status st =
        clattn__kernel(ctx, "flash_gpu", opts, flash1 ? "flash1_gpu" : "flash2_gpu", kern);
    if (st != CLATTN_SUCCESS) return st;
    size_t wg = 0;
    cl_ulong local = 0;
    cl_int err = clGetKernelWorkGroupInfo(*kern, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg,
                                          &wg, NULL);
    if (err == CL_SUCCESS)
        err = clGetKernelWorkGroupInfo(*kern, ctx->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof local,
                                       &local, NULL);
    if (err != CL_SUCCESS) {
        clReleaseKernel(*kern);
        *kern = NULL;
        return clattn__cl_fail(ctx, err, "flash attention (GPU): clGetKernelWorkGroupInfo failed");
    }
    if ((int64_t)wg < plan->work_group || (int64_t)local > ctx->caps.local_mem_bytes) {
        *fits = 0;
        *kernel_wg = (int64_t)wg;
    }
    return CLATTN_SUCCESS;
}

/* Builds and launches the plan's tile, or the next smaller ones that fit. */
static clattn_status tiles(clattn_context *ctx, const clattn_sdpa_problem *p,
                           const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                           cl_uint num_wait, const cl_event *wait, cl_event *event) {
    clattn_sdpa_plan cur = *plan;
    int build_retries = 0;
    for (;;) {
        cl_kernel kern = NULL;
        int fits = 1;
        int64_t kernel_wg = cur.work_group;
        clattn_status st = build(ctx, p, &cur, &kern, &fits, &kernel_wg);
        int retry = 0;
        if (st == CLATTN_SUCCESS && !fits) {
            retry = 1;
        } else if (st == CLATTN_SUCCESS) {
            cl_mem ml = NULL;
            if (cur.algo == CLATTN_ALGO_FLASH1)
                st = clattn__alloc(ctx, clattn__sdpa_flash1_state_bytes(p), CL_MEM_READ_WRITE, NULL,
                                   "flash1 running max and sum", &ml);
            clattn_sdpa_kernel_args args;
            clattn__sdpa_kernel_args_init(&args, p, &cur, buf, ml);
            if (st == CLATTN_SUCCESS)
                st = clattn__sdpa_kernel_args_set(ctx, kern, &args, "flash attention (GPU)");
            if (st == CLATTN_SUCCESS) {
                const size_t global = (size_t)cur.global_size[0];
                const size_t local = (size_t)cur.work_group;
                st = clattn__launch(ctx, kern, 1, &global, &local, num_wait, wait, event,
                                    cur.algo == CLATTN_ALGO_FLASH1 ? "flash1_gpu" : "flash2_gpu");
                /* A launch refused for resources (registers, local memory) enqueued nothing. */
                retry = st == CLATTN_ERROR_OUT_OF_MEMORY;
            }
            if (ml) clReleaseMemObject(ml);
        } else if (st == CLATTN_ERROR_BUILD_FAILED || st == CLATTN_ERROR_OUT_OF_MEMORY) {
            retry = build_retries++ < MAX_BUILD_RETRIES;
        }
        if (kern) clReleaseKernel(kern);
        if (!retry) return st;
        char why[256];
        clattn_sdpa_plan smaller;
        clattn_status s2 =
            clattn__sdpa_gpu_shrink(&ctx->caps, p, &cur, kernel_wg, &smaller, why, sizeof why);
        if (s2 != CLATTN_SUCCESS && st != CLATTN_SUCCESS)
            return st; /* keep the build log or launch error: it says more than "no tile" */
        if (s2 != CLATTN_SUCCESS)
            return clattn__fail(ctx, s2, "%s (the last tile tried: %lldx%lld, %lld work-items)",
                                why, (long long)cur.block_q, (long long)cur.block_kv,
                                (long long)cur.work_group);
        cur = smaller;
    }
}

clattn_status clattn__sdpa_flash_gpu(clattn_context *ctx, const clattn_sdpa_problem *p,
                                     const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                     cl_uint num_wait, const cl_event *wait, cl_event *event) {
    if (event) *event = NULL;
    if (plan->algo != CLATTN_ALGO_FLASH1 || p->o_dtype == CLATTN_STORAGE_F32)
        return tiles(ctx, p, plan, buf, num_wait, wait, event);
    /* flash1 reads its running output back from `out` after every K/V block: a narrow one is
     * staged in float32 so it is rounded once, at the end. */
    clattn_sdpa_staging stg;
    clattn_status s = clattn__sdpa_stage_in(
        ctx, p, buf, clattn__sdpa_stage_set(&ctx->caps, p, plan), &stg, 0, NULL);
    if (s != CLATTN_SUCCESS) return s;
    cl_event done = NULL;
    s = tiles(ctx, &stg.p, plan, &stg.buf, num_wait, wait, &done);
    return clattn__sdpa_stage_out(ctx, p, buf, &stg, s, done, event);
}
