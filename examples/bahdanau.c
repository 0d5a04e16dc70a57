/* bahdanau.c: the whole attention loop of "Neural Machine Translation by Jointly Learning to Align
 * and Translate" on the device, for a batch of source sentences:
 *   1. a bidirectional GRU encoder turns the embedded source into annotations h_j [B, T, 2H];
 *   2. the annotations are projected once (W_h h_j + b) into a clattn_additive_keys handle;
 *   3. each decoder step scores the previous state s against every annotation, softmaxes over
 *      the source (masked to each sentence's length) and forms the context c; the decoder GRU
 *      cell then reads [embedding of the previous output word ; c] and updates s.
 * Everything stays on the device (step outputs are copied between buffers with
 * clEnqueueCopyBufferRect); the host only reads the alignment matrix at the end and saves it as
 * an .npy file [B, steps, T] (with the lengths), for examples/plot_alignment.py.
 *
 * The weights are random (this is a demonstration of the data flow, not a trained model), the
 * decoder is teacher-forced with random target words (so no argmax round trip is needed) and its
 * initial state is 0.
 *
 * usage: bahdanau [ALIGN.npy [LENGTHS.npy]]   (defaults: alignment.npy, lengths.npy)
 */
#include "clattn.h"
/* The context's queue is in order, so the calls and copies below need no events. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    B = 4,       /* sentences in the batch */
    T = 24,      /* longest source sentence */
    STEPS = 20,  /* decoder steps */
    VOCAB = 100, /* source and target vocabulary size */
    E = 32,      /* word embedding size */
    H = 64,      /* encoder hidden size per direction: annotations have Dk = 2H */
    DK = 2 * H,
    DS = 96, /* decoder state size */
    A = 64   /* alignment model size */
};

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(float scale) { /* uniform in [-scale, scale) */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return scale * (2.0f * (float)((rng * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f - 1.0f);
}

static cl_context g_cl;
static cl_mem buffer(size_t n, float scale) { /* n floats, random when scale > 0 */
    float *h = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = scale > 0 ? frand(scale) : 0.0f;
    cl_int err;
    cl_mem m =
        clCreateBuffer(g_cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * sizeof(float), h, &err);
    free(h);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "clCreateBuffer failed (%d)\n", err);
        exit(1);
    }
    return m;
}

/* Copies `rows` rows of `width` floats between two row-major buffers with other row lengths. */
static cl_int copy_rows(cl_command_queue q, cl_mem src, size_t src_off, size_t src_pitch,
                        cl_mem dst, size_t dst_off, size_t dst_pitch, size_t width, size_t rows) {
    const size_t so[3] = {src_off * 4, 0, 0}, dof[3] = {dst_off * 4, 0, 0},
                 region[3] = {width * 4, rows, 1};
    return clEnqueueCopyBufferRect(q, src, dst, so, dof, region, src_pitch * 4, 0, dst_pitch * 4, 0,
                                   0, NULL, NULL);
}

