/* layer_ref.c: the float64 attention layer reference declared in layer_ref.h. */
#include "layer_ref.h"
#include "rope_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* RoPE of the head vector h [D] in place at position pos: the projection is float32 on the
 * device until it is rotated, so it is rotated from float here too. */
static void rotate(const layer_ref *L, int32_t pos, double *h, float *tmp) {
    for (int64_t d = 0; d < L->D; d++) tmp[d] = (float)h[d];
    rope_ref_row(L->D, L->rope_dim, L->rope_gptj, L->rope_theta, L->rope_scale, pos, tmp, h);
}

/* out[r] = W[r, :] . x + bias[r] for r < rows, then the storage rounding. */
static void project(const float *w, const float *bias, int64_t rows, int64_t cols, const double *x,
                    double (*store)(double), double *out) {
    for (int64_t r = 0; r < rows; r++) {
        double s = bias ? bias[r] : 0.0;
        for (int64_t c = 0; c < cols; c++) s += (double)w[r * cols + c] * x[c];
        out[r] = store ? store(s) : s;
    }
}

static double *dalloc(int64_t n) {
    return malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
}

int ref_mha_layer(const layer_ref *L, int64_t B, int64_t S, const float *x, const int32_t *lengths,
                  int causal, double *y) {
    const int64_t E = L->E, Hq = L->Hq, Hkv = L->Hkv, D = L->D, Dv = L->Dv;
    double *xr = dalloc(E), *q = dalloc(S * Hq * D), *k = dalloc(S * Hkv * D);
    double *v = dalloc(S * Hkv * Dv), *a = dalloc(Hq * Dv), *p = dalloc(S);
    float *tmp = malloc((size_t)D * sizeof *tmp);
    if (!xr || !q || !k || !v || !a || !p || !tmp) {
        free(xr), free(q), free(k), free(v), free(a), free(p), free(tmp);
        return -1;
    }
    for (int64_t b = 0; b < B; b++) {
        const int64_t len = lengths ? lengths[b] : S;
        memset(y + b * S * E, 0, (size_t)(S * E) * sizeof *y);
        for (int64_t t = 0; t < len; t++) {
            for (int64_t e = 0; e < E; e++) xr[e] = x[(b * S + t) * E + e];
            /* RoPE before the rounding: the projections are float32 until they are stored */
            project(L->wq, L->bq, Hq * D, E, xr, NULL, q + t * Hq * D);
            project(L->wk, L->bk, Hkv * D, E, xr, NULL, k + t * Hkv * D);
            project(L->wv, L->bv, Hkv * Dv, E, xr, L->store, v + t * Hkv * Dv);
            for (int64_t h = 0; L->rope_theta > 0 && h < Hq; h++)
                rotate(L, (int32_t)t, q + (t * Hq + h) * D, tmp);
            for (int64_t h = 0; L->rope_theta > 0 && h < Hkv; h++)
                rotate(L, (int32_t)t, k + (t * Hkv + h) * D, tmp);
            for (int64_t i = 0; L->store && i < Hq * D; i++)
                q[t * Hq * D + i] = L->store(q[t * Hq * D + i]);
            for (int64_t i = 0; L->store && i < Hkv * D; i++)
                k[t * Hkv * D + i] = L->store(k[t * Hkv * D + i]);
        }
        for (int64_t t = 0; t < len; t++) {
            for (int64_t h = 0; h < Hq; h++) {
                const int64_t g = h / (Hq / Hkv), keys = causal ? t + 1 : len;
                const double *qh = q + (t * Hq + h) * D;
                double m = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < keys; j++) {
                    double s = 0.0;
                    for (int64_t d = 0; d < D; d++) s += qh[d] * k[(j * Hkv + g) * D + d];
                    p[j] = s * L->scale;
                    if (p[j] > m) m = p[j];
                }
                for (int64_t j = 0; j < keys; j++) sum += (p[j] = exp(p[j] - m));
                for (int64_t d = 0; d < Dv; d++) {
                    double o = 0.0;
                    for (int64_t j = 0; j < keys; j++) o += p[j] * v[(j * Hkv + g) * Dv + d];
                    a[h * Dv + d] = L->store ? L->store(o / sum) : o / sum;
                }
            }
            project(L->wo, L->bo, E, Hq * Dv, a, NULL, y + (b * S + t) * E);
        }
    }
    free(xr), free(q), free(k), free(v), free(a), free(p), free(tmp);
    return 0;
}
