/* rnn_forward.c: clattn_rnn_forward and its host form. Per layer: one GEMM for the input
 * projections of every step and both directions, the state set up from h0/c0, the recurrence
 * (cl/rnn.cl, persistent or one launch per step) and h_n/c_n copied out. Every command waits
 * for the one before through events, so any queue (in-order or not) runs them in order. */
#include "rnn/rnn_internal.h"
#include "core/blas.h"
#include "kernel_iface.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The chain of commands of one forward: `prev` is the last one's event (NULL: none yet, then
 * the caller's wait list applies). */
typedef struct {
    clattn_context *ctx;
    cl_uint num_wait;
    const cl_event *wait;
    cl_event prev;
} chain;

static cl_uint chain_wait(const chain *c, const cl_event **list) {
    if (c->prev) {
        *list = &c->prev;
        return 1;
    }
    *list = c->num_wait ? c->wait : NULL;
    return c->num_wait;
}

static clattn_status chain_next(chain *c, cl_int err, cl_event ev, const char *what) {
    if (err != CL_SUCCESS) return clattn__cl_fail(c->ctx, err, "rnn: %s failed", what);
    clattn__release_event(&c->prev);
    c->prev = ev;
    return CLATTN_SUCCESS;
}

static clattn_status chain_fill(chain *c, cl_mem m, int64_t bytes) {
    const cl_event *w;
    const cl_uint n = chain_wait(c, &w);
    const float zero = 0.0f;
    cl_event ev = NULL;
    cl_int err =
        clEnqueueFillBuffer(c->ctx->queue, m, &zero, sizeof zero, 0, (size_t)bytes, n, w, &ev);
    return chain_next(c, err, ev, "clEnqueueFillBuffer (state)");
}

/* rows x row_bytes from src (row pitch sp, first row sr) to dst (pitch dp, first row dr). */
static clattn_status chain_copy_rows(chain *c, cl_mem src, int64_t sr, int64_t sp, cl_mem dst,
                                     int64_t dr, int64_t dp, int64_t rows, int64_t row_bytes) {
    const cl_event *w;
    const cl_uint n = chain_wait(c, &w);
    const size_t so[3] = {0, (size_t)sr, 0}, dso[3] = {0, (size_t)dr, 0};
    const size_t region[3] = {(size_t)row_bytes, (size_t)rows, 1};
    cl_event ev = NULL;
    cl_int err = clEnqueueCopyBufferRect(c->ctx->queue, src, dst, so, dso, region, (size_t)sp, 0,
                                         (size_t)dp, 0, n, w, &ev);
    return chain_next(c, err, ev, "clEnqueueCopyBufferRect (state)");
}

static clattn_status chain_gemm(chain *c, const clattn_gemm *g) {
    const cl_event *w;
    const cl_uint n = chain_wait(c, &w);
    clattn_status st = clattn__sgemm_batched(c->ctx, g, n, w, "rnn input projection");
    cl_event ev = NULL;
    /* CLBlast gives no event here: a marker after it completes with it. */
    if (!st) st = clattn__marker(c->ctx, 0, NULL, &ev);
    if (!st) st = chain_next(c, CL_SUCCESS, ev, "marker");
    return st;
}

static clattn_status chain_launch(chain *c, cl_kernel k, cl_uint dims, const size_t *global,
                                  const size_t *local, const char *what) {
    const cl_event *w;
    const cl_uint n = chain_wait(c, &w);
    cl_event ev = NULL;
    clattn_status st = clattn__launch(c->ctx, k, dims, global, local, n, w, &ev, what);
    if (!st) st = chain_next(c, CL_SUCCESS, ev, what);
    return st;
}

