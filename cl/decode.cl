/* decode.cl: split-KV attention for few query rows (decode steps: Sq = 1, speculative and chunked
 * steps up to RCAP rows per kv head), after FlashDecoding. At decode time a step reads the whole
 * K/V cache and does little arithmetic per byte, so the work is cut along the keys into splits
 * (every compute unit gets some even at B = 1), and each work-group reads its K/V slice ONCE for
 * all the query rows of its GQA group (the Sq * group rows sharing one kv head): that is where
 * GQA and MQA save bandwidth. Each split writes a partial output, normalised, and its log-sum-exp
 * to `scratch`; decode_combine merges the splits exactly (the rescaling FlashAttention-2 uses
 * between blocks). Rows r of a kv head are stacked as in the CPU flash kernels: r = i * group + g.
 *
 *   decode_cpu   one work-item per (split, batch * kv head): the group's rows in registers, q
 *                and the accumulators as VW-wide vectors over the head dim, K/V rows read once
 *                per block of BK keys (no barriers, no __local: PoCL-shaped).
 *   decode_gpu   one work-group of WG items per (split, batch * kv head): q staged in __local,
 *                each item scores keys of a BK-key block for all rows, per-row max and sum in
 *                __local, then items own output columns and read V rows coalesced.
 *   decode_combine  one work-item per query row: merges the splits' (out, lse) pairs.
 *
 * Arguments: CLATTN_SDPA_PARAMS; block_kv is the split size in keys; scratch holds one record
 * of DVCAP + 1 floats per (split, query row): the partial output, then its lse (a layout that
 * does not depend on the number of splits, so splits past the keys cost nothing). Masking and
 * score shaping are common.cl's, so every option works here as in the prefill kernels. K/V rows
 * are found through CLATTN_SDPA_KV_ROW, so a paged KV cache is read in place, page by page. */

#ifndef RCAP
#define RCAP 4 /* query rows per kv head (Sq * group) the build holds */
#endif
#ifndef DCAP
#define DCAP 64
#endif
#ifndef DVCAP
#define DVCAP DCAP
#endif
#ifndef BK
#define BK 32 /* keys per block inside a split */
#endif

/* Where row r of kv head (b, hk) lives: query i, head h. */
inline long decode_row_q(int r, long group) {
    return r / group;
}
inline long decode_row_h(int r, long hk, long group) {
    return hk * group + r % group;
}

/* The record of split s, query row `row` (of rows_total) in scratch: DVCAP outputs, then lse. */
inline __global float *decode_record(__global float *scratch, long s, long row, long rows_total) {
    return scratch + (s * rows_total + row) * (DVCAP + 1);
}

#ifndef VW
#define VW 8
#endif
#if VW == 16
typedef float16 dvec;
#define dvload vload16
#else
typedef float8 dvec;
#define dvload vload8
#endif
#define NC  ((DCAP + VW - 1) / VW)  /* q/k vectors per row */
#define NCV ((DVCAP + VW - 1) / VW) /* v/acc vectors per row */

/* Row j of a K or V head (n elements) as vectors, zero past n: whole vectors straight from
 * float32 storage, element by element (widened) otherwise and for the tail. */
inline void decode_load_row(const __global KV_T *src, int n, int nvec, dvec *dst) {
    for (int c = 0; c < nvec; c++) {
#if KV_DTYPE == CLATTN_STORAGE_F32
        if ((c + 1) * VW <= n) {
            dst[c] = dvload(0, src + c * VW);
            continue;
        }
#endif
        float tmp[VW];
        for (int e = 0; e < VW; e++) tmp[e] = c * VW + e < n ? load_kv(src, c * VW + e) : 0.0f;
        dst[c] = dvload(0, tmp);
    }
}

inline float decode_hsum(dvec x) {
#if VW == 16
    x.lo += x.hi;
#endif
    float4 y = x.lo + x.hi;
    return (y.x + y.y) + (y.z + y.w);
}

