/* cmd_attention.c: `clattn attention`: scaled dot-product attention (MHA, GQA, MQA) on .npy
 * files. q [B, Hq, Sq, D], k [B, Hkv, Skv, D], v [B, Hkv, Skv, Dv], optional additive mask
 * [B or 1, Hq or 1, Sq, Skv] (or [Sq, Skv]), the options of cli_sdpa.h (causal alignment, sliding
 * window, softcap, ALiBi slopes [Hq] or [B, Hq]); writes out [B, Hq, Sq, Dv] and optionally lse
 * [B, Hq, Sq] float32. --kv-lens L.npy (int32 or int64 [B], each 0..Skv) makes the batch ragged:
 * sequence b attends to its first L[b] keys only. Storage (--dtype): float16 files keep half
 * storage by default and give a float16 output; --dtype converts the inputs on upload (to nearest
 * even) and sets the output's type; bfloat16, which .npy cannot hold, is converted from the input
 * files and written back as float32. --kv-dtype sets k and v's storage alone, over --dtype
 * (whichever comes first); without either, float16 k and v files keep half storage even when q is
 * float32 (the K/V cache is what a decode step reads). */
#include "cli_sdpa.h"
#include "cli_util.h"
#include "commands.h"
#include "npy.h"
#include "outputs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CMD "attention"

/* Reads a float32 or float16 file (kept as it is stored: see stage()). */
static int load(const char *opt, const char *path, clattn_npy_array *a) {
    char err[512];
    clattn_status st = clattn_npy_read(path, a, err, sizeof err);
    if (st == CLATTN_SUCCESS && a->dtype != CLATTN_NPY_F32 && a->dtype != CLATTN_NPY_F16) {
        snprintf(err, sizeof err, "%s holds %s; expected float32 or float16", path,
                 clattn_npy_dtype_descr(a->dtype));
        clattn_npy_free(a);
        st = CLATTN_ERROR_FORMAT;
    }
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --%s: %s\n", CMD, opt, err);
        return 1;
    }
    if (a->ndim != 4 && !(a->ndim == 2 && opt[0] == 'm')) {
        fprintf(stderr, "clattn %s: --%s %s has %d dimensions, expected 4%s\n", CMD, opt, path,
                a->ndim, opt[0] == 'm' ? " (or 2: [Sq, Skv])" : "");
        return 1;
    }
    return 0;
}

/* Points *data at a's elements stored as t: a float16 file as it is for F16; otherwise widened
 * to float32 in a (exact) and, for F16 and BF16, rounded to nearest even into *owned. */
static int stage(const char *opt, clattn_npy_array *a, clattn_dtype t, const void **data,
                 void **owned) {
    *data = a->data;
    if (a->dtype == CLATTN_NPY_F16 && t == CLATTN_DTYPE_F16) return 0;
    char err[512];
    if (clattn_npy_to_f32(a, opt, err, sizeof err) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: --%s: %s\n", CMD, opt, err);
        return 1;
    }
    *data = a->data;
    if (t == CLATTN_DTYPE_F32) return 0;
    if (!(*owned = malloc((size_t)(a->count ? a->count : 1) * cli_sdpa_dtype_size(t)))) {
        fprintf(stderr, "clattn %s: out of host memory\n", CMD);
        return 1;
    }
    cli_sdpa_from_f32(a->data, a->count, t, *owned);
    *data = *owned;
    return 0;
}

static int mismatch(const char *what, long long got, long long want) {
    fprintf(stderr, "clattn %s: shape mismatch: %s is %lld, expected %lld\n", CMD, what, got, want);
    return 1;
}

