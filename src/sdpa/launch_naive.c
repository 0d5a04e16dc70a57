/* launch_naive.c: the naive attention path: S = scale * Q K^T with CLBlast's strided-batched GEMM,
 * the masked row softmax of cl/softmax.cl in place (which also writes lse), then O = P V with a
 * second GEMM. S is materialised ([B, Hq, Sq, Skv] floats, in plan->scratch_bytes); the
 * dispatcher has already refused problems whose S cannot be allocated.
 * GEMM batching: one batch entry per kv head; the query heads of a kv group are stacked into
 * the GEMM's M dimension when the layout allows ([B, H, S, D]: head stride = Sq * seq stride),
 * otherwise one batched GEMM per head of the group. Batch and kv head fold into one batch index
 * when the batch stride is Hkv times the head stride. Narrow (half, bfloat16) q, k, v and out are
 * staged through contiguous float32 copies (src/sdpa/staging.c); the mask is read as it is. */
#include "core/blas.h"
#include "sdpa/kernel_args.h"
#include "sdpa/plan.h"
#include "sdpa/staging.h"

#include <stdio.h>

/* Geometry of one side of a GEMM that walks (b, kv head, group member). */
typedef struct {
    int64_t count, outer; /* batch entries per GEMM call, calls over b */
    int stack;            /* group members stacked into M */
} batching;

static batching plan_batching(const clattn_sdpa_problem *p, const int64_t *x_st,
                              const int64_t *kv_st) {
    batching bt;
    bt.stack = p->group == 1 || x_st[1] == p->Sq * x_st[2];
    const int fold = p->B == 1 || (x_st[0] == p->Hq * x_st[1] && kv_st[0] == p->Hkv * kv_st[1]);
    bt.count = fold ? p->B * p->Hkv : p->Hkv;
    bt.outer = fold ? 1 : p->B;
    return bt;
}

/* S = scale * Q K^T for every (b, h). */
static clattn_status scores(clattn_context *ctx, const clattn_sdpa_problem *p,
                            const clattn_sdpa_buffers *buf, cl_mem s, cl_uint num_wait,
                            const cl_event *wait) {
    const batching bt = plan_batching(p, p->q_st, p->k_st);
    const int64_t members = bt.stack ? 1 : p->group, rows = bt.stack ? p->group * p->Sq : p->Sq;
    for (int64_t b = 0; b < bt.outer; b++) {
        for (int64_t g = 0; g < members; g++) {
            clattn_gemm gm = {0};
            gm.trans_b = 1;
            gm.m = rows;
            gm.n = p->Skv;
            gm.k = p->D;
            gm.alpha = p->scale;
            gm.beta = 0.0f;
            gm.a = buf->q;
            gm.a_off = b * p->q_st[0] + g * p->q_st[1];
            gm.lda = p->q_st[2];
            gm.a_stride = p->group * p->q_st[1];
            gm.b = buf->k;
            gm.b_off = b * p->k_st[0];
            gm.ldb = p->k_st[2];
            gm.b_stride = p->k_st[1];
            gm.c = s;
            gm.c_off = (b * p->Hq + g) * p->Sq * p->Skv;
            gm.ldc = p->Skv;
            gm.c_stride = p->group * p->Sq * p->Skv;
            gm.count = bt.count;
            const int first = b == 0 && g == 0;
            clattn_status st = clattn__sgemm_batched(ctx, &gm, first ? num_wait : 0,
                                                     first ? wait : NULL, "naive S = Q K^T");
            if (st != CLATTN_SUCCESS) return st;
        }
    }
    return CLATTN_SUCCESS;
}

/* O = P V for every (b, h). */
static clattn_status output(clattn_context *ctx, const clattn_sdpa_problem *p,
                            const clattn_sdpa_buffers *buf, cl_mem s) {
    const batching bt = plan_batching(p, p->o_st, p->v_st);
    const int64_t members = bt.stack ? 1 : p->group, rows = bt.stack ? p->group * p->Sq : p->Sq;
    for (int64_t b = 0; b < bt.outer; b++) {
        for (int64_t g = 0; g < members; g++) {
            clattn_gemm gm = {0};
            gm.m = rows;
            gm.n = p->Dv;
            gm.k = p->Skv;
            gm.alpha = 1.0f;
            gm.beta = 0.0f;
            gm.a = s;
            gm.a_off = (b * p->Hq + g) * p->Sq * p->Skv;
            gm.lda = p->Skv;
            gm.a_stride = p->group * p->Sq * p->Skv;
            gm.b = buf->v;
            gm.b_off = b * p->v_st[0];
            gm.ldb = p->v_st[2];
            gm.b_stride = p->v_st[1];
            gm.c = buf->out;
            gm.c_off = b * p->o_st[0] + g * p->o_st[1];
            gm.ldc = p->o_st[2];
            gm.c_stride = p->group * p->o_st[1];
            gm.count = bt.count;
            clattn_status st = clattn__sgemm_batched(ctx, &gm, 0, NULL, "naive O = P V");
            if (st != CLATTN_SUCCESS) return st;
        }
    }
    return CLATTN_SUCCESS;
}

