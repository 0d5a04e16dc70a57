/* sdpa_ref.h: float64 CPU reference for scaled dot-product attention (MHA, MQA, GQA), used by the
 * SDPA tests, the CPU-kernel tests and `clattn selftest`. It is deliberately the textbook
 * formula (scores, max, exp, sum, divide) in double, with no tiling, so it shares no structure and
 * no bugs with the kernels it checks. Self-contained: it does not include clattn.h. */
#ifndef CLATTN_SDPA_REF_H
#define CLATTN_SDPA_REF_H

#include <stdint.h>

/* The problem as the library sees it once validated: strides in elements for (batch, head, seq),
 * the last dimension contiguous. mask may be NULL; its strides are 0 in broadcast dimensions.
 * Query head h reads kv head h / (Hq / Hkv). Causal keeps keys j <= i' (bottom-right by default:
 * query i sees keys j <= i + Skv - Sq). The score of a visible key is scale * q.k, then the
 * softcap, then the ALiBi bias, then the mask. */
typedef struct {
    int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
    double scale; /* already resolved: 1/sqrt(D) by default */
    int causal;
    const float *q, *k, *v, *mask;
    int64_t q_st[3], k_st[3], v_st[3], m_st[3];
    /* Options; zero is off. Query i sits at i' = i + Skv - Sq, or at i with top_left. */
    int top_left;
    int window;                        /* keep i' - window_left <= j <= i' + window_right */
    int64_t window_left, window_right; /* -1: that side open */
    double softcap;                    /* > 0: s -> softcap * tanh(s / softcap) */
    const float *alibi;                /* slopes: alibi[b * alibi_sb + h]; adds -slope |i' - j| */
    int64_t alibi_sb;
    const int32_t *kv_lens;  /* [B] or NULL: sequence b has keys 0..kv_lens[b]-1, and i' is
                                i + kv_lens[b] - Sq (bottom-right) */
    int64_t position_offset; /* added to every i' */
} sdpa_ref_problem;

/* Fills contiguous strides for [B, H, S, dim] data (and, for the mask, [mb, mh, Sq, Skv] with
 * stride 0 where mb or mh is 1). */
void sdpa_ref_contiguous(int64_t H, int64_t S, int64_t dim, int64_t st[3]);
void sdpa_ref_mask_strides(int64_t mb, int64_t mh, int64_t Hq, int64_t Sq, int64_t Skv,
                           int64_t st[3]);

/* out: contiguous [B, Hq, Sq, Dv]; lse: contiguous [B, Hq, Sq] (may be NULL), natural log of the
 * sum of exp of the scaled, masked scores. A fully masked row gives out 0 and lse -inf.
 * Returns 0, or -1 when a scratch allocation fails. */
int sdpa_ref(const sdpa_ref_problem *p, double *out, double *lse);

#endif
