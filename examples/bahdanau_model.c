/* bahdanau_model.c: loading the trained digit-reversal model (bahdanau_model.h) and decoding a
 * batch on the device: the encoder (clattn_birnn_gru), the key projection once
 * (clattn_additive_keys_create), then per step the attention (clattn_additive_step) and the
 * decoder cell (clattn_gru_cell). Between them the step's outputs are copied on the device
 * (clEnqueueCopyBufferRect, the context's queue being in order); the host reads back the new
 * state and the context to form the logits and choose the next token. */
#include "bahdanau_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *bm_read_npy(const char *dir, const char *name, clattn_npy_dtype dtype, int ndim,
                  const int64_t *want, int64_t *got) {
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    clattn_npy_array a;
    clattn_status st = dtype == CLATTN_NPY_F32 ? clattn_npy_read_f32(path, &a, err, sizeof err)
                                               : clattn_npy_read(path, &a, err, sizeof err);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "bahdanau: %s\n", err);
        return NULL;
    }
    int ok = a.dtype == dtype && a.ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = want[i] == 0 || want[i] == a.shape[i];
    if (!ok) {
        fprintf(stderr, "bahdanau: %s is %s of shape (", path, clattn_npy_dtype_descr(a.dtype));
        for (int i = 0; i < a.ndim; i++)
            fprintf(stderr, "%s%lld", i ? ", " : "", (long long)a.shape[i]);
        fprintf(stderr, "), expected %s of shape (", clattn_npy_dtype_descr(dtype));
        for (int i = 0; i < ndim; i++) {
            if (want[i])
                fprintf(stderr, "%s%lld", i ? ", " : "", (long long)want[i]);
            else
                fprintf(stderr, "%s_", i ? ", " : "");
        }
        fprintf(stderr, ")\n");
        clattn_npy_free(&a);
        return NULL;
    }
    for (int i = 0; got && i < ndim; i++) got[i] = a.shape[i];
    return a.data;
}

/* A float32 parameter. */
static float *load(const char *dir, const char *name, int ndim, const int64_t *want, int64_t *got) {
    return bm_read_npy(dir, name, CLATTN_NPY_F32, ndim, want, got);
}

static cl_mem upload(clattn_context *ctx, const float *h, int64_t n) {
    cl_int err;
    cl_mem m =
        clCreateBuffer(clattn_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                       (size_t)n * sizeof(float), (void *)h, &err);
    if (err != CL_SUCCESS) fprintf(stderr, "bahdanau: clCreateBuffer failed (%d)\n", err);
    return err == CL_SUCCESS ? m : NULL;
}

/* Loads a GRU's four tensors (PyTorch's names with `suffix`) onto the device. */
static int load_gru(clattn_context *ctx, const char *dir, const char *prefix, const char *suffix,
                    int64_t hidden, int64_t in, clattn_gru_buffers *g) {
    const char *names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    cl_mem *dst[4] = {&g->w_ih, &g->w_hh, &g->b_ih, &g->b_hh};
    const int64_t shapes[4][2] = {
        {3 * hidden, in}, {3 * hidden, hidden}, {3 * hidden}, {3 * hidden}};
    for (int i = 0; i < 4; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%s%s", prefix, names[i], suffix);
        float *h = load(dir, name, i < 2 ? 2 : 1, shapes[i], NULL);
        if (!h) return 1;
        *dst[i] = upload(ctx, h, shapes[i][0] * (i < 2 ? shapes[i][1] : 1));
        free(h);
        if (!*dst[i]) return 1;
    }
    return 0;
}

int bm_load(clattn_context *ctx, const char *dir, bm_model *m) {
    memset(m, 0, sizeof *m);
    int64_t s[2];
    /* The sizes come from the files: E from the source embedding, H and Ds from the recurrent
     * weights, A from the attention; every other shape must agree with them. */
    if (!(m->src_embed = load(dir, "src_embed.weight", 2, (int64_t[]){10, 0}, s))) goto fail;
    m->src_vocab = s[0], m->E = s[1];
    if (!(m->tgt_embed = load(dir, "tgt_embed.weight", 2, (int64_t[]){12, m->E}, s))) goto fail;
    m->tgt_vocab = s[0];
    /* H and Ds: the recurrent weights are read here for their shapes (load_gru reads them again).
     */
    int64_t rec[2][2];
    float *probe[2] = {load(dir, "encoder.weight_hh_l0", 2, (int64_t[]){0, 0}, rec[0]),
                       load(dir, "decoder.weight_hh", 2, (int64_t[]){0, 0}, rec[1])};
    const int found = probe[0] && probe[1];
    free(probe[0]), free(probe[1]);
    if (!found) goto fail;
    m->H = rec[0][1], m->Ds = rec[1][1];
    const int64_t Dk = 2 * m->H;
    if (load_gru(ctx, dir, "encoder", "_l0", m->H, m->E, &m->fwd) ||
        load_gru(ctx, dir, "encoder", "_l0_reverse", m->H, m->E, &m->bwd) ||
        load_gru(ctx, dir, "decoder", "", m->Ds, m->E + Dk, &m->dec))
        goto fail;
    float *wh = load(dir, "attn_wh.weight", 2, (int64_t[]){0, Dk}, s);
    if (!wh) goto fail;
    m->A = s[0];
    float *bh = load(dir, "attn_wh.bias", 1, (int64_t[]){m->A}, NULL);
    float *ws = load(dir, "attn_ws.weight", 2, (int64_t[]){m->A, m->Ds}, NULL);
    float *v = load(dir, "attn_v.weight", 2, (int64_t[]){1, m->A}, NULL);
    if (bh && ws && v) {
        m->wh = upload(ctx, wh, m->A * Dk), m->bh = upload(ctx, bh, m->A);
        m->ws = upload(ctx, ws, m->A * m->Ds), m->v = upload(ctx, v, m->A);
    }
    free(wh), free(bh), free(ws), free(v);
    if (!m->wh || !m->bh || !m->ws || !m->v) goto fail;
    if (!(m->w_out = load(dir, "out.weight", 2, (int64_t[]){0, m->Ds + Dk}, s))) goto fail;
    m->V = s[0];
    if (m->V != BM_EOS + 1) {
        fprintf(stderr, "bahdanau: out.weight has %lld outputs, expected %d (digits and EOS)\n",
                (long long)m->V, BM_EOS + 1);
        goto fail;
    }
    if (!(m->b_out = load(dir, "out.bias", 1, (int64_t[]){m->V}, NULL))) goto fail;
    return 0;
fail:
    bm_free(m);
    return 1;
}

