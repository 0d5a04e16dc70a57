/* staging.c: float32 staging of tensors around an SDPA path. The naive path's CLBlast
 * SGEMMs read and write float32 only, so its narrow q, k and v are widened into contiguous
 * float32 copies first and its output is computed into one and narrowed after; flash1 keeps its
 * running output in `out` between K/V blocks, which in half or bfloat16 would be rounded once per
 * block, so a narrow output is staged there too; CPU-flavour flash2 runs on copies of narrow K/V
 * where many query blocks share them (plan_cpu.h's clattn__cpu_stage_kv: converting each element
 * once beats widening it in every work-group), and on contiguous copies of float32 K/V whose rows
 * are not packed where many query blocks re-read them (strided keys share a few cache sets). The
 * copies' buffers come from and go back to the context's workspace (core/workspace.c), so repeated
 * calls reuse them. The copies are contiguous, so the main kernels see default strides for them;
 * the conversion kernels (cl/convert.cl) handle the caller's. Which tensors each path stages and
 * what the copies weigh are pure functions here too, so the planner counts in scratch_bytes exactly
 * what the launchers allocate. */
#include "sdpa/staging.h"

#include "kernel_iface.h"
#include "sdpa/plan_cpu.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Builds the conversion kernel `name` for dtype. */
static clattn_status convert_kernel(clattn_context *ctx, int dtype, const char *name,
                                    cl_kernel *kern) {
    char opts[32];
    snprintf(opts, sizeof opts, "-DCV_DTYPE=%d", dtype);
    return clattn__kernel(ctx, "convert", opts, name, kern);
}

/* Enqueues one conversion of a [B, H, S, dim] tensor between `strided` (the caller's, by st) and
 * the contiguous float32 `dense`: one work-item per row (cl/convert.cl). */
static clattn_status convert(clattn_context *ctx, cl_kernel kern, cl_mem from, cl_mem to,
                             const clattn_sdpa_problem *p, int64_t H, int64_t S, int64_t dim,
                             const int64_t st[3], cl_uint num_wait, const cl_event *wait,
                             cl_event *event, const char *what) {
    const cl_long d = dim, sb = st[0], sh = st[1], ss = st[2];
    clattn_status s =
        clattn__set_args(ctx, kern, what, sizeof(cl_mem), &from, sizeof(cl_mem), &to, sizeof d, &d,
                         sizeof sb, &sb, sizeof sh, &sh, sizeof ss, &ss, (size_t)0);
    if (s != CLATTN_SUCCESS) return s;
    const size_t global[3] = {(size_t)S, (size_t)H, (size_t)p->B};
    return clattn__launch(ctx, kern, 3, global, NULL, num_wait, wait, event, what);
}

/* q, k, v, out in that order: the stage bit, dtype and shape (H, S, dim) of each. */
typedef struct {
    int bit, dtype;
    int64_t H, S, dim, ss; /* ss: the caller's seq stride */
} staged_tensor;

static void staged_tensors(const clattn_sdpa_problem *p, staged_tensor t[4]) {
    const staged_tensor all[4] = {{CLATTN_STAGE_Q, p->q_dtype, p->Hq, p->Sq, p->D, p->q_st[2]},
                                  {CLATTN_STAGE_KV, p->kv_dtype, p->Hkv, p->Skv, p->D, p->k_st[2]},
                                  {CLATTN_STAGE_KV, p->kv_dtype, p->Hkv, p->Skv, p->Dv, p->v_st[2]},
                                  {CLATTN_STAGE_OUT, p->o_dtype, p->Hq, p->Sq, p->Dv, p->o_st[2]}};
    memcpy(t, all, sizeof all);
}

/* Bytes of tensor t's float32 copy when `which` stages it (0 when not: not asked for, or float32
 * without CLATTN_STAGE_F32 or with packed rows), or -1 when the size overflows. */
static int64_t copy_bytes(const clattn_sdpa_problem *p, const staged_tensor *t, int which) {
    if (!(which & t->bit)) return 0;
    if (t->dtype == CLATTN_STORAGE_F32 && !((which & CLATTN_STAGE_F32) && t->ss > t->dim)) return 0;
    const int64_t f[4] = {p->B * t->H, t->S, t->dim, CLATTN_ACC_BYTES};
    int64_t bytes = 0;
    return clattn__prod64(f, 4, &bytes) ? -1 : bytes;
}

int clattn__sdpa_stage_set(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                           const clattn_sdpa_plan *plan) {
    if (plan->algo == CLATTN_ALGO_NAIVE) return CLATTN_STAGE_Q | CLATTN_STAGE_KV | CLATTN_STAGE_OUT;
    if (plan->algo == CLATTN_ALGO_FLASH1) return CLATTN_STAGE_OUT;
    if (plan->algo == CLATTN_ALGO_FLASH2 && plan->flavour == CLATTN_FLAVOUR_CPU &&
        clattn__cpu_stage_kv(caps, p))
        return CLATTN_STAGE_KV | CLATTN_STAGE_F32;
    return 0;
}

