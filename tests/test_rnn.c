/* test_rnn.c: the general RNN (clattn_rnn_*: GRU and LSTM, 1-3 layers, one or two directions)
 * against the float64 reference (tests/ref/rnn_ref.c): lengths with 0 and T, initial states,
 * odd sizes (H = 1, 7, 129, Din != H, B = 1), no biases; out, h_n and c_n poisoned and every
 * element checked (padding exactly 0), each recurrence flavour forced, the input projection by
 * the rnn_input kernel and (CLATTN_RNN_INPUT=gemm) by CLBlast; the device form on an
 * out-of-order queue with a wait list and an event; refused calls leave the outputs as they were.
 * Two kernel builds in all (one per cell), and CLBlast's. */
#include "testutil.h"
#include "rnn_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int lstm, ndir, bias;
    int64_t L, B, T, Din, H;
    int lengths;  /* 0 none, 1 int32 with 0 and T, 2 int64 */
    int states;   /* h0 (and c0) given */
    float xscale; /* x uniform in +-xscale (0: 1); large values saturate every gate */
    int nan_x;    /* one NaN in x (last row, middle step): that row's outputs from there on (each
                     direction's) must be NaN, as PyTorch gives, and the other rows untouched */
} rnn_case;

typedef struct {
    float **w; /* [L * ndir * 4] */
    clattn_rnn_host_weights *hw;
    ref_rnn_weights *rw;
    int64_t n;
} weights;

static weights make_weights(const rnn_case *c) {
    const int64_t G = c->lstm ? 4 : 3, E = c->L * c->ndir;
    weights w = {calloc((size_t)E * 4, sizeof(float *)), calloc((size_t)E, sizeof *w.hw),
                 calloc((size_t)E, sizeof *w.rw), E};
    const float sc = 1.0f / (float)sqrt((double)c->H);
    for (int64_t e = 0; e < E; e++) {
        const int64_t din = e < c->ndir ? c->Din : c->ndir * c->H;
        const int64_t n[4] = {G * c->H * din, G * c->H * c->H, G * c->H, G * c->H};
        for (int i = 0; i < 4; i++) {
            if (i >= 2 && !c->bias) continue;
            w.w[e * 4 + i] = tu_alloc_floats(n[i]);
            tu_fill_uniform(w.w[e * 4 + i], n[i], -2.0f * sc, 2.0f * sc);
        }
        float **p = w.w + e * 4;
        w.hw[e] = (clattn_rnn_host_weights){p[0], p[1], p[2], p[3]};
        w.rw[e] = (ref_rnn_weights){p[0], p[1], p[2], p[3]};
    }
    return w;
}

static void free_weights(weights *w) {
    for (int64_t i = 0; i < w->n * 4; i++) free(w->w[i]);
    free(w->w), free(w->hw), free(w->rw);
}

static const char *algo_name(clattn_rnn_algo a) {
    return a == CLATTN_RNN_ALGO_PERSISTENT ? "persistent"
           : a == CLATTN_RNN_ALGO_STEP     ? "step"
                                           : "auto";
}

