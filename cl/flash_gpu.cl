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
 * The __local arrays are mirrored by the local-memory function in src/sdpa/plan.c; the arguments
 * are CLATTN_SDPA_PARAMS (cl/kernel_iface.h), the masking is common.cl's. */

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
inline void stage_q(__local float *Qs, const __global Q_T *qp, long q0, long Sq, long qss, int D,
                    float scale_log2, int t) {
    for (int i = t; i < BR * D; i += WG) {
        const int rr = i / D, d = i - rr * D;
        Qs[rr * DCAP + d] = (q0 + rr < Sq) ? load_q(qp, (q0 + rr) * qss + d) * scale_log2 : 0.0f;
    }
}

/* Keys and values k0.. of one kv head into Ks and Vs; keys past Skv are 0. */
inline void stage_kv(__local float *Ks, __local float *Vs, const __global KV_T *kp,
                     const __global KV_T *vp, long k0, long Skv, long kss, long vss, int D, int Dv,
                     int t) {
    for (int i = t; i < BC * D; i += WG) {
        const int j = i / D, d = i - j * D;
        Ks[j * KP + d] = (k0 + j < Skv) ? load_kv(kp, (k0 + j) * kss + d) : 0.0f;
    }
    for (int i = t; i < BC * Dv; i += WG) {
        const int j = i / Dv, d = i - j * Dv;
        Vs[j * DVCAP + d] = (k0 + j < Skv) ? load_kv(vp, (k0 + j) * vss + d) : 0.0f;
    }
}

/* This lane's scores of row r (query row `row`, ALiBi slope `slope`) against keys k0..:
 * S = Q K^T in base 2, shaped and masked by common.cl's clattn_score (mrow NULL when there is
 * no mask). Kept in sv for the lane and in Ps for the row max. */
inline void score_tile(__local const float *Qs, __local const float *Ks, __local float *Ps,
                       float *sv, const __global M_T *mrow, clattn_key_range keys,
                       clattn_mask_rule rule, long row, float slope, int r, int lane, long k0,
                       int D) {
    for (int u = 0; u < NJ; u++) {
        const int j = lane + u * TPR;
        if (j >= BC) break;
        float s = 0.0f;
        for (int d = 0; d < D; d++) s = fma(Qs[r * DCAP + d], Ks[j * KP + d], s);
        s = clattn_score(s, k0 + j, keys, rule, row, slope, mrow);
        sv[u] = s;
        Ps[r * BC + j] = s;
    }
}

