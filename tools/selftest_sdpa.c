/* selftest_sdpa.c: `clattn selftest` checks of the scaled dot-product attention families this
 * module owns: the naive path (CLBlast GEMMs + cl/softmax.cl) and the GPU-flavour kernels
 * flash1_gpu and flash2_gpu of cl/flash_gpu.cl (forced, so they also run on CPU devices). One small
 * deterministic GQA problem with a causal mask, an additive mask and a fully masked row, against
 * the float64 reference. */
#include "sdpa_ref.h"
#include "selftest.h"

#include <math.h>
#include <stdio.h>

enum { B = 2, HQ = 4, HKV = 2, SQ = 37, SKV = 53, D = 40, DV = 24 };

static double max_err(const float *got, const double *ref, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (isinf(ref[i]) && got[i] == ref[i]) continue;
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

static int run(clattn_context *ctx, clattn_algo algo, clattn_flavour fl, char *msg, size_t cap) {
    static float q[B * HQ * SQ * D], k[B * HKV * SKV * D], v[B * HKV * SKV * DV];
    static float mask[HQ * SQ * SKV], out[B * HQ * SQ * DV], lse[B * HQ * SQ];
    static double rout[B * HQ * SQ * DV], rlse[B * HQ * SQ];
    selftest_fill(q, sizeof q / 4, 11), selftest_fill(k, sizeof k / 4, 12);
    selftest_fill(v, sizeof v / 4, 13), selftest_fill(mask, sizeof mask / 4, 14);
    for (int j = 0; j < SKV; j++) mask[(1 * SQ + 5) * SKV + j] = -INFINITY; /* one dead row */
    for (size_t i = 0; i < sizeof out / 4; i++) out[i] = NAN;
    for (size_t i = 0; i < sizeof lse / 4; i++) lse[i] = NAN;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = B, d.heads = HQ, d.kv_heads = HKV, d.seq_q = SQ, d.seq_kv = SKV;
    d.head_dim = D, d.head_dim_v = DV;
    d.causal = 1;
    d.has_mask = 1, d.mask_batch = 1, d.mask_heads = HQ;
    d.algo = algo;
    d.flavour = fl;
    clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, mask, out, lse);
    if (st != CLATTN_SUCCESS) {
        snprintf(msg, cap, "%s: %s", clattn_status_string(st), clattn_context_last_error(ctx));
        return 1;
    }
    sdpa_ref_problem p = {B,   HQ,  HKV, SQ, SKV, D, DV, 1.0 / sqrt(D), 1,    q, k,    v, mask, {0},
                          {0}, {0}, {0}, 0,  0,   0, 0,  0.0,           NULL, 0, NULL, 0};
    sdpa_ref_contiguous(HQ, SQ, D, p.q_st);
    sdpa_ref_contiguous(HKV, SKV, D, p.k_st);
    sdpa_ref_contiguous(HKV, SKV, DV, p.v_st);
    sdpa_ref_mask_strides(1, HQ, HQ, SQ, SKV, p.m_st);
    if (sdpa_ref(&p, rout, rlse)) {
        snprintf(msg, cap, "reference: out of host memory");
        return 1;
    }
    const double eo = max_err(out, rout, sizeof out / 4), el = max_err(lse, rlse, sizeof lse / 4);
    snprintf(msg, cap, "GQA 4/2 causal+mask: max |out err| %.2e, |lse err| %.2e", eo, el);
    return !(eo < 1e-4 && el < 1e-4);
}

int selftest_sdpa_naive(clattn_context *ctx, char *msg, size_t cap) {
    return run(ctx, CLATTN_ALGO_NAIVE, CLATTN_FLAVOUR_AUTO, msg, cap);
}

int selftest_flash1_gpu(clattn_context *ctx, char *msg, size_t cap) {
    return run(ctx, CLATTN_ALGO_FLASH1, CLATTN_FLAVOUR_GPU, msg, cap);
}

int selftest_flash2_gpu(clattn_context *ctx, char *msg, size_t cap) {
    return run(ctx, CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_GPU, msg, cap);
}

int selftest_flash1_cpu(clattn_context *ctx, char *msg, size_t cap) {
    return run(ctx, CLATTN_ALGO_FLASH1, CLATTN_FLAVOUR_CPU, msg, cap);
}

int selftest_flash2_cpu(clattn_context *ctx, char *msg, size_t cap) {
    return run(ctx, CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_CPU, msg, cap);
}
