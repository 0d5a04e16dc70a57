/* cmd_additive.c: `clattn additive`: additive (Bahdanau) attention on .npy files. keys [B,T,Dk],
 * query [B,Ds] (one decoder step) or [B,Tq,Ds], W_h [A,Dk], W_s [A,Ds], v [A], optional bias [A]
 * and lengths [B] (int32 or int64); writes context [B,(Tq,)Dk] and optionally the weights
 * [B,(Tq,)T], with the query's number of dimensions. */
#include "cli_util.h"
#include "commands.h"
#include "npy.h"
#include "outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "additive"

/* Loads a float32 (or float16) array that must have `ndim` dims (or ndim_alt, when >= 0). */
static int load(const char *opt, const char *path, int ndim, int ndim_alt, clattn_npy_array *a) {
    char err[512];
    clattn_status st = clattn_npy_read_f32(path, a, err, sizeof err);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --%s: %s\n", CMD, opt, err);
        return 1;
    }
    if (a->ndim != ndim && a->ndim != ndim_alt) {
        if (ndim_alt >= 0)
            fprintf(stderr, "clattn %s: --%s %s has %d dimensions, expected %d or %d\n", CMD, opt,
                    path, a->ndim, ndim, ndim_alt);
        else
            fprintf(stderr, "clattn %s: --%s %s has %d dimensions, expected %d\n", CMD, opt, path,
                    a->ndim, ndim);
        return 1;
    }
    return 0;
}

static int mismatch(const char *what, long long got, long long want) {
    fprintf(stderr, "clattn %s: shape mismatch: %s is %lld, expected %lld\n", CMD, what, got, want);
    return 1;
}

