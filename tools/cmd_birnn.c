/* cmd_birnn.c: `clattn birnn`: a GRU or LSTM encoder (include/clattn_rnn.h: stacked layers, one or
 * two directions) on .npy files. x [B, T, Din]; DIR holds the weights as nn.GRU / nn.LSTM's
 * state_dict names them (weight_ih_l0.npy, weight_hh_l0.npy, bias_ih_l0.npy, bias_hh_l0.npy,
 * the same with _reverse, then _l1 ...) or with the older names of one bidirectional GRU layer
 * (w_ih_fwd.npy, w_hh_fwd.npy, b_ih_fwd.npy, b_hh_fwd.npy and _bwd; the biases may be left out
 * for both directions). The cell, layers and directions are read off the files; --cell,
 * --layers and --unidirectional, when given, must agree with them. Optional lengths [B]
 * int32/int64 (each 0..T), h0 and c0 [layers * directions, B, H]; writes out [B, T, dirs * H]
 * and, when asked, h_n and c_n. */
#include "cli_util.h"
#include "commands.h"
#include "npy.h"
#include "outputs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "birnn"

/* Reads a float32 state file of shape [E, B, H] into a (opt names it in messages). */
static int load_state(const char *opt, const char *path, int64_t E, int64_t B, int64_t H,
                      clattn_npy_array *a) {
    char err[512];
    if (!path) return 0;
    if (clattn_npy_read_f32(path, a, err, sizeof err) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --%s: %s\n", CMD, opt, err);
        return 1;
    }
    if (a->ndim != 3 || a->shape[0] != E || a->shape[1] != B || a->shape[2] != H) {
        fprintf(stderr,
                "clattn %s: --%s %s must be [%lld, %lld, %lld] (layers * directions, B, H)\n", CMD,
                opt, path, (long long)E, (long long)B, (long long)H);
        return 1;
    }
    return 0;
}

/* The files' description against --cell, --layers and --unidirectional. */
static int check_shape_options(const clattn_rnn_desc *d, const char *cell, int64_t layers, int uni,
                               const char *dir) {
    const char *has = d->cell == CLATTN_RNN_LSTM ? "lstm" : "gru";
    if (cell && strcmp(cell, has)) {
        fprintf(stderr, "clattn %s: --cell %s, but the weights in %s are an %s\n", CMD, cell, dir,
                has);
        return 1;
    }
    if (layers && layers != d->num_layers) {
        fprintf(stderr, "clattn %s: --layers %lld, but %s holds %lld layer(s)\n", CMD,
                (long long)layers, dir, (long long)d->num_layers);
        return 1;
    }
    if (uni && d->bidirectional) {
        fprintf(stderr, "clattn %s: --unidirectional, but %s holds the _reverse direction\n", CMD,
                dir);
        return 1;
    }
    return 0;
}

