/* additive.cl: the fused decoder-step kernel of additive (Bahdanau) attention, and the bias fill
 * that folds b into the precomputed key projection.
 *
 * One query row (b, q) per work-group. Given kp = keys W_h^T + b [B,T,A] (precomputed once per
 * source batch) and qp = query W_s^T [B*Tq, A] (one small GEMM per step):
 *   e_j = v . tanh(kp[b,j] + qp[row]) for j < len[b]; alpha = softmax(e); ctx = sum_j alpha_j
 * keys_j The scores go to `sc` [B*Tq, T] (the caller's weights buffer, or scratch) and are
 * normalised there, so positions past the length hold 0 and the context pass reads them back tile
 * by tile.
 *
 * Two shapes, chosen with -D by src/additive/plan.c:
 *   ADDITIVE_CPU: one work-item per work-group acting as a thread, float8 vectors, no barriers
 *     (for drivers whose local memory is global memory, e.g. PoCL).
 *   default (GPU): WG work-items; LANES of them share one position's dot product over A, so
 *     WG/LANES positions are scored per pass; W_s s and v are staged in __local memory when
 *     STAGE_Q (2A floats); the context pass stages BLOCK_T weights at a time in __local memory
 *     and each work-item owns one column of the keys (coalesced reads).
 * Never built with fast-math: masking relies on -INFINITY. */

#ifndef WG
#define WG 64
#endif
#ifndef LANES
#define LANES 8
#endif
#ifndef BLOCK_T
#define BLOCK_T 256
#endif
#ifndef STAGE_Q
#define STAGE_Q 1
#endif

#ifndef CLATTN_LOG2E /* normally from common.cl */
#define CLATTN_LOG2E 1.4426950408889634f
#endif

/* kp[i] = bias[i % A]: the GEMM then accumulates keys W_h^T onto it (beta = 1). */
__kernel void additive_bias_fill(__global float *kp, __global const float *bias, long n, int A) {
    long i = get_global_id(0);
    if (i < n) kp[i] = bias[i % A];
}

#ifdef ADDITIVE_CPU

__kernel void additive_step(__global const float *kp, __global const float *qp,
                            __global const float *v, __global const float *keys,
                            __global const int *lengths, __global float *sc, __global float *ctx,
                            int T, int Tq, int A, int Dk, int has_len) {
    const int row = get_global_id(0);
    const int b = row / Tq;
    const int len = has_len ? lengths[b] : T;
    __global const float *q = qp + (long)row * A;
    __global float *s = sc + (long)row * T;
    const int A8 = A & ~7;

    /* Scores, with the running maximum; common.cl's tanh (PoCL's made the step 1.3-1.5x slower
     * at T = 500). */
    float mx = -INFINITY;
    for (int t = 0; t < len; t++) {
        __global const float *kr = kp + ((long)b * T + t) * A;
        float8 acc = (float8)(0.0f);
        for (int a = 0; a < A8; a += 8)
            acc += vload8(0, v + a) * clattn_tanh_float8(vload8(0, kr + a) + vload8(0, q + a));
        float e = acc.s0 + acc.s1 + acc.s2 + acc.s3 + acc.s4 + acc.s5 + acc.s6 + acc.s7;
        for (int a = A8; a < A; a++) e += v[a] * tanh(kr[a] + q[a]);
        s[t] = e;
        mx = fmax(mx, e);
    }
    /* Softmax over the valid positions; the rest are 0. */
    float sum = 0.0f;
    for (int t = 0; t < len; t++) {
        float p = exp2((s[t] - mx) * CLATTN_LOG2E);
        s[t] = p;
        sum += p;
    }
    const float inv = 1.0f / sum;
    for (int t = 0; t < len; t++) s[t] *= inv;
    for (int t = len; t < T; t++) s[t] = 0.0f;

    /* Context: 32 columns at a time in four float8 registers, then the tail one by one. */
    __global float *c = ctx + (long)row * Dk;
    __global const float *kb = keys + (long)b * T * Dk;
    int d = 0;
    for (; d + 32 <= Dk; d += 32) {
        float8 c0 = 0.0f, c1 = 0.0f, c2 = 0.0f, c3 = 0.0f;
        for (int t = 0; t < len; t++) {
            __global const float *kr = kb + (long)t * Dk + d;
            float a = s[t];
            c0 += a * vload8(0, kr);
            c1 += a * vload8(1, kr);
            c2 += a * vload8(2, kr);
            c3 += a * vload8(3, kr);
        }
        vstore8(c0, 0, c + d);
        vstore8(c1, 1, c + d);
        vstore8(c2, 2, c + d);
        vstore8(c3, 3, c + d);
    }
    for (; d < Dk; d++) {
        float acc = 0.0f;
        for (int t = 0; t < len; t++) acc += s[t] * kb[(long)t * Dk + d];
        c[d] = acc;
    }
}

