/* rnn_load.c: clattn_rnn_load, GRU/LSTM weights from a folder of .npy files named as in
 * nn.GRU / nn.LSTM's state_dict (weight_ih_l0.npy ... bias_hh_l2_reverse.npy), or with the older
 * names of `clattn birnn` (w_ih_fwd.npy ... b_hh_bwd.npy: one bidirectional GRU layer). The
 * descriptor, when not given, is read off the files; every file is checked against it (and no
 * layer or direction may be left over) before anything is created. */
#include "npy/npy_read.h"
#include "rnn/rnn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PATH_MAX_LEN = 4096 };

/* The file of one tensor (kind 0..3: w_ih, w_hh, b_ih, b_hh) of layer l, direction dir. */
static void tensor_name(int old, int kind, int64_t l, int dir, char *buf, size_t n) {
    static const char *torch[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    static const char *older[4] = {"w_ih", "w_hh", "b_ih", "b_hh"};
    if (old)
        snprintf(buf, n, "%s_%s.npy", older[kind], dir ? "bwd" : "fwd");
    else
        snprintf(buf, n, "%s_l%lld%s.npy", torch[kind], (long long)l, dir ? "_reverse" : "");
}

static int exists(const char *dir, const char *name) {
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

static int tensor_exists(const char *dir, int old, int kind, int64_t l, int d) {
    char name[64];
    tensor_name(old, kind, l, d, name, sizeof name);
    return exists(dir, name);
}

/* Reads DIR/name as float32 and checks it is [rows] (cols 0) or [rows, cols]. */
static clattn_status read_tensor(clattn_context *ctx, const char *dir, const char *name,
                                 int64_t rows, int64_t cols, clattn_npy_array *a) {
    char path[PATH_MAX_LEN], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    clattn_status st = clattn_npy_read_f32(path, a, err, sizeof err);
    if (st) return clattn__fail(ctx, st, "rnn load: %s", err);
    const int ndim = cols ? 2 : 1;
    const int64_t want[2] = {rows, cols};
    if (a->ndim != ndim || a->shape[0] != rows || (cols && a->shape[1] != cols)) {
        char got[96], need[64];
        st =
            clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH, "rnn load: %s has shape %s, expected %s",
                         path, clattn_npy_shape_str(a->ndim, a->shape, got, sizeof got),
                         clattn_npy_shape_str(ndim, want, need, sizeof need));
        clattn_npy_free(a);
    }
    return st;
}

/* The descriptor the files describe: the cell from weight_hh_l0's rows against its columns, the
 * input size from weight_ih_l0, the layers and directions from the files present. */
static clattn_status infer_desc(clattn_context *ctx, const char *dir, int old, clattn_rnn_desc *d) {
    char name[64], path[PATH_MAX_LEN], err[512];
    clattn_npy_array ih = {0}, hh = {0};
    tensor_name(old, 1, 0, 0, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    clattn_status st = clattn_npy_read_f32(path, &hh, err, sizeof err);
    if (st) return clattn__fail(ctx, st, "rnn load: %s", err);
    tensor_name(old, 0, 0, 0, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    st = clattn_npy_read_f32(path, &ih, err, sizeof err);
    if (st) {
        clattn_npy_free(&hh);
        return clattn__fail(ctx, st, "rnn load: %s", err);
    }
    const int64_t H = hh.ndim == 2 ? hh.shape[1] : 0, rows = hh.ndim == 2 ? hh.shape[0] : 0;
    d->hidden = H;
    d->input_dim = ih.ndim == 2 ? ih.shape[1] : 0;
    clattn_npy_free(&ih);
    clattn_npy_free(&hh);
    if (H < 1 || (rows != 3 * H && rows != 4 * H) || (old && rows != 3 * H))
        return clattn__fail(
            ctx, CLATTN_ERROR_SHAPE_MISMATCH, "rnn load: %s/%s is not [3H, H] (GRU)%s", dir,
            old ? "w_hh_fwd.npy" : "weight_hh_l0.npy", old ? "" : " or [4H, H] (LSTM)");
    d->cell = rows == 4 * H ? CLATTN_RNN_LSTM : CLATTN_RNN_GRU;
    d->bidirectional = old || tensor_exists(dir, 0, 0, 0, 1);
    d->num_layers = 1;
    while (!old && d->num_layers < CLATTN_RNN_MAX_LAYERS &&
           tensor_exists(dir, 0, 0, d->num_layers, 0))
        d->num_layers++;
    d->has_bias = tensor_exists(dir, old, 2, 0, 0) || tensor_exists(dir, old, 3, 0, 0);
    return CLATTN_SUCCESS;
}

clattn_status clattn_rnn_load(clattn_context *ctx, const clattn_rnn_desc *desc, const char *dir,
                              clattn_rnn **out) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!dir || !out)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rnn load: dir and out are "
                            "required");
    const int old = exists(dir, "w_ih_fwd.npy");
    if (!old && !exists(dir, "weight_ih_l0.npy"))
        return clattn__fail(ctx, CLATTN_ERROR_IO,
                            "rnn load: %s holds neither weight_ih_l0.npy (nn.GRU / nn.LSTM's "
                            "state_dict names) nor w_ih_fwd.npy (the older birnn names)",
                            dir);
    clattn_rnn_desc d;
    clattn_rnn_desc_init(&d, sizeof d);
    clattn_status st = CLATTN_SUCCESS;
    if (desc) {
        if ((st = clattn__struct_in(ctx, "clattn_rnn_desc", desc, CLATTN_RNN_DESC_MIN_SIZE, &d,
                                    sizeof d)))
            return st; /* create checks the values */
    } else if ((st = infer_desc(ctx, dir, old, &d))) {
        return st;
    }
    const int nd = d.bidirectional ? 2 : 1;
    if (old && (d.cell != CLATTN_RNN_GRU || d.num_layers != 1 || nd != 2))
        return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                            "rnn load: %s has the older names (w_ih_fwd.npy ...), which hold one "
                            "bidirectional GRU layer; the descriptor asks for %lld %s layer(s), "
                            "%d direction(s)",
                            dir, (long long)d.num_layers,
                            d.cell == CLATTN_RNN_LSTM ? "LSTM" : "GRU", nd);
    /* Files the descriptor does not account for: a deeper stack, a second direction. */
    if (!old && d.num_layers >= 1 && d.num_layers <= CLATTN_RNN_MAX_LAYERS &&
        tensor_exists(dir, 0, 0, d.num_layers, 0))
        return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                            "rnn load: %s/weight_ih_l%lld.npy exists but the descriptor has %lld "
                            "layer(s)",
                            dir, (long long)d.num_layers, (long long)d.num_layers);
    if (!old && nd == 1 && tensor_exists(dir, 0, 0, 0, 1))
        return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                            "rnn load: %s/weight_ih_l0_reverse.npy exists but the descriptor is "
                            "unidirectional",
                            dir);
    if (d.num_layers < 1 || d.num_layers > CLATTN_RNN_MAX_LAYERS || d.hidden < 1 ||
        d.hidden > CLATTN_RNN_MAX_DIM || d.input_dim < 1 || d.input_dim > CLATTN_RNN_MAX_DIM)
        return clattn_rnn_create(ctx, &d, NULL, out); /* its message names the bad field */
    const int64_t E = d.num_layers * nd, G = d.cell == CLATTN_RNN_LSTM ? 4 : 3, H = d.hidden;
    clattn_npy_array *a = calloc((size_t)E * 4, sizeof *a);
    clattn_rnn_host_weights *w = calloc((size_t)E, sizeof *w);
    if (!a || !w) st = clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "rnn load: host memory");
    for (int64_t e = 0; e < E && !st; e++) {
        const int64_t l = e / nd, din = l == 0 ? d.input_dim : nd * H;
        const int64_t cols[4] = {din, H, 0, 0};
        const float **to[4] = {&w[e].w_ih, &w[e].w_hh, &w[e].b_ih, &w[e].b_hh};
        for (int k = 0; k < 4 && !st; k++) {
            char name[64];
            tensor_name(old, k, l, (int)(e % nd), name, sizeof name);
            /* The older names allowed leaving both biases out. */
            if (k >= 2 && (!d.has_bias || (old && !exists(dir, name)))) continue;
            st = read_tensor(ctx, dir, name, G * H, cols[k], &a[e * 4 + k]);
            if (!st) *to[k] = a[e * 4 + k].data;
        }
    }
    if (!st) st = clattn_rnn_create(ctx, &d, w, out);
    for (int64_t i = 0; a && i < E * 4; i++) clattn_npy_free(&a[i]);
    free(a);
    free(w);
    return st;
}
