/* clattn_rnn.h: the GRU (PyTorch's gate conventions): the bidirectional encoder of additive
 * attention and a single decoder cell, on device buffers and host arrays. Self-contained
 * (includes clattn_core.h); clattn.h includes it. The descriptor follows the struct rule at the
 * top of clattn_core.h. Float32 only: every array is float, accumulated in float.
 */
#ifndef CLATTN_RNN_H
#define CLATTN_RNN_H

#include "clattn_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PyTorch's conventions, so trained weights load as they are: w_ih [3H, Din], w_hh [3H, H], gates
 * stacked (r, z, n); b_ih, b_hh [3H];
 *   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
 *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
 * Biases may be NULL (zero).
 * clattn_gru_buffers and clattn_gru_host_weights only bundle pointers: they are frozen (never
 * change size or layout), so they carry no struct_size. */
typedef struct {
    cl_mem w_ih, w_hh, b_ih, b_hh;
} clattn_gru_buffers;
typedef struct {
    const float *w_ih, *w_hh, *b_ih, *b_hh;
} clattn_gru_host_weights;

typedef struct {
    size_t struct_size; /* set by clattn_gru_desc_init: the caller's sizeof */
    int64_t batch;      /* B */
    int64_t seq;        /* T (the encoder; the cell ignores it) */
    int64_t input_dim;  /* Din */
    int64_t hidden;     /* H */
    clattn_lengths_type lengths_type;
} clattn_gru_desc;
/* The required fields end before lengths_type, which is INT32 for a shorter caller's struct. */
#define CLATTN_GRU_DESC_MIN_SIZE offsetof(clattn_gru_desc, lengths_type)

/* Fills `size` bytes (the caller's sizeof *desc) with the defaults and sets struct_size. */
CLATTN_API clattn_status clattn_gru_desc_init(clattn_gru_desc *desc, size_t size);

/* Bidirectional encoder: x [B, T, Din] -> out [B, T, 2H] = [forward ; backward], initial states 0.
 * With lengths (host array, may be NULL), the backward direction starts at each sequence's own
 * last token and positions j >= length output 0. One GEMM per direction for the input projections
 * of all steps, then one recurrent kernel launch per step serving both directions. */
CLATTN_API clattn_status clattn_birnn_gru(clattn_context *ctx, const clattn_gru_desc *desc,
                                          cl_mem x, const clattn_gru_buffers *fwd,
                                          const clattn_gru_buffers *bwd, const void *lengths,
                                          cl_mem out, cl_uint num_wait, const cl_event *wait_list,
                                          cl_event *event);
CLATTN_API clattn_status clattn_birnn_gru_host(clattn_context *ctx, const clattn_gru_desc *desc,
                                               const float *x, const clattn_gru_host_weights *fwd,
                                               const clattn_gru_host_weights *bwd,
                                               const void *lengths, float *out);

/* One GRU cell step, for decoders: x [B, Din], h [B, H] (NULL: zeros) -> h_out [B, H]. h_out
 * must not alias h. */
CLATTN_API clattn_status clattn_gru_cell(clattn_context *ctx, const clattn_gru_desc *desc, cl_mem x,
                                         cl_mem h, const clattn_gru_buffers *w, cl_mem h_out,
                                         cl_uint num_wait, const cl_event *wait_list,
                                         cl_event *event);
CLATTN_API clattn_status clattn_gru_cell_host(clattn_context *ctx, const clattn_gru_desc *desc,
                                              const float *x, const float *h,
                                              const clattn_gru_host_weights *w, float *h_out);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_RNN_H */
