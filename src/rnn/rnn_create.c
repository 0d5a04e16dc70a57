/* rnn_create.c: the general RNN's descriptors and object: checks, and the host-side packing of
 * PyTorch's weights into the layouts of cl/rnn.cl (W_ih with each gate padded to Hp rows, W_hh
 * in blocks of CLATTN_RNN_UNITS hidden units, the biases summed where the cell allows). */
#include "rnn/rnn_internal.h"
#include "kernel_iface.h"

#include <stdlib.h>
#include <string.h>

static void desc_defaults(clattn_rnn_desc *d) {
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->cell = CLATTN_RNN_GRU;
    d->bidirectional = 1;
    d->num_layers = 1;
    d->has_bias = 1;
}

clattn_status clattn_rnn_desc_init(clattn_rnn_desc *desc, size_t size) {
    clattn_rnn_desc d;
    desc_defaults(&d);
    return clattn__desc_init(desc, size, CLATTN_RNN_DESC_MIN_SIZE, &d, sizeof d);
}

static void fwd_defaults(clattn_rnn_forward_desc *d) {
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->lengths_type = CLATTN_LENGTHS_INT32;
    d->algo = CLATTN_RNN_ALGO_AUTO;
}

clattn_status clattn_rnn_forward_desc_init(clattn_rnn_forward_desc *desc, size_t size) {
    clattn_rnn_forward_desc d;
    fwd_defaults(&d);
    return clattn__desc_init(desc, size, CLATTN_RNN_FORWARD_DESC_MIN_SIZE, &d, sizeof d);
}

clattn_status clattn__rnn_forward_desc_in(clattn_context *ctx, const clattn_rnn_forward_desc *in,
                                          clattn_rnn_forward_desc *d) {
    fwd_defaults(d);
    return clattn__struct_in(ctx, "clattn_rnn_forward_desc", in, CLATTN_RNN_FORWARD_DESC_MIN_SIZE,
                             d, sizeof *d);
}

/* The caller's descriptor, checked, into d. */
static clattn_status desc_in(clattn_context *ctx, const clattn_rnn_desc *in, clattn_rnn_desc *d) {
    desc_defaults(d);
    clattn_status st =
        clattn__struct_in(ctx, "clattn_rnn_desc", in, CLATTN_RNN_DESC_MIN_SIZE, d, sizeof *d);
    if (st) return st;
    if (d->cell != CLATTN_RNN_GRU && d->cell != CLATTN_RNN_LSTM)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rnn: cell %d is neither CLATTN_RNN_GRU nor CLATTN_RNN_LSTM",
                            (int)d->cell);
    if (d->bidirectional != 0 && d->bidirectional != 1)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rnn: bidirectional = %d is not 0/1", d->bidirectional);
    const int64_t v[3] = {d->input_dim, d->hidden, d->num_layers};
    const int64_t hi[3] = {CLATTN_RNN_MAX_DIM, CLATTN_RNN_MAX_DIM, CLATTN_RNN_MAX_LAYERS};
    static const char *names[3] = {"input_dim", "hidden", "num_layers"};
    for (int i = 0; i < 3; i++)
        if (v[i] < 1 || v[i] > hi[i])
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "rnn: %s = %lld must be in 1..%lld", names[i], (long long)v[i],
                                (long long)hi[i]);
    return CLATTN_SUCCESS;
}

clattn_status clattn_rnn_get_desc(const clattn_rnn *rnn, clattn_rnn_desc *desc) {
    if (!rnn || !desc) return CLATTN_ERROR_INVALID_ARGUMENT;
    size_t size;
    memcpy(&size, desc, sizeof size);
    if (size < CLATTN_RNN_DESC_MIN_SIZE || size > CLATTN_MAX_STRUCT_SIZE)
        return clattn__fail(rnn->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_rnn_get_desc: struct_size %zu (use clattn_rnn_desc_init)",
                            size);
    clattn__struct_out(desc, size, &rnn->d, sizeof rnn->d);
    memcpy(desc, &size, sizeof size);
    return CLATTN_SUCCESS;
}

void clattn_rnn_destroy(clattn_rnn *rnn) {
    if (!rnn) return;
    if (rnn->ctx) clFinish(rnn->ctx->queue);
    for (int64_t l = 0; rnn->layers && l < rnn->d.num_layers; l++) {
        clattn__rnn_layer *L = &rnn->layers[l];
        clattn__release_mem(&L->w_ih);
        clattn__release_mem(&L->w_hh);
        clattn__release_mem(&L->bias);
        clattn__release_mem(&L->bias_hn);
    }
    free(rnn->layers);
    free(rnn);
}

