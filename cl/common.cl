/* common.cl: helpers every kernel family shares; the host prepends kernel_iface.h and then this
 * file to each family (with #line markers), so nothing here may define a __kernel. Above all
 * the one mask component every attention kernel calls (after FlashAttention-2's: causal, and
 * later window and kv lengths, are all "which keys may row i see"). */
#ifndef CLATTN_COMMON_CL
#define CLATTN_COMMON_CL

/* log2(e): scores are pre-multiplied by scale * log2(e) so softmax uses exp2. */
#define CLATTN_LOG2E 1.4426950408889634f
/* ln(2): turns a base-2 log-sum-exp back into a natural one. */
#define CLATTN_LN2 0.6931471805599453f

/* NaN semantics (the rule in include/clattn_sdpa.h): a NaN score makes its row's output and
 * log-sum-exp NaN, as IEEE arithmetic and PyTorch give, and is never mistaken for a masked key.
 * The running maxima use fmax/compares, which drop NaN, so NaN travels through the
 * exponentials instead: exp2(NaN - m) is NaN, so the row's sum l becomes NaN, and the final
 * 1/l and log-sum-exp below keep it. Only a row whose every key was removed (l == 0 exactly)
 * gives 0 and -inf. */

/* exp2 of a running-max difference where the max may still be -inf (nothing but masked keys
 * or NaN seen yet): 0 for a masked key, NaN for a NaN score, never the NaN of -inf - -inf. */
inline float clattn_exp2_diff(float a, float b) {
    return (b == -INFINITY) ? (isnan(a) ? a : 0.0f) : exp2(a - b);
}

/* Ceiling division for tile counts. */
inline int clattn_cdiv(int a, int b) {
    return (a + b - 1) / b;
}

/* The keys [lo, hi) that query row i may see. Bottom-right causal alignment: row i sees keys
 * j <= i + seq_kv - seq_q (FlashAttention-2's convention, so a decode step needs no special
 * case). The range is monotone in i, so a block of rows sees at most the range of its last row
 * and at least that of its first: kernels skip whole K/V blocks with it. */
typedef struct {
    long lo, hi;
} clattn_key_range;

inline clattn_key_range clattn_row_keys(long i, long seq_q, long seq_kv, int flags) {
    clattn_key_range r;
    r.lo = 0;
    r.hi = seq_kv;
    if (flags & CLATTN_KF_CAUSAL) r.hi = clamp(i + seq_kv - seq_q + 1, 0L, seq_kv);
    return r;
}

/* A base-2 score of key j for a row whose visible keys are r and whose additive mask row is
 * mrow (NULL when there is none): -inf outside r, else s + mask * log2(e). */
inline float clattn_mask_score(float s, long j, clattn_key_range r, const __global DATA_T *mrow) {
    if (j < r.lo || j >= r.hi) return -INFINITY;
    return mrow ? fma(load_data(mrow, j), CLATTN_LOG2E, s) : s;
}

/* 1 / l for the final normalisation; 0 for a row that saw no key (its output is then 0), NaN
 * for a row whose sum is NaN. */
inline float clattn_inv_sum(float l) {
    return l > 0.0f ? 1.0f / l : (isnan(l) ? l : 0.0f);
}

/* The natural log-sum-exp of a row from its base-2 running max m and sum l: -inf when the row
 * saw no key, NaN when its sum is NaN. */
inline float clattn_lse(float m, float l) {
    return l > 0.0f ? (m + log2(l)) * CLATTN_LN2 : (isnan(l) ? l : -INFINITY);
}

#endif
