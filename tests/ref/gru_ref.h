/* gru_ref.h: float64 CPU reference of PyTorch's GRU: one cell step and the bidirectional encoder
 * with per-sequence lengths. Weights as in include/clattn_additive.h; biases may be NULL. */
#ifndef CLATTN_GRU_REF_H
#define CLATTN_GRU_REF_H

#include <stdint.h>

/* One step for one sequence: x [Din], h [H] (double), h_out [H]; h_out may not alias h. */
void ref_gru_cell(int64_t Din, int64_t H, const float *x, const double *h, const float *w_ih,
                  const float *w_hh, const float *b_ih, const float *b_hh, double *h_out);

/* x [B,T,Din] -> out [B,T,2H] = [fwd ; bwd]; lengths [B] int32 or NULL (all T); positions past the
 * length are 0 and the backward direction starts at each sequence's last token. 0, or -1 when out
 * of memory. */
int ref_birnn_gru(int64_t B, int64_t T, int64_t Din, int64_t H, const float *x,
                  const float *const fwd[4], const float *const bwd[4], const int32_t *lengths,
                  double *out);

#endif
