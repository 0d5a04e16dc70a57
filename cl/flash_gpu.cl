/* flash_gpu.cl: FlashAttention forward kernels for devices with on-chip local memory (GPUs).
 * Both algorithms share the tile layout and the three tile steps below; each work-group has BR
 * query rows with TPR work-items per row, stages the Q tile and each K/V tile in __local memory
 * and passes scores and probabilities through a BR x BC local tile. Scores are kept in base 2:
 * q is pre-multiplied by scale*log2(e) so exp2 replaces exp.
 *
 *   flash2_gpu  FlashAttention-2: one work-group per (query block, batch, head); the inner loop
 *               walks K/V blocks, each work-item keeps DVCAP/TPR output columns of its row
 *               un-normalised in registers with the running max and sum in float32, and
 *               rescales once at the end; key blocks the causal mask hides from the whole query
 *               block are never visited.
 *   flash1_gpu  FlashAttention (the first paper's Algorithm 1): the outer loop walks K/V blocks,
 *               staged once in __local memory; the inner loop walks the query blocks, and each
 *               step reads O, l and m of those rows from global memory, merges the block's
 *               contribution and writes them back (O normalised after every step, as in the
 *               paper). O lives in the caller's output; m and l in a scratch buffer. For
 *               parallelism the query blocks of one head are split into chunks, one work-group
 *               each (the paper parallelises over batch and heads only); each chunk still walks
 *               all of its K/V once.
 *
 * The __local arrays are mirrored by the local-memory function in src/dispatch.c. */

#ifndef BR
#define BR 16 /* query rows per work-group */
#endif
#ifndef BC
#define BC 16 /* keys per K/V tile */
#endif
#ifndef TPR
#define TPR 4 /* work-items per query row */
#endif
#ifndef DCAP
#define DCAP 64 /* capacity for head_dim (the runtime D is <= DCAP) */
#endif
#ifndef DVCAP
#define DVCAP 64 /* capacity for head_dim_v */
#endif

#define WG  (BR * TPR)
#define DVL (DVCAP / TPR)          /* output columns per work-item */
#define NJ  ((BC + TPR - 1) / TPR) /* keys per work-item in a tile */
#define KP  (DCAP + 1)             /* odd K row pitch: lanes reading different keys spread banks */

/* Q rows q0.. of one head into Qs, scaled by scale*log2(e); rows past Sq are 0. */
inline void stage_q(__local float *Qs, const __global float *qp, long q0, long Sq, long qss, int D,
                    float scale2, int t) {
    for (int i = t; i < BR * D; i += WG) {
        const int rr = i / D, d = i - rr * D;
        Qs[rr * DCAP + d] = (q0 + rr < Sq) ? qp[(q0 + rr) * qss + d] * scale2 : 0.0f;
    }
}

/* Keys and values k0.. of one kv head into Ks and Vs; keys past Skv are 0. */
inline void stage_kv(__local float *Ks, __local float *Vs, const __global float *kp,
                     const __global float *vp, long k0, long Skv, long kss, long vss, int D, int Dv,
                     int t) {
    for (int i = t; i < BC * D; i += WG) {
        const int j = i / D, d = i - j * D;
        Ks[j * KP + d] = (k0 + j < Skv) ? kp[(k0 + j) * kss + d] : 0.0f;
    }
    for (int i = t; i < BC * Dv; i += WG) {
        const int j = i / Dv, d = i - j * Dv;
        Vs[j * DVCAP + d] = (k0 + j < Skv) ? vp[(k0 + j) * vss + d] : 0.0f;
    }
}

/* This lane's scores of row r against keys k0..: S = Q K^T plus the additive mask row (mrow,
 * NULL when none) in base 2; keys past Skv or past `last` (the causal limit) are -inf. Kept in
 * sv for the lane and in Ps for the row max. */
