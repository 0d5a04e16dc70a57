/* load.c: clattn_mha_layer_load, an attention layer's weights from a folder of .npy files named
 * after the PyTorch parameters: the split form (q_proj.npy ... o_proj.npy, and q_proj_bias.npy
 * ... o_proj_bias.npy when the descriptor has biases) or nn.MultiheadAttention's packed form
 * (in_proj_weight.npy, out_proj_weight.npy, in_proj_bias.npy, out_proj_bias.npy); q_proj.npy
 * being there chooses the split form. Every file is read (float32, or float16/float64 rounded:
 * src/npy/) and its shape checked against the descriptor before the layer is created. */
#include "layer/layer_internal.h"
#include "npy/npy_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One file: its name, its shape (cols 0: a vector of `rows`), where it goes and whether the
 * descriptor asks for it. */
typedef struct {
    const char *name;
    int64_t rows, cols;
    const float **to;
    int wanted;
} weight_file;

enum { MAX_FILES = 8 };

/* DIR/NAME.npy into a new string; NULL when out of memory. */
static char *file_path(const char *dir, const char *name) {
    const size_t n = strlen(dir) + strlen(name) + 6;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s.npy", dir, name);
    return p;
}

static int file_exists(const char *dir, const char *name) {
    char *path = file_path(dir, name);
    FILE *f = path ? fopen(path, "rb") : NULL;
    free(path);
    if (f) fclose(f);
    return f != NULL;
}

/* The files of the form the folder holds, for the resolved d. Returns the count. */
static int files_of(const clattn_mha_layer_desc *d, int packed, clattn_mha_weights *w,
                    weight_file *f) {
    const int64_t E = d->embed_dim, q = d->heads * d->head_dim, k = d->kv_heads * d->head_dim;
    const int64_t v = d->kv_heads * d->head_dim_v, a = d->heads * d->head_dim_v;
    const int qb = d->has_qkv_bias != 0, ob = d->has_out_bias != 0;
    if (packed) {
        const weight_file p[4] = {{"in_proj_weight", 3 * E, E, &w->in_proj_weight, 1},
                                  {"out_proj_weight", E, E, &w->o_proj, 1},
                                  {"in_proj_bias", 3 * E, 0, &w->in_proj_bias, qb},
                                  {"out_proj_bias", E, 0, &w->o_bias, ob}};
        memcpy(f, p, sizeof p);
        return 4;
    }
    const weight_file s[8] = {
        {"q_proj", q, E, &w->q_proj, 1},       {"k_proj", k, E, &w->k_proj, 1},
        {"v_proj", v, E, &w->v_proj, 1},       {"o_proj", E, a, &w->o_proj, 1},
        {"q_proj_bias", q, 0, &w->q_bias, qb}, {"k_proj_bias", k, 0, &w->k_bias, qb},
        {"v_proj_bias", v, 0, &w->v_bias, qb}, {"o_proj_bias", E, 0, &w->o_bias, ob}};
    memcpy(f, s, sizeof s);
    return 8;
}

/* Reads one file into *a and checks its shape. */
static clattn_status read_file(clattn_context *ctx, const char *dir, const weight_file *f,
                               clattn_npy_array *a) {
    char *path = file_path(dir, f->name);
    if (!path) return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "mha layer load: host memory");
    char err[512];
    clattn_status st = clattn_npy_read_f32(path, a, err, sizeof err);
    const int ndim = f->cols ? 2 : 1;
    const int64_t want[2] = {f->rows, f->cols};
    if (st != CLATTN_SUCCESS) {
        st = clattn__fail(ctx, st, "mha layer load: %s", err);
    } else if (a->ndim != ndim || a->shape[0] != want[0] || (f->cols && a->shape[1] != want[1])) {
        char got[96], need[64];
        st = clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                          "mha layer load: %s has shape %s; the layer's descriptor needs %s", path,
                          clattn_npy_shape_str(a->ndim, a->shape, got, sizeof got),
                          clattn_npy_shape_str(ndim, want, need, sizeof need));
    }
    free(path);
    return st;
}

clattn_status clattn_mha_layer_load(clattn_context *ctx, const clattn_mha_layer_desc *desc,
                                    const char *dir, clattn_mha_layer **out) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!out || !dir)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha layer load: dir and out are required");
    *out = NULL;
    clattn_mha_layer_desc d;
    clattn_status st = clattn__mha_desc_resolve(ctx, desc, &d);
    if (st != CLATTN_SUCCESS) return st;
    const int packed = !file_exists(dir, "q_proj");
    if (packed && !file_exists(dir, "in_proj_weight"))
        return clattn__fail(ctx, CLATTN_ERROR_IO,
                            "mha layer load: %s holds neither q_proj.npy (the split form) nor "
                            "in_proj_weight.npy (nn.MultiheadAttention's packed form)",
                            dir);
    if (packed && (st = clattn__mha_packed_fits(ctx, &d)) != CLATTN_SUCCESS) return st;
    clattn_mha_weights w;
    memset(&w, 0, sizeof w);
    weight_file files[MAX_FILES];
    clattn_npy_array arrays[MAX_FILES];
    memset(arrays, 0, sizeof arrays);
    const int n = files_of(&d, packed, &w, files);
    for (int i = 0; i < n && st == CLATTN_SUCCESS; i++) {
        if (!files[i].wanted) continue;
        if ((st = read_file(ctx, dir, &files[i], &arrays[i])) == CLATTN_SUCCESS)
            *files[i].to = arrays[i].data;
    }
    if (st == CLATTN_SUCCESS) st = clattn_mha_layer_create(ctx, desc, &w, out);
    for (int i = 0; i < n; i++) clattn_npy_free(&arrays[i]);
    return st;
}
