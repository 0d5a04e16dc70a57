/* additive_ref.c: the float64 reference of additive attention, written the slow obvious way
 * (projections recomputed per query row, two-pass softmax) so it shares no structure with the
 * device kernels it checks. */
#include "additive_ref.h"

#include <math.h>
#include <stdlib.h>

int ref_additive(int64_t B, int64_t T, int64_t Tq, int64_t Dk, int64_t Ds, int64_t A,
                 const float *keys, const float *query, const float *w_h, const float *w_s,
                 const float *v, const float *bias, const int32_t *lengths, double *context,
                 double *weights) {
    double *kp = malloc((size_t)(T * A) * sizeof(double));
    double *qp = malloc((size_t)A * sizeof(double));
    double *e = malloc((size_t)T * sizeof(double));
    if (!kp || !qp || !e) {
        free(kp), free(qp), free(e);
        return -1;
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t len = lengths ? lengths[b] : T;
        const float *kb = keys + b * T * Dk;
        for (int64_t j = 0; j < T; j++)
            for (int64_t a = 0; a < A; a++) {
                double s = 0;
                for (int64_t d = 0; d < Dk; d++) s += (double)w_h[a * Dk + d] * kb[j * Dk + d];
                kp[j * A + a] = s;
            }
        for (int64_t q = 0; q < Tq; q++) {
            const float *sq = query + (b * Tq + q) * Ds;
            for (int64_t a = 0; a < A; a++) {
                double s = bias ? bias[a] : 0.0;
                for (int64_t d = 0; d < Ds; d++) s += (double)w_s[a * Ds + d] * sq[d];
                qp[a] = s;
            }
            double mx = -INFINITY;
            for (int64_t j = 0; j < len; j++) {
                double s = 0;
                for (int64_t a = 0; a < A; a++) s += (double)v[a] * tanh(kp[j * A + a] + qp[a]);
                e[j] = s;
                if (s > mx) mx = s;
            }
            double sum = 0;
            for (int64_t j = 0; j < len; j++) sum += (e[j] = exp(e[j] - mx));
            for (int64_t j = 0; j < T; j++) e[j] = j < len ? e[j] / sum : 0.0;
            double *cq = context + (b * Tq + q) * Dk;
            for (int64_t d = 0; d < Dk; d++) {
                double s = 0;
                for (int64_t j = 0; j < len; j++) s += e[j] * kb[j * Dk + d];
                cq[d] = s;
            }
            if (weights)
                for (int64_t j = 0; j < T; j++) weights[(b * Tq + q) * T + j] = e[j];
        }
    }
    free(kp), free(qp), free(e);
    return 0;
}
