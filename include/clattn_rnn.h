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

/* ---- General RNNs: GRU or LSTM, stacked layers, one or two directions -------------------------
 * PyTorch's nn.GRU / nn.LSTM (batch_first = True, proj_size 0), so a state_dict loads as it is.
 * G = 3 gates for the GRU (r, z, n, as above), 4 for the LSTM (i, f, g, o):
 *   i = sigmoid(W_ii x + b_ii + W_hi h + b_hi), f = sigmoid(... f ...), g = tanh(... g ...),
 *   o = sigmoid(... o ...), c' = f * c + i * g, h' = o * tanh(c').
 * Layer l, direction d (0 forward, 1 backward = PyTorch's "_reverse"): w_ih [G*H, Din_l] with
 * Din_0 = input_dim and Din_l = ndir * H above, w_hh [G*H, H], b_ih and b_hh [G*H].
 * x [B, T, input_dim] -> out [B, T, ndir * H] (the last layer's [forward ; backward]); layer
 * l + 1 reads layer l's whole output. States h0, c0, h_n, c_n are [num_layers * ndir, B, H],
 * entry l * ndir + d, as PyTorch orders them.
 * Lengths (packed-sequence semantics): sequence b's valid steps are 0 .. len_b - 1; the forward
 * direction runs over them in order, the backward one from len_b - 1 down to 0; positions
 * t >= len_b output 0 in every layer, and h_n / c_n hold the state after each direction's last
 * valid step. A length of 0 is allowed (PyTorch's pack_padded_sequence refuses it): the whole
 * row of out is 0 and h_n / c_n are h0 / c0 (0 without them). */
typedef enum { CLATTN_RNN_GRU = 0, CLATTN_RNN_LSTM = 1 } clattn_rnn_cell;

/* How the recurrence runs (the input projection is always one GEMM per layer for all steps and
 * both directions). PERSISTENT: one launch per layer, one work-group per direction looping over
 * all T steps with a work-group barrier between them (co-residency within a work-group is always
 * guaranteed); STEP: one launch per step for both directions, one work-item per (direction,
 * block of 8 hidden units). Both fuse the gate arithmetic into the recurrent product and read
 * each W_hh block once per step for all batch rows. AUTO: PERSISTENT when the device is a CPU
 * with no more compute units than directions, else STEP. The environment variable
 * CLATTN_RNN_ALGO=persistent|step overrides AUTO (not an explicit choice). */
typedef enum {
    CLATTN_RNN_ALGO_AUTO = 0,
    CLATTN_RNN_ALGO_PERSISTENT = 1,
    CLATTN_RNN_ALGO_STEP = 2
} clattn_rnn_algo;

typedef struct {
    size_t struct_size;   /* set by clattn_rnn_desc_init: the caller's sizeof */
    clattn_rnn_cell cell; /* GRU (the init value) or LSTM */
    int bidirectional;    /* 1 (the init value): two directions; 0: forward only */
    int64_t input_dim;    /* Din >= 1 */
    int64_t hidden;       /* H >= 1 */
    int64_t num_layers;   /* >= 1; 1 (the init value) */
    int has_bias;         /* 1 (the init value): b_ih and b_hh given (NULL entries read as 0) */
} clattn_rnn_desc;
#define CLATTN_RNN_DESC_MIN_SIZE sizeof(clattn_rnn_desc)

CLATTN_API clattn_status clattn_rnn_desc_init(clattn_rnn_desc *desc, size_t size);

typedef struct clattn_rnn clattn_rnn;

/* Host weights of one (layer, direction), float32 row-major as above; biases may be NULL (0).
 * Frozen, like clattn_gru_host_weights. */
typedef struct {
    const float *w_ih, *w_hh, *b_ih, *b_hh;
} clattn_rnn_host_weights;

/* Creates the RNN and copies the weights to the device (in the layout its kernels read; the
 * caller's arrays are not kept). weights holds num_layers * ndir entries, entry l * ndir + d. */