int cmd_birnn(int argc, char **argv) {
    const char *xp = NULL, *dir = NULL, *lp = NULL, *op = NULL, *h0p = NULL, *c0p = NULL;
    const char *hnp = NULL, *cnp = NULL, *cell = NULL, *algo_s = "auto";
    int64_t layers = 0;
    int uni = 0;
    const cli_opt opts[] = {
        {"x", OPT_STRING, &xp, "input [B, T, Din] float32 (required)"},
        {"weights", OPT_STRING, &dir,
         "directory of weight_ih_l0.npy ... (nn.GRU/nn.LSTM names) or w_ih_fwd.npy ... (required)"},
        {"cell", OPT_STRING, &cell, "gru or lstm: checked against the weights"},
        {"layers", OPT_INT, &layers, "layer count: checked against the weights"},
        {"unidirectional", OPT_FLAG, &uni, "forward only: checked against the weights"},
        {"lengths", OPT_STRING, &lp, "sequence lengths [B], int32 or int64, each in 0..T"},
        {"h0", OPT_STRING, &h0p, "initial hidden states [layers * dirs, B, H]"},
        {"c0", OPT_STRING, &c0p, "initial cell states [layers * dirs, B, H] (LSTM)"},
        {"out", OPT_STRING, &op, "output [B, T, dirs * H] (required)"},
        {"h-n", OPT_STRING, &hnp, "write the final hidden states [layers * dirs, B, H]"},
        {"c-n", OPT_STRING, &cnp, "write the final cell states [layers * dirs, B, H] (LSTM)"},
        {"algo", OPT_STRING, &algo_s, "recurrence: auto (default), persistent or step"},
        {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts,
                       "--x X.npy --weights DIR [--cell gru|lstm] [--layers N] [--lengths L.npy] "
                       "[--h0 H0.npy] [--c0 C0.npy] --out H.npy [--h-n HN.npy] [--c-n CN.npy]");
    if (rc) return rc == 1 ? 0 : rc;
    if (!xp) return cli_missing(CMD, "x");
    if (!dir) return cli_missing(CMD, "weights");
    if (!op) return cli_missing(CMD, "out");
    if (cell && strcmp(cell, "gru") && strcmp(cell, "lstm")) {
        fprintf(stderr, "clattn %s: --cell must be gru or lstm, not %s\n", CMD, cell);
        return 2;
    }
    clattn_rnn_forward_desc f;
    clattn_rnn_forward_desc_init(&f, sizeof f);
    if (!strcmp(algo_s, "persistent"))
        f.algo = CLATTN_RNN_ALGO_PERSISTENT;
    else if (!strcmp(algo_s, "step"))
        f.algo = CLATTN_RNN_ALGO_STEP;
    else if (strcmp(algo_s, "auto")) {
        fprintf(stderr, "clattn %s: --algo must be auto, persistent or step\n", CMD);
        return 2;
    }

    clattn_npy_array x = {0}, l = {0}, h0 = {0}, c0 = {0};
    float *out = NULL, *hn = NULL, *cn = NULL;
    clattn_context *ctx = NULL;
    clattn_rnn *rnn = NULL;
    char err[512];
    cli_outputs outs;
    cli_outputs_init(&outs, CMD);
    cli_outputs_add(&outs, "out", op);
    cli_outputs_add(&outs, "h-n", hnp);
    cli_outputs_add(&outs, "c-n", cnp);
    const cli_file in[4] = {{"x", xp}, {"lengths", lp}, {"h0", h0p}, {"c0", c0p}};
    rc = 1;
    if (cli_outputs_check(&outs, in, 4)) goto done;
    if (clattn_npy_read_f32(xp, &x, err, sizeof err) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --x: %s\n", CMD, err);
        goto done;
    }
    if (x.ndim != 3) {
        fprintf(stderr, "clattn %s: --x %s must be [B, T, Din], not %d-dimensional\n", CMD, xp,
                x.ndim);
        goto done;
    }
    const int64_t B = x.shape[0], T = x.shape[1];
    if (!(ctx = cli_open_context())) goto done;
    clattn_status st = clattn_rnn_load(ctx, NULL, dir, &rnn);
    if (st != CLATTN_SUCCESS) {
        cli_fail(CMD, ctx, st);
        goto done;
    }
    clattn_rnn_desc d;
    clattn_rnn_desc_init(&d, sizeof d);
    clattn_rnn_get_desc(rnn, &d);
    if (check_shape_options(&d, cell, layers, uni, dir)) goto done;
    if (x.shape[2] != d.input_dim) {
        fprintf(stderr, "clattn %s: --x %s has %lld features; the weights in %s take %lld\n", CMD,
                xp, (long long)x.shape[2], dir, (long long)d.input_dim);
        goto done;
    }
    const int lstm = d.cell == CLATTN_RNN_LSTM;
    if (!lstm && (c0p || cnp)) {
        fprintf(stderr, "clattn %s: --c0 and --c-n are for an LSTM; the weights are a GRU\n", CMD);
        goto done;
    }
    const int64_t H = d.hidden, nd = d.bidirectional ? 2 : 1, E = d.num_layers * nd;
    if (load_state("h0", h0p, E, B, H, &h0) || load_state("c0", c0p, E, B, H, &c0)) goto done;
    f.batch = B, f.seq = T;
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
        f.lengths = l.data;
        f.lengths_type = l.dtype == CLATTN_NPY_I32 ? CLATTN_LENGTHS_INT32 : CLATTN_LENGTHS_INT64;
    }
    const int64_t oshape[3] = {B, T, nd * H}, sshape[3] = {E, B, H};
    size_t obytes, sbytes;
    if (cli_bytes(CMD, "the output", oshape, 3, sizeof(float), &obytes) ||
        cli_bytes(CMD, "the states", sshape, 3, sizeof(float), &sbytes))
        goto done;
    if (!(out = malloc(obytes)) || !(hn = malloc(sbytes)) || !(cn = malloc(sbytes))) {
        fprintf(stderr, "clattn %s: out of host memory\n", CMD);
        goto done;
    }
    st = clattn_rnn_forward_host(rnn, &f, x.data, h0.data, c0.data, out, hnp ? hn : NULL,
                                 cnp ? cn : NULL);
    if (st != CLATTN_SUCCESS) {
        cli_fail(CMD, ctx, st);
        goto done;
    }
    if (cli_outputs_write(&outs, "out", CLATTN_NPY_F32, 3, oshape, out) ||
        cli_outputs_write(&outs, "h-n", CLATTN_NPY_F32, 3, sshape, hn) ||
        cli_outputs_write(&outs, "c-n", CLATTN_NPY_F32, 3, sshape, cn) || cli_outputs_commit(&outs))
        goto done;
    rc = 0;
done:
    cli_outputs_free(&outs);
    clattn_rnn_destroy(rnn);
    clattn_context_destroy(ctx);
    free(out), free(hn), free(cn);
    clattn_npy_free(&x);
    clattn_npy_free(&l);
    clattn_npy_free(&h0);
    clattn_npy_free(&c0);
    return rc;
}
