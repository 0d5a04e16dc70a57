/* layer_ref.h: float64 CPU reference of the attention layer of include/clattn_layer.h, for the
 * layer tests: projections with optional biases, RoPE (both pairings), MHA/GQA/MQA attention
 * with key padding and causality, the output projection. The textbook formulas one token and
 * head at a time, sharing no code with the library (RoPE is tests/ref/rope_ref.c's).
 * Self-contained: no clattn.h. */
#ifndef CLATTN_LAYER_REF_H
#define CLATTN_LAYER_REF_H

#include <stdint.h>

/* Weights in nn.Linear's [out, in] layout: wq [Hq*D, E], wk [Hkv*D, E], wv [Hkv*Dv, E],
 * wo [E, Hq*Dv]; a NULL bias is none. */
typedef struct {
    int64_t E, Hq, Hkv, D, Dv;
    const float *wq, *wk, *wv, *wo;
    const float *bq, *bk, *bv, *bo;
    double scale;      /* the softmax scale (resolved) */
    double rope_theta; /* 0: no rotation */
    int rope_gptj;     /* pairs (2i, 2i+1); else NeoX's (i, i + rope_dim/2) */
    int64_t rope_dim;  /* rotated leading dims of each head (resolved) */
    double rope_scale; /* positions are multiplied by it */
    /* The storage rounding of q, k, v (after RoPE) and of the attention output, or NULL. */
    double (*store)(double);
} layer_ref;

/* x [B, S, E] -> y [B, S, E]. Sequence b's tokens 0..len_b-1 are valid (lengths int32 [B], or
 * NULL: all S) at positions 0..len_b-1; a query sees the valid keys (and, causal, those at or
 * before it); padding rows of y are 0. Returns 0, or -1 when out of memory. */
int ref_mha_layer(const layer_ref *L, int64_t B, int64_t S, const float *x, const int32_t *lengths,
                  int causal, double *y);

#endif