int64_t clattn__sdpa_staging_bytes(const clattn_sdpa_problem *p, int which, int64_t *largest) {
    staged_tensor t[4];
    staged_tensors(p, t);
    int64_t total = 0, big = 0;
    for (int i = 0; i < 4; i++) {
        const int64_t b = copy_bytes(p, &t[i], which);
        if (b < 0 || total > INT64_MAX - b) {
            total = big = INT64_MAX;
            break;
        }
        total += b;
        if (b > big) big = b;
    }
    if (largest) *largest = big;
    return total;
}

/* After the last enqueued use of the copies (or a wait for what was enqueued): their buffers go
 * back to the context's workspace for the next call. */
static void release(clattn_context *ctx, clattn_sdpa_staging *s) {
    for (int i = 0; i < 4; i++) clattn__workspace_give(ctx, &s->tmp[i]);
    for (cl_uint i = 0; i < s->num_ready; i++) clattn__release_event(&s->ready[i]);
    s->num_ready = 0;
    if (s->narrow) clReleaseKernel(s->narrow);
    s->narrow = NULL;
}

clattn_status clattn__sdpa_stage_in(clattn_context *ctx, const clattn_sdpa_problem *p,
                                    const clattn_sdpa_buffers *buf, int which,
                                    clattn_sdpa_staging *s, cl_uint num_wait,
                                    const cl_event *wait) {
    memset(s, 0, sizeof *s);
    s->p = *p;
    s->buf = *buf;
    /* q, k, v, out: shape and dtype, the caller's strides and buffer. */
    staged_tensor t[4];
    staged_tensors(p, t);
    const int64_t *cst[4] = {p->q_st, p->k_st, p->v_st, p->o_st};
    const cl_mem mem[4] = {buf->q, buf->k, buf->v, buf->out};
    static const char *const what[4] = {"widen q", "widen k", "widen v", "narrow out"};
    int64_t *pst[4] = {s->p.q_st, s->p.k_st, s->p.v_st, s->p.o_st};
    cl_mem *pbuf[4] = {&s->buf.q, &s->buf.k, &s->buf.v, &s->buf.out};
    int *pdt[4] = {&s->p.q_dtype, &s->p.kv_dtype, &s->p.kv_dtype, &s->p.o_dtype};
    cl_kernel widen[3] = {NULL, NULL, NULL};
    clattn_status st = CLATTN_SUCCESS;
    /* Allocate and build everything before enqueueing anything. */
    for (int i = 0; i < 4 && st == CLATTN_SUCCESS; i++) {
        const int64_t bytes = copy_bytes(p, &t[i], which);
        if (bytes == 0) continue;
        if (bytes < 0) /* B * H * S * dim elements already fit its span: a guard */
            st = clattn__fail(ctx, CLATTN_ERROR_OVERFLOW, "%s: staging size overflows", what[i]);
        if (st == CLATTN_SUCCESS)
            st = clattn__workspace_take(ctx, bytes, "float32 staging copy", &s->tmp[i]);
        if (st == CLATTN_SUCCESS)
            st = i < 3 ? convert_kernel(ctx, t[i].dtype, "widen", &widen[i])
                       : convert_kernel(ctx, t[i].dtype, "narrow", &s->narrow);
    }
    for (int i = 0; i < 3 && st == CLATTN_SUCCESS; i++) {
        if (!s->tmp[i]) continue;
        cl_event ev = NULL;
        st = convert(ctx, widen[i], mem[i], s->tmp[i], p, t[i].H, t[i].S, t[i].dim, cst[i],
                     num_wait, wait, &ev, what[i]);
        if (st == CLATTN_SUCCESS) s->ready[s->num_ready++] = ev;
    }
    for (int i = 0; i < 3; i++)
        if (widen[i]) clReleaseKernel(widen[i]);
    if (st != CLATTN_SUCCESS) {
        if (s->num_ready) clWaitForEvents(s->num_ready, s->ready);
        release(ctx, s);
        return st;
    }
    /* The main kernels see the staged tensors as float32 with contiguous strides. */
    for (int i = 0; i < 4; i++) {
        if (!s->tmp[i]) continue;
        *pbuf[i] = s->tmp[i];
        *pdt[i] = CLATTN_STORAGE_F32;
        pst[i][2] = t[i].dim;
        pst[i][1] = t[i].S * t[i].dim;
        pst[i][0] = t[i].H * t[i].S * t[i].dim;
    }
    return CLATTN_SUCCESS;
}

clattn_status clattn__sdpa_stage_out(clattn_context *ctx, const clattn_sdpa_problem *p,
                                     const clattn_sdpa_buffers *buf, clattn_sdpa_staging *s,
                                     clattn_status st, cl_event done, cl_event *event) {
    if (event) *event = NULL;
    if (st == CLATTN_SUCCESS && s->narrow) {
        cl_event ev = NULL;
        st = convert(ctx, s->narrow, s->tmp[3], buf->out, p, p->Hq, p->Sq, p->Dv, p->o_st,
                     done ? 1 : 0, done ? &done : NULL, &ev, "narrow out");
        clattn__release_event(&done);
        done = ev;
    }
    if (st != CLATTN_SUCCESS) {
        /* Nothing enqueued may outlive the failed call's staging buffers' users. */
        if (done)
            clWaitForEvents(1, &done);
        else if (s->num_ready)
            clWaitForEvents(s->num_ready, s->ready);
    }
    if (st == CLATTN_SUCCESS && event)
        *event = done;
    else
        clattn__release_event(&done);
    release(ctx, s);
    return st;
}