#else /* GPU shape */

#define SCORE_T (WG / LANES) /* positions scored per pass */

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
additive_step(__global const float *kp, __global const float *qp, __global const float *v,
              __global const float *keys, __global const int *lengths, __global float *sc,
              __global float *ctx, int T, int Tq, int A, int Dk, int has_len,
              __local float *qv /* 2A floats when STAGE_Q */) {
    __local float red[WG];
    __local float al[BLOCK_T];
    const int lid = get_local_id(0);
    const int row = get_group_id(0);
    const int b = row / Tq;
    const int len = has_len ? lengths[b] : T;
    __global float *s = sc + (long)row * T;

#if STAGE_Q
    for (int a = lid; a < A; a += WG) {
        qv[a] = qp[(long)row * A + a];
        qv[A + a] = v[a];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
#define QA(a) qv[a]
#define VA(a) qv[A + (a)]
#else
#define QA(a) qp[(long)row * A + (a)]
#define VA(a) v[a]
#endif

    /* Scores: LANES work-items per position, reduced in `red`. */
    const int tl = lid / LANES, lane = lid % LANES;
    float mx = -INFINITY;
    for (int t0 = 0; t0 < len; t0 += SCORE_T) {
        const int t = t0 + tl;
        float e = 0.0f;
        if (t < len) {
            __global const float *kr = kp + ((long)b * T + t) * A;
            for (int a = lane; a < A; a += LANES) e += VA(a) * tanh(kr[a] + QA(a));
        }
        red[lid] = e;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int w = LANES / 2; w > 0; w >>= 1) {
            if (lane < w) red[lid] += red[lid + w];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (lane == 0 && t < len) {
            s[t] = red[lid];
            mx = fmax(mx, red[lid]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    red[lid] = mx;
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    for (int w = WG / 2; w > 0; w >>= 1) {
        if (lid < w) red[lid] = fmax(red[lid], red[lid + w]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    mx = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);

    /* Softmax over the valid positions (each work-item owns positions lid, lid + WG, ...). */
    float sum = 0.0f;
    for (int t = lid; t < len; t += WG) {
        float p = exp2((s[t] - mx) * CLATTN_LOG2E);
        s[t] = p;
        sum += p;
    }
    red[lid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = WG / 2; w > 0; w >>= 1) {
        if (lid < w) red[lid] += red[lid + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float inv = 1.0f / red[0];
    for (int t = lid; t < T; t += WG) s[t] = t < len ? s[t] * inv : 0.0f;
    barrier(CLK_GLOBAL_MEM_FENCE);

    /* Context: each work-item owns one column per pass; weights staged BLOCK_T at a time. */
    __global const float *kb = keys + (long)b * T * Dk;
    for (int d0 = 0; d0 < Dk; d0 += WG) {
        const int d = d0 + lid;
        float acc = 0.0f;
        for (int t0 = 0; t0 < len; t0 += BLOCK_T) {
            const int n = min(BLOCK_T, len - t0);
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int i = lid; i < n; i += WG) al[i] = s[t0 + i];
            barrier(CLK_LOCAL_MEM_FENCE);
            if (d < Dk) {
                __global const float *kr = kb + (long)t0 * Dk + d;
                for (int i = 0; i < n; i++) acc += al[i] * kr[(long)i * Dk];
            }
        }
        if (d < Dk) ctx[(long)row * Dk + d] = acc;
    }
}

#endif
