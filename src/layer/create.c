/* create.c: the attention layer's creation from host weights in either PyTorch layout (split
 * q/k/v/o projections or nn.MultiheadAttention's packed in_proj_weight) and its destruction.
 * Both layouts become the same device matrices (layer_internal.h: the projection layout), so
 * the forward pass has one form. */
#include "core/linear.h"
#include "layer/layer_internal.h"

#include <stdlib.h>
#include <string.h>

clattn_status clattn__mha_layout(clattn_context *ctx, const clattn_mha_layer_desc *d,
                                 int64_t *off_k, int64_t *off_v, int64_t *ld) {
    cl_uint bits = 0;
    cl_int err =
        clGetDeviceInfo(ctx->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof bits, &bits, NULL);
    if (err != CL_SUCCESS)
        return clattn__cl_fail(ctx, err,
                               "mha layer: clGetDeviceInfo(CL_DEVICE_MEM_BASE_ADDR_ALIGN) failed");
    /* in 16-bit elements, so the same offsets serve float32 and the 16-bit storage types */
    const int64_t unit = bits >= 32 ? (int64_t)bits / 16 : 1;
    const int64_t q = d->heads * d->head_dim, k = d->kv_heads * d->head_dim;
    const int64_t v = d->kv_heads * d->head_dim_v; /* each below 2^31 * 256 */
    *off_k = (q + unit - 1) / unit * unit;
    *off_v = *off_k + (k + unit - 1) / unit * unit;
    /* the row padded too: CLBlast copies a weight matrix whose width is not a multiple of its
     * tile on every call (a GEMM of 64 x 3070 x 2048 took 1.8-2.3x the time of 64 x 3072) */
    *ld = *off_v + (v + unit - 1) / unit * unit;
    return CLATTN_SUCCESS;
}

clattn_status clattn__mha_packed_fits(clattn_context *ctx, const clattn_mha_layer_desc *d) {
    if (d->kv_heads != d->heads || d->heads * d->head_dim != d->embed_dim ||
        d->head_dim_v != d->head_dim)
        return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                            "mha layer: the packed in_proj_weight [3 E, E] holds an MHA layer "
                            "with heads * head_dim = E and head_dim_v = head_dim; this one "
                            "has E %lld, heads %lld, kv_heads %lld, head_dim %lld, head_dim_v "
                            "%lld",
                            (long long)d->embed_dim, (long long)d->heads, (long long)d->kv_heads,
                            (long long)d->head_dim, (long long)d->head_dim_v);
    return CLATTN_SUCCESS;
}

clattn_status clattn__mha_weights_form(clattn_context *ctx, const clattn_mha_layer_desc *d,
                                       const clattn_mha_weights *w, int *packed) {
    if (!w) return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "mha layer: weights is NULL");
    *packed = w->q_proj == NULL;
    const int qkv_bias = d->has_qkv_bias != 0, out_bias = d->has_out_bias != 0;
    if (*packed) {
        if (!w->in_proj_weight || !w->o_proj || (qkv_bias && !w->in_proj_bias) ||
            (out_bias && !w->o_bias))
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "mha layer: the packed weights need in_proj_weight and o_proj%s%s "
                                "(q_proj is NULL, so the split form is not used)",
                                qkv_bias ? ", in_proj_bias" : "", out_bias ? ", o_bias" : "");
        return clattn__mha_packed_fits(ctx, d);
    }
    if (!w->k_proj || !w->v_proj || !w->o_proj ||
        (qkv_bias && (!w->q_bias || !w->k_bias || !w->v_bias)) || (out_bias && !w->o_bias))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha layer: the split weights need q_proj, k_proj, v_proj and "
                            "o_proj%s%s",
                            qkv_bias ? ", q_bias, k_bias, v_bias" : "", out_bias ? ", o_bias" : "");
    return CLATTN_SUCCESS;
}

/* Where element (i, j) of a [k, n] device weight matrix (in, out) lives: row-major, or with
 * panels (clattn__linear_panel(l->lanes) columns, layer_internal.h) in panel j / panel, its row
 * i, column j % panel. */
static int64_t w_at(int64_t panel, int64_t k, int64_t n, int64_t i, int64_t j) {
    return panel ? ((j / panel) * k + i) * panel + j % panel : i * n + j;
}

/* Columns a [k, n] device weight matrix takes: n, or with panels n rounded up to whole panels
 * (the padding columns zero). */
static int64_t w_cols(int64_t panel, int64_t n) {
    return panel ? (n + panel - 1) / panel * panel : n;
}

/* src [rows, cols] transposed into columns at..at+rows-1 of dst [cols, ld] (laid out as w_at). */
static void transpose_into(float *dst, int64_t panel, int64_t ld, int64_t at, const float *src,
                           int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dst[w_at(panel, cols, ld, c, at + r)] = src[r * cols + c];
}

/* A zeroed host matrix [rows, cols] for `what` into *m (a checked size). */
static clattn_status host_matrix(clattn_context *ctx, int64_t rows, int64_t cols, const char *what,
                                 float **m) {
    int64_t n = 0;
    if (clattn__mul64(rows, cols, &n) || n > INT64_MAX / (int64_t)sizeof(float))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW, "mha layer: the %s [%lld, %lld] overflow",
                            what, (long long)rows, (long long)cols);
    if (!(*m = calloc((size_t)(n ? n : 1), sizeof **m)))
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                            "mha layer: %lld bytes of host memory for the %s",
                            (long long)n * (int64_t)sizeof **m, what);
    return CLATTN_SUCCESS;
}

