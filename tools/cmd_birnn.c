/* cmd_birnn.c: `clattn birnn`: the bidirectional GRU encoder on .npy files. x [B,T,Din]; DIR holds
 * PyTorch-layout weights w_ih_fwd.npy [3H,Din], w_hh_fwd.npy [3H,H], b_ih_fwd.npy and b_hh_fwd.npy
 * [3H] and the same four with _bwd (the biases may be left out, for both directions); optional
 * lengths [B] int32/int64; writes out [B,T,2H] = [forward ; backward]. */
#include "cli_util.h"
#include "commands.h"
#include "npy.h"
#include "outputs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "birnn"

static const char *const names[8] = {"w_ih_fwd", "w_hh_fwd", "b_ih_fwd", "b_hh_fwd",
                                     "w_ih_bwd", "w_hh_bwd", "b_ih_bwd", "b_hh_bwd"};

/* Loads DIR/<name>.npy as float32; a missing bias file is allowed (left empty). */
static int load_weight(const char *dir, int i, clattn_npy_array *a) {
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s.npy", dir, names[i]);
    const int is_bias = (i % 4) >= 2;
    if (is_bias && access(path, F_OK) != 0) return 0;
    if (clattn_npy_read_f32(path, a, err, sizeof err) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --weights: %s\n", CMD, err);
        return 1;
    }
    if (a->ndim != (is_bias ? 1 : 2)) {
        fprintf(stderr, "clattn %s: %s has %d dimensions, expected %d\n", CMD, path, a->ndim,
                is_bias ? 1 : 2);
        return 1;
    }
    return 0;
}

int cmd_birnn(int argc, char **argv) {
    const char *xp = NULL, *dir = NULL, *lp = NULL, *op = NULL;
    const cli_opt opts[] = {
        {"x", OPT_STRING, &xp, "input [B, T, Din] float32 (required)"},
        {"weights", OPT_STRING, &dir, "directory of w_ih/w_hh/b_ih/b_hh _fwd/_bwd .npy (required)"},
        {"lengths", OPT_STRING, &lp, "sequence lengths [B], int32 or int64, each in 1..T"},
        {"out", OPT_STRING, &op, "output [B, T, 2H] (required)"},
        {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts, "--x X.npy --weights DIR [--lengths L.npy] --out H.npy");
    if (rc) return rc == 1 ? 0 : rc;
    if (!xp) return cli_missing(CMD, "x");
    if (!dir) return cli_missing(CMD, "weights");
    if (!op) return cli_missing(CMD, "out");

    clattn_npy_array x = {0}, l = {0}, w[8];
    memset(w, 0, sizeof w);
    float *out = NULL;
    clattn_context *ctx = NULL;
    char err[512], wpath[8][4096];
    cli_outputs outs;
    cli_outputs_init(&outs, CMD);
    cli_outputs_add(&outs, "out", op);
    cli_file in[10] = {{"x", xp}, {"lengths", lp}};
    for (int i = 0; i < 8; i++) {
        snprintf(wpath[i], sizeof wpath[i], "%s/%s.npy", dir, names[i]);
        in[2 + i].opt = "weights", in[2 + i].path = wpath[i];
    }
    rc = 1;
    if (cli_outputs_check(&outs, in, 10)) goto done;
    if (clattn_npy_read_f32(xp, &x, err, sizeof err) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --x: %s\n", CMD, err);
        goto done;
    }
    if (x.ndim != 3) {
        fprintf(stderr, "clattn %s: --x %s must be [B, T, Din], not %d-dimensional\n", CMD, xp,
                x.ndim);
        goto done;
    }
    for (int i = 0; i < 8; i++)
        if (load_weight(dir, i, &w[i])) goto done;
    const int64_t B = x.shape[0], T = x.shape[1], Din = x.shape[2], H = w[1].shape[1];
    if (H > INT64_MAX / 3) { /* a zero-element w_hh may claim any H; 3 * H below must fit */
        fprintf(stderr, "clattn %s: w_hh_fwd's hidden size %lld is too large\n", CMD, (long long)H);
        goto done;
    }
    for (int i = 0; i < 8; i++) {
        const int64_t want0 = 3 * H, want1 = i % 4 == 0 ? Din : H;
        if (!w[i].data) continue; /* an absent bias */
        if (w[i].shape[0] != want0 || (w[i].ndim == 2 && w[i].shape[1] != want1)) {
            if (w[i].ndim == 2)
                fprintf(stderr, "clattn %s: %s is [%lld, %lld], expected [%lld, %lld]\n", CMD,
                        names[i], (long long)w[i].shape[0], (long long)w[i].shape[1],
                        (long long)want0, (long long)want1);
            else
                fprintf(stderr, "clattn %s: %s is [%lld], expected [%lld]\n", CMD, names[i],
                        (long long)w[i].shape[0], (long long)want0);
            goto done;
        }
    }
    clattn_gru_desc d;
    clattn_gru_desc_init(&d, sizeof d);
    d.batch = B, d.seq = T, d.input_dim = Din, d.hidden = H;
    if (lp) {
        if (clattn_npy_read(lp, &l, err, sizeof err) != CLATTN_SUCCESS) {
            fprintf(stderr, "clattn %s: --lengths: %s\n", CMD, err);
            goto done;
        }
        if ((l.dtype != CLATTN_NPY_I32 && l.dtype != CLATTN_NPY_I64) || l.ndim != 1 ||
            l.shape[0] != B) {
            fprintf(stderr, "clattn %s: --lengths %s must be int32 or int64 of shape [%lld]\n", CMD,
                    lp, (long long)B);
            goto done;
        }
        d.lengths_type = l.dtype == CLATTN_NPY_I32 ? CLATTN_LENGTHS_INT32 : CLATTN_LENGTHS_INT64;
    }
    const int64_t shape[4] = {B, T, 2, H};
    size_t obytes;
    if (cli_bytes(CMD, "the output", shape, 4, sizeof(float), &obytes)) goto done;
    if (!(out = malloc(obytes))) {
        fprintf(stderr, "clattn %s: out of host memory\n", CMD);
        goto done;
    }
    clattn_gru_host_weights f = {w[0].data, w[1].data, w[2].data, w[3].data};
    clattn_gru_host_weights bw = {w[4].data, w[5].data, w[6].data, w[7].data};
    if (!(ctx = cli_open_context())) goto done;
    clattn_status st = clattn_birnn_gru_host(ctx, &d, x.data, &f, &bw, lp ? l.data : NULL, out);
    if (st != CLATTN_SUCCESS) {
        cli_fail(CMD, ctx, st);
        goto done;
    }
    const int64_t oshape[3] = {B, T, 2 * H}; /* 2 * H fits: H <= INT64_MAX / 3 */
    if (cli_outputs_write(&outs, "out", CLATTN_NPY_F32, 3, oshape, out) ||
        cli_outputs_commit(&outs))
        goto done;
    rc = 0;
done:
    cli_outputs_free(&outs);
    clattn_context_destroy(ctx);
    free(out);
    clattn_npy_free(&x);
    clattn_npy_free(&l);
    for (int i = 0; i < 8; i++) clattn_npy_free(&w[i]);
    return rc;
}
