/* rnn_internal.h: the general RNN object (include/clattn_rnn.h's clattn_rnn) as the forward pass
 * reads it: the weights of every layer in the layouts cl/rnn.cl wants. */
#ifndef CLATTN_RNN_INTERNAL_H
#define CLATTN_RNN_INTERNAL_H

#include "core/internal.h"

/* One layer, both directions together. */
typedef struct {
    int64_t din;    /* its input width: input_dim, or ndir * H above layer 0 */
    cl_mem w_ih;    /* own_input: [ndir, Hp / U, din, G, U] as w_hh (cl/rnn.cl's rnn_input); else
                       [ndir * G * Hp, din], rows past H in each gate 0, for one GEMM into gi */
    cl_mem w_hh;    /* [ndir, Hp / U, H, G, U] (cl/rnn.cl), U = the object's units */
    cl_mem bias;    /* [ndir, Hp / U, G, U], blocked as w_hh */
    cl_mem bias_hn; /* [ndir, Hp] */
} clattn__rnn_layer;

struct clattn_rnn {
    clattn_context *ctx;
    clattn_rnn_desc d; /* full size, resolved */
    int ndir, G;
    int units;     /* hidden units per work-item block: CLATTN_RNN_UNITS (kernel_iface.h) */
    int64_t Hp;    /* H rounded up to 8 */
    int own_input; /* the input projection by rnn_input (CPU devices), not the GEMM library */
    int prefetch;  /* the recurrence prefetches W_hh (cl/rnn.cl: RNN_PREFETCH) */
    clattn__rnn_layer *layers;
};

/* Largest hidden size, input width and layer count accepted (kernel indices are int). */
#define CLATTN_RNN_MAX_DIM    (1 << 20)
#define CLATTN_RNN_MAX_LAYERS 64

/* The caller's forward descriptor, whatever its version, as a full-size struct (rnn_create.c). */
clattn_status clattn__rnn_forward_desc_in(clattn_context *ctx, const clattn_rnn_forward_desc *in,
                                          clattn_rnn_forward_desc *d);

#endif