/* The additive mask row of query row `row` of head (b, h), or NULL (no mask or a padding row). */
inline const __global M_T *mask_row(const __global M_T *mask, int flags, int valid, long b, long h,
                                    long row, long m_sb, long m_sh, long m_ss) {
    return (flags & CLATTN_KF_MASK) && valid ? mask + b * m_sb + h * m_sh + row * m_ss : 0;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void flash2_gpu(CLATTN_SDPA_PARAMS) {
    __local float Qs[BR * DCAP];
    __local float Ks[BC * KP];
    __local float Vs[BC * DVCAP];
    __local float Ps[BR * BC];

    const long Sq = seq_q, Skv = seq_kv;
    const int t = get_local_id(0);
    const int r = t / TPR, lane = t % TPR;
    const long nqb = (Sq + BR - 1) / BR;
    const long gid = get_group_id(0);
    const long bh = gid / nqb;
    const long qb = nqb - 1 - gid % nqb; /* longest causal rows first */
    const long b = bh / heads, h = bh % heads, kh = h / group;
    const long q0 = qb * BR, row = q0 + r;
    const int valid = row < Sq;
    const clattn_mask_rule rule = CLATTN_SDPA_MASK_RULE(b);
    const clattn_key_range keys = clattn_row_keys(rule, row);
    const float slope = clattn_alibi_slope(alibi, flags, alibi_sb, b, h);

    const __global Q_T *qp = q + b * q_sb + h * q_sh;
    const __global KV_T *kp = k + b * k_sb + kh * k_sh;
    const __global KV_T *vp = v + b * v_sb + kh * v_sh;
    const __global M_T *mrow = mask_row(mask, flags, valid, b, h, row, m_sb, m_sh, m_ss);

    stage_q(Qs, qp, q0, Sq, q_ss, head_dim, scale_log2, t);

    /* The block's rows see nothing before its first row's range or past its last row's. */
    const long kv_begin = clattn_row_keys(rule, q0).lo;
    const long kv_end = clattn_row_keys(rule, q0 + BR - 1).hi;

    float m = -INFINITY, l = 0.0f;
    float acc[DVL];
    for (int u = 0; u < DVL; u++) acc[u] = 0.0f;
    float sv[NJ];

    for (long k0 = kv_begin; k0 < kv_end; k0 += BC) {
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous tile's readers are done */
        stage_kv(Ks, Vs, kp, vp, k0, Skv, k_ss, v_ss, head_dim, head_dim_v, t);
        barrier(CLK_LOCAL_MEM_FENCE);

        /* S = Q K^T for this lane's keys, masked; kept privately and shared for the row max. */
        score_tile(Qs, Ks, Ps, sv, mrow, keys, rule, row, slope, r, lane, k0, head_dim);
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
        const float inv = clattn_inv_sum(l);
        __global O_T *op = out + b * o_sb + h * o_sh + row * o_ss;
        for (int u = 0; u < DVL; u++) {
            const int d = lane + u * TPR;
            if (d < head_dim_v) store_o(op, d, acc[u] * inv);
        }
        if ((flags & CLATTN_KF_LSE) && lane == 0) lse[bh * Sq + row] = clattn_lse(m, l);
    }
}

/* scratch holds the running max (base 2) of every query row, then the running sum:
 * [2][B * Hq * Sq] floats. The query blocks of a head are split into get_num_groups(0) /
 * (B * Hq) chunks, one work-group each. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void flash1_gpu(CLATTN_SDPA_PARAMS) {
    __local float Qs[BR * DCAP];
    __local float Ks[BC * KP];
    __local float Vs[BC * DVCAP];
    __local float Ps[BR * BC];

    const long Sq = seq_q, Skv = seq_kv;
    const int t = get_local_id(0);
    const int r = t / TPR, lane = t % TPR;
    const long nbh = batch * heads;
    const long chunks = get_num_groups(0) / nbh;
    const long nqb = (Sq + BR - 1) / BR;
    const long per = (nqb + chunks - 1) / chunks; /* query blocks per chunk */
    const long gid = get_group_id(0);
    const long bh = gid / chunks, c = gid % chunks;
    const long qb_begin = c * per, qb_end = min(nqb, (c + 1) * per);
    const long b = bh / heads, h = bh % heads, kh = h / group;

    const __global Q_T *qp = q + b * q_sb + h * q_sh;
    const __global KV_T *kp = k + b * k_sb + kh * k_sh;
    const __global KV_T *vp = v + b * v_sb + kh * v_sh;
    __global O_T *op = out + b * o_sb + h * o_sh;
    __global float *mrun = scratch + bh * Sq;
    __global float *lrun = scratch + (nbh + bh) * Sq;

    const clattn_mask_rule rule = CLATTN_SDPA_MASK_RULE(b);
    const float slope = clattn_alibi_slope(alibi, flags, alibi_sb, b, h);
    /* The K/V blocks any row of this chunk sees. */
    const long kb_first = clattn_row_keys(rule, qb_begin * BR).lo / BC;
    const long kv_end = clattn_row_keys(rule, qb_end * BR - 1).hi;
    const long kb_end = max((kv_end + BC - 1) / BC, kb_first + 1);
    float sv[NJ];

    /* The first block is always visited by every query block, so every row's O, l and m are
     * initialised even when the mask hides all of its keys. */
    for (long kb = kb_first; kb < kb_end; kb++) {
        const long k0 = kb * BC;
        const int first = kb == kb_first;
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
        stage_kv(Ks, Vs, kp, vp, k0, Skv, k_ss, v_ss, head_dim, head_dim_v, t);
        /* Query blocks whose last row sees nothing from k0 on form a prefix, blocks whose first
         * row sees nothing before k0 + BC a suffix (ranges grow with the row); both are skipped
         * after the first block. Loop bounds rather than a `continue`: PoCL mishandles early
         * exits in loops that contain barriers. */
        long qb_first = qb_begin, qb_last = qb_end;
        while (!first && qb_first < qb_end &&
               clattn_row_keys(rule, qb_first * BR + BR - 1).hi <= k0)
            qb_first++;
        while (!first && qb_last > qb_first &&
               clattn_row_keys(rule, (qb_last - 1) * BR).lo >= k0 + BC)
            qb_last--;
        for (long qb = qb_first; qb < qb_last; qb++) {
            const long q0 = qb * BR, row = q0 + r;
            const int valid = row < Sq;
            barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
            stage_q(Qs, qp, q0, Sq, q_ss, head_dim, scale_log2, t);
            barrier(CLK_LOCAL_MEM_FENCE);
            score_tile(Qs, Ks, Ps, sv, mask_row(mask, flags, valid, b, h, row, m_sb, m_sh, m_ss),
                       clattn_row_keys(rule, row), rule, row, slope, r, lane, k0, head_dim);
            /* The row's m and l from the previous outer step, read by every lane of the row
             * before lane 0 rewrites them below: the next barrier fences global memory too, so
             * those reads are ordered before that write. */
            const float m_old = (first || !valid) ? -INFINITY : mrun[row];
            const float l_old = (first || !valid) ? 0.0f : lrun[row];
            barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
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
                const float inv = clattn_inv_sum(l_new);
                for (int u = 0; u < DVL; u++) {
                    const int d = lane + u * TPR;
                    if (d >= head_dim_v) break;
                    float pv = 0.0f;
                    for (int j = 0; j < BC; j++) pv = fma(Ps[r * BC + j], Vs[j * DVCAP + d], pv);
                    const float o_old = first ? 0.0f : load_o(op, row * o_ss + d);
                    store_o(op, row * o_ss + d, (a * l_old * o_old + e * pv) * inv);
                }
                if (lane == 0) {
                    mrun[row] = m_new;
                    lrun[row] = l_new;
                }
            }
        }
    }
    if (flags & CLATTN_KF_LSE) {
        barrier(CLK_GLOBAL_MEM_FENCE);
        for (long row = qb_begin * BR + t; row < min(Sq, qb_end * BR); row += WG)
            lse[bh * Sq + row] = clattn_lse(mrun[row], lrun[row]);
    }
}
