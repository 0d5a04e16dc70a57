/* cmd_bench_rnn.c: `clattn bench-rnn`: times the general RNN (include/clattn_rnn.h) on random
 * device-resident inputs and weights (PyTorch's init range). One warm-up call (kernel builds,
 * CLBlast's tuning) then R timed calls, each timed with OpenCL profiling events from a marker
 * enqueued just before the call to the call's event (the host clock without profiling); the
 * median is printed as ms= with tokens_per_s= (B * T / time). */
#include "cli_timing.h"
#include "cli_util.h"
#include "commands.h"
#include "core/internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "bench-rnn"

/* What one timed call runs. */
typedef struct {
    clattn_rnn *rnn;
    const clattn_rnn_forward_desc *f;
    cl_mem x, out;
} bench_call;

static clattn_status call_once(const bench_call *c, cl_event *ev) {
    return clattn_rnn_forward(c->rnn, c->f, c->x, NULL, NULL, c->out, NULL, NULL, 0, NULL, ev);
}

static clattn_status call_fn(const void *arg, cl_event *ev) {
    return call_once((const bench_call *)arg, ev);
}

/* The median of a warm-up then R timed calls, in ms; -1 on failure (reported). */
static double median_ms(clattn_context *ctx, const bench_call *c, int64_t R, double *times) {
    double ms[3];
    clattn_status st = cli_timed_median(ctx, call_fn, c, R, times, ms);
    if (st) {
        cli_fail(CMD, ctx, st);
        return -1.0;
    }
    return ms[0];
}

int cmd_bench_rnn(int argc, char **argv) {
    const char *cell_s = "gru", *algo_s = "auto";
    int64_t B = 0, T = 0, I = 0, H = 0, L = 1, R = 5;
    int uni = 0;
    const cli_opt opts[] = {
        {"cell", OPT_STRING, &cell_s, "gru (default) or lstm"},
        {"batch", OPT_INT, &B, "B (required)"},
        {"seq", OPT_INT, &T, "T (required)"},
        {"input", OPT_INT, &I, "input size Din (required)"},
        {"hidden", OPT_INT, &H, "hidden size H (required)"},
        {"layers", OPT_INT, &L, "stacked layers (default 1)"},
        {"unidirectional", OPT_FLAG, &uni, "forward direction only (default: bidirectional)"},
        {"algo", OPT_STRING, &algo_s, "auto (default), persistent or step"},
        {"repeat", OPT_INT, &R, "timed runs, median reported (default 5)"},
        {NULL, OPT_FLAG, NULL, NULL}};
    int rc = cli_parse(argc, argv, opts,
                       "--cell gru|lstm --batch B --seq T --input I --hidden H [--layers N] "
                       "[--repeat R]");
    if (rc) return rc == 1 ? 0 : rc;
    const int lstm = !strcmp(cell_s, "lstm");
    if (!lstm && strcmp(cell_s, "gru")) {
        fprintf(stderr, "clattn %s: --cell must be gru or lstm, not %s\n", CMD, cell_s);
        return 2;
    }
    clattn_rnn_algo algo = CLATTN_RNN_ALGO_AUTO;
    if (!strcmp(algo_s, "persistent"))
        algo = CLATTN_RNN_ALGO_PERSISTENT;
    else if (!strcmp(algo_s, "step"))
        algo = CLATTN_RNN_ALGO_STEP;
    else if (strcmp(algo_s, "auto")) {
        fprintf(stderr, "clattn %s: --algo must be auto, persistent or step\n", CMD);
        return 2;
    }
    const int64_t dims[6] = {B, T, I, H, L, R};
    static const char *const names[6] = {"batch", "seq", "input", "hidden", "layers", "repeat"};
    if (cli_sizes_in_range(CMD, dims, names, 6)) return 2;
    const int nd = uni ? 1 : 2, G = lstm ? 4 : 3;
    const int64_t E = L * nd;
    clattn_context *ctx = cli_open_context();
    if (!ctx) return 1;
    rc = 1;
    clattn_rnn *rnn = NULL;
    cl_mem x = NULL, out = NULL;
    float *host = NULL;
    double *times = malloc((size_t)R * sizeof(double));
    clattn_rnn_host_weights *w = calloc((size_t)E, sizeof *w);
    const int64_t wmax = G * H * (I > nd * H ? I : nd * H) + G * H * H + 2 * G * H;
    int64_t nx = B * T * I, nbig = nx > wmax * E ? nx : wmax * E;
    if (!times || !w || !(host = malloc((size_t)nbig * sizeof(float)))) {
        fprintf(stderr, "clattn %s: out of host memory\n", CMD);
        goto done;
    }
    cli_fill_tame(host, nbig, 1.0f / sqrtf((float)H));
    for (int64_t e = 0; e < E; e++) {
        const float *p = host + e * wmax;
        const int64_t din = e < nd ? I : nd * H;
        w[e] = (clattn_rnn_host_weights){p, p + G * H * din, p + G * H * (din + H),
                                         p + G * H * (din + H + 1)};
    }
    clattn_rnn_desc d;
    clattn_rnn_desc_init(&d, sizeof d);
    d.cell = lstm ? CLATTN_RNN_LSTM : CLATTN_RNN_GRU, d.bidirectional = !uni;
    d.input_dim = I, d.hidden = H, d.num_layers = L;
    clattn_status st = clattn_rnn_create(ctx, &d, w, &rnn);
    if (!st) st = clattn__upload(ctx, host, nx * 4, "bench-rnn x", &x);
    if (!st) st = clattn__alloc(ctx, B * T * nd * H * 4, CL_MEM_READ_WRITE, NULL, "out", &out);
    if (st) {
        cli_fail(CMD, ctx, st);
        goto done;
    }
    clattn_rnn_forward_desc f;
    clattn_rnn_forward_desc_init(&f, sizeof f);
    f.batch = B, f.seq = T, f.algo = algo;
    const bench_call whole = {rnn, &f, x, out};
    const double ms = median_ms(ctx, &whole, R, times);
    if (ms < 0) goto done;
    printf("cell=%s batch=%lld seq=%lld input=%lld hidden=%lld layers=%lld directions=%d algo=%s "
           "timing=%s\n",
           cell_s, (long long)B, (long long)T, (long long)I, (long long)H, (long long)L, nd, algo_s,
           ctx->queue_profiling ? "events" : "host");
    printf("ms=%.3f tokens_per_s=%.0f\n", ms, 1e3 * (double)(B * T) / ms);
    rc = 0;
done:
    clattn_rnn_destroy(rnn);
    clattn__release_mem(&x);
    clattn__release_mem(&out);
    clattn_context_destroy(ctx);
    free(host), free(times), free(w);
    return rc;
}