CLATTN_API clattn_status clattn_rnn_create(clattn_context *ctx, const clattn_rnn_desc *desc,
                                           const clattn_rnn_host_weights *weights,
                                           clattn_rnn **out);
/* The same from a folder of .npy files (float32, or float16/float64 rounded) named as in
 * nn.GRU / nn.LSTM's state_dict: weight_ih_l{l}.npy, weight_hh_l{l}.npy, bias_ih_l{l}.npy,
 * bias_hh_l{l}.npy and the same with the suffix _reverse for the backward direction. desc may be
 * NULL: then the cell (from weight_hh_l0's rows against its columns: 3H GRU, 4H LSTM), the
 * directions, the layer count, input_dim, hidden and has_bias all come from the files. Given,
 * every file must agree with it: a missing file, a file of another shape, a layer or direction
 * more or less than desc says is CLATTN_ERROR_SHAPE_MISMATCH (or the reader's CLATTN_ERROR_IO /
 * _FORMAT) with a message naming the file. A folder with w_ih_fwd.npy (the names of `clattn
 * birnn` before the general RNN: w_ih_fwd, w_hh_fwd, b_ih_fwd, b_hh_fwd and _bwd) loads as one
 * bidirectional GRU layer. The resolved descriptor is readable with clattn_rnn_get_desc. */
CLATTN_API clattn_status clattn_rnn_load(clattn_context *ctx, const clattn_rnn_desc *desc,
                                         const char *dir, clattn_rnn **out);
/* Writes the RNN's descriptor into desc (initialised by clattn_rnn_desc_init). */
CLATTN_API clattn_status clattn_rnn_get_desc(const clattn_rnn *rnn, clattn_rnn_desc *desc);
/* Waits for the RNN's work and frees it; NULL is allowed. */
CLATTN_API void clattn_rnn_destroy(clattn_rnn *rnn);

typedef struct {
    size_t struct_size;  /* set by clattn_rnn_forward_desc_init */
    int64_t batch;       /* B >= 1 */
    int64_t seq;         /* T >= 1 */
    const void *lengths; /* host [B] (lengths_type), each 0..T, or NULL (all T); read during
                            the call */
    clattn_lengths_type lengths_type; /* INT32 (the init value) or INT64 */
    clattn_rnn_algo algo;             /* AUTO (the init value) */
} clattn_rnn_forward_desc;
#define CLATTN_RNN_FORWARD_DESC_MIN_SIZE sizeof(clattn_rnn_forward_desc)

CLATTN_API clattn_status clattn_rnn_forward_desc_init(clattn_rnn_forward_desc *desc, size_t size);

/* Enqueues the forward after the wait list on the context's queue (in-order or not); `event`
 * (may be NULL) completes with it. x [B, T, Din], out [B, T, ndir * H]; h0, c0 (NULL: zeros)
 * and h_n, c_n (NULL: not written) [num_layers * ndir, B, H]; c0 and c_n only with the LSTM
 * (given to a GRU: CLATTN_ERROR_INVALID_ARGUMENT). Outputs must not alias each other or the
 * inputs. A refused call changes nothing. */
CLATTN_API clattn_status clattn_rnn_forward(clattn_rnn *rnn, const clattn_rnn_forward_desc *desc,
                                            cl_mem x, cl_mem h0, cl_mem c0, cl_mem out, cl_mem h_n,
                                            cl_mem c_n, cl_uint num_wait, const cl_event *wait_list,
                                            cl_event *event);
/* The same on host arrays; synchronous. */
CLATTN_API clattn_status clattn_rnn_forward_host(clattn_rnn *rnn,
                                                 const clattn_rnn_forward_desc *desc,
                                                 const float *x, const float *h0, const float *c0,
                                                 float *out, float *h_n, float *c_n);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_RNN_H */
