/* ring_kit.h: what the ring-attention tests share (test_ring_devices.c over several contexts of
 * one process, tests/mpi/test_ring_mpi.c over MPI ranks): the cases, a whole problem with its
 * one-device result (clattn_sdpa_host on the full tensors: what the ring must equal), a rank's
 * slices of it as the ring takes them, and the check of a rank's ring output against the
 * one-device result, every element. */
#ifndef CLATTN_RING_KIT_H
#define CLATTN_RING_KIT_H

#include "testutil.h"

typedef struct {
    const char *name;
    int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
    int causal, top_left, window;
    int64_t wl, wr;
    float softcap;
    int alibi; /* slopes [Hq] */
    clattn_ring_layout layout;
    int bshd;                         /* the slices are [B, S, H, dim] (strided) */
    clattn_dtype in_dtype, out_dtype; /* q, k, v storage; out storage */
} ring_case;

extern const ring_case ring_cases[];
extern const int ring_case_count;

/* A whole problem: inputs, as stored, contiguous [B, H, S, dim]; the one-device result. */
typedef struct {
    const ring_case *c;
    clattn_sdpa_desc d; /* the whole problem (strides 0) */
    void *q, *k, *v;
    float slopes[16];
    float *out, *lse; /* one device's result (out widened to float) */
} ring_problem;

/* Draws fresh inputs (tu_fill_normal: the same on every rank for the same CLATTN_TEST_SEED) and
 * computes the one-device result on ctx. Returns 0, or 1 after a failed check. */
int ring_problem_make(clattn_context *ctx, const ring_case *c, ring_problem *p);
void ring_problem_free(ring_problem *p);

/* Rank r of R's part: its slices of q, k, v as the ring takes them (the case's layout and
 * strides), the sizes of its out and lse buffers, and the descriptor it passes (d with the
 * slices' strides). */
typedef struct {
    void *q, *k, *v;
    size_t q_bytes, k_bytes, v_bytes, out_bytes, lse_bytes;
    clattn_sdpa_desc d;
    int64_t sq, skv; /* the slices' lengths */
} ring_local;

int ring_local_make(const ring_problem *p, int R, int r, ring_local *l);
void ring_local_free(ring_local *l);

/* Checks rank r's ring result (out in the slice's layout and out_dtype, lse [B, Hq, sq]) against
 * the one-device result, every element; `label` names the run. Returns 1 when both match. */
int ring_check(const ring_problem *p, int R, int r, const ring_local *l, const void *out,
               const float *lse, const char *label);

#endif /* CLATTN_RING_KIT_H */
