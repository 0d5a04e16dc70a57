/* lse_combine.cl: the exact merge of N partial attentions of the same query rows, each over a
 * disjoint part of the keys and given as its normalised output row and natural log-sum-exp. With
 * M = max_n lse_n: out = sum_n e^(lse_n - M) out_n / sum_n e^(lse_n - M), lse = M + log(sum) (the
 * rescaling FlashAttention-2 does between K/V blocks). One kernel for both of its users, set up by
 * src/sdpa/lse_combine.c: the split-KV decode path (cl/decode.cl), whose parts are its splits'
 * records in a scratch buffer (DVCAP outputs, then the lse, per (split, row)), and the public
 * clattn_lse_combine, whose parts are separate [N, rows, Dv] and [N, rows] arrays. Strides (enum
 * clattn_lse_combine_arg in kernel_iface.h) say where each part's row and each output row live.
 *
 * Non-finite values (include/clattn_combine.h): a part with lse -inf saw no key; it weighs 0 and
 * its output row is never read (it may hold anything). A row no part saw gives 0 and lse -inf. A
 * NaN lse in any part makes the row's output and lse NaN: its weight is NaN, so the sum is, and
 * clattn_inv_sum / clattn_lse keep NaN (as does an lse of +inf: its weight is e^(inf - inf)).
 *
 * One work-item per (block of LC_COLS output columns, row): global size {ceil(Dv / LC_COLS),
 * rows}. Each reads the row's N lse values twice (the max, then the weights) and its columns of
 * every part that weighs something. */

#define LC_COLS CLATTN_LSE_COMBINE_COLS

/* e^(x - mx), in base 2 as everywhere else. The difference is taken first, so the weight's error
 * follows |x - mx| and not the size of the lse values (a caller's lse may be far from 0, and
 * x * log2(e) would round at that scale). A part that saw no key (x = -inf) weighs 0, also when
 * no part did (mx = -inf, where x - mx would be NaN). */
inline float lse_combine_weight(float x, float mx) {
    return x == -INFINITY ? 0.0f : exp2((x - mx) * CLATTN_LOG2E);
}

__kernel void lse_combine(CLATTN_LSE_COMBINE_PARAMS) {
    const long row = get_global_id(1), c0 = get_global_id(0) * LC_COLS;
    if (row >= rows || c0 >= head_dim_v) return;
    const __global float *pl = part_lse + pl_offset + row * pl_row;
    float mx = -INFINITY; /* fmax drops NaN: a NaN part shows through its weight below */
    for (long n = 0; n < parts; n++) mx = fmax(mx, pl[n * pl_part]);
    const int nc = (int)min((long)LC_COLS, head_dim_v - c0);
    float acc[LC_COLS], sum = 0.0f;
    for (int c = 0; c < LC_COLS; c++) acc[c] = 0.0f;
    for (long n = 0; n < parts; n++) {
        const float w = lse_combine_weight(pl[n * pl_part], mx);
        sum += w;
        if (w == 0.0f) continue; /* nothing of an empty part is read: 0 * NaN would be NaN */
        const __global float *po = part_out + n * po_part + row * po_row + c0;
        for (int c = 0; c < nc; c++) acc[c] = fma(w, po[c], acc[c]);
    }
    const float inv = clattn_inv_sum(sum);
    const long i = row % seq, bh = row / seq;
    __global O_T *o = out + (bh / heads) * o_sb + (bh % heads) * o_sh + i * o_ss + c0;
    for (int c = 0; c < nc; c++) store_o(o, c, acc[c] * inv);
    if (lse && c0 == 0) lse[row] = clattn_lse(mx * CLATTN_LOG2E, sum);
}