/* The softmax build: its work-group, and the mask's storage type (the only tensor it reads). */
static void softmax_options(const clattn_sdpa_problem *p, const clattn_sdpa_plan *plan, char *s,
                            size_t n) {
    snprintf(s, n, "-DWG=%lld", (long long)plan->work_group);
    clattn_sdpa_problem mask_only = *p;
    mask_only.q_dtype = mask_only.kv_dtype = mask_only.o_dtype = CLATTN_STORAGE_F32;
    clattn__sdpa_dtype_options(&mask_only, 0, s, n);
}

static clattn_status softmax(clattn_context *ctx, const clattn_sdpa_problem *p,
                             const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                             cl_mem s) {
    char opts[96];
    softmax_options(p, plan, opts, sizeof opts);
    cl_kernel kern = NULL;
    clattn_status st = clattn__kernel(ctx, "softmax", opts, "softmax_rows", &kern);
    if (st != CLATTN_SUCCESS) return st;
    clattn_sdpa_kernel_args args;
    clattn__sdpa_kernel_args_init(&args, p, plan, buf, s);
    st = clattn__sdpa_kernel_args_set(ctx, kern, &args, "softmax_rows");
    if (st == CLATTN_SUCCESS) {
        const size_t global = (size_t)plan->global_size[0], local = (size_t)plan->work_group;
        st = clattn__launch(ctx, kern, 1, &global, &local, 0, NULL, NULL, "softmax_rows");
    }
    clReleaseKernel(kern);
    return st;
}

/* Orders the stages on an application's out-of-order queue (a no-op ordering on an in-order
 * one, where it costs one empty command). */
static clattn_status stage_barrier(clattn_context *ctx) {
    cl_int err = clEnqueueBarrierWithWaitList(ctx->queue, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clattn__cl_fail(
            ctx, err, "naive attention: stage barrier: clEnqueueBarrierWithWaitList failed");
    return CLATTN_SUCCESS;
}

/* The three stages on float32 q, k, v and out (the mask may be narrow: softmax reads it). */
static clattn_status naive_f32(clattn_context *ctx, const clattn_sdpa_problem *p,
                               const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                               cl_uint num_wait, const cl_event *wait, cl_event *event) {
    cl_mem s = NULL;
    clattn_status st = clattn__alloc(ctx, clattn__sdpa_naive_scores_bytes(p), CL_MEM_READ_WRITE,
                                     NULL, "naive attention scores S", &s);
    if (st != CLATTN_SUCCESS) return st;
    /* Build the softmax kernel before anything is enqueued, so a build failure leaves the
     * caller's buffers untouched. */
    cl_kernel probe = NULL;
    char opts[96];
    softmax_options(p, plan, opts, sizeof opts);
    st = clattn__kernel(ctx, "softmax", opts, "softmax_rows", &probe);
    if (probe) clReleaseKernel(probe);
    if (st == CLATTN_SUCCESS) st = scores(ctx, p, buf, s, num_wait, wait);
    if (st == CLATTN_SUCCESS) st = stage_barrier(ctx);
    if (st == CLATTN_SUCCESS) st = softmax(ctx, p, plan, buf, s);
    if (st == CLATTN_SUCCESS) st = stage_barrier(ctx);
    if (st == CLATTN_SUCCESS) st = output(ctx, p, buf, s);
    if (st == CLATTN_SUCCESS && event) {
        /* One event for the whole sequence: a barrier completes after every earlier command. */
        cl_int err = clEnqueueBarrierWithWaitList(ctx->queue, 0, NULL, event);
        if (err != CL_SUCCESS)
            st = clattn__cl_fail(
                ctx, err, "naive attention: final event: clEnqueueBarrierWithWaitList failed");
    }
    clReleaseMemObject(s); /* freed by OpenCL once the enqueued commands are done with it */
    return st;
}

clattn_status clattn__sdpa_naive(clattn_context *ctx, const clattn_sdpa_problem *p,
                                 const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                 cl_uint num_wait, const cl_event *wait, cl_event *event) {
    if (event) *event = NULL;
    if (p->q_dtype == CLATTN_STORAGE_F32 && p->kv_dtype == CLATTN_STORAGE_F32 &&
        p->o_dtype == CLATTN_STORAGE_F32)
        return naive_f32(ctx, p, plan, buf, num_wait, wait, event);
    /* CLBlast's SGEMMs read and write float32: narrow tensors go through float32 copies. */
    clattn_sdpa_staging s;
    clattn_status st = clattn__sdpa_stage_in(
        ctx, p, buf, clattn__sdpa_stage_set(&ctx->caps, p, plan), &s, num_wait, wait);
    if (st != CLATTN_SUCCESS) return st;
    cl_event done = NULL;
    st = naive_f32(ctx, &s.p, plan, &s.buf, s.num_ready ? s.num_ready : num_wait,
                   s.num_ready ? s.ready : wait, &done);
    return clattn__sdpa_stage_out(ctx, p, buf, &s, st, done, event);
}
