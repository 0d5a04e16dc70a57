/* launch_flash_cpu.c: launcher of the CPU-flavour FlashAttention kernels (cl/flash_cpu.cl) for
 * devices whose local memory is emulated in global memory. flash2 is one launch; flash1 is the
 * first paper's outer loop over K/V blocks run on the host, one launch per block, each waiting
 * for the previous one, with m and l carried in a scratch buffer released after the last launch
 * is enqueued (OpenCL keeps it alive until the work using it completes). */
#include "kernel_iface.h"
#include "sdpa/kernel_args.h"
#include "sdpa/plan.h"
#include "sdpa/plan_cpu.h"
#include "sdpa/staging.h"

#include <limits.h>
#include <stdio.h>

/* Build options: the query-row block, vector width and register blocking (the device's lane
 * width decides both: plan_cpu.h), and head-dim capacities rounded up to a bucket so that one
 * build serves every D of the bucket (d and dv are run-time arguments). */
static void build_options(const clattn_context *ctx, const clattn_sdpa_problem *p,
                          const clattn_sdpa_plan *plan, char *s, size_t n) {
    /* The score options are compiled in only when the call uses them (SCORE_OPTS bits of
     * cl/flash_cpu.cl: 1 softcap, 2 ALiBi, 4 window), so plain attention pays nothing for them;
     * the option string is part of the program-cache key. */
    const int flags = clattn__sdpa_kernel_flags(p);
    const int opts = (flags & CLATTN_KF_SOFTCAP ? 1 : 0) | (flags & CLATTN_KF_ALIBI ? 2 : 0) |
                     (flags & CLATTN_KF_WINDOW ? 4 : 0);
    const int pref = ctx->caps.preferred_vector_width_float;
    const long long jb = (long long)clattn__cpu_reg_block(pref, plan->block_q);
    const int len =
        snprintf(s, n, "-DBR=%lld -DVW=%lld -DDCAP=%lld -DDVCAP=%lld -DBC=%d -DJB=%lld -DEB=%lld",
                 (long long)plan->block_q, (long long)clattn__cpu_vector_width(pref, plan->block_q),
                 (long long)clattn__cpu_dim_cap(p->D), (long long)clattn__cpu_dim_cap(p->Dv),
                 CLATTN_CPU_MAX_BLOCK_KV, jb, jb);
    if (opts && len > 0 && (size_t)len < n)
        snprintf(s + len, n - (size_t)len, " -DSCORE_OPTS=%d", opts);
    clattn__sdpa_dtype_options(p, 1, s, n);
}

/* flash1: launch k waits for launch k - 1 (the first for the caller's list); every event but
 * the last is released as soon as the next launch holds it. */
static clattn_status run_flash1(clattn_context *ctx, cl_kernel kern, const clattn_sdpa_problem *p,
                                const clattn_sdpa_plan *plan, const size_t global[2],
                                cl_uint num_wait, const cl_event *wait, cl_event *event) {
    const size_t local[2] = {1, 1};
    clattn_status s = CLATTN_SUCCESS;
    cl_event prev = NULL;
    for (int64_t j0 = 0; j0 < p->Skv && s == CLATTN_SUCCESS; j0 += plan->block_kv) {
        s = clattn__sdpa_kernel_args_set_kv_start(ctx, kern, j0, "flash1 (CPU)");
        if (s != CLATTN_SUCCESS) break;
        cl_event next = NULL;
        s = j0 == 0
                ? clattn__launch(ctx, kern, 2, global, local, num_wait, wait, &next, "flash1 (CPU)")
                : clattn__launch(ctx, kern, 2, global, local, 1, &prev, &next, "flash1 (CPU)");
        clattn__release_event(&prev);
        prev = next;
    }
    if (s != CLATTN_SUCCESS) {
        /* Launches already enqueued still run; wait so nothing outlives the failed call. */
        if (prev) clWaitForEvents(1, &prev);
        clattn__release_event(&prev);
        return s;
    }
    if (event)
        *event = prev;
    else
        clattn__release_event(&prev);
    return CLATTN_SUCCESS;
}

/* Builds and enqueues one tile configuration. */
static clattn_status try_tile(clattn_context *ctx, const clattn_sdpa_problem *p,
                              const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                              cl_uint num_wait, const cl_event *wait, cl_event *event) {
    const int flash1 = plan->algo == CLATTN_ALGO_FLASH1;
    char opts[288];
    build_options(ctx, p, plan, opts, sizeof opts);
    cl_kernel kern = NULL;
    cl_mem ml = NULL; /* flash1's running max and sum, released once the launches are enqueued */
    clattn_status s =
        clattn__kernel(ctx, "flash_cpu", opts, flash1 ? "flash1_cpu" : "flash2_cpu", &kern);
    if (s != CLATTN_SUCCESS) return s;
    if (flash1)
        s = clattn__alloc(ctx, clattn__sdpa_flash1_state_bytes(p), CL_MEM_READ_WRITE, NULL,
                          "flash1 (CPU) m/l scratch", &ml);
    clattn_sdpa_kernel_args args;
    clattn__sdpa_kernel_args_init(&args, p, plan, buf, ml);
    if (s == CLATTN_SUCCESS)
        s = clattn__sdpa_kernel_args_set(ctx, kern, &args, "flash attention (CPU)");
    if (s == CLATTN_SUCCESS) {
        int64_t gs[2];
        clattn__sdpa_cpu_global_size(p, plan->block_q, gs);
        const size_t global[2] = {(size_t)gs[0], (size_t)gs[1]}, local[2] = {1, 1};
        if (flash1)
            s = run_flash1(ctx, kern, p, plan, global, num_wait, wait, event);
        else
            s = clattn__launch(ctx, kern, 2, global, local, num_wait, wait, event, "flash2 (CPU)");
    }
    clattn__release_mem(&ml);
    clReleaseKernel(kern);
    return s;
}

