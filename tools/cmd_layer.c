/* cmd_layer.c: `clattn layer`: one attention layer (include/clattn_layer.h) on a .npy input.
 * x [B, S, E] float32 (float16/float64 converted), the weights a folder of .npy files as
 * clattn_mha_layer_load reads them (q_proj.npy ... or in_proj_weight.npy ...); the biases are
 * used when their files are there. Self-attention over each sequence, positions 0..S-1; writes
 * y [B, S, E] float32. */
#include "cli_sdpa.h"
#include "cli_util.h"
#include "commands.h"
#include "npy.h"
#include "outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "layer"

/* Whether DIR/<a>.npy or DIR/<b>.npy exists (the split or the packed name of a bias). */
static int has_file(const char *dir, const char *a, const char *b) {
    const char *names[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        const size_t n = strlen(dir) + strlen(names[i]) + 6;
        char *path = malloc(n);
        if (!path) return 0;
        snprintf(path, n, "%s/%s.npy", dir, names[i]);
        FILE *f = fopen(path, "rb");
        free(path);
        if (f) {
            fclose(f);
            return 1;
        }
    }
    return 0;
}

int cmd_layer(int argc, char **argv) {
    const char *xp = NULL, *wdir = NULL, *yp = NULL, *style = NULL, *dts = NULL;
    int64_t heads = 0, kv_heads = 0;
    double theta = 0.0;
    int causal = 0;
    const cli_opt opts[] = {
        {"x", OPT_STRING, &xp, "input [B, S, E] float32 (required)"},
        {"weights", OPT_STRING, &wdir,
         "folder of {q,k,v,o}_proj[_bias].npy or {in,out}_proj_{weight,bias}.npy (required)"},
        {"heads", OPT_INT, &heads, "query heads; E / heads is the head dim (required)"},
        {"kv-heads", OPT_INT, &kv_heads, "key/value heads, dividing heads (default: heads)"},
        {"rope-theta", OPT_FLOAT, &theta, "rotary embeddings with this base (default: none)"},
        {"rope-style", OPT_STRING, &style, "neox (default: halves pair up) or gptj (neighbours)"},
        {"causal", OPT_FLAG, &causal, "causal attention"},
        {"dtype", OPT_STRING, &dts, "f32|f16|bf16 storage of q, k, v between stages (default f32)"},
        {"out", OPT_STRING, &yp, "output y [B, S, E] float32 (required)"},
        {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts,
                       "--x X.npy --weights DIR --heads H [--kv-heads G] [--rope-theta T "
                       "[--rope-style neox|gptj]] [--causal] [--dtype f32|f16|bf16] --out Y.npy");
    if (rc) return rc == 1 ? 0 : rc;
    const char *req[4][2] = {
        {"x", xp}, {"weights", wdir}, {"heads", heads ? "" : NULL}, {"out", yp}};
    for (int i = 0; i < 4; i++)
        if (!req[i][1]) return cli_missing(CMD, req[i][0]);
    clattn_mha_layer_desc d;
    clattn_mha_layer_desc_init(&d, sizeof d);
    if (style && strcmp(style, "neox") != 0 && strcmp(style, "gptj") != 0) {
        fprintf(stderr, "clattn %s: --rope-style %s: expected neox or gptj\n", CMD, style);
        return 2;
    }
    if (style && theta == 0.0) {
        fprintf(stderr, "clattn %s: --rope-style needs --rope-theta\n", CMD);
        return 2;
    }
    if (dts && cli_sdpa_dtype(CMD, "dtype", dts, &d.dtype)) return 2;
    d.rope_theta = theta;
    d.rope_style = style && strcmp(style, "gptj") == 0 ? CLATTN_ROPE_GPTJ : CLATTN_ROPE_NEOX;

    clattn_npy_array x = {0};
    float *y = NULL;
    clattn_context *ctx = NULL;
    clattn_mha_layer *layer = NULL;
    cli_outputs outs;
    cli_outputs_init(&outs, CMD);
    cli_outputs_add(&outs, "out", yp);
    const cli_file in[1] = {{"x", xp}};
    char err[512];
    rc = 1;
    if (cli_outputs_check(&outs, in, 1)) goto done;
    if (clattn_npy_read_f32(xp, &x, err, sizeof err) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --x: %s\n", CMD, err);
        goto done;
    }
    if (x.ndim != 3 || x.shape[0] < 1 || x.shape[1] < 1 || x.shape[2] < 1) {
        fprintf(stderr,
                "clattn %s: --x %s must be [B, S, E] with every dim >= 1 (it has %d dims)\n", CMD,
                xp, x.ndim);
        goto done;
    }
    d.embed_dim = x.shape[2], d.heads = heads, d.kv_heads = kv_heads;
    d.has_qkv_bias = has_file(wdir, "q_proj_bias", "in_proj_bias");
    d.has_out_bias = has_file(wdir, "o_proj_bias", "out_proj_bias");
    size_t bytes;
    if (cli_bytes(CMD, "y", x.shape, 3, sizeof(float), &bytes)) goto done;
    if (!(y = malloc(bytes))) {
        fprintf(stderr, "clattn %s: out of host memory\n", CMD);
        goto done;
    }
    if (!(ctx = cli_open_context())) goto done;
    clattn_status st = clattn_mha_layer_load(ctx, &d, wdir, &layer);
    if (st != CLATTN_SUCCESS) {
        cli_fail(CMD, ctx, st);
        goto done;
    }
    clattn_mha_forward_desc fd;
    clattn_mha_forward_desc_init(&fd, sizeof fd);
    fd.batch = x.shape[0], fd.seq = x.shape[1], fd.causal = causal;
    if ((st = clattn_mha_layer_forward_host(layer, &fd, x.data, y)) != CLATTN_SUCCESS) {
        cli_fail(CMD, ctx, st);
        goto done;
    }
    if (cli_outputs_write(&outs, "out", CLATTN_NPY_F32, 3, x.shape, y) || cli_outputs_commit(&outs))
        goto done;
    rc = 0;
done:
    cli_outputs_free(&outs);
    clattn_mha_layer_destroy(layer);
    clattn_context_destroy(ctx);
    free(y);
    clattn_npy_free(&x);
    return rc;
}
