/* generate_model.h: the decoder-only model of examples/generate.c: token embedding, `layers`
 * blocks of
 *     x += attention(RMSNorm(x))          (a clattn_mha_layer, causal, RoPE, its own KV cache)
 *     x += W2 GELU(W1 RMSNorm(x))         (two CLBlast GEMMs)
 * a final RMSNorm, the LM head and a greedy argmax, all on the device, for one sequence. The
 * weights are random (seeded): the model is an MHA model, and a model with kv_heads < heads is
 * that same model converted by clattn_mha_to_gqa (the GQA paper's mean-pooling), so layouts
 * drawn with one seed are one model. */
#ifndef GENERATE_MODEL_H
#define GENERATE_MODEL_H

#include "clattn.h"

#include <stdint.h>

typedef struct {
    int64_t embed;    /* E */
    int64_t heads;    /* Hq */
    int64_t kv_heads; /* G, dividing Hq */
    int64_t head_dim; /* D (= Dv) */
    int64_t layers;
    int64_t ffn;      /* the MLP's hidden width F */
    int64_t vocab;    /* V */
    int64_t capacity; /* tokens the cache holds, and the longest sequence one call takes */
    clattn_dtype cache_dtype;
    int64_t page_size; /* 0: a contiguous cache */
    double rope_theta; /* 0: no RoPE */
    uint64_t seed;
    int profile; /* time the attention layers apart (a wait before and after each) */
} gen_config;

typedef struct gen_model gen_model;

/* Draws the weights, creates the layers, their caches (one slot each) and the buffers. Returns 0,
 * or 1 after printing why. */
int gen_model_create(clattn_context *ctx, const gen_config *c, gen_model **out);
void gen_model_destroy(gen_model *m);

/* Runs tokens[0..n-1] through the stack: with use_cache, appended to the caches after what they
 * hold (a prompt's prefill, or one decode step); without, as a whole sequence at positions
 * 0..n-1 with the caches untouched. *next gets the argmax of the last token's logits, and
 * logits (when not NULL) all V of them. Waits for the device. Returns 0 or 1 (printed). */
int gen_model_run(gen_model *m, const int32_t *tokens, int64_t n, int use_cache, int32_t *next,
                  float *logits);

/* A monotonic clock in milliseconds. */
double gen_now_ms(void);

/* With profile set: the milliseconds the last run spent in the attention layers' forwards. */
double gen_model_attention_ms(const gen_model *m);

/* Sizes for the report: the device bytes of one layer's cache pool and of all of them
 * (clattn_kv_cache_get_info), the tokens the first layer's cache holds, and the bytes of weights
 * a decode step reads (every weight once: the minimum), all of them and the attention layers'
 * (their q, k, v and o projections). */
typedef struct {
    int64_t cache_bytes_layer, cache_bytes_total, cache_tokens;
    int64_t weight_bytes, attn_weight_bytes;
} gen_sizes;
int gen_model_sizes(gen_model *m, gen_sizes *s);

#endif