/* The recurrence flavour: the caller's, else $CLATTN_RNN_ALGO, else the device's. */
static clattn_status choose_algo(clattn_rnn *r, clattn_rnn_algo asked, int64_t nb,
                                 clattn_rnn_algo *algo) {
    clattn_context *ctx = r->ctx;
    if (asked != CLATTN_RNN_ALGO_AUTO && asked != CLATTN_RNN_ALGO_PERSISTENT &&
        asked != CLATTN_RNN_ALGO_STEP)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rnn: algo %d is not a "
                            "clattn_rnn_algo",
                            (int)asked);
    if (asked == CLATTN_RNN_ALGO_AUTO) {
        const char *env = getenv("CLATTN_RNN_ALGO");
        if (env && !strcmp(env, "persistent"))
            asked = CLATTN_RNN_ALGO_PERSISTENT;
        else if (env && !strcmp(env, "step"))
            asked = CLATTN_RNN_ALGO_STEP;
    }
    /* One work-group per direction keeps every compute unit busy only when there are no more
     * units than directions; a CPU work-group runs on one core, a GPU's on one of many. */
    const int cpu = (ctx->caps.type & CL_DEVICE_TYPE_CPU) != 0;
    const int fits = nb <= ctx->caps.max_work_group_size && nb <= ctx->caps.max_work_item_sizes[0];
    if (asked == CLATTN_RNN_ALGO_AUTO)
        asked = cpu && fits && ctx->caps.compute_units <= r->ndir ? CLATTN_RNN_ALGO_PERSISTENT
                                                                  : CLATTN_RNN_ALGO_STEP;
    if (asked == CLATTN_RNN_ALGO_PERSISTENT && !fits)
        return clattn__fail(
            ctx, CLATTN_ERROR_UNSUPPORTED,
            "rnn: the persistent flavour needs a work-group of %lld items (H / %d); "
            "the device allows %lld",
            (long long)nb, r->units, (long long)ctx->caps.max_work_group_size);
    *algo = asked;
    return CLATTN_SUCCESS;
}

/* Checks and converts the lengths (0..T) to int32; NULL means all T. */
static clattn_status lengths_in(clattn_context *ctx, const clattn_rnn_forward_desc *d,
                                int32_t *len) {
    if (d->lengths_type != CLATTN_LENGTHS_INT32 && d->lengths_type != CLATTN_LENGTHS_INT64)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rnn: lengths_type %d is neither INT32 nor INT64",
                            (int)d->lengths_type);
    for (int64_t b = 0; b < d->batch; b++) {
        const int64_t v = !d->lengths ? d->seq
                          : d->lengths_type == CLATTN_LENGTHS_INT32
                              ? ((const int32_t *)d->lengths)[b]
                              : ((const int64_t *)d->lengths)[b];
        if (v < 0 || v > d->seq)
            return clattn__fail(
                ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                "rnn: lengths[%lld] = %lld is outside 0..%lld (the sequence length)", (long long)b,
                (long long)v, (long long)d->seq);
        len[b] = (int32_t)v;
    }
    return CLATTN_SUCCESS;
}

/* The argument checks of clattn_rnn_forward; fills the int32 lengths. */
static clattn_status check_forward(clattn_rnn *r, const clattn_rnn_forward_desc *d, cl_mem x,
                                   cl_mem h0, cl_mem c0, cl_mem out, cl_mem h_n, cl_mem c_n,
                                   int32_t **len) {
    clattn_context *ctx = r->ctx;
    const int64_t B = d->batch, T = d->seq, H = r->d.hidden;
    if (B < 1 || B > INT_MAX / 8 || T < 1 || T > INT_MAX / 8)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rnn: batch = %lld and seq = %lld must be in 1..%d", (long long)B,
                            (long long)T, INT_MAX / 8);
    const int64_t f_gi[5] = {B, T, r->ndir, r->G, r->Hp};
    const int64_t f_out[4] = {B, T, r->ndir, H};
    const int64_t f_x[3] = {B, T, r->d.input_dim};
    int64_t n;
    if (clattn__prod64(f_gi, 5, &n) || clattn__mul64(n, 4, &n) || (uint64_t)n > SIZE_MAX ||
        clattn__prod64(f_out, 4, &n) || clattn__mul64(n, 4, &n) || clattn__prod64(f_x, 3, &n) ||
        clattn__mul64(n, 4, &n))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                            "rnn: batch %lld x seq %lld overflows the sizes of the tensors",
                            (long long)B, (long long)T);
    if (!x || !out)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "rnn: x and out are required");
    if (r->d.cell != CLATTN_RNN_LSTM && (c0 || c_n))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rnn: c0 and c_n are for the LSTM; this RNN is a GRU");
    const cl_mem outs[3] = {out, h_n, c_n}, ins[3] = {x, h0, c0};
    for (int i = 0; i < 3; i++) {
        if (!outs[i]) continue;
        for (int j = 0; j < 3; j++)
            if (outs[i] == ins[j] || (j > i && outs[i] == outs[j]))
                return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                    "rnn: out, h_n and c_n must not alias each other or the "
                                    "inputs");
    }
    const int64_t state = r->d.num_layers * r->ndir * B * H * 4;
    clattn_status st;
    if ((st = clattn__check_buffer(ctx, x, B * T * r->d.input_dim * 4, "rnn x [B, T, Din]")) ||
        (st =
             clattn__check_buffer(ctx, out, B * T * r->ndir * H * 4, "rnn out [B, T, ndir * H]")) ||
        (h0 && (st = clattn__check_buffer(ctx, h0, state, "rnn h0 [L * ndir, B, H]"))) ||
        (c0 && (st = clattn__check_buffer(ctx, c0, state, "rnn c0 [L * ndir, B, H]"))) ||
        (h_n && (st = clattn__check_buffer(ctx, h_n, state, "rnn h_n [L * ndir, B, H]"))) ||
        (c_n && (st = clattn__check_buffer(ctx, c_n, state, "rnn c_n [L * ndir, B, H]"))))
        return st;
    if (!(*len = malloc((size_t)B * sizeof(int32_t))))
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "rnn: host memory");
    st = lengths_in(ctx, d, *len);
    if (st) {
        free(*len);
        *len = NULL;
    }
    return st;
}