int cmd_attention(int argc, char **argv) {
    const char *mp = NULL, *klp = NULL, *dt_s = NULL, *mdt_s = NULL, *kvdt_s = NULL;
    cli_sdpa_files f;
    cli_opt fopts[CLI_SDPA_FILE_OPTS];
    cli_sdpa_file_opts(&f, fopts);
    cli_sdpa_options xo;
    cli_opt xopts[CLI_SDPA_OPTION_OPTS];
    cli_sdpa_option_opts(&xo, xopts);
    const cli_opt opts[] = {
        fopts[0],
        fopts[1],
        fopts[2],
        fopts[3],
        fopts[4],
        {"mask", OPT_STRING, &mp, "additive mask [B|1, Hq|1, Sq, Skv] or [Sq, Skv]; -inf drops"},
        fopts[5],
        fopts[6],
        fopts[7],
        fopts[8],
        {"kv-lens", OPT_STRING, &klp, "int32|int64 [B]: sequence b sees its first L[b] keys"},
        {"dtype", OPT_STRING, &dt_s,
         "f32|f16|bf16 storage of q, k, v, out (default f16 if q, k, v are float16 files, else "
         "f32); bf16 out is written as float32"},
        {"kv-dtype", OPT_STRING, &kvdt_s,
         "f32|f16|bf16 storage of k and v only, over --dtype (default: --dtype's if given, else "
         "f16 if k and v are float16 files, else f32)"},
        {"mask-dtype", OPT_STRING, &mdt_s,
         "f32|f16|bf16 storage of the mask (default f16 for a float16 file, else f32)"},
        xopts[0],
        xopts[1],
        xopts[2],
        xopts[3],
        {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts,
                       "--q Q.npy --k K.npy --v V.npy --out O.npy [--lse L.npy] [--mask M.npy] "
                       "[--causal] [--causal-align bottom-right|top-left] [--window L,R] "
                       "[--softcap C] [--alibi [SLOPES.npy]] [--scale S] [--kv-lens L.npy] "
                       "[--algo auto|naive|flash1|flash2|decode] [--dtype f32|f16|bf16] "
                       "[--kv-dtype f32|f16|bf16] [--mask-dtype f32|f16|bf16]");
    if (rc) return rc == 1 ? 0 : rc;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    if (cli_sdpa_files_desc(CMD, &f, &d) || cli_sdpa_options_desc(CMD, &xo, &d)) return 2;
    const char *qp = f.q, *kp = f.k, *vp = f.v, *op = f.out, *lp = f.lse;
    clattn_dtype dt = CLATTN_DTYPE_F32, kvdt = CLATTN_DTYPE_F32, mdt = CLATTN_DTYPE_F32;
    if ((dt_s && cli_sdpa_dtype(CMD, "dtype", dt_s, &dt)) ||
        (kvdt_s && cli_sdpa_dtype(CMD, "kv-dtype", kvdt_s, &kvdt)) ||
        (mdt_s && cli_sdpa_dtype(CMD, "mask-dtype", mdt_s, &mdt)))
        return 2;

    clattn_npy_array q = {0}, k = {0}, v = {0}, m = {0};
    void *out = NULL, *owned[4] = {NULL, NULL, NULL, NULL};
    float *lse = NULL, *out32 = NULL;
    const void *data[4] = {NULL, NULL, NULL, NULL};
    int32_t *kv_lens = NULL;
    clattn_context *ctx = NULL;
    cli_outputs outs;
    cli_outputs_init(&outs, CMD);
    cli_outputs_add(&outs, "out", op);
    cli_outputs_add(&outs, "lse", lp);
    const cli_file in[6] = {{"q", qp},    {"k", kp},        {"v", vp},
                            {"mask", mp}, {"kv-lens", klp}, {"alibi", cli_sdpa_options_file(&xo)}};
    rc = 1;
    if (cli_outputs_check(&outs, in, 6)) goto done;
    if (load("q", qp, &q) || load("k", kp, &k) || load("v", vp, &v) || (mp && load("mask", mp, &m)))
        goto done;
    /* Half files stay half unless --dtype (or, for k and v, --kv-dtype) says otherwise. */
    const int kv_half = k.dtype == CLATTN_NPY_F16 && v.dtype == CLATTN_NPY_F16;
    if (!dt_s && q.dtype == CLATTN_NPY_F16 && kv_half) dt = CLATTN_DTYPE_F16;
    if (!kvdt_s) kvdt = dt_s ? dt : kv_half ? CLATTN_DTYPE_F16 : dt;
    if (!mdt_s && mp && m.dtype == CLATTN_NPY_F16) mdt = CLATTN_DTYPE_F16;
    if (stage("q", &q, dt, &data[0], &owned[0]) || stage("k", &k, kvdt, &data[1], &owned[1]) ||
        stage("v", &v, kvdt, &data[2], &owned[2]) ||
        (mp && stage("mask", &m, mdt, &data[3], &owned[3])))
        goto done;
    d.q_dtype = d.out_dtype = dt;
    d.kv_dtype = kvdt;
    d.mask_dtype = mdt;
    const int64_t B = q.shape[0], Hq = q.shape[1], Sq = q.shape[2], D = q.shape[3];
    const int64_t Hkv = k.shape[1], Skv = k.shape[2], Dv = v.shape[3];
    if ((k.shape[0] != B && mismatch("k's batch", k.shape[0], B)) ||
        (k.shape[3] != D && mismatch("k's head dim", k.shape[3], D)) ||
        (v.shape[0] != B && mismatch("v's batch", v.shape[0], B)) ||
        (v.shape[1] != Hkv && mismatch("v's heads", v.shape[1], Hkv)) ||
        (v.shape[2] != Skv && mismatch("v's length", v.shape[2], Skv)))
        goto done;
    if (mp) {
        const int two = m.ndim == 2;
        const int64_t ms = m.shape[two ? 0 : 2], mk = m.shape[two ? 1 : 3];
        if ((ms != Sq && mismatch("mask's query length", ms, Sq)) ||
            (mk != Skv && mismatch("mask's key length", mk, Skv)))
            goto done;
        d.has_mask = 1;
        d.mask_batch = two ? 1 : m.shape[0]; /* the library checks 1 or B, 1 or Hq */
        d.mask_heads = two ? 1 : m.shape[1];
    }
    d.batch = B, d.heads = Hq, d.kv_heads = Hkv, d.seq_q = Sq, d.seq_kv = Skv;
    d.head_dim = D, d.head_dim_v = Dv;
    if (B < 1 || Hq < 1 || Sq < 1 || D < 1 || Hkv < 1 || Skv < 1 || Dv < 1) {
        fprintf(stderr, "clattn %s: empty tensors are not attention problems\n", CMD);
        goto done;
    }
    if (klp) {
        if (cli_sdpa_read_kv_lens(CMD, klp, B, Skv, &kv_lens)) goto done;
        d.kv_lens = kv_lens;
    }
    if (cli_sdpa_options_alibi(CMD, &xo, &d)) goto done;
    const int64_t oshape[4] = {B, Hq, Sq, Dv};
    size_t obytes, lbytes;
    if (cli_bytes(CMD, "the output", oshape, 4, cli_sdpa_dtype_size(dt), &obytes) ||
        cli_bytes(CMD, "the log-sum-exp", oshape, 3, sizeof(float), &lbytes))
        goto done;
    if (!(out = malloc(obytes)) || (lp && !(lse = malloc(lbytes)))) {
        fprintf(stderr, "clattn %s: out of host memory\n", CMD);
        goto done;
    }
    if (!(ctx = cli_open_context())) goto done;
    clattn_status st = clattn_sdpa_host(ctx, &d, data[0], data[1], data[2], data[3], out, lse);
    if (st != CLATTN_SUCCESS) {
        cli_fail(CMD, ctx, st);
        goto done;
    }
    if (dt == CLATTN_DTYPE_BF16) { /* .npy has no bfloat16: written widened (exactly) */
        if (!(out32 = malloc(obytes * 2))) {
            fprintf(stderr, "clattn %s: out of host memory\n", CMD);
            goto done;
        }
        cli_sdpa_to_f32(out, B * Hq * Sq * Dv, dt, out32);
    }
    if (cli_outputs_write(&outs, "out", dt == CLATTN_DTYPE_F16 ? CLATTN_NPY_F16 : CLATTN_NPY_F32, 4,
                          oshape, out32 ? (const void *)out32 : out) ||
        cli_outputs_write(&outs, "lse", CLATTN_NPY_F32, 3, oshape, lse) ||
        cli_outputs_commit(&outs))
        goto done;
    rc = 0;
done:
    cli_outputs_free(&outs);
    cli_sdpa_options_free(&xo);
    clattn_context_destroy(ctx);
    free(out);
    free(out32);
    free(lse);
    free(kv_lens);
    for (int i = 0; i < 4; i++) free(owned[i]);
    clattn_npy_free(&q);
    clattn_npy_free(&k);
    clattn_npy_free(&v);
    clattn_npy_free(&m);
    return rc;
}
