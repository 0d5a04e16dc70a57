/* test_birnn.c: the bidirectional GRU encoder and the single GRU cell against the float64
 * reference (tests/ref/gru_ref.c): odd sizes, T = 1, lengths (int32 and int64, including 1 and T)
 * and none, biases and none, every element checked (padding positions must be exactly 0), and
 * rejected bad inputs (lengths out of range, mismatched weights) leaving the output untouched. */
#include "testutil.h"
#include "gru_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *w[2][4]; /* [dir][w_ih, w_hh, b_ih, b_hh] */
} gru_weights;

static gru_weights make_weights(int64_t Din, int64_t H, int with_bias) {
    gru_weights g;
    const int64_t n[4] = {3 * H * Din, 3 * H * H, 3 * H, 3 * H};
    const float sc = 1.0f / (float)sqrt((double)H); /* PyTorch's init range */
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 4; i++) {
            g.w[d][i] = NULL;
            if (i >= 2 && !with_bias) continue;
            g.w[d][i] = tu_alloc_floats(n[i]);
            tu_fill_uniform(g.w[d][i], n[i], -2.0f * sc, 2.0f * sc);
        }
    return g;
}

static void free_weights(gru_weights *g) {
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 4; i++) free(g->w[d][i]);
}

static clattn_gru_host_weights host_view(const gru_weights *g, int d) {
    clattn_gru_host_weights h = {g->w[d][0], g->w[d][1], g->w[d][2], g->w[d][3]};
    return h;
}

static void check_encoder(clattn_context *ctx, int64_t B, int64_t T, int64_t Din, int64_t H,
                          int with_bias, int lengths_kind /* 0 none, 1 int32, 2 int64 */) {
    gru_weights g = make_weights(Din, H, with_bias);
    float *x = tu_alloc_floats(B * T * Din), *out = tu_alloc_floats(B * T * 2 * H);
    double *ref = malloc((size_t)(B * T * 2 * H) * sizeof(double));
    int32_t *l32 = malloc((size_t)B * sizeof(int32_t));
    int64_t *l64 = malloc((size_t)B * sizeof(int64_t));
    tu_fill_uniform(x, B * T * Din, -1.0f, 1.0f);
    for (int64_t b = 0; b < B; b++) {
        int64_t l = b == 0 ? 1 : b == 1 ? T : 1 + (int64_t)(tu_uniform() * (double)T);
        if (l > T) l = T;
        l32[b] = (int32_t)l, l64[b] = l;
    }
    tu_poison(out, B * T * 2 * H);
    ref_birnn_gru(B, T, Din, H, x, (const float *const *)g.w[0], (const float *const *)g.w[1],
                  lengths_kind ? l32 : NULL, ref);
    clattn_gru_desc d;
    clattn_gru_desc_init(&d, sizeof d);
    d.batch = B, d.seq = T, d.input_dim = Din, d.hidden = H;
    d.lengths_type = lengths_kind == 2 ? CLATTN_LENGTHS_INT64 : CLATTN_LENGTHS_INT32;
    clattn_gru_host_weights f = host_view(&g, 0), bw = host_view(&g, 1);
    const void *lengths = lengths_kind == 0 ? NULL : lengths_kind == 1 ? (void *)l32 : (void *)l64;
    clattn_status st = clattn_birnn_gru_host(ctx, &d, x, &f, &bw, lengths, out);
    /* Padding must be exactly 0: an absolute tolerance of 0 there via a zero reference. */
    int ok = st == CLATTN_SUCCESS && tu_compare("birnn out", out, ref, B * T * 2 * H, 2e-5, 1e-4);
    int pad_ok = 1;
    if (st == CLATTN_SUCCESS && lengths_kind)
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = l32[b]; t < T; t++)
                for (int64_t j = 0; j < 2 * H; j++)
                    if (out[(b * T + t) * 2 * H + j] != 0.0f) pad_ok = 0;
    TU_CHECK(ok && pad_ok, "birnn B=%lld T=%lld Din=%lld H=%lld bias=%d lengths=%s: %s %s",
             (long long)B, (long long)T, (long long)Din, (long long)H, with_bias,
             lengths_kind == 0   ? "none"
             : lengths_kind == 1 ? "int32"
                                 : "int64",
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
    free(x), free(out), free(ref), free(l32), free(l64);
    free_weights(&g);
}

