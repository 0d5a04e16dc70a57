/* staging.h: contiguous float32 staging copies of narrow (float16, bfloat16) tensors for the SDPA
 * paths that need float32 operands (the naive path's CLBlast SGEMMs) or a float32 running output
 * (flash1), and of K/V for CPU flash2 where the copies pay (narrow, or float32 rows not packed).
 * See staging.c. */
#ifndef CLATTN_SDPA_STAGING_H
#define CLATTN_SDPA_STAGING_H

#include "sdpa/sdpa_internal.h"

/* Which tensors to stage: each is staged only when its dtype is not float32. */
#define CLATTN_STAGE_Q   1
#define CLATTN_STAGE_KV  2
#define CLATTN_STAGE_OUT 4
/* With this bit, float32 tensors of the set are staged too where their rows are not packed
 * (seq stride > dim): the copies are contiguous. */
#define CLATTN_STAGE_F32 8

/* The CLATTN_STAGE_* set of the path `plan` runs: the naive path stages q, k, v and out, flash1
 * its out (either flavour), CPU-flavour flash2 its K/V where clattn__cpu_stage_kv finds the
 * copies pay (prefill: many query rows per kv head; narrow K/V, or float32 K/V whose rows are not
 * packed, with CLATTN_STAGE_F32); the other kernels, and decode, read the caller's tensors as they
 * are, widening narrow ones as they load them. Pure. */
int clattn__sdpa_stage_set(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                           const clattn_sdpa_plan *plan);

/* Device bytes of the float32 copies that staging the `which` tensors of p makes (narrow ones,
 * and with CLATTN_STAGE_F32 float32 ones whose rows are not packed; 0 when none is), and in
 * *largest (when not NULL) the largest single copy; INT64_MAX in both when a size overflows. Pure:
 * the planner counts these in scratch_bytes. */
int64_t clattn__sdpa_staging_bytes(const clattn_sdpa_problem *p, int which, int64_t *largest);

typedef struct {
    clattn_sdpa_problem p;   /* the problem the main kernels see: staged tensors float32 and
                                contiguous */
    clattn_sdpa_buffers buf; /* the buffers they see: staged ones replaced */
    cl_mem tmp[4];           /* float32 copies of q, k, v, out; NULL where not staged */
    cl_kernel narrow;        /* out's narrowing kernel, or NULL */
    cl_event ready[3];       /* the widening launches; the main kernels wait for them */
    cl_uint num_ready;
} clattn_sdpa_staging;

/* Allocates the staging buffers, builds the conversion kernels and enqueues the widening of the
 * staged inputs after `wait`. On success the main kernels run on s->p and s->buf and wait for
 * s->ready (which already follows `wait`) when s->num_ready > 0, else for `wait`. Nothing the
 * caller owns is written. On failure everything is released. */
clattn_status clattn__sdpa_stage_in(clattn_context *ctx, const clattn_sdpa_problem *p,
                                    const clattn_sdpa_buffers *buf, int which,
                                    clattn_sdpa_staging *s, cl_uint num_wait, const cl_event *wait);

/* After the main kernels (`done`: their event, or NULL when the queue orders them): narrows the
 * staged output into the caller's, gives `event` (when not NULL) for the whole call and releases
 * the staging. With st != CLATTN_SUCCESS it only waits for what was enqueued and releases. */
clattn_status clattn__sdpa_stage_out(clattn_context *ctx, const clattn_sdpa_problem *p,
                                     const clattn_sdpa_buffers *buf, clattn_sdpa_staging *s,
                                     clattn_status st, cl_event done, cl_event *event);

#endif /* CLATTN_SDPA_STAGING_H */