static void check_case(clattn_context *ctx, const rnn_case *c, clattn_rnn_algo algo) {
    const int64_t B = c->B, T = c->T, H = c->H, nd = c->ndir;
    const int64_t no = B * T * nd * H, ns = c->L * nd * B * H;
    weights w = make_weights(c);
    float *x = tu_alloc_floats(B * T * c->Din), *h0 = tu_alloc_floats(ns),
          *c0 = tu_alloc_floats(ns);
    float *out = tu_alloc_floats(no), *hn = tu_alloc_floats(ns), *cn = tu_alloc_floats(ns);
    double *ro = malloc((size_t)no * sizeof(double)), *rh = malloc((size_t)ns * sizeof(double));
    double *rc = malloc((size_t)ns * sizeof(double));
    int32_t *l32 = malloc((size_t)B * sizeof(int32_t));
    int64_t *l64 = malloc((size_t)B * sizeof(int64_t));
    const float xs = c->xscale > 0.0f ? c->xscale : 1.0f;
    tu_fill_uniform(x, B * T * c->Din, -xs, xs);
    if (c->nan_x) x[((B - 1) * T + T / 2) * c->Din + c->Din - 1] = NAN;
    tu_fill_uniform(h0, ns, -0.8f, 0.8f);
    tu_fill_uniform(c0, ns, -1.5f, 1.5f);
    for (int64_t b = 0; b < B; b++) {
        int64_t l = b == 0 ? T : b == 1 ? 0 : (int64_t)(tu_uniform() * (double)(T + 1));
        if (l > T) l = T;
        l32[b] = (int32_t)l, l64[b] = l;
    }
    tu_poison(out, no), tu_poison(hn, ns), tu_poison(cn, ns);
    ref_rnn(c->lstm, c->L, (int)nd, B, T, c->Din, H, x, w.rw, c->lengths ? l32 : NULL,
            c->states ? h0 : NULL, c->states && c->lstm ? c0 : NULL, ro, rh, c->lstm ? rc : NULL);

    clattn_rnn_desc d;
    clattn_rnn_desc_init(&d, sizeof d);
    d.cell = c->lstm ? CLATTN_RNN_LSTM : CLATTN_RNN_GRU, d.bidirectional = nd == 2;
    d.input_dim = c->Din, d.hidden = H, d.num_layers = c->L, d.has_bias = c->bias;
    clattn_rnn *rnn = NULL;
    clattn_status st = clattn_rnn_create(ctx, &d, w.hw, &rnn);
    clattn_rnn_forward_desc f;
    clattn_rnn_forward_desc_init(&f, sizeof f);
    f.batch = B, f.seq = T, f.algo = algo;
    f.lengths = c->lengths == 1 ? (const void *)l32 : c->lengths == 2 ? (const void *)l64 : NULL;
    f.lengths_type = c->lengths == 2 ? CLATTN_LENGTHS_INT64 : CLATTN_LENGTHS_INT32;
    if (!st)
        st =
            clattn_rnn_forward_host(rnn, &f, x, c->states ? h0 : NULL,
                                    c->states && c->lstm ? c0 : NULL, out, hn, c->lstm ? cn : NULL);
    /* float32 rounds a pre-activation to about Din 2^-24 of its terms' magnitudes, and a gate
     * passes that on at a slope up to 1 (tanh). For |x| <= 1 that is far under 3e-5; the
     * saturating cases' terms reach xscale (thousands), and where they happen to cancel near 0
     * the gate is not saturated and the rounding shows: 8.8e-5 seen at xscale 3000, Din 6, so
     * those cases get that bound (2e-3 there: still far from a wrong saturation, 0.5 or NaN). */
    const double atol =
        3e-5 + (c->xscale > 0.0f ? 2.0 * c->xscale * (double)c->Din * 0x1p-24 : 0.0);
    int ok = st == CLATTN_SUCCESS && tu_compare("rnn out", out, ro, no, atol, 2e-4) &&
             tu_compare("rnn h_n", hn, rh, ns, atol, 2e-4) &&
             (!c->lstm || tu_compare("rnn c_n", cn, rc, ns, atol, 2e-4));
    if (ok && c->lengths) /* padding exactly 0 */
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = l32[b] * nd * H; i < T * nd * H; i++)
                if (out[b * T * nd * H + i] != 0.0f) ok = 0;
    TU_CHECK(ok,
             "%s L=%lld ndir=%lld B=%lld T=%lld Din=%lld H=%lld bias=%d lengths=%d states=%d "
             "algo=%s: %s %s",
             c->lstm ? "lstm" : "gru", (long long)c->L, (long long)nd, (long long)B, (long long)T,
             (long long)c->Din, (long long)H, c->bias, c->lengths, c->states, algo_name(algo),
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
    clattn_rnn_destroy(rnn);
    free(x), free(h0), free(c0), free(out), free(hn), free(cn), free(ro), free(rh), free(rc);
    free(l32), free(l64);
    free_weights(&w);
}

/* The device form on an application's out-of-order queue: a user event holds the input back,
 * the returned event completes with everything. */