/* Packs and uploads one layer: w[dir] are its directions' host weights. */
static clattn_status pack_layer(clattn_rnn *r, const clattn_rnn_host_weights *w,
                                clattn__rnn_layer *L) {
    const int64_t H = r->d.hidden, Hp = r->Hp, G = r->G, nd = r->ndir, din = L->din, U = r->units;
    const int gru = r->d.cell == CLATTN_RNN_GRU;
    const size_t n_ih = (size_t)(nd * G * Hp * din), n_hh = (size_t)(nd * Hp * H * G);
    float *ih = calloc(n_ih, sizeof(float)), *hh = calloc(n_hh, sizeof(float));
    float *bias = calloc((size_t)(nd * G * Hp), sizeof(float));
    float *bhn = calloc((size_t)(nd * Hp), sizeof(float));
    clattn_status st = CLATTN_SUCCESS;
    if (!ih || !hh || !bias || !bhn)
        st = clattn__fail(r->ctx, CLATTN_ERROR_OUT_OF_MEMORY, "rnn: host memory for packing");
    for (int64_t dir = 0; dir < nd && !st; dir++) {
        const clattn_rnn_host_weights *wd = &w[dir];
        for (int64_t g = 0; g < G; g++)
            for (int64_t j = 0; j < H; j++) {
                const int64_t row = g * H + j; /* PyTorch's row of this gate and unit */
                if (r->own_input) {
                    float *di = ih + ((dir * (Hp / U) + j / U) * din * G + g) * U + j % U;
                    for (int64_t k = 0; k < din; k++) di[k * G * U] = wd->w_ih[row * din + k];
                } else {
                    memcpy(ih + ((dir * G + g) * Hp + j) * din, wd->w_ih + row * din,
                           (size_t)din * sizeof(float));
                }
                /* [dir][jb][k][g][lane] */
                float *dst = hh + ((dir * (Hp / U) + j / U) * H * G + g) * U + j % U;
                for (int64_t k = 0; k < H; k++) dst[k * G * U] = wd->w_hh[row * H + k];
                float b = 0.0f;
                if (r->d.has_bias && wd->b_ih) b += wd->b_ih[row];
                if (r->d.has_bias && wd->b_hh) {
                    if (gru && g == 2)
                        bhn[dir * Hp + j] = wd->b_hh[row]; /* inside r * (...) */
                    else
                        b += wd->b_hh[row];
                }
                bias[((dir * (Hp / U) + j / U) * G + g) * U + j % U] = b; /* as a W_hh block */
            }
    }
    if (!st) st = clattn__upload(r->ctx, ih, (int64_t)n_ih * 4, "rnn w_ih", &L->w_ih);
    if (!st) st = clattn__upload(r->ctx, hh, (int64_t)n_hh * 4, "rnn w_hh", &L->w_hh);
    if (!st) st = clattn__upload(r->ctx, bias, nd * G * Hp * 4, "rnn bias", &L->bias);
    if (!st) st = clattn__upload(r->ctx, bhn, nd * Hp * 4, "rnn bias_hn", &L->bias_hn);
    free(ih);
    free(hh);
    free(bias);
    free(bhn);
    return st;
}

clattn_status clattn_rnn_create(clattn_context *ctx, const clattn_rnn_desc *desc,
                                const clattn_rnn_host_weights *weights, clattn_rnn **out) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_rnn_desc d;
    clattn_status st = desc_in(ctx, desc, &d);
    if (st) return st;
    if (!out || !weights)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rnn create: weights and out are required");
    const int nd = d.bidirectional ? 2 : 1, G = d.cell == CLATTN_RNN_LSTM ? 4 : 3;
    const int64_t Hp = (d.hidden + 7) / 8 * 8;
    /* The largest arrays: gi rows (checked per call) and the packed weights. */
    const int64_t din_max = d.input_dim > nd * d.hidden ? d.input_dim : nd * d.hidden;
    const int64_t f1[4] = {nd, G, Hp, din_max}, f2[4] = {nd, G, Hp, d.hidden};
    int64_t n;
    if (clattn__prod64(f1, 4, &n) || clattn__mul64(n, 4, &n) || (uint64_t)n > SIZE_MAX ||
        clattn__prod64(f2, 4, &n) || clattn__mul64(n, 4, &n) || (uint64_t)n > SIZE_MAX)
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW, "rnn create: the weights' sizes overflow");
    for (int64_t i = 0; i < d.num_layers * nd; i++)
        if (!weights[i].w_ih || !weights[i].w_hh)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "rnn create: weights[%lld] (layer %lld, direction %lld) needs w_ih "
                                "and w_hh",
                                (long long)i, (long long)(i / nd), (long long)(i % nd));
    clattn_rnn *r = calloc(1, sizeof *r);
    if (r) r->layers = calloc((size_t)d.num_layers, sizeof *r->layers);
    if (!r || !r->layers) {
        if (r) free(r);
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "rnn create: host memory");
    }
    r->ctx = ctx, r->d = d, r->ndir = nd, r->G = G, r->Hp = Hp;
    r->units = CLATTN_RNN_UNITS(d.cell == CLATTN_RNN_LSTM);
    /* On CPU devices the register-blocked rnn_input kernel ran the input projection about 1.5x
     * faster per core than CLBlast's GEMM (B=32, T=50, 512 -> 2 x 3 x 512, one PoCL thread,
     * process CPU time) and without its copy kernels; CLATTN_RNN_INPUT=gemm|kernel overrides. */
    const char *env = getenv("CLATTN_RNN_INPUT");
    r->own_input = env && !strcmp(env, "gemm")     ? 0
                   : env && !strcmp(env, "kernel") ? 1
                                                   : (ctx->caps.type & CL_DEVICE_TYPE_CPU) != 0;
    /* Software prefetch (cl/rnn.cl: RNN_PREFETCH_LINE) where the device runs it (internal.h). */
    r->prefetch = ctx->host_prefetch;
    for (int64_t l = 0; l < d.num_layers && !st; l++) {
        r->layers[l].din = l == 0 ? d.input_dim : nd * d.hidden;
        st = pack_layer(r, weights + l * nd, &r->layers[l]);
    }
    if (st) {
        clattn_rnn_destroy(r);
        return st;
    }
    *out = r;
    return CLATTN_SUCCESS;
}
