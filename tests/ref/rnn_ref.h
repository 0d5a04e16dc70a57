/* rnn_ref.h: float64 CPU reference of PyTorch's nn.GRU / nn.LSTM (batch_first, stacked layers,
 * one or two directions, packed-sequence lengths, initial states), as include/clattn_rnn.h
 * defines them. */
#ifndef CLATTN_RNN_REF_H
#define CLATTN_RNN_REF_H

#include <stdint.h>

/* One (layer, direction)'s weights: w_ih [G*H, Din_l], w_hh [G*H, H], biases [G*H] or NULL. */
typedef struct {
    const float *w_ih, *w_hh, *b_ih, *b_hh;
} ref_rnn_weights;

/* lstm 0: GRU (G = 3), 1: LSTM (G = 4). x [B, T, Din]; w [L * ndir]; lengths [B] (0..T) or
 * NULL; h0, c0 [L * ndir, B, H] or NULL (zeros). Writes out [B, T, ndir * H], h_n and c_n
 * [L * ndir, B, H] (c_n may be NULL). 0, or -1 when out of memory. */
int ref_rnn(int lstm, int64_t L, int ndir, int64_t B, int64_t T, int64_t Din, int64_t H,
            const float *x, const ref_rnn_weights *w, const int32_t *lengths, const float *h0,
            const float *c0, double *out, double *h_n, double *c_n);

#endif