/* The buffers of one forward call. */
typedef struct {
    cl_mem gi, h[2], c[2], mid[2], len;
} scratch;

static void scratch_release(scratch *s) {
    cl_mem *all[8] = {&s->gi,   &s->h[0],   &s->h[1],   &s->c[0],
                      &s->c[1], &s->mid[0], &s->mid[1], &s->len};
    for (int i = 0; i < 8; i++) clattn__release_mem(all[i]);
}

clattn_status clattn_rnn_forward(clattn_rnn *r, const clattn_rnn_forward_desc *caller_desc,
                                 cl_mem x, cl_mem h0, cl_mem c0, cl_mem out, cl_mem h_n, cl_mem c_n,
                                 cl_uint num_wait, const cl_event *wait_list, cl_event *event) {
    if (!r) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_context *ctx = r->ctx;
    if (num_wait && !wait_list)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "rnn: num_wait without a list");
    clattn_rnn_forward_desc d;
    clattn_status st = clattn__rnn_forward_desc_in(ctx, caller_desc, &d);
    int32_t *len = NULL;
    if (!st) st = check_forward(r, &d, x, h0, c0, out, h_n, c_n, &len);
    if (st) return st;
    const int64_t B = d.batch, T = d.seq, H = r->d.hidden, Hp = r->Hp, nd = r->ndir, G = r->G;
    const int64_t L = r->d.num_layers, nb = Hp / r->units, state = nd * B * Hp * 4;
    const int lstm = r->d.cell == CLATTN_RNN_LSTM;
    clattn_rnn_algo algo = CLATTN_RNN_ALGO_STEP;
    st = choose_algo(r, d.algo, nb, &algo);
    scratch s;
    memset(&s, 0, sizeof s);
    cl_kernel k = NULL;
    const char *kname = algo == CLATTN_RNN_ALGO_PERSISTENT ? "rnn_persistent" : "rnn_step";
    /* gi's layout follows who writes it: rnn_input blocks it per step (cl/rnn.cl: rnn_gi). */
    char opt[64];
    snprintf(opt, sizeof opt, "-DRNN_LSTM=%d -DRNN_GI_BLOCKED=%d -DRNN_PREFETCH=%d", lstm,
             r->own_input, r->prefetch);
    cl_kernel kin = NULL;
    if (!st) st = clattn__kernel(ctx, "rnn", opt, kname, &k);
    if (!st && r->own_input) st = clattn__kernel(ctx, "rnn", opt, "rnn_input", &kin);
    if (!st && algo == CLATTN_RNN_ALGO_PERSISTENT) { /* the kernel's own limit may be lower */
        size_t allowed = 0;
        cl_int err = clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                              sizeof allowed, &allowed, NULL);
        if (err != CL_SUCCESS)
            st = clattn__cl_fail(ctx, err, "rnn_persistent: clGetKernelWorkGroupInfo failed");
        else if ((size_t)nb > allowed)
            st = clattn__fail(ctx, CLATTN_ERROR_UNSUPPORTED,
                              "rnn: the persistent flavour needs work-groups of %lld items "
                              "(H / %d); rnn_persistent allows %zu",
                              (long long)nb, r->units, allowed);
    }
    if (!st) st = clattn__upload(ctx, len, B * 4, "rnn lengths", &s.len);
    if (!st)
        st = clattn__alloc(ctx, B * T * nd * G * Hp * 4, CL_MEM_READ_WRITE, NULL,
                           "rnn input projections", &s.gi);
    for (int i = 0; i < 2 && !st; i++) {
        st = clattn__alloc(ctx, state, CL_MEM_READ_WRITE, NULL, "rnn state", &s.h[i]);
        if (!st && lstm)
            st = clattn__alloc(ctx, state, CL_MEM_READ_WRITE, NULL, "rnn cell state", &s.c[i]);
        if (!st && L > i + 1) /* layer outputs below the last one */
            st = clattn__alloc(ctx, B * T * nd * H * 4, CL_MEM_READ_WRITE, NULL, "rnn layer output",
                               &s.mid[i]);
    }
    free(len);
    chain c = {ctx, num_wait, wait_list, NULL};
    /* Where the GRU has no cell state, the LSTM's arguments point at the hidden state. */
    cl_mem *cs = lstm ? s.c : s.h;
    for (int64_t l = 0; l < L && !st; l++) {
        const clattn__rnn_layer *ly = &r->layers[l];
        cl_mem in = l == 0 ? x : s.mid[(l - 1) % 2], dst = l == L - 1 ? out : s.mid[l % 2];
        if (r->own_input) {
            const cl_int iB = (cl_int)B, iT = (cl_int)T, din = (cl_int)ly->din, iH = (cl_int)H,
                         ind = (cl_int)nd;
            const size_t global[3] = {
                (size_t)nb, (size_t)nd,
                (size_t)((B * T + CLATTN_RNN_INPUT_ROWS - 1) / CLATTN_RNN_INPUT_ROWS)};
            st = clattn__set_args(ctx, kin, "rnn_input", sizeof(cl_mem), &in, sizeof(cl_mem),
                                  &ly->w_ih, sizeof(cl_mem), &s.gi, sizeof iB, &iB, sizeof iT, &iT,
                                  sizeof din, &din, sizeof iH, &iH, sizeof ind, &ind, (size_t)0);
            if (!st) st = chain_launch(&c, kin, 3, global, NULL, "rnn_input");
        } else {
            clattn_gemm g = {0};
            g.trans_b = 1, g.m = B * T, g.n = nd * G * Hp, g.k = ly->din, g.alpha = 1.0f;
            g.a = in, g.b = ly->w_ih, g.c = s.gi, g.lda = ly->din, g.ldb = ly->din, g.ldc = g.n;
            g.count = 1, g.a_stride = g.b_stride = g.c_stride = 1; /* CLBlast refuses 0 */
            st = chain_gemm(&c, &g);
        }
        const int64_t first = l * nd * B; /* this layer's rows of h0 / h_n */
        if (!st) st = chain_fill(&c, s.h[0], state);
        if (!st && h0) st = chain_copy_rows(&c, h0, first, H * 4, s.h[0], 0, Hp * 4, nd * B, H * 4);
        if (!st && lstm) st = chain_fill(&c, s.c[0], state);
        if (!st && lstm && c0)
            st = chain_copy_rows(&c, c0, first, H * 4, s.c[0], 0, Hp * 4, nd * B, H * 4);
        const cl_int iB = (cl_int)B, iT = (cl_int)T, iH = (cl_int)H, ind = (cl_int)nd, zero = 0;
        if (!st)
            st = clattn__set_args(ctx, k, kname, sizeof(cl_mem), &s.gi, sizeof(cl_mem), &ly->w_hh,
                                  sizeof(cl_mem), &ly->bias, sizeof(cl_mem), &ly->bias_hn,
                                  sizeof(cl_mem), &s.len, sizeof(cl_mem), &s.h[0], sizeof(cl_mem),
                                  &s.h[1], sizeof(cl_mem), &cs[0], sizeof(cl_mem), &cs[1],
                                  sizeof(cl_mem), &dst, sizeof iB, &iB, sizeof iT, &iT, sizeof iH,
                                  &iH, sizeof ind, &ind, sizeof zero, &zero, (size_t)0);
        if (!st && algo == CLATTN_RNN_ALGO_PERSISTENT) {
            const size_t global[1] = {(size_t)(nb * nd)}, local[1] = {(size_t)nb};
            st = chain_launch(&c, k, 1, global, local, "rnn_persistent");
        }
        for (int64_t t = 0; t < T && !st && algo == CLATTN_RNN_ALGO_STEP; t++) {
            const cl_int is = (cl_int)t;
            const cl_int err = clSetKernelArg(k, CLATTN_RNN_ARG_STEP, sizeof is, &is);
            if (err != CL_SUCCESS) st = clattn__cl_fail(ctx, err, "rnn: clSetKernelArg(step)");
            const size_t global[2] = {(size_t)nb, (size_t)nd};
            if (!st) st = chain_launch(&c, k, 2, global, NULL, "rnn_step");
        }
        /* After T steps the state is in h[T % 2]. */
        if (!st && h_n)
            st = chain_copy_rows(&c, s.h[T % 2], 0, Hp * 4, h_n, first, H * 4, nd * B, H * 4);
        if (!st && c_n)
            st = chain_copy_rows(&c, s.c[T % 2], 0, Hp * 4, c_n, first, H * 4, nd * B, H * 4);
    }
    if (!st && event) {
        *event = c.prev;
        c.prev = NULL;
    }
    clattn__release_event(&c.prev);
    if (k) clReleaseKernel(k);
    if (kin) clReleaseKernel(kin);
    scratch_release(&s); /* freed once the enqueued commands are done */
    return st;
}