inline void score_tile(__local const float *Qs, __local const float *Ks, __local float *Ps,
                       float *sv, const __global float *mrow, int r, int lane, long k0, long row,
                       long Skv, long last, int D) {
    for (int u = 0; u < NJ; u++) {
        const int j = lane + u * TPR;
        if (j >= BC) break;
        const long key = k0 + j;
        float s = 0.0f;
        for (int d = 0; d < D; d++) s = fma(Qs[r * DCAP + d], Ks[j * KP + d], s);
        if (mrow && key < Skv) s = fma(mrow[key], CLATTN_LOG2E, s);
        if (key >= Skv || key > last) s = -INFINITY;
        sv[u] = s;
        Ps[r * BC + j] = s;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
flash2_gpu(__global const float *q, __global const float *k, __global const float *v,
           __global const float *mask, __global float *out, __global float *lse, long Hq,
           long group, long Sq, long Skv, int D, int Dv, float scale2, int causal, int has_mask,
           int has_lse, long qsb, long qsh, long qss, long ksb, long ksh, long kss, long vsb,
           long vsh, long vss, long osb, long osh, long oss, long msb, long msh, long mss) {
    __local float Qs[BR * DCAP];
    __local float Ks[BC * KP];
    __local float Vs[BC * DVCAP];
    __local float Ps[BR * BC];

    const int t = get_local_id(0);
    const int r = t / TPR, lane = t % TPR;
    const long nqb = (Sq + BR - 1) / BR;
    const long gid = get_group_id(0);
    const long bh = gid / nqb;
    const long qb = nqb - 1 - gid % nqb; /* longest causal rows first */
    const long b = bh / Hq, h = bh % Hq, kh = h / group;
    const long q0 = qb * BR, row = q0 + r;
    const int valid = row < Sq;
    const long off = Skv - Sq; /* bottom-right causal: row i sees keys <= i + off */

    const __global float *qp = q + b * qsb + h * qsh;
    const __global float *kp = k + b * ksb + kh * ksh;
    const __global float *vp = v + b * vsb + kh * vsh;

    stage_q(Qs, qp, q0, Sq, qss, D, scale2, t);

    long kv_end = Skv;
    if (causal && q0 + BR + off < kv_end) kv_end = q0 + BR + off;

    float m = -INFINITY, l = 0.0f;
    float acc[DVL];
    for (int u = 0; u < DVL; u++) acc[u] = 0.0f;
    float sv[NJ];

    for (long k0 = 0; k0 < kv_end; k0 += BC) {
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous tile's readers are done */
        stage_kv(Ks, Vs, kp, vp, k0, Skv, kss, vss, D, Dv, t);
        barrier(CLK_LOCAL_MEM_FENCE);

        /* S = Q K^T for this lane's keys, masked; kept privately and shared for the row max. */
        score_tile(Qs, Ks, Ps, sv, has_mask && valid ? mask + b * msb + h * msh + row * mss : 0, r,
                   lane, k0, row, Skv, causal ? row + off : LONG_MAX, D);
        barrier(CLK_LOCAL_MEM_FENCE);
        float mx = m;
        for (int j = 0; j < BC; j++) mx = fmax(mx, Ps[r * BC + j]);
        barrier(CLK_LOCAL_MEM_FENCE); /* every lane has its max before P overwrites S */
        for (int u = 0; u < NJ; u++) {
            const int j = lane + u * TPR;
            if (j >= BC) break;
            Ps[r * BC + j] = clattn_exp2_diff(sv[u], mx);
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        /* O = diag(alpha) O + P V, l = alpha l + rowsum(P); nothing is divided until the end. */
        const float alpha = clattn_exp2_diff(m, mx);
        float rs = 0.0f;
        for (int u = 0; u < DVL; u++) acc[u] *= alpha;
        for (int j = 0; j < BC; j++) {
            const float p = Ps[r * BC + j];
            rs += p;
            for (int u = 0; u < DVL; u++) acc[u] = fma(p, Vs[j * DVCAP + lane + u * TPR], acc[u]);
        }
        l = l * alpha + rs;
        m = mx;
    }

    if (valid) {
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        __global float *op = out + b * osb + h * osh + row * oss;
        for (int u = 0; u < DVL; u++) {
            const int d = lane + u * TPR;
            if (d < Dv) op[d] = acc[u] * inv;
        }
        if (has_lse && lane == 0)
            lse[bh * Sq + row] = l > 0.0f ? (m + log2(l)) * CLATTN_LN2 : -INFINITY;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
flash1_gpu(__global const float *q, __global const float *k, __global const float *v,
           __global const float *mask, __global float *out, __global float *lse, __global float *ml,
           long chunks, long Hq, long group, long Sq, long Skv, int D, int Dv, float scale2,
           int causal, int has_mask, int has_lse, long qsb, long qsh, long qss, long ksb, long ksh,
           long kss, long vsb, long vsh, long vss, long osb, long osh, long oss, long msb, long msh,
           long mss) {
    __local float Qs[BR * DCAP];
    __local float Ks[BC * KP];
    __local float Vs[BC * DVCAP];
    __local float Ps[BR * BC];

    const int t = get_local_id(0);
    const int r = t / TPR, lane = t % TPR;
    const long nqb = (Sq + BR - 1) / BR;
    const long per = (nqb + chunks - 1) / chunks; /* query blocks per chunk */
    const long gid = get_group_id(0);
    const long bh = gid / chunks, c = gid % chunks;
    const long qb_begin = c * per, qb_end = min(nqb, (c + 1) * per);
    const long b = bh / Hq, h = bh % Hq, kh = h / group;
    const long off = Skv - Sq;

    const __global float *qp = q + b * qsb + h * qsh;
    const __global float *kp = k + b * ksb + kh * ksh;
    const __global float *vp = v + b * vsb + kh * vsh;
    __global float *op = out + b * osb + h * osh;
    /* ml holds the running max (base 2) of every row, then the running sum. */
    const long nbh = get_num_groups(0) / chunks;
    __global float *mrow = ml + bh * Sq;
    __global float *lrow = ml + (nbh + bh) * Sq;

    long kv_end = Skv;
    if (causal && qb_end * BR + off < kv_end) kv_end = qb_end * BR + off;
    const long nkb = kv_end > 0 ? (kv_end + BC - 1) / BC : 0;
    float sv[NJ];

    /* Block 0 is always visited, so every row's O, l and m are initialised even when the causal
     * mask hides all of its keys. */
    for (long kb = 0; kb < max(nkb, 1L); kb++) {
        const long k0 = kb * BC;
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
        stage_kv(Ks, Vs, kp, vp, k0, Skv, kss, vss, D, Dv, t);
        /* Query blocks the causal mask hides from this K/V block form a prefix; it is skipped
         * (except at block 0, which initialises every row). A loop bound rather than a
         * `continue`: PoCL mishandles early exits in loops that contain barriers. */
        long qb_first = qb_begin;
        if (kb > 0 && causal) {
            const long need = k0 - off - (BR - 1); /* q0 >= need sees key k0 */
            const long first = need > 0 ? (need + BR - 1) / BR : 0;
            if (first > qb_first) qb_first = first;
        }
        for (long qb = qb_first; qb < qb_end; qb++) {
            const long q0 = qb * BR, row = q0 + r;
            const int valid = row < Sq;
            barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
            stage_q(Qs, qp, q0, Sq, qss, D, scale2, t);
            barrier(CLK_LOCAL_MEM_FENCE);
            score_tile(Qs, Ks, Ps, sv, has_mask && valid ? mask + b * msb + h * msh + row * mss : 0,
                       r, lane, k0, row, Skv, causal ? row + off : LONG_MAX, D);
            /* The row's m and l from the previous outer step, read before lane 0 rewrites them. */
            const float m_old = (kb == 0 || !valid) ? -INFINITY : mrow[row];
            const float l_old = (kb == 0 || !valid) ? 0.0f : lrow[row];
            barrier(CLK_LOCAL_MEM_FENCE);
            float mt = -INFINITY; /* the block's own row max, m~ in the paper */
            for (int j = 0; j < BC; j++) mt = fmax(mt, Ps[r * BC + j]);
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int u = 0; u < NJ; u++) {
                const int j = lane + u * TPR;
                if (j >= BC) break;
                Ps[r * BC + j] = clattn_exp2_diff(sv[u], mt);
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            if (valid) {
                const float m_new = fmax(m_old, mt);
                const float a = clattn_exp2_diff(m_old, m_new), e = clattn_exp2_diff(mt, m_new);
                float lt = 0.0f;
                for (int j = 0; j < BC; j++) lt += Ps[r * BC + j];
                const float l_new = a * l_old + e * lt;
                const float inv = l_new > 0.0f ? 1.0f / l_new : 0.0f;
                for (int u = 0; u < DVL; u++) {
                    const int d = lane + u * TPR;
                    if (d >= Dv) break;
                    float pv = 0.0f;
                    for (int j = 0; j < BC; j++) pv = fma(Ps[r * BC + j], Vs[j * DVCAP + d], pv);
                    const float o_old = kb == 0 ? 0.0f : op[row * oss + d];
                    op[row * oss + d] = (a * l_old * o_old + e * pv) * inv;
                }
                if (lane == 0) {
                    mrow[row] = m_new;
                    lrow[row] = l_new;
                }
            }
        }
    }
    if (has_lse) {
        barrier(CLK_GLOBAL_MEM_FENCE);
        for (long row = qb_begin * BR + t; row < min(Sq, qb_end * BR); row += WG) {
            const float lr = lrow[row];
            lse[bh * Sq + row] = lr > 0.0f ? (mrow[row] + log2(lr)) * CLATTN_LN2 : -INFINITY;
        }
    }
}
