/* rope_internal.h: what clattn_rope (src/rope/rope.c) and the KV cache's rotating append
 * (src/kvcache/append.c) share: the check of the RoPE settings and the frequency table the
 * kernels take (cl/common.cl: clattn_rope_cos_sin says why it is a table of 64-bit turns). */
#ifndef CLATTN_ROPE_INTERNAL_H
#define CLATTN_ROPE_INTERNAL_H

#include "core/internal.h"

/* The largest head_dim (and rotary_dim) RoPE takes. */
#define CLATTN_ROPE_MAX_DIM 256

/* The rotation of one call: its pairs and their frequencies. */
typedef struct {
    int half; /* rotary_dim / 2: pairs rotated per head */
    int gptj; /* pairing: 1 GPT-J (2 i, 2 i + 1), 0 GPT-NeoX (i, i + half) */
    /* pair i's angle per position, position_scale * theta^(-2 i / rotary_dim) radians, as a
       64-bit binary fraction of a turn (mod 1 turn) */
    uint64_t turns[CLATTN_ROPE_MAX_DIM / 2];
} clattn_rope_table;

/* Checks the settings (`what` prefixes the message) and fills t: head_dim even 2..256,
 * rotary_dim even and 2..head_dim (0 = head_dim), theta and position_scale finite and > 0, a
 * known style, every frequency finite; else CLATTN_ERROR_INVALID_ARGUMENT. */
clattn_status clattn__rope_table(clattn_context *ctx, const char *what, int64_t head_dim,
                                 int64_t rotary_dim, clattn_rope_style style, double theta,
                                 double position_scale, clattn_rope_table *t);

/* The table on the device: ulong [half] (cl_ulong and uint64_t agree). */
clattn_status clattn__rope_upload(clattn_context *ctx, const clattn_rope_table *t, cl_mem *out);

#endif /* CLATTN_ROPE_INTERNAL_H */