__kernel void decode_cpu(CLATTN_SDPA_PARAMS) {
    const long split = get_global_id(0);
    const long bh = get_global_id(1), hkv = heads / group;
    const long b = bh / hkv, hk = bh % hkv;
    const int rows = (int)(seq_q * group);
    const long rows_total = batch * heads * seq_q;
    const clattn_mask_rule rule = CLATTN_SDPA_MASK_RULE(b);

    dvec qv[RCAP][NC], acc[RCAP][NCV];
    float m[RCAP], l[RCAP], slope[RCAP];
    clattn_key_range keys[RCAP];
    const __global M_T *mrow[RCAP];
    long lo = rule.seq_kv, hi = 0; /* the keys any row of the group sees */
    for (int r = 0; r < RCAP; r++) {
        const int rr = min(r, rows - 1); /* rows past the group repeat the last; never stored */
        const long i = decode_row_q(rr, group), h = decode_row_h(rr, hk, group);
        const __global Q_T *qp = q + b * q_sb + h * q_sh + i * q_ss;
        float tmp[NC * VW];
        for (int c = 0; c < NC * VW; c++) tmp[c] = c < head_dim ? load_q(qp, c) * scale_log2 : 0.0f;
        for (int c = 0; c < NC; c++) qv[r][c] = dvload(c, tmp);
        for (int c = 0; c < NCV; c++) acc[r][c] = (dvec)(0.0f);
        m[r] = -INFINITY;
        l[r] = 0.0f;
        keys[r] = clattn_row_keys(rule, i);
        slope[r] = clattn_alibi_slope(alibi, flags, alibi_sb, b, h);
        mrow[r] = (flags & CLATTN_KF_MASK) ? mask + b * m_sb + h * m_sh + i * m_ss : 0;
        lo = min(lo, keys[r].lo);
        hi = max(hi, keys[r].hi);
    }
    /* This split's keys, cut to what the rows see. */
    const long j_begin = max(split * block_kv, lo), j_end = min((split + 1) * block_kv, hi);
    for (long j0 = j_begin; j0 < j_end; j0 += BK) {
        const int nb = (int)min((long)BK, j_end - j0);
        float s[RCAP][BK];
        for (int jj = 0; jj < nb; jj++) {
            dvec kv[NC];
            decode_load_row(CLATTN_SDPA_KV_ROW(k, b, hk, j0 + jj), head_dim, NC, kv);
            for (int r = 0; r < RCAP; r++) {
                dvec d = (dvec)(0.0f);
                for (int c = 0; c < NC; c++) d = fma(qv[r][c], kv[c], d);
                const long i = decode_row_q(min(r, rows - 1), group);
                s[r][jj] = clattn_score(decode_hsum(d), j0 + jj, keys[r], rule, i + rule.diag,
                                        slope[r], mrow[r]);
            }
        }
        for (int r = 0; r < RCAP; r++) {
            float mx = m[r];
            for (int jj = 0; jj < nb; jj++) mx = fmax(mx, s[r][jj]);
            const float alpha = clattn_exp2_diff(m[r], mx);
            float sum = 0.0f;
            for (int jj = 0; jj < nb; jj++) {
                s[r][jj] = clattn_exp2_diff(s[r][jj], mx);
                sum += s[r][jj];
            }
            l[r] = l[r] * alpha + sum;
            m[r] = mx;
            for (int c = 0; c < NCV; c++) acc[r][c] *= alpha;
        }
        for (int jj = 0; jj < nb; jj++) {
            dvec vv[NCV];
            decode_load_row(CLATTN_SDPA_KV_ROW(v, b, hk, j0 + jj), head_dim_v, NCV, vv);
            for (int r = 0; r < RCAP; r++)
                for (int c = 0; c < NCV; c++) acc[r][c] = fma((dvec)(s[r][jj]), vv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < rows && r < RCAP; r++) {
        const long i = decode_row_q(r, group), h = decode_row_h(r, hk, group);
        const long row = (b * heads + h) * seq_q + i;
        const float inv = clattn_inv_sum(l[r]);
        __global float *o = decode_record(scratch, split, row, rows_total);
        for (int c = 0; c < NCV; c++) {
            float tmp[VW];
#if VW == 16
            vstore16(acc[r][c] * inv, 0, tmp);
#else
            vstore8(acc[r][c] * inv, 0, tmp);
#endif
            for (int e = 0; e < VW && c * VW + e < DVCAP; e++) o[c * VW + e] = tmp[e];
        }
        o[DVCAP] = clattn_lse(m[r], l[r]);
    }
}

#ifndef WG
#define WG 128 /* work-items of a decode_gpu work-group */
#endif
#define DVL ((DVCAP + WG - 1) / WG) /* output columns per work-item */

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void decode_gpu(CLATTN_SDPA_PARAMS) {
    __local float Qs[RCAP * DCAP];
    __local float Ps[RCAP * BK];
    __local float alpha_s[RCAP];
    const int t = get_local_id(0);
    const long nbh = batch * (heads / group);
    const long split = get_group_id(0) / nbh;
    const long bh = get_group_id(0) % nbh, hkv = heads / group;
    const long b = bh / hkv, hk = bh % hkv;
    const int rows = (int)(seq_q * group);
    const long rows_total = batch * heads * seq_q;
    const clattn_mask_rule rule = CLATTN_SDPA_MASK_RULE(b);

    /* The group's rows: q scaled into __local; every item knows every row's key range. */
    long lo = rule.seq_kv, hi = 0;
    for (int r = 0; r < RCAP; r++) {
        const int rr = min(r, rows - 1);
        const clattn_key_range kr = clattn_row_keys(rule, decode_row_q(rr, group));
        lo = min(lo, kr.lo);
        hi = max(hi, kr.hi);
    }
    for (int x = t; x < RCAP * head_dim; x += WG) {
        const int r = x / head_dim, c = x - r * head_dim, rr = min(r, rows - 1);
        const long i = decode_row_q(rr, group), h = decode_row_h(rr, hk, group);
        Qs[r * DCAP + c] = load_q(q + b * q_sb + h * q_sh + i * q_ss, c) * scale_log2;
    }
    float m[RCAP], l[RCAP], acc[RCAP][DVL];
    for (int r = 0; r < RCAP; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
        for (int u = 0; u < DVL; u++) acc[r][u] = 0.0f;
    }
    const long j_begin = max(split * block_kv, lo), j_end = min((split + 1) * block_kv, hi);
    for (long j0 = j_begin; j0 < j_end; j0 += BK) {
        barrier(CLK_LOCAL_MEM_FENCE); /* Qs staged; the previous block's P read */
        /* Scores: item t takes keys j0 + t, j0 + t + WG ... for every row. */
        for (int jj = t; jj < BK; jj += WG) {
            const long j = j0 + jj;
            for (int r = 0; r < RCAP; r++) {
                const int rr = min(r, rows - 1);
                const long i = decode_row_q(rr, group), h = decode_row_h(rr, hk, group);
                float sc = -INFINITY;
                if (j < j_end) {
                    const __global KV_T *kr = CLATTN_SDPA_KV_ROW(k, b, hk, j);
                    float d = 0.0f;
                    for (int c = 0; c < head_dim; c++) d = fma(Qs[r * DCAP + c], load_kv(kr, c), d);
                    const __global M_T *mr =
                        (flags & CLATTN_KF_MASK) ? mask + b * m_sb + h * m_sh + i * m_ss : 0;
                    sc = clattn_score(d, j, clattn_row_keys(rule, i), rule, i + rule.diag,
                                      clattn_alibi_slope(alibi, flags, alibi_sb, b, h), mr);
                }
                Ps[r * BK + jj] = sc;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* Per row: the block's max, the rescale factor, probabilities in place. Every item
         * keeps its own copy of m and l (the same arithmetic on the same values). */
        for (int r = 0; r < RCAP; r++) {
            float mx = m[r];
            for (int jj = 0; jj < BK; jj++) mx = fmax(mx, Ps[r * BK + jj]);
            const float alpha = clattn_exp2_diff(m[r], mx);
            float sum = 0.0f;
            for (int jj = 0; jj < BK; jj++) sum += clattn_exp2_diff(Ps[r * BK + jj], mx);
            l[r] = l[r] * alpha + sum;
            if (t == 0) alpha_s[r] = mx; /* the new max, for the probabilities below */
            m[r] = mx;
            for (int u = 0; u < DVL; u++) acc[r][u] *= alpha;
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* every item has read the raw scores */
        for (int x = t; x < RCAP * BK; x += WG) Ps[x] = clattn_exp2_diff(Ps[x], alpha_s[x / BK]);
        barrier(CLK_LOCAL_MEM_FENCE);
        /* O += P V: item t owns columns t, t + WG ...; V rows are read across the items. */
        const int nb = (int)min((long)BK, j_end - j0);
        for (int jj = 0; jj < nb; jj++) {
            const __global KV_T *vr = CLATTN_SDPA_KV_ROW(v, b, hk, j0 + jj);
            for (int u = 0; u < DVL; u++) {
                const int c = t + u * WG;
                const float vc = c < head_dim_v ? load_kv(vr, c) : 0.0f;
                for (int r = 0; r < RCAP; r++) acc[r][u] = fma(Ps[r * BK + jj], vc, acc[r][u]);
            }
        }
    }
    for (int r = 0; r < rows && r < RCAP; r++) {
        const long i = decode_row_q(r, group), h = decode_row_h(r, hk, group);
        const long row = (b * heads + h) * seq_q + i;
        const float inv = clattn_inv_sum(l[r]);
        __global float *o = decode_record(scratch, split, row, rows_total);
        for (int u = 0; u < DVL; u++) {
            const int c = t + u * WG;
            if (c < DVCAP) o[c] = acc[r][u] * inv;
        }
        if (t == 0) o[DVCAP] = clattn_lse(m[r], l[r]);
    }
}

/* Merges the splits of one query row: with M the largest split lse, out = sum_s e^(lse_s - M)
 * out_s / sum_s e^(lse_s - M), lse = M + log(sum). Splits that saw no key (lse -inf) weigh 0; a
 * row no split saw gives 0 and -inf; a NaN in any split makes the row NaN. Global size: the
 * B * Hq * Sq rows. Splits past ceil(Skv / block_kv) hold no key and are not read. */
__kernel void decode_combine(CLATTN_SDPA_PARAMS) {
    const long row = get_global_id(0), rows_total = batch * heads * seq_q;
    if (row >= rows_total) return;
    const long nsplit = (seq_kv + block_kv - 1) / block_kv;
    const long i = row % seq_q, bh = row / seq_q, b = bh / heads, h = bh % heads;
    float mx = -INFINITY;
    int nan = 0;
    for (long s = 0; s < nsplit; s++) {
        const float x = decode_record(scratch, s, row, rows_total)[DVCAP];
        nan |= isnan(x);
        mx = fmax(mx, x);
    }
    /* The weights in base 2, as everywhere else: e^(x - M) = 2^((x - M) log2 e). */
    float sum = 0.0f;
    for (long s = 0; s < nsplit; s++)
        sum += clattn_exp2_diff(decode_record(scratch, s, row, rows_total)[DVCAP] * CLATTN_LOG2E,
                                mx * CLATTN_LOG2E);
    const float inv = nan ? NAN : clattn_inv_sum(sum);
    __global O_T *op = out + b * o_sb + h * o_sh + i * o_ss;
    for (int c = 0; c < head_dim_v; c++) {
        float o = 0.0f;
        for (long s = 0; s < nsplit; s++) {
            const __global float *rec = decode_record(scratch, s, row, rows_total);
            const float w = clattn_exp2_diff(rec[DVCAP] * CLATTN_LOG2E, mx * CLATTN_LOG2E);
            if (w != 0.0f) o = fma(w, rec[c], o); /* an empty split's 0 * anything is skipped */
        }
        store_o(op, c, o * inv);
    }
    if (flags & CLATTN_KF_LSE) lse[row] = nan ? NAN : (sum > 0.0f ? mx + log(sum) : -INFINITY);
}