/* Uploads Wq, Wk, Wv of w (either form) stacked and transposed into [E, ld] (laid out as w_at),
 * zeros in the gaps, and their biases likewise into [ld]: the same placement, with a "row" of 1
 * and no panels. */
static clattn_status upload_qkv(clattn_mha_layer *l, const clattn_mha_weights *w, int packed) {
    clattn_context *ctx = l->ctx;
    const int64_t E = l->E;
    const float *wsrc[3] = {w->q_proj, w->k_proj, w->v_proj};
    const float *bsrc[3] = {w->q_bias, w->k_bias, w->v_bias};
    if (packed) /* [3 E, E] is Wq, Wk, Wv stacked; [3 E] the biases */
        for (int i = 0; i < 3; i++) {
            wsrc[i] = w->in_proj_weight + i * E * E;
            bsrc[i] = w->in_proj_bias ? w->in_proj_bias + i * E : NULL;
        }
    const int64_t at[3] = {0, l->off_k, l->off_v};
    const int64_t rows[3] = {l->Hq * l->D, l->Hkv * l->D, l->Hkv * l->Dv};
    const int nmat = l->d.has_qkv_bias ? 2 : 1;
    clattn_status st = CLATTN_SUCCESS;
    for (int m = 0; m < nmat && st == CLATTN_SUCCESS; m++) {
        const int64_t cols = m ? 1 : E,
                      panel = m ? 0 : clattn__linear_panel(l->lanes); /* biases stay a row */
        const int64_t width = w_cols(panel, l->ld);
        float *host = NULL;
        if ((st = host_matrix(ctx, cols, width, m ? "q/k/v biases" : "q/k/v weights", &host)))
            return st;
        for (int i = 0; i < 3; i++)
            transpose_into(host, panel, l->ld, at[i], m ? bsrc[i] : wsrc[i], rows[i], cols);
        st = clattn__upload(ctx, host, cols * width * (int64_t)sizeof *host,
                            m ? "mha layer q/k/v biases" : "mha layer q/k/v weights",
                            m ? &l->b_qkv : &l->w_qkv);
        free(host);
    }
    return st;
}

/* Uploads Wo [E, Hq * Dv] transposed into [Hq * Dv, E] (laid out as w_at). */
static clattn_status upload_out(clattn_mha_layer *l, const float *o_proj) {
    const int64_t a = l->Hq * l->Dv, panel = clattn__linear_panel(l->lanes);
    const int64_t width = w_cols(panel, l->E);
    float *host = NULL;
    clattn_status st = host_matrix(l->ctx, a, width, "output weights", &host);
    if (st != CLATTN_SUCCESS) return st;
    transpose_into(host, panel, l->E, 0, o_proj, l->E, a);
    st = clattn__upload(l->ctx, host, a * width * (int64_t)sizeof *host, "mha layer output weights",
                        &l->w_o);
    free(host);
    return st;
}

clattn_status clattn_mha_layer_create(clattn_context *ctx, const clattn_mha_layer_desc *desc,
                                      const clattn_mha_weights *weights, clattn_mha_layer **out) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!out) return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "mha layer: out is NULL");
    *out = NULL;
    clattn_mha_layer_desc d;
    int packed = 0;
    clattn_status st = clattn__mha_desc_resolve(ctx, desc, &d);
    if (st == CLATTN_SUCCESS) st = clattn__mha_weights_form(ctx, &d, weights, &packed);
    if (st != CLATTN_SUCCESS) return st;
    clattn_mha_layer *l = calloc(1, sizeof *l);
    if (!l) return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "mha layer: host memory");
    l->ctx = ctx;
    l->d = d;
    l->E = d.embed_dim, l->Hq = d.heads, l->Hkv = d.kv_heads, l->D = d.head_dim;
    l->Dv = d.head_dim_v;
    l->lanes = clattn__linear_lanes(ctx);
    if ((st = clattn__mha_layout(ctx, &d, &l->off_k, &l->off_v, &l->ld)) ||
        (st = upload_qkv(l, weights, packed)) || (st = upload_out(l, weights->o_proj)) ||
        (d.has_out_bias && (st = clattn__upload(ctx, weights->o_bias, l->E * (int64_t)sizeof(float),
                                                "mha layer output bias", &l->b_o)))) {
        clattn_mha_layer_destroy(l);
        return st;
    }
    *out = l;
    return CLATTN_SUCCESS;
}

void clattn_mha_layer_destroy(clattn_mha_layer *layer) {
    if (!layer) return;
    /* Work enqueued with the layer's weights holds them until it is done; waiting here keeps
     * the promise that destroy returns after the layer's work. */
    clFinish(layer->ctx->queue);
    clattn__release_mem(&layer->w_qkv);
    clattn__release_mem(&layer->b_qkv);
    clattn__release_mem(&layer->w_o);
    clattn__release_mem(&layer->b_o);
    free(layer);
}