int cmd_additive(int argc, char **argv) {
    const char *kp = NULL, *qp = NULL, *whp = NULL, *wsp = NULL, *vp = NULL, *bp = NULL, *lp = NULL,
               *cp = NULL, *ap = NULL;
    const cli_opt opts[] = {
        {"keys", OPT_STRING, &kp, "annotations [B, T, Dk] float32 (required)"},
        {"query", OPT_STRING, &qp, "decoder states [B, Ds] or [B, Tq, Ds] (required)"},
        {"wh", OPT_STRING, &whp, "W_h [A, Dk] (required)"},
        {"ws", OPT_STRING, &wsp, "W_s [A, Ds] (required)"},
        {"v", OPT_STRING, &vp, "v [A] (required)"},
        {"bias", OPT_STRING, &bp, "b [A]"},
        {"lengths", OPT_STRING, &lp, "source lengths [B], int32 or int64, each in 1..T"},
        {"context", OPT_STRING, &cp, "output context [B, (Tq,) Dk] (required)"},
        {"weights", OPT_STRING, &ap, "output attention weights [B, (Tq,) T]"},
        {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts,
                       "--keys K.npy --query S.npy --wh WH.npy --ws WS.npy --v V.npy "
                       "[--bias B.npy] [--lengths L.npy] --context C.npy [--weights A.npy]");
    if (rc) return rc == 1 ? 0 : rc;
    const char *req[6][2] = {{"keys", kp}, {"query", qp}, {"wh", whp},
                             {"ws", wsp},  {"v", vp},     {"context", cp}};
    for (int i = 0; i < 6; i++)
        if (!req[i][1]) return cli_missing(CMD, req[i][0]);

    clattn_npy_array k = {0}, q = {0}, wh = {0}, ws = {0}, v = {0}, b = {0}, l = {0};
    float *ctxo = NULL, *wo = NULL;
    clattn_context *ctx = NULL;
    cli_outputs outs;
    cli_outputs_init(&outs, CMD);
    cli_outputs_add(&outs, "context", cp);
    cli_outputs_add(&outs, "weights", ap);
    const cli_file in[7] = {{"keys", kp}, {"query", qp}, {"wh", whp},    {"ws", wsp},
                            {"v", vp},    {"bias", bp},  {"lengths", lp}};
    rc = 1;
    if (cli_outputs_check(&outs, in, 7)) goto done;
    if (load("keys", kp, 3, -1, &k) || load("query", qp, 2, 3, &q) || load("wh", whp, 2, -1, &wh) ||
        load("ws", wsp, 2, -1, &ws) || load("v", vp, 1, -1, &v) ||
        (bp && load("bias", bp, 1, -1, &b)))
        goto done;
    const int64_t B = k.shape[0], T = k.shape[1], Dk = k.shape[2], A = wh.shape[0];
    const int64_t Tq = q.ndim == 3 ? q.shape[1] : 1, Ds = q.shape[q.ndim - 1];
    if ((q.shape[0] != B && mismatch("query's batch", q.shape[0], B)) ||
        (wh.shape[1] != Dk && mismatch("W_h's second dim (Dk)", wh.shape[1], Dk)) ||
        (ws.shape[0] != A && mismatch("W_s's first dim (A)", ws.shape[0], A)) ||
        (ws.shape[1] != Ds && mismatch("W_s's second dim (Ds)", ws.shape[1], Ds)) ||
        (v.shape[0] != A && mismatch("v's length (A)", v.shape[0], A)) ||
        (bp && b.shape[0] != A && mismatch("bias's length (A)", b.shape[0], A)))
        goto done;
    clattn_additive_desc d;
    clattn_additive_desc_init(&d, sizeof d);
    d.batch = B, d.seq = T, d.steps = Tq, d.key_dim = Dk, d.query_dim = Ds, d.attn_dim = A;
    if (lp) {
        char err[512];
        if (clattn_npy_read(lp, &l, err, sizeof err) != CLATTN_SUCCESS) {
            fprintf(stderr, "clattn %s: --lengths: %s\n", CMD, err);
            goto done;
        }
        if (l.dtype != CLATTN_NPY_I32 && l.dtype != CLATTN_NPY_I64) {
            fprintf(stderr, "clattn %s: --lengths %s must be int32 or int64, not %s\n", CMD, lp,
                    clattn_npy_dtype_descr(l.dtype));
            goto done;
        }
        if (l.ndim != 1 || l.shape[0] != B) {
            fprintf(stderr, "clattn %s: --lengths %s must have shape [%lld]\n", CMD, lp,
                    (long long)B);
            goto done;
        }
        d.lengths_type = l.dtype == CLATTN_NPY_I32 ? CLATTN_LENGTHS_INT32 : CLATTN_LENGTHS_INT64;
    }
    /* Empty inputs give zero-element files of any shape, so these products are not bounded by
     * any input's size: (1, 0, 2^40) keys with a (1, 2^30, 0) query would give 2^70. */
    const int64_t cdims[3] = {B, Tq, Dk}, wdims[3] = {B, Tq, T};
    size_t cbytes, wbytes;
    if (cli_bytes(CMD, "the context", cdims, 3, sizeof(float), &cbytes) ||
        cli_bytes(CMD, "the weights", wdims, 3, sizeof(float), &wbytes))
        goto done;
    if (!(ctxo = malloc(cbytes)) || (ap && !(wo = malloc(wbytes)))) {
        fprintf(stderr, "clattn %s: out of host memory\n", CMD);
        goto done;
    }
    if (!(ctx = cli_open_context())) goto done;
    clattn_status st = clattn_additive_host(ctx, &d, k.data, q.data, wh.data, ws.data, v.data,
                                            bp ? b.data : NULL, lp ? l.data : NULL, ctxo, wo);
    if (st != CLATTN_SUCCESS) {
        cli_fail(CMD, ctx, st);
        goto done;
    }
    const int64_t cshape2[2] = {B, Dk}, wshape2[2] = {B, T};
    const int three = q.ndim == 3;
    if (cli_outputs_write(&outs, "context", CLATTN_NPY_F32, three ? 3 : 2, three ? cdims : cshape2,
                          ctxo) ||
        cli_outputs_write(&outs, "weights", CLATTN_NPY_F32, three ? 3 : 2, three ? wdims : wshape2,
                          wo) ||
        cli_outputs_commit(&outs))
        goto done;
    rc = 0;
done:
    cli_outputs_free(&outs);
    clattn_context_destroy(ctx);
    free(ctxo), free(wo);
    clattn_npy_array *all[7] = {&k, &q, &wh, &ws, &v, &b, &l};
    for (int i = 0; i < 7; i++) clattn_npy_free(all[i]);
    return rc;
}