void bm_free(bm_model *m) {
    free(m->src_embed), free(m->tgt_embed), free(m->w_out), free(m->b_out);
    cl_mem all[] = {m->fwd.w_ih, m->fwd.w_hh, m->fwd.b_ih, m->fwd.b_hh, m->bwd.w_ih, m->bwd.w_hh,
                    m->bwd.b_ih, m->bwd.b_hh, m->dec.w_ih, m->dec.w_hh, m->dec.b_ih, m->dec.b_hh,
                    m->wh,       m->bh,       m->ws,       m->v};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]) clReleaseMemObject(all[i]);
    memset(m, 0, sizeof *m);
}

/* Copies `rows` rows of `width` floats between two row-major buffers with other row lengths. */
static cl_int copy_rows(cl_command_queue q, cl_mem src, size_t src_off, size_t src_pitch,
                        cl_mem dst, size_t dst_off, size_t dst_pitch, size_t width, size_t rows) {
    const size_t so[3] = {src_off * 4, 0, 0}, dof[3] = {dst_off * 4, 0, 0},
                 region[3] = {width * 4, rows, 1};
    return clEnqueueCopyBufferRect(q, src, dst, so, dof, region, src_pitch * 4, 0, dst_pitch * 4, 0,
                                   0, NULL, NULL);
}

/* The device buffers of one decode; released together. */
enum { X, ANN, S0, S1, CTX, ALPHA, XIN, ALIGN, NBUF };

