/* bahdanau_model.h: the trained digit-reversal encoder-decoder of examples/train_bahdanau.py,
 * loaded from its .npy files (PyTorch's state_dict names) and run on the device with clattn:
 * bidirectional GRU encoder, additive attention, GRU decoder cell; the 11-way output projection
 * and the greedy choice run on the host, which must see each chosen token anyway to embed it.
 *
 * Tokens: source digits 0-9; output digits 0-9 and EOS (10); the decoder's first input is BOS
 * (11). Step i attends with the state before it, s_{i-1} (s_0 = 0), then
 *   s_i = GRUCell([tgt_embed(y_{i-1}) ; c_i], s_{i-1}),  logits_i = W_o [s_i ; c_i] + b_o. */
#ifndef BAHDANAU_MODEL_H
#define BAHDANAU_MODEL_H

#include "clattn.h"
#include "npy/npy_read.h"

#include <stdint.h>

enum { BM_EOS = 10, BM_BOS = 11 };

typedef struct {
    int64_t E, H, Ds, A,
        V; /* embedding, encoder hidden per direction, decoder, attention, outputs */
    int64_t src_vocab, tgt_vocab;
    /* host copies: the embeddings and the output projection run on the host */
    float *src_embed, *tgt_embed, *w_out, *b_out;
    /* device copies */
    clattn_gru_buffers fwd, bwd, dec;
    cl_mem wh, bh, ws, v;
} bm_model;

/* Reads DIR/NAME.npy, which must hold `dtype` (float32: float16 and float64 files are converted)
 * with `ndim` dimensions equal to want[] (0: any; the file's shape goes to got[] when not NULL).
 * Returns the malloc'ed data, or NULL after a message on stderr naming the file. */
void *bm_read_npy(const char *dir, const char *name, clattn_npy_dtype dtype, int ndim,
                  const int64_t *want, int64_t *got);

/* Reads DIR/<name>.npy for every parameter, checks the shapes against each other and uploads
 * the device parts. Returns 0, or 1 after a message on stderr (the model is then freed). */
int bm_load(clattn_context *ctx, const char *dir, bm_model *m);
void bm_free(bm_model *m);

/* Decodes B sources src [B, T] (int32 digits, positions >= lengths[b] ignored) for `steps` steps.
 * With `feed` [B, steps] (may be NULL) the input of step i > 0 is feed[:, i-1] rather than the
 * previous greedy choice (to follow another implementation's path). Writes tokens [B, steps]
 * (greedy choices) and, when not NULL, logits [B, steps, V] and alpha [B, steps, T]. Returns 0,
 * or 1 after a message on stderr. */
int bm_decode(clattn_context *ctx, const bm_model *m, int64_t B, int64_t T, const int32_t *src,
              const int32_t *lengths, int64_t steps, const int32_t *feed, int32_t *tokens,
              float *logits, float *alpha);

#endif