static void check_cell(clattn_context *ctx, int64_t B, int64_t Din, int64_t H, int with_h) {
    gru_weights g = make_weights(Din, H, 1);
    float *x = tu_alloc_floats(B * Din), *h = tu_alloc_floats(B * H), *out = tu_alloc_floats(B * H);
    double *hd = calloc((size_t)(B * H), sizeof(double));
    double *ref = malloc((size_t)(B * H) * sizeof(double));
    tu_fill_uniform(x, B * Din, -1.0f, 1.0f);
    tu_fill_uniform(h, B * H, -0.9f, 0.9f);
    if (with_h)
        for (int64_t i = 0; i < B * H; i++) hd[i] = h[i];
    for (int64_t b = 0; b < B; b++)
        ref_gru_cell(Din, H, x + b * Din, hd + b * H, g.w[0][0], g.w[0][1], g.w[0][2], g.w[0][3],
                     ref + b * H);
    tu_poison(out, B * H);
    clattn_gru_desc d;
    clattn_gru_desc_init(&d, sizeof d);
    d.batch = B, d.seq = 1, d.input_dim = Din, d.hidden = H;
    clattn_gru_host_weights w = host_view(&g, 0);
    clattn_status st = clattn_gru_cell_host(ctx, &d, x, with_h ? h : NULL, &w, out);
    TU_CHECK(st == CLATTN_SUCCESS && tu_compare("gru cell", out, ref, B * H, 2e-5, 1e-4),
             "gru cell B=%lld Din=%lld H=%lld h=%s: %s", (long long)B, (long long)Din, (long long)H,
             with_h ? "given" : "zero", clattn_status_string(st));
    free(x), free(h), free(out), free(hd), free(ref);
    free_weights(&g);
}

