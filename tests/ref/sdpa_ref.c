/* sdpa_ref.c: the float64 attention reference declared in sdpa_ref.h: one query row at a time,
 * scores in double, max-subtracted exponentials, then the weighted sum of V rows. IEEE
 * semantics: a NaN score (from q, k or the mask) makes its row's output and lse NaN; +inf in
 * the mask gives NaN through inf - inf; a row with no visible key gives 0 and lse -inf; a NaN
 * in v reaches the output columns of rows that weight its key above 0. */
#include "sdpa_ref.h"

#include <math.h>
#include <stdlib.h>

void sdpa_ref_contiguous(int64_t H, int64_t S, int64_t dim, int64_t st[3]) {
    st[2] = dim;
    st[1] = S * dim;
    st[0] = H * S * dim;
}

void sdpa_ref_mask_strides(int64_t mb, int64_t mh, int64_t Hq, int64_t Sq, int64_t Skv,
                           int64_t st[3]) {
    st[2] = Skv;
    st[1] = mh == 1 ? 0 : Sq * Skv;
    st[0] = mb == 1 ? 0 : (mh == 1 ? 1 : Hq) * Sq * Skv;
}

int sdpa_ref(const sdpa_ref_problem *p, double *out, double *lse) {
    double *s = malloc((size_t)(p->Skv > 0 ? p->Skv : 1) * sizeof(double));
    if (!s) return -1;
    const int64_t group = p->Hq / p->Hkv;
    for (int64_t b = 0; b < p->B; b++) {
        for (int64_t h = 0; h < p->Hq; h++) {
            const int64_t kh = h / group;
            for (int64_t i = 0; i < p->Sq; i++) {
                const float *qi = p->q + b * p->q_st[0] + h * p->q_st[1] + i * p->q_st[2];
                double mx = -INFINITY;
                int nan_row = 0; /* a NaN score makes the whole row NaN, as IEEE softmax does */
                const int64_t len = p->kv_lens ? p->kv_lens[b] : p->Skv;
                const int64_t pos = (p->top_left ? i : i + len - p->Sq) + p->position_offset;
                for (int64_t j = 0; j < p->Skv; j++) {
                    double x = -INFINITY;
                    int visible = j < len && (!p->causal || j <= pos);
                    if (p->window && p->window_left >= 0 && j < pos - p->window_left) visible = 0;
                    if (p->window && p->window_right >= 0 && j > pos + p->window_right) visible = 0;
                    if (visible) {
                        const float *kj = p->k + b * p->k_st[0] + kh * p->k_st[1] + j * p->k_st[2];
                        double dot = 0.0;
                        for (int64_t d = 0; d < p->D; d++) dot += (double)qi[d] * (double)kj[d];
                        x = dot * p->scale;
                        if (p->softcap > 0.0) x = p->softcap * tanh(x / p->softcap);
                        if (p->alibi)
                            x -= (double)p->alibi[b * p->alibi_sb + h] * fabs((double)(pos - j));
                        if (p->mask)
                            x += (double)
                                     p->mask[b * p->m_st[0] + h * p->m_st[1] + i * p->m_st[2] + j];
                    }
                    s[j] = x;
                    if (x > mx) mx = x;
                    if (isnan(x)) nan_row = 1;
                }
                double *o = out + ((b * p->Hq + h) * p->Sq + i) * p->Dv;
                for (int64_t d = 0; d < p->Dv; d++) o[d] = nan_row ? NAN : 0.0;
                if (nan_row) {
                    if (lse) lse[(b * p->Hq + h) * p->Sq + i] = NAN;
                    continue;
                }
                if (mx == -INFINITY) { /* every key removed: the defined result */
                    if (lse) lse[(b * p->Hq + h) * p->Sq + i] = -INFINITY;
                    continue;
                }
                double sum = 0.0;
                for (int64_t j = 0; j < p->Skv; j++) {
                    double e = s[j] == -INFINITY ? 0.0 : exp(s[j] - mx);
                    s[j] = e;
                    sum += e;
                }
                for (int64_t j = 0; j < p->Skv; j++) {
                    if (s[j] == 0.0) continue;
                    const float *vj = p->v + b * p->v_st[0] + kh * p->v_st[1] + j * p->v_st[2];
                    const double w = s[j] / sum;
                    for (int64_t d = 0; d < p->Dv; d++) o[d] += w * (double)vj[d];
                }
                if (lse) lse[(b * p->Hq + h) * p->Sq + i] = mx + log(sum);
            }
        }
    }
    free(s);
    return 0;
}