static void check_device_ooo(void) {
    clattn_context *base = tu_context();
    cl_context cl = clattn_context_cl_context(base);
    cl_device_id dev;
    clGetCommandQueueInfo(clattn_context_queue(base), CL_QUEUE_DEVICE, sizeof dev, &dev, NULL);
    cl_int err;
    cl_command_queue q =
        clCreateCommandQueue(cl, dev, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
    if (err != CL_SUCCESS) { /* PoCL supports it; another device may not */
        clattn_context_destroy(base);
        return;
    }
    clattn_context *ctx = NULL;
    clattn_context_create_from_queue(q, &ctx);
    const rnn_case c = {1, 2, 1, 2, 3, 6, 5, 10, 1, 1, 0, 0};
    weights w = make_weights(&c);
    const int64_t no = c.B * c.T * 2 * c.H, ns = c.L * 2 * c.B * c.H, nx = c.B * c.T * c.Din;
    float *x = tu_alloc_floats(nx), *h0 = tu_alloc_floats(ns), *out = tu_alloc_floats(no);
    float *hn = tu_alloc_floats(ns);
    double *ro = malloc((size_t)no * sizeof(double)), *rh = malloc((size_t)ns * sizeof(double));
    double *rc = malloc((size_t)ns * sizeof(double));
    const int32_t len[3] = {6, 0, 4};
    tu_fill_uniform(x, nx, -1.0f, 1.0f);
    tu_fill_uniform(h0, ns, -0.5f, 0.5f);
    tu_poison(out, no), tu_poison(hn, ns);
    ref_rnn(1, c.L, 2, c.B, c.T, c.Din, c.H, x, w.rw, len, h0, NULL, ro, rh, rc);
    clattn_rnn_desc d;
    clattn_rnn_desc_init(&d, sizeof d);
    d.cell = CLATTN_RNN_LSTM, d.input_dim = c.Din, d.hidden = c.H, d.num_layers = c.L;
    clattn_rnn *rnn = NULL;
    clattn_status st = clattn_rnn_create(ctx, &d, w.hw, &rnn);
    cl_mem xm = clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)nx * 4, NULL, &err);
    cl_mem hm =
        clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, (size_t)ns * 4, h0, &err);
    cl_mem om = clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)no * 4, NULL, &err);
    cl_mem hnm = clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)ns * 4, NULL, &err);
    cl_event gate = clCreateUserEvent(cl, &err), wrote = NULL, done = NULL;
    clEnqueueWriteBuffer(q, xm, CL_FALSE, 0, (size_t)nx * 4, x, 1, &gate, &wrote);
    clattn_rnn_forward_desc f;
    clattn_rnn_forward_desc_init(&f, sizeof f);
    f.batch = c.B, f.seq = c.T, f.lengths = len;
    if (!st) st = clattn_rnn_forward(rnn, &f, xm, hm, NULL, om, hnm, NULL, 1, &wrote, &done);
    clSetUserEventStatus(gate, CL_COMPLETE);
    if (!st) {
        clEnqueueReadBuffer(q, om, CL_TRUE, 0, (size_t)no * 4, out, 1, &done, NULL);
        clEnqueueReadBuffer(q, hnm, CL_TRUE, 0, (size_t)ns * 4, hn, 1, &done, NULL);
    }
    TU_CHECK(st == CLATTN_SUCCESS && tu_compare("ooo out", out, ro, no, 3e-5, 2e-4) &&
                 tu_compare("ooo h_n", hn, rh, ns, 3e-5, 2e-4),
             "rnn device form on an out-of-order queue after a wait list: %s",
             clattn_status_string(st));
    if (done) clReleaseEvent(done);
    clReleaseEvent(wrote), clReleaseEvent(gate);
    clReleaseMemObject(xm), clReleaseMemObject(hm), clReleaseMemObject(om), clReleaseMemObject(hnm);
    clattn_rnn_destroy(rnn);
    clattn_context_destroy(ctx);
    clReleaseCommandQueue(q);
    clattn_context_destroy(base);
    free(x), free(h0), free(out), free(hn), free(ro), free(rh), free(rc);
    free_weights(&w);
}