#define CHECK(call)                                                                                \
    do {                                                                                           \
        clattn_status st_ = (call);                                                                \
        if (st_ != CLATTN_SUCCESS) {                                                               \
            fprintf(stderr, "bahdanau: %s failed: %s: %s\n", #call, clattn_status_string(st_),     \
                    clattn_context_last_error(ctx));                                               \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)
#define CHECK_CL(call)                                                                             \
    do {                                                                                           \
        cl_int e_ = (call);                                                                        \
        if (e_ != CL_SUCCESS) {                                                                    \
            fprintf(stderr, "bahdanau: %s failed (%d)\n", #call, e_);                              \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

int bm_decode(clattn_context *ctx, const bm_model *m, int64_t B, int64_t T, const int32_t *src,
              const int32_t *lengths, int64_t steps, const int32_t *feed, int32_t *tokens,
              float *logits, float *alpha) {
    const int64_t E = m->E, Dk = 2 * m->H, Ds = m->Ds, V = m->V, Din = E + Dk;
    cl_command_queue q = clattn_context_queue(ctx);
    int rc = 1;
    cl_mem buf[NBUF] = {0};
    clattn_additive_keys *keys = NULL;
    float *host = calloc((size_t)(B * T * E + B * E + B * (Ds + Dk)), sizeof(float));
    float *x = host, *y = x + B * T * E, *sc = y + B * E; /* sc = [s_i | c_i] per row */
    const size_t sizes[NBUF] = {B * T * E, B * T * Dk, B * Ds,  B * Ds,
                                B * Dk,    B * T,      B * Din, alpha ? B * steps * T : 1};
    if (!host) {
        fprintf(stderr, "bahdanau: out of memory\n");
        return 1;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < lengths[b]; t++) {
            const int32_t d = src[b * T + t];
            if (d < 0 || d >= m->src_vocab) {
                fprintf(stderr, "bahdanau: source token %d out of range\n", d);
                goto done;
            }
            memcpy(x + (b * T + t) * E, m->src_embed + d * E, (size_t)E * sizeof(float));
        }
    for (int i = 0; i < NBUF; i++) {
        cl_int err;
        /* X holds the embedded source; the states start at 0 (x past the lengths is 0 too). */
        const int init = i == X || i == S0;
        buf[i] = clCreateBuffer(clattn_context_cl_context(ctx),
                                CL_MEM_READ_WRITE | (init ? CL_MEM_COPY_HOST_PTR : 0),
                                sizes[i] * sizeof(float), init ? (i == X ? x : sc) : NULL, &err);
        CHECK_CL(err);
    }

    /* 1. Encoder: annotations [B, T, 2H]. */
    clattn_gru_desc ed;
    clattn_gru_desc_init(&ed, sizeof ed);
    ed.batch = B, ed.seq = T, ed.input_dim = E, ed.hidden = m->H;
    CHECK(clattn_birnn_gru(ctx, &ed, buf[X], &m->fwd, &m->bwd, lengths, buf[ANN], 0, NULL, NULL));
    /* 2. Keys projected once: W_h h_j + b. */
    clattn_additive_desc ad;
    clattn_additive_desc_init(&ad, sizeof ad);
    ad.batch = B, ad.seq = T, ad.key_dim = Dk, ad.query_dim = Ds, ad.attn_dim = m->A;
    CHECK(clattn_additive_keys_create(ctx, &ad, buf[ANN], m->wh, m->ws, m->v, m->bh, lengths, 0,
                                      NULL, NULL, &keys));
    /* 3. Steps. */
    clattn_gru_desc dd;
    clattn_gru_desc_init(&dd, sizeof dd);
    dd.batch = B, dd.seq = 1, dd.input_dim = Din, dd.hidden = Ds;
    for (int64_t i = 0; i < steps; i++) {
        cl_mem s_prev = buf[i % 2 ? S1 : S0], s_next = buf[i % 2 ? S0 : S1];
        CHECK(clattn_additive_step(ctx, keys, 1, s_prev, buf[CTX], buf[ALPHA], 0, NULL, NULL));
        for (int64_t b = 0; b < B; b++) {
            int32_t tok = i == 0 ? BM_BOS
                          : feed ? feed[b * steps + i - 1]
                                 : tokens[b * steps + i - 1];
            if (tok < 0 || tok >= m->tgt_vocab) {
                fprintf(stderr, "bahdanau: decoder input token %d out of range\n", tok);
                goto done;
            }
            memcpy(y + b * E, m->tgt_embed + tok * E, (size_t)E * sizeof(float));
        }
        /* xin = [embedding of the previous token ; c_i] */
        const size_t o0[3] = {0, 0, 0}, region[3] = {(size_t)E * 4, (size_t)B, 1};
        CHECK_CL(clEnqueueWriteBufferRect(q, buf[XIN], CL_TRUE, o0, o0, region, (size_t)Din * 4, 0,
                                          (size_t)E * 4, 0, y, 0, NULL, NULL));
        CHECK_CL(copy_rows(q, buf[CTX], 0, Dk, buf[XIN], E, Din, Dk, B));
        if (alpha) CHECK_CL(copy_rows(q, buf[ALPHA], 0, T, buf[ALIGN], i * T, steps * T, T, B));
        CHECK(clattn_gru_cell(ctx, &dd, buf[XIN], s_prev, &m->dec, s_next, 0, NULL, NULL));
        /* The host reads [s_i | c_i] and forms the logits (11 x (Ds + Dk) per row). */
        const size_t h1[3] = {(size_t)Ds * 4, 0, 0}, rs[3] = {(size_t)Ds * 4, (size_t)B, 1},
                     rc_[3] = {(size_t)Dk * 4, (size_t)B, 1};
        CHECK_CL(clEnqueueReadBufferRect(q, s_next, CL_FALSE, o0, o0, rs, (size_t)Ds * 4, 0,
                                         (size_t)(Ds + Dk) * 4, 0, sc, 0, NULL, NULL));
        CHECK_CL(clEnqueueReadBufferRect(q, buf[CTX], CL_TRUE, o0, h1, rc_, (size_t)Dk * 4, 0,
                                         (size_t)(Ds + Dk) * 4, 0, sc, 0, NULL, NULL));
        for (int64_t b = 0; b < B; b++) {
            const float *in = sc + b * (Ds + Dk);
            int32_t best = 0;
            float top = 0.0f;
            for (int64_t k = 0; k < V; k++) {
                const float *w = m->w_out + k * (Ds + Dk);
                float acc = m->b_out[k];
                for (int64_t d = 0; d < Ds + Dk; d++) acc += w[d] * in[d];
                if (logits) logits[(b * steps + i) * V + k] = acc;
                if (k == 0 || acc > top) top = acc, best = (int32_t)k;
            }
            tokens[b * steps + i] = best;
        }
    }
    if (alpha)
        CHECK_CL(clEnqueueReadBuffer(q, buf[ALIGN], CL_TRUE, 0,
                                     (size_t)(B * steps * T) * sizeof(float), alpha, 0, NULL,
                                     NULL));
    rc = 0;
done:
    clFinish(q);
    clattn_additive_keys_destroy(keys);
    for (int i = 0; i < NBUF; i++)
        if (buf[i]) clReleaseMemObject(buf[i]);
    free(host);
    return rc;
}
