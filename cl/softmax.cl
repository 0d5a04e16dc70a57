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

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
softmax_rows(__global float *s, __global const float *mask, __global float *lse, long Hq, long Sq,
             long Skv, int causal, int has_mask, int has_lse, long msb, long msh, long mss) {
    __local float red[WG];
    const int t = get_local_id(0);
    const long rowid = get_group_id(0); /* (b * Hq + h) * Sq + i */
    const long i = rowid % Sq, bh = rowid / Sq;
    const long b = bh / Hq, h = bh % Hq;
    __global float *row = s + rowid * Skv;
    long lim = Skv; /* keys j < lim are visible */
    if (causal && i + Skv - Sq + 1 < lim) lim = i + Skv - Sq + 1;

    float mx = -INFINITY;
    for (long j = t; j < Skv; j += WG) {
        float x = -INFINITY;
        if (j < lim) {
            x = row[j];
            if (has_mask) x += mask[b * msb + h * msh + i * mss + j];
            x *= CLATTN_LOG2E;
        }
        row[j] = x;
        mx = fmax(mx, x);
    }
    mx = reduce_wg(red, mx, t, 1);

    float sum = 0.0f;
    for (long j = t; j < Skv; j += WG) {
        const float e = clattn_exp2_diff(row[j], mx);
        row[j] = e;
        sum += e;
    }
    sum = reduce_wg(red, sum, t, 0);

    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (long j = t; j < Skv; j += WG) row[j] *= inv;
    if (has_lse && t == 0) lse[rowid] = sum > 0.0f ? (mx + log2(sum)) * CLATTN_LN2 : -INFINITY;
}