clattn_status clattn_rnn_forward_host(clattn_rnn *r, const clattn_rnn_forward_desc *caller_desc,
                                      const float *x, const float *h0, const float *c0, float *out,
                                      float *h_n, float *c_n) {
    if (!r) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_context *ctx = r->ctx;
    clattn_rnn_forward_desc d;
    clattn_status st = clattn__rnn_forward_desc_in(ctx, caller_desc, &d);
    if (st) return st;
    if (!x || !out)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "rnn: x and out are required");
    if (r->d.cell != CLATTN_RNN_LSTM && (c0 || c_n))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rnn: c0 and c_n are for the LSTM; this RNN is a GRU");
    const int64_t B = d.batch, T = d.seq, H = r->d.hidden, nd = r->ndir;
    /* Sizes are checked by the device form before anything runs; these products only size the
     * copies, and the device form refuses the shapes whose products would overflow. */
    if (B < 1 || T < 1 || B > INT_MAX / 8 || T > INT_MAX / 8)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rnn: batch = %lld and seq = %lld must be in 1..%d", (long long)B,
                            (long long)T, INT_MAX / 8);
    const int64_t fx[3] = {B, T, r->d.input_dim}, fo[4] = {B, T, nd, H},
                  fs[4] = {r->d.num_layers, nd, B, H};
    int64_t nx, no, ns;
    if (clattn__prod64(fx, 3, &nx) || clattn__mul64(nx, 4, &nx) || clattn__prod64(fo, 4, &no) ||
        clattn__mul64(no, 4, &no) || clattn__prod64(fs, 4, &ns) || clattn__mul64(ns, 4, &ns))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW, "rnn: the tensors' sizes overflow");
    cl_mem xm = NULL, h0m = NULL, c0m = NULL, om = NULL, hnm = NULL, cnm = NULL;
    cl_event ev = NULL;
    if (!(st = clattn__upload(ctx, x, nx, "rnn x", &xm)) &&
        !(st = clattn__upload(ctx, h0, ns, "rnn h0", &h0m)) &&
        !(st = clattn__upload(ctx, c0, ns, "rnn c0", &c0m)) &&
        !(st = clattn__alloc(ctx, no, CL_MEM_READ_WRITE, NULL, "rnn out", &om)) &&
        !(h_n && (st = clattn__alloc(ctx, ns, CL_MEM_READ_WRITE, NULL, "rnn h_n", &hnm))) &&
        !(c_n && (st = clattn__alloc(ctx, ns, CL_MEM_READ_WRITE, NULL, "rnn c_n", &cnm))) &&
        !(st = clattn_rnn_forward(r, &d, xm, h0m, c0m, om, hnm, cnm, 0, NULL, &ev))) {
        /* Read everything into host scratch first, so a failed read leaves the caller's arrays
         * as they were. */
        float *tmp = malloc((size_t)(no + 2 * ns));
        if (!tmp) st = clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "rnn: host memory");
        char *tb = (char *)tmp;
        if (!st) st = clattn__download(ctx, om, tb, no, 1, &ev, "rnn out");
        if (!st) st = clattn__download(ctx, hnm, tb + no, ns, 1, &ev, "rnn h_n");
        if (!st) st = clattn__download(ctx, cnm, tb + no + ns, ns, 1, &ev, "rnn c_n");
        if (!st) {
            memcpy(out, tb, (size_t)no);
            if (h_n) memcpy(h_n, tb + no, (size_t)ns);
            if (c_n) memcpy(c_n, tb + no + ns, (size_t)ns);
        }
        free(tmp);
    }
    clattn__release_event(&ev);
    cl_mem *all[6] = {&xm, &h0m, &c0m, &om, &hnm, &cnm};
    for (int i = 0; i < 6; i++) clattn__release_mem(all[i]);
    return st;
}
