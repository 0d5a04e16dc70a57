/* gru_ref.c: float64 reference of the GRU cell and bidirectional encoder (PyTorch conventions:
 * gates stacked r, z, n; r gates the hidden projection including b_hn). */
#include "gru_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double sigm(double x) {
    return 1.0 / (1.0 + exp(-x));
}

void ref_gru_cell(int64_t Din, int64_t H, const float *x, const double *h, const float *w_ih,
                  const float *w_hh, const float *b_ih, const float *b_hh, double *h_out) {
    for (int64_t j = 0; j < H; j++) {
        double gi[3], gh[3];
        for (int g = 0; g < 3; g++) {
            int64_t row = g * H + j;
            double si = b_ih ? b_ih[row] : 0.0, sh = b_hh ? b_hh[row] : 0.0;
            for (int64_t k = 0; k < Din; k++) si += (double)w_ih[row * Din + k] * x[k];
            for (int64_t k = 0; k < H; k++) sh += (double)w_hh[row * H + k] * h[k];
            gi[g] = si, gh[g] = sh;
        }
        double r = sigm(gi[0] + gh[0]), z = sigm(gi[1] + gh[1]);
        double n = tanh(gi[2] + r * gh[2]);
        h_out[j] = (1.0 - z) * n + z * h[j];
    }
}

int ref_birnn_gru(int64_t B, int64_t T, int64_t Din, int64_t H, const float *x,
                  const float *const fwd[4], const float *const bwd[4], const int32_t *lengths,
                  double *out) {
    double *h = malloc((size_t)H * sizeof(double)), *hn = malloc((size_t)H * sizeof(double));
    if (!h || !hn) {
        free(h), free(hn);
        return -1;
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t len = lengths ? lengths[b] : T;
        for (int dir = 0; dir < 2; dir++) {
            const float *const *w = dir == 0 ? fwd : bwd;
            memset(h, 0, (size_t)H * sizeof(double));
            for (int64_t s = 0; s < T; s++) {
                double *o = out + (b * T + s) * 2 * H + dir * H;
                if (s >= len) { /* padding: this direction writes 0 at position s */
                    for (int64_t j = 0; j < H; j++) o[j] = 0.0;
                    continue;
                }
                int64_t t = dir == 0 ? s : len - 1 - s;
                ref_gru_cell(Din, H, x + (b * T + t) * Din, h, w[0], w[1], w[2], w[3], hn);
                memcpy(h, hn, (size_t)H * sizeof(double));
                double *ot = out + (b * T + t) * 2 * H + dir * H;
                for (int64_t j = 0; j < H; j++) ot[j] = h[j];
            }
        }
    }
    free(h), free(hn);
    return 0;
}