static void check_rejections(clattn_context *ctx) {
    const rnn_case c = {0, 2, 1, 2, 2, 3, 4, 5, 0, 0, 0, 0};
    weights w = make_weights(&c);
    float x[2 * 3 * 4], out[2 * 3 * 10], out0[2 * 3 * 10], hn[2 * 2 * 2 * 5], hn0[2 * 2 * 2 * 5];
    tu_fill_uniform(x, 24, -1.0f, 1.0f);
    tu_poison(out, 60), tu_poison(hn, 40);
    memcpy(out0, out, sizeof out), memcpy(hn0, hn, sizeof hn);
    clattn_rnn_desc d;
    clattn_rnn_desc_init(&d, sizeof d);
    d.input_dim = 4, d.hidden = 5, d.num_layers = 2;
    clattn_rnn *rnn = NULL;
#define REJECT(call, want, what)                                                                   \
    do {                                                                                           \
        clattn_status st_ = (call);                                                                \
        TU_CHECK(st_ == (want) && clattn_context_last_error(ctx)[0] &&                             \
                     memcmp(out, out0, sizeof out) == 0 && memcmp(hn, hn0, sizeof hn) == 0,        \
                 "rnn rejects %s: %s (%s)", what, clattn_status_string(st_),                       \
                 clattn_context_last_error(ctx));                                                  \
    } while (0)
    d.cell = (clattn_rnn_cell)7;
    REJECT(clattn_rnn_create(ctx, &d, w.hw, &rnn), CLATTN_ERROR_INVALID_ARGUMENT, "cell 7");
    d.cell = CLATTN_RNN_GRU, d.num_layers = 0;
    REJECT(clattn_rnn_create(ctx, &d, w.hw, &rnn), CLATTN_ERROR_INVALID_ARGUMENT, "0 layers");
    d.num_layers = 2, d.hidden = (int64_t)1 << 40;
    REJECT(clattn_rnn_create(ctx, &d, w.hw, &rnn), CLATTN_ERROR_INVALID_ARGUMENT, "hidden 2^40");
    d.hidden = 5;
    const float *keep = w.hw[3].w_hh;
    w.hw[3].w_hh = NULL;
    REJECT(clattn_rnn_create(ctx, &d, w.hw, &rnn), CLATTN_ERROR_INVALID_ARGUMENT,
           "a NULL w_hh (layer 1, backward)");
    w.hw[3].w_hh = keep;
    REJECT(clattn_rnn_create(ctx, &d, NULL, &rnn), CLATTN_ERROR_INVALID_ARGUMENT, "NULL weights");
    TU_CHECK(rnn == NULL, "refused creates leave *out alone");
    clattn_status st = clattn_rnn_create(ctx, &d, w.hw, &rnn);
    TU_CHECK(st == CLATTN_SUCCESS, "rnn create: %s", clattn_status_string(st));
    if (st) return;
    clattn_rnn_forward_desc f;
    clattn_rnn_forward_desc_init(&f, sizeof f);
    f.batch = 2, f.seq = 3;
    int32_t bad_len[2] = {3, 4}, neg_len[2] = {-1, 2};
    f.lengths = bad_len;
    REJECT(clattn_rnn_forward_host(rnn, &f, x, NULL, NULL, out, hn, NULL),
           CLATTN_ERROR_INVALID_ARGUMENT, "length T + 1");
    f.lengths = neg_len;
    REJECT(clattn_rnn_forward_host(rnn, &f, x, NULL, NULL, out, hn, NULL),
           CLATTN_ERROR_INVALID_ARGUMENT, "length -1");
    f.lengths = NULL;
    REJECT(clattn_rnn_forward_host(rnn, &f, x, NULL, x, out, hn, NULL),
           CLATTN_ERROR_INVALID_ARGUMENT, "c0 given to a GRU");
    REJECT(clattn_rnn_forward_host(rnn, &f, NULL, NULL, NULL, out, hn, NULL),
           CLATTN_ERROR_INVALID_ARGUMENT, "NULL x");
    REJECT(clattn_rnn_forward_host(rnn, NULL, x, NULL, NULL, out, hn, NULL),
           CLATTN_ERROR_INVALID_ARGUMENT, "NULL desc");
    f.algo = (clattn_rnn_algo)9;
    REJECT(clattn_rnn_forward_host(rnn, &f, x, NULL, NULL, out, hn, NULL),
           CLATTN_ERROR_INVALID_ARGUMENT, "algo 9");
    f.algo = CLATTN_RNN_ALGO_AUTO, f.batch = 0;
    REJECT(clattn_rnn_forward_host(rnn, &f, x, NULL, NULL, out, hn, NULL),
           CLATTN_ERROR_INVALID_ARGUMENT, "batch 0");
    /* Device form: sizes whose products overflow, a too-small out, out aliasing x. */
    cl_context cl = clattn_context_cl_context(ctx);
    cl_int err;
    cl_mem xm = clCreateBuffer(cl, CL_MEM_READ_WRITE, sizeof x, NULL, &err);
    cl_mem om = clCreateBuffer(cl, CL_MEM_READ_WRITE, sizeof out, NULL, &err);
    f.batch = 268435455, f.seq = 268435455; /* INT_MAX / 8: gi needs over 2^63 bytes */
    REJECT(clattn_rnn_forward(rnn, &f, xm, NULL, NULL, om, NULL, NULL, 0, NULL, NULL),
           CLATTN_ERROR_OVERFLOW, "batch x seq overflowing");
    f.batch = 2, f.seq = 4;
    REJECT(clattn_rnn_forward(rnn, &f, xm, NULL, NULL, om, NULL, NULL, 0, NULL, NULL),
           CLATTN_ERROR_BUFFER_TOO_SMALL, "x and out too small for seq 4");
    f.seq = 3;
    REJECT(clattn_rnn_forward(rnn, &f, xm, NULL, NULL, xm, NULL, NULL, 0, NULL, NULL),
           CLATTN_ERROR_INVALID_ARGUMENT, "out aliasing x");
    clReleaseMemObject(xm), clReleaseMemObject(om);
    clattn_rnn_destroy(rnn);
    free_weights(&w);
#undef REJECT
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    check_rejections(ctx);
    /* lstm ndir bias L B T Din H lengths states */
    const rnn_case cases[] = {
        {0, 2, 1, 1, 4, 9, 13, 7, 1, 1, 0, 0},  /* GRU, H = 7, lengths 0 and T, h0 */
        {1, 2, 1, 2, 3, 6, 5, 129, 1, 1, 0, 0}, /* LSTM 2 layers, H = 129, h0 and c0 */
        {0, 1, 0, 3, 1, 5, 3, 1, 0, 0, 0, 0}, /* GRU 3 layers forward only, H = 1, B = 1, no bias */
        {1, 1, 1, 3, 5, 4, 16, 9, 2, 1, 0, 0},   /* LSTM 3 layers forward only, int64 lengths */
        {0, 2, 1, 2, 2, 3, 129, 16, 0, 0, 0, 0}, /* GRU 2 layers, Din = 129 > H */
        {1, 2, 0, 1, 7, 11, 8, 24, 1, 0, 0, 0},  /* LSTM, B = 7 (not a multiple of the row block) */
        /* LSTM B = 14: two 6-row passes, then 8 rows in 4-row passes (rnn_tail_rows) */
        {1, 2, 1, 1, 14, 4, 5, 8, 1, 1, 0, 0},
        /* B T past CLATTN_RNN_INPUT_ROWS (256): rnn_input's row chunks, the last one partial */
        {1, 2, 1, 1, 5, 61, 5, 12, 1, 0, 0, 0},
        {0, 1, 1, 1, 1, 263, 3, 9, 0, 1, 0, 0},
        /* Pre-activations up to a few thousand: sigmoid and tanh saturate to exactly 0, 1, +-1
           (exp(-x) of +-1000s is +inf or 0; tanh(x) = 2 sigmoid(2x) - 1 must not give NaN). */
        {1, 2, 1, 1, 3, 5, 6, 12, 0, 1, 3000.0f, 0},
        {0, 2, 1, 1, 3, 5, 6, 12, 0, 1, 3000.0f, 0},
        /* NaN travels through the gates' exponentials (cl/common.cl clamps their exponent). */
        {1, 2, 1, 2, 3, 7, 5, 12, 0, 1, 0.0f, 1},
        {0, 2, 1, 1, 3, 7, 5, 12, 0, 1, 0.0f, 1},
    };
    const clattn_rnn_algo algos[3] = {CLATTN_RNN_ALGO_PERSISTENT, CLATTN_RNN_ALGO_STEP,
                                      CLATTN_RNN_ALGO_AUTO};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int a = 0; a < 3; a++)
            if (a < 2 || i == 0) check_case(ctx, &cases[i], algos[a]);
    /* The input projection through the GEMM library (what non-CPU devices use), read at create. */
    setenv("CLATTN_RNN_INPUT", "gemm", 1);
    check_case(ctx, &cases[1], CLATTN_RNN_ALGO_STEP);
    check_case(ctx, &cases[4], CLATTN_RNN_ALGO_PERSISTENT);
    unsetenv("CLATTN_RNN_INPUT");
    clattn_context_destroy(ctx);
    check_device_ooo();
    return tu_finish();
}
