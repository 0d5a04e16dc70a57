/* rnn_ref.c: the float64 GRU/LSTM reference of rnn_ref.h, written from PyTorch's documented
 * equations, one sequence and one direction at a time (no shared code with the kernels). */
#include "rnn_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double sigm(double v) {
    return 1.0 / (1.0 + exp(-v));
}

/* One step: in [Din] (double), h, c [H] updated in place; g scratch [2 * G * H]. */
static void step(int lstm, int64_t Din, int64_t H, const double *in, const ref_rnn_weights *w,
                 double *h, double *c, double *g) {
    const int64_t G = lstm ? 4 : 3;
    double *gx = g, *gh = g + G * H;
    for (int64_t r = 0; r < G * H; r++) {
        double sx = w->b_ih ? w->b_ih[r] : 0.0, sh = w->b_hh ? w->b_hh[r] : 0.0;
        for (int64_t k = 0; k < Din; k++) sx += (double)w->w_ih[r * Din + k] * in[k];
        for (int64_t k = 0; k < H; k++) sh += (double)w->w_hh[r * H + k] * h[k];
        gx[r] = sx, gh[r] = sh;
    }
    for (int64_t j = 0; j < H; j++) {
        if (lstm) {
            const double i = sigm(gx[j] + gh[j]), f = sigm(gx[H + j] + gh[H + j]);
            const double gg = tanh(gx[2 * H + j] + gh[2 * H + j]);
            const double o = sigm(gx[3 * H + j] + gh[3 * H + j]);
            c[j] = f * c[j] + i * gg;
            h[j] = o * tanh(c[j]);
        } else {
            const double r = sigm(gx[j] + gh[j]), z = sigm(gx[H + j] + gh[H + j]);
            const double n = tanh(gx[2 * H + j] + r * gh[2 * H + j]);
            h[j] = (1.0 - z) * n + z * h[j];
        }
    }
}

int ref_rnn(int lstm, int64_t L, int ndir, int64_t B, int64_t T, int64_t Din, int64_t H,
            const float *x, const ref_rnn_weights *w, const int32_t *lengths, const float *h0,
            const float *c0, double *out, double *h_n, double *c_n) {
    const int64_t W = ndir * H, dmax = Din > W ? Din : W;
    double *cur = malloc((size_t)(B * T * dmax) * sizeof(double));
    double *nxt = malloc((size_t)(B * T * W) * sizeof(double));
    double *h = malloc((size_t)H * sizeof(double)), *c = malloc((size_t)H * sizeof(double));
    double *g = malloc((size_t)(8 * H) * sizeof(double));
    if (!cur || !nxt || !h || !c || !g) {
        free(cur), free(nxt), free(h), free(c), free(g);
        return -1;
    }
    for (int64_t i = 0; i < B * T * Din; i++) cur[i] = x[i];
    int64_t din = Din;
    for (int64_t l = 0; l < L; l++) {
        memset(nxt, 0, (size_t)(B * T * W) * sizeof(double)); /* padding positions stay 0 */
        for (int d = 0; d < ndir; d++) {
            const int64_t e = l * ndir + d;
            for (int64_t b = 0; b < B; b++) {
                const int64_t len = lengths ? lengths[b] : T, so = (e * B + b) * H;
                for (int64_t j = 0; j < H; j++) {
                    h[j] = h0 ? h0[so + j] : 0.0;
                    c[j] = c0 ? c0[so + j] : 0.0;
                }
                for (int64_t s = 0; s < len; s++) {
                    const int64_t t = d == 0 ? s : len - 1 - s;
                    step(lstm, din, H, cur + (b * T + t) * din, &w[e], h, c, g);
                    for (int64_t j = 0; j < H; j++) nxt[(b * T + t) * W + d * H + j] = h[j];
                }
                for (int64_t j = 0; j < H; j++) {
                    h_n[so + j] = h[j];
                    if (c_n) c_n[so + j] = c[j];
                }
            }
        }
        memcpy(cur, nxt, (size_t)(B * T * W) * sizeof(double));
        din = W;
    }
    memcpy(out, cur, (size_t)(B * T * W) * sizeof(double));
    free(cur), free(nxt), free(h), free(c), free(g);
    return 0;
}
