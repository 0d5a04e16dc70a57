/* selftest_additive.c: `clattn selftest` checks of the additive-attention step kernel
 * (cl/additive.cl) and the GRU step kernel (cl/gru.cl), each on a small deterministic problem
 * against the float64 references, with the shape the device gets by default. */
#include "additive_ref.h"
#include "gru_ref.h"
#include "selftest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Largest |got - ref| over n elements; NaN counts as infinite. */
static double max_err(const float *got, const double *ref, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

int selftest_additive(clattn_context *ctx, char *msg, size_t cap) {
    enum { B = 3, T = 37, Tq = 2, Dk = 40, Ds = 24, A = 48 };
    static float keys[B * T * Dk], query[B * Tq * Ds], wh[A * Dk], ws[A * Ds], v[A], bias[A];
    static float c[B * Tq * Dk], w[B * Tq * T];
    static double rc[B * Tq * Dk], rw[B * Tq * T];
    const int32_t lengths[B] = {T, 1, 20};
    selftest_fill(keys, sizeof keys / 4, 1), selftest_fill(query, sizeof query / 4, 2);
    selftest_fill(wh, sizeof wh / 4, 3), selftest_fill(ws, sizeof ws / 4, 4);
    selftest_fill(v, A, 5), selftest_fill(bias, A, 6);
    ref_additive(B, T, Tq, Dk, Ds, A, keys, query, wh, ws, v, bias, lengths, rc, rw);
    clattn_additive_desc d;
    clattn_additive_desc_init(&d, sizeof d);
    d.batch = B, d.seq = T, d.steps = Tq, d.key_dim = Dk, d.query_dim = Ds, d.attn_dim = A;
    clattn_status st = clattn_additive_host(ctx, &d, keys, query, wh, ws, v, bias, lengths, c, w);
    if (st != CLATTN_SUCCESS) {
        snprintf(msg, cap, "%s: %s", clattn_status_string(st), clattn_context_last_error(ctx));
        return 1;
    }
    double ec = max_err(c, rc, sizeof c / 4), ew = max_err(w, rw, sizeof w / 4);
    snprintf(msg, cap, "max error context %.2g, weights %.2g", ec, ew);
    return !(ec < 1e-4 && ew < 1e-5);
}

int selftest_gru(clattn_context *ctx, char *msg, size_t cap) {
    enum { B = 3, T = 19, Din = 12, H = 20 };
    static float x[B * T * Din], wf[4][3 * H * H > 3 * H * Din ? 3 * H * H : 3 * H * Din],
        wb[4][3 * H * H > 3 * H * Din ? 3 * H * H : 3 * H * Din], out[B * T * 2 * H];
    static double ref[B * T * 2 * H];
    const int32_t lengths[B] = {T, 1, 7};
    selftest_fill(x, sizeof x / 4, 7);
    for (int i = 0; i < 4; i++) {
        selftest_fill(wf[i], sizeof wf[i] / 4, 10 + i);
        selftest_fill(wb[i], sizeof wb[i] / 4, 20 + i);
    }
    const float *f[4] = {wf[0], wf[1], wf[2], wf[3]}, *b[4] = {wb[0], wb[1], wb[2], wb[3]};
    ref_birnn_gru(B, T, Din, H, x, f, b, lengths, ref);
    clattn_gru_desc d;
    clattn_gru_desc_init(&d, sizeof d);
    d.batch = B, d.seq = T, d.input_dim = Din, d.hidden = H;
    clattn_gru_host_weights hf = {wf[0], wf[1], wf[2], wf[3]}, hb = {wb[0], wb[1], wb[2], wb[3]};
    clattn_status st = clattn_birnn_gru_host(ctx, &d, x, &hf, &hb, lengths, out);
    if (st != CLATTN_SUCCESS) {
        snprintf(msg, cap, "%s: %s", clattn_status_string(st), clattn_context_last_error(ctx));
        return 1;
    }
    double e = max_err(out, ref, sizeof out / 4);
    snprintf(msg, cap, "max error %.2g", e);
    return !(e < 1e-4);
}