/* try_tile from the plan's tile down. */
static clattn_status tiles(clattn_context *ctx, const clattn_sdpa_problem *p,
                           const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                           cl_uint num_wait, const cl_event *wait, cl_event *event) {
    clattn_sdpa_plan cur = *plan;
    for (;;) {
        clattn_status s = try_tile(ctx, p, &cur, buf, num_wait, wait, event);
        const int resources = s == CLATTN_ERROR_BUILD_FAILED || s == CLATTN_ERROR_OUT_OF_MEMORY;
        const int64_t smaller = clattn__cpu_smaller_block_q(cur.block_q);
        if (s == CLATTN_SUCCESS || !resources || smaller == 0) return s;
        cur.block_q = smaller;
    }
}

clattn_status clattn__sdpa_flash_cpu(clattn_context *ctx, const clattn_sdpa_problem *p,
                                     const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                     cl_uint num_wait, const cl_event *wait, cl_event *event) {
    if (event) *event = NULL;
    const int flash1 = plan->algo == CLATTN_ALGO_FLASH1;
    if ((!flash1 && plan->algo != CLATTN_ALGO_FLASH2) ||
        !clattn__sdpa_cpu_valid_tiles(plan->algo, p->D, p->Dv, plan->block_q, plan->block_kv) ||
        plan->block_q == 0 || plan->block_kv == 0 || (p->has_mask && !buf->mask) ||
        (p->has_lse && !buf->lse))
        return clattn__fail(ctx, CLATTN_ERROR_INTERNAL,
                            "flash attention (CPU): plan algo %d, tile %lldx%lld, mask %d, lse %d: "
                            "no such kernel or a buffer is missing",
                            (int)plan->algo, (long long)plan->block_q, (long long)plan->block_kv,
                            p->has_mask, p->has_lse);
    /* The kernels index rows, keys and heads with 32-bit ints (element offsets are 64-bit), and
     * with ALiBi hold each row's position i' = i + diag and i' - j in one (a position offset
     * moves them: |diag| <= 2^48 and the sizes are below 2^62, so these sums fit int64). */
    int64_t rows = 0, bh = 0;
    if (clattn__mul64(p->Sq, p->group, &rows) || rows > INT_MAX - 64 || p->Skv > INT_MAX - 256 ||
        clattn__mul64(p->B, p->Hq, &bh) || bh > INT_MAX ||
        (p->alibi && (p->diag - p->Skv < INT_MIN || p->diag + p->Sq > INT_MAX)))
        return clattn__fail(ctx, CLATTN_ERROR_UNSUPPORTED,
                            "flash attention (CPU): Sq*group = %lld, Skv = %lld, B*Hq = %lld or "
                            "ALiBi's position shift %lld exceeds the kernels' 32-bit indices",
                            (long long)rows, (long long)p->Skv, (long long)bh, (long long)p->diag);
    /* A tile the device cannot build or launch for lack of resources (registers, private
     * memory: block_q 64 with D = Dv = 256 holds about 160 KiB per work-item) falls back to the
     * next smaller query block; the key block stays. A retry starts from scratch: flash1's first
     * launch initialises O, m and l, so launches of a failed attempt leave nothing behind. */
    /* Staged tensors (staging.h): flash1 carries its running output in `out` between launches,
     * so a narrow one is staged in float32 and rounded once, at the end; flash2 runs on
     * contiguous float32 copies of K/V where the dispatcher finds that they pay (plan_cpu.h's
     * clattn__cpu_stage_kv: narrow K/V converted once rather than in every work-group, float32
     * K/V whose strided rows every query block re-reads from a few cache sets). */
    const int stage = clattn__sdpa_stage_set(&ctx->caps, p, plan);
    if (stage && clattn__sdpa_staging_bytes(p, stage, NULL) > 0) {
        clattn_sdpa_staging stg;
        clattn_status s = clattn__sdpa_stage_in(ctx, p, buf, stage, &stg, num_wait, wait);
        if (s != CLATTN_SUCCESS) return s;
        cl_event done = NULL;
        s = tiles(ctx, &stg.p, plan, &stg.buf, stg.num_ready ? stg.num_ready : num_wait,
                  stg.num_ready ? stg.ready : wait, &done);
        return clattn__sdpa_stage_out(ctx, p, buf, &stg, s, done, event);
    }
    return tiles(ctx, p, plan, buf, num_wait, wait, event);
}
