/* softmax.cl: the masked row softmax of the naive attention path. S = scale * Q K^T has been
 * written by a GEMM as [B, Hq, Sq, Skv]; one work-group of WG items turns one row into
 * probabilities in place (additive mask, bottom-right causal mask, max, exp2, sum, normalise)
 * and writes the row's natural log-sum-exp. A fully masked row becomes zeros with lse -inf, so
 * the following P V GEMM gives an output of 0. */

#ifndef WG
#define WG 256 /* work-items per row; a power of two */
#endif

/* Tree reduction over the work-group; every item gets the result. */
static float reduce_wg(__local float *red, float x, int t, int is_max) {
    red[t] = x;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (t < s) red[t] = is_max ? fmax(red[t], red[t + s]) : red[t] + red[t + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* red is reused by the next reduction */
    return r;
}

/* The SDPA interface: S arrives in `scratch` ([B, Hq, Sq, Skv], natural scale), q, k, v and out
 * are unused (the GEMMs around this kernel read and write them). One work-group per row. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void softmax_rows(CLATTN_SDPA_PARAMS) {
    __local float red[WG];
    const int t = get_local_id(0);
    const long rowid = get_group_id(0); /* (b * Hq + h) * Sq + i */
    const long i = rowid % seq_q, bh = rowid / seq_q;
    const long b = bh / heads, h = bh % heads;
    __global float *row = scratch + rowid * seq_kv;
    const clattn_mask_rule rule = CLATTN_SDPA_MASK_RULE(b);
    const clattn_key_range keys = clattn_row_keys(rule, i);
    const float slope = clattn_alibi_slope(alibi, flags, alibi_sb, b, h);
    const __global M_T *mrow = (flags & CLATTN_KF_MASK) ? mask + b * m_sb + h * m_sh + i * m_ss : 0;

    float mx = -INFINITY;
    for (long j = t; j < seq_kv; j += WG) {
        const float x = clattn_score(row[j] * CLATTN_LOG2E, j, keys, rule, i, slope, mrow);
        row[j] = x;
        mx = fmax(mx, x);
    }
    mx = reduce_wg(red, mx, t, 1);

    float sum = 0.0f;
    for (long j = t; j < seq_kv; j += WG) {
        const float e = clattn_exp2_diff(row[j], mx);
        row[j] = e;
        sum += e;
    }
    sum = reduce_wg(red, sum, t, 0);

    const float inv = clattn_inv_sum(sum);
    for (long j = t; j < seq_kv; j += WG) row[j] *= inv;
    if ((flags & CLATTN_KF_LSE) && t == 0) lse[rowid] = clattn_lse(mx, sum);
}