/* A minimal .npy writer (version 1.0, C order) for float32 and int32 arrays. */
static int save_npy(const char *path, const char *descr, const int64_t *shape, int ndim,
                    const void *data, size_t bytes) {
    char dict[256], sh[128] = "";
    for (int i = 0; i < ndim; i++)
        snprintf(sh + strlen(sh), sizeof sh - strlen(sh), "%lld,%s", (long long)shape[i],
                 i + 1 < ndim ? " " : "");
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                     descr, sh);
    int total = 10 + n + 1, pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    unsigned short hl = (unsigned short)(n + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hl & 0xff, f), fputc(hl >> 8, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    size_t w = fwrite(data, 1, bytes, f);
    return fclose(f) == 0 && w == bytes ? 0 : -1;
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        clattn_status st_ = (call);                                                                \
        if (st_ != CLATTN_SUCCESS) {                                                               \
            fprintf(stderr, "%s failed: %s: %s\n", #call, clattn_status_string(st_),               \
                    clattn_context_last_error(ctx));                                               \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv) {
    const char *align_path = argc > 1 ? argv[1] : "alignment.npy";
    const char *len_path = argc > 2 ? argv[2] : "lengths.npy";
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(NULL, &ctx);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "no OpenCL device: %s\n", clattn_status_string(st));
        return 1;
    }
    g_cl = clattn_context_cl_context(ctx);
    cl_command_queue q = clattn_context_queue(ctx);

    /* Source sentences of different lengths, embedded on the host (a table lookup). */
    const int32_t lengths[B] = {T, 17, 9, 21};
    float *src_emb = malloc(sizeof(float) * VOCAB * E), *x = calloc(B * T * E, sizeof(float));
    float *tgt_emb = malloc(sizeof(float) * VOCAB * E), *y = calloc(B * STEPS * E, sizeof(float));
    for (int i = 0; i < VOCAB * E; i++) src_emb[i] = frand(1.0f), tgt_emb[i] = frand(1.0f);
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < lengths[b]; t++)
            memcpy(x + (b * T + t) * E, src_emb + (int)((frand(0.5f) + 0.5f) * VOCAB) % VOCAB * E,
                   E * sizeof(float));
        /* Teacher forcing: the previous target word; step 0 reads a begin-of-sentence word 0. */
        for (int i = 0; i < STEPS; i++)
            memcpy(y + (b * STEPS + i) * E,
                   tgt_emb + (i == 0 ? 0 : (int)((frand(0.5f) + 0.5f) * VOCAB) % VOCAB) * E,
                   E * sizeof(float));
    }
    cl_int err;
    cl_mem xs = clCreateBuffer(g_cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                               sizeof(float) * B * T * E, x, &err);
    cl_mem ys = clCreateBuffer(g_cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                               sizeof(float) * B * STEPS * E, y, &err);
    free(x), free(y), free(src_emb), free(tgt_emb);

    /* 1. Encoder. PyTorch's init range 1/sqrt(H). */
    const float ke = 1.0f / 8.0f;
    clattn_gru_buffers fwd = {buffer(3 * H * E, ke), buffer(3 * H * H, ke), buffer(3 * H, ke),
                              buffer(3 * H, ke)};
    clattn_gru_buffers bwd = {buffer(3 * H * E, ke), buffer(3 * H * H, ke), buffer(3 * H, ke),
                              buffer(3 * H, ke)};
    cl_mem ann = buffer((size_t)B * T * DK, 0);
    clattn_gru_desc ed;
    clattn_gru_desc_init(&ed, sizeof ed);
    ed.batch = B, ed.seq = T, ed.input_dim = E, ed.hidden = H;
    CHECK(clattn_birnn_gru(ctx, &ed, xs, &fwd, &bwd, lengths, ann, 0, NULL, NULL));

    /* 2. The alignment model, projected keys computed once. */
    cl_mem wh = buffer(A * DK, 0.2f), ws = buffer(A * DS, 0.5f), v = buffer(A, 1.0f),
           bias = buffer(A, 0.1f);
    clattn_additive_desc ad;
    clattn_additive_desc_init(&ad, sizeof ad);
    ad.batch = B, ad.seq = T, ad.key_dim = DK, ad.query_dim = DS, ad.attn_dim = A;
    clattn_additive_keys *keys = NULL;
    CHECK(
        clattn_additive_keys_create(ctx, &ad, ann, wh, ws, v, bias, lengths, 0, NULL, NULL, &keys));

    /* 3. Decoder loop: attention, then the GRU cell on [y_{i-1} ; c_i]. */
    const float kd = 0.25f;
    clattn_gru_buffers dec = {buffer(3 * DS * (E + DK), kd), buffer(3 * DS * DS, kd),
                              buffer(3 * DS, kd), buffer(3 * DS, kd)};
    clattn_gru_desc dd;
    clattn_gru_desc_init(&dd, sizeof dd);
    dd.batch = B, dd.seq = 1, dd.input_dim = E + DK, dd.hidden = DS;
    cl_mem s[2] = {buffer(B * DS, 0), buffer(B * DS, 0)};
    cl_mem c = buffer(B * DK, 0), alpha = buffer(B * T, 0), xin = buffer(B * (E + DK), 0);
    cl_mem align = buffer((size_t)B * STEPS * T, 0);
    for (int i = 0; i < STEPS; i++) {
        cl_mem s_prev = s[i % 2], s_next = s[(i + 1) % 2];
        CHECK(clattn_additive_step(ctx, keys, 1, s_prev, c, alpha, 0, NULL, NULL));
        /* alignment[:, i, :] = alpha; xin = [y[:, i] ; c] */
        err = copy_rows(q, alpha, 0, T, align, (size_t)i * T, (size_t)STEPS * T, T, B);
        err |= copy_rows(q, ys, (size_t)i * E, (size_t)STEPS * E, xin, 0, E + DK, E, B);
        err |= copy_rows(q, c, 0, DK, xin, E, E + DK, DK, B);
        if (err != CL_SUCCESS) {
            fprintf(stderr, "clEnqueueCopyBufferRect failed (%d)\n", err);
            return 1;
        }
        CHECK(clattn_gru_cell(ctx, &dd, xin, i == 0 ? NULL : s_prev, &dec, s_next, 0, NULL, NULL));
    }

    float *al = malloc(sizeof(float) * B * STEPS * T);
    err =
        clEnqueueReadBuffer(q, align, CL_TRUE, 0, sizeof(float) * B * STEPS * T, al, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "reading the alignment failed (%d)\n", err);
        return 1;
    }
    /* Each row is a distribution over the sentence's own words. */
    double worst = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < STEPS; i++) {
            double sum = 0;
            for (int j = 0; j < T; j++) sum += al[(b * STEPS + i) * T + j];
            if (sum - 1.0 > worst || 1.0 - sum > worst) worst = sum > 1 ? sum - 1 : 1 - sum;
        }
    const int64_t ashape[3] = {B, STEPS, T}, lshape[1] = {B};
    if (save_npy(align_path, "<f4", ashape, 3, al, sizeof(float) * B * STEPS * T) ||
        save_npy(len_path, "<i4", lshape, 1, lengths, sizeof lengths)) {
        fprintf(stderr, "cannot write %s / %s\n", align_path, len_path);
        return 1;
    }
    printf("encoded %d sentences (lengths %d %d %d %d), decoded %d steps; rows sum to 1 within "
           "%.1e\nwrote %s [%d, %d, %d] and %s\n",
           B, lengths[0], lengths[1], lengths[2], lengths[3], STEPS, worst, align_path, B, STEPS, T,
           len_path);

    free(al);
    clattn_additive_keys_destroy(keys);
    cl_mem all[] = {xs,       ys,       ann,      wh,       ws,       v,        bias,
                    fwd.w_ih, fwd.w_hh, fwd.b_ih, fwd.b_hh, bwd.w_ih, bwd.w_hh, bwd.b_ih,
                    bwd.b_hh, dec.w_ih, dec.w_hh, dec.b_ih, dec.b_hh, s[0],     s[1],
                    c,        alpha,    xin,      align};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clReleaseMemObject(all[i]);
    clattn_context_destroy(ctx);
    return 0;
}