static void check_rejections(clattn_context *ctx) {
    const int64_t B = 3, T = 5, Din = 4, H = 6;
    gru_weights g = make_weights(Din, H, 1);
    float x[3 * 5 * 4], out[3 * 5 * 12], out0[3 * 5 * 12];
    tu_fill_uniform(x, B * T * Din, -1.0f, 1.0f);
    tu_poison(out, B * T * 2 * H);
    memcpy(out0, out, sizeof out);
    clattn_gru_desc d;
    clattn_gru_desc_init(&d, sizeof d);
    d.batch = B, d.seq = T, d.input_dim = Din, d.hidden = H;
    clattn_gru_host_weights f = host_view(&g, 0), bw = host_view(&g, 1);
#define REJECT(call, want, what)                                                                   \
    do {                                                                                           \
        clattn_status st_ = (call);                                                                \
        TU_CHECK(st_ == (want) && clattn_context_last_error(ctx)[0] &&                             \
                     memcmp(out, out0, sizeof out) == 0,                                           \
                 "birnn rejects %s: %s (%s)", what, clattn_status_string(st_),                     \
                 clattn_context_last_error(ctx));                                                  \
    } while (0)
    int32_t l0[3] = {5, 0, 2}, l6[3] = {5, 6, 2};
    REJECT(clattn_birnn_gru_host(ctx, &d, x, &f, &bw, l0, out), CLATTN_ERROR_INVALID_ARGUMENT,
           "length 0");
    REJECT(clattn_birnn_gru_host(ctx, &d, x, &f, &bw, l6, out), CLATTN_ERROR_INVALID_ARGUMENT,
           "length T+1");
    d.lengths_type = CLATTN_LENGTHS_INT64;
    int64_t l64[3] = {5, 2, (int64_t)1 << 33};
    REJECT(clattn_birnn_gru_host(ctx, &d, x, &f, &bw, l64, out), CLATTN_ERROR_INVALID_ARGUMENT,
           "length 2^33 (int64)");
    d.lengths_type = CLATTN_LENGTHS_INT32;
    clattn_gru_host_weights nob = bw;
    nob.b_ih = NULL, nob.b_hh = NULL;
    REJECT(clattn_birnn_gru_host(ctx, &d, x, &f, &nob, NULL, out), CLATTN_ERROR_INVALID_ARGUMENT,
           "biases for one direction only");
    clattn_gru_host_weights now = f;
    now.w_hh = NULL;
    REJECT(clattn_birnn_gru_host(ctx, &d, x, &now, &bw, NULL, out), CLATTN_ERROR_INVALID_ARGUMENT,
           "a NULL w_hh");
    d.hidden = 0;
    REJECT(clattn_birnn_gru_host(ctx, &d, x, &f, &bw, NULL, out), CLATTN_ERROR_INVALID_ARGUMENT,
           "hidden 0");
    d.hidden = H;

    /* Device form: a w_hh made for another hidden size, out aliasing x. */
    cl_context cl = clattn_context_cl_context(ctx);
    cl_int err;
    cl_mem xm = clCreateBuffer(cl, CL_MEM_READ_WRITE, sizeof x, NULL, &err);
    cl_mem om = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof out, out, &err);
    cl_mem wih = clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)(3 * H * Din * 4), NULL, &err);
    cl_mem whh_small =
        clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)(3 * (H - 1) * (H - 1) * 4), NULL, &err);
    cl_mem whh = clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)(3 * H * H * 4), NULL, &err);
    clattn_gru_buffers good = {wih, whh, NULL, NULL}, bad = {wih, whh_small, NULL, NULL};
    REJECT(clattn_birnn_gru(ctx, &d, xm, &good, &bad, NULL, om, 0, NULL, NULL),
           CLATTN_ERROR_BUFFER_TOO_SMALL, "a w_hh for hidden H-1");
    REJECT(clattn_birnn_gru(ctx, &d, xm, &good, &good, NULL, xm, 0, NULL, NULL),
           CLATTN_ERROR_INVALID_ARGUMENT, "out aliasing x");
    float back[3 * 5 * 12];
    clEnqueueReadBuffer(clattn_context_queue(ctx), om, CL_TRUE, 0, sizeof back, back, 0, NULL,
                        NULL);
    TU_CHECK(memcmp(back, out0, sizeof back) == 0, "rejected device calls leave out untouched");
    clReleaseMemObject(xm), clReleaseMemObject(om), clReleaseMemObject(wih);
    clReleaseMemObject(whh_small), clReleaseMemObject(whh);
    free_weights(&g);
#undef REJECT
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    check_rejections(ctx);
    check_encoder(ctx, 1, 1, 5, 3, 1, 0);      /* T = 1 */
    check_encoder(ctx, 2, 1, 5, 3, 1, 1);      /* T = 1 with lengths (all 1) */
    check_encoder(ctx, 4, 17, 13, 29, 1, 1);   /* odd sizes, int32 lengths incl. 1 and T */
    check_encoder(ctx, 3, 59, 40, 64, 1, 0);   /* no lengths */
    check_encoder(ctx, 5, 113, 24, 33, 0, 2);  /* no biases, int64 lengths */
    check_encoder(ctx, 2, 203, 16, 128, 1, 1); /* longer sequences */
    check_cell(ctx, 3, 7, 5, 1);
    check_cell(ctx, 4, 59, 33, 0);
    check_cell(ctx, 2, 130, 256, 1);
    clattn_context_destroy(ctx);

    /* The GPU launch shape (64-item groups, global size rounded up past H) under the override
     * that makes the device look like a GPU (caps are read at context creation). */
    setenv("CLATTN_LOCAL_MEM_TYPE", "local", 1);
    ctx = tu_context();
    check_encoder(ctx, 3, 23, 9, 37, 1, 1);
    check_encoder(ctx, 2, 7, 16, 130, 0, 0);
    check_cell(ctx, 3, 11, 67, 1);
    clattn_context_destroy(ctx);
    return tu_finish();
}
