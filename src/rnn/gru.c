/* gru.c: the GRU entry points: the bidirectional encoder (one GEMM per direction for the
 * input projections of all steps, then one launch of cl/gru.cl per step serving both directions)
 * and the single decoder cell (one GEMM and one launch), with their host-pointer wrappers. */
#include "core/internal.h"
#include "kernel_iface.h"
#include "core/blas.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The defaults, in a full-size struct. */
static void desc_defaults(clattn_gru_desc *d) {
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->lengths_type = CLATTN_LENGTHS_INT32;
}

clattn_status clattn_gru_desc_init(clattn_gru_desc *desc, size_t size) {
    clattn_gru_desc d;
    desc_defaults(&d);
    return clattn__desc_init(desc, size, CLATTN_GRU_DESC_MIN_SIZE, &d, sizeof d);
}

/* The caller's descriptor, whatever its version, as a full-size struct with defaults. */
static clattn_status desc_in(clattn_context *ctx, const clattn_gru_desc *desc, clattn_gru_desc *d) {
    desc_defaults(d);
    return clattn__struct_in(ctx, "clattn_gru_desc", desc, CLATTN_GRU_DESC_MIN_SIZE, d, sizeof *d);
}

static clattn_status check_desc(clattn_context *ctx, const clattn_gru_desc *d, int64_t T) {
    const int64_t dims[4] = {d->batch, T, d->input_dim, d->hidden};
    static const char *names[4] = {"batch", "seq", "input_dim", "hidden"};
    for (int i = 0; i < 4; i++)
        if (dims[i] < 1 || dims[i] > INT_MAX / 6)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "gru: %s = %lld must be in 1..%d", names[i], (long long)dims[i],
                                INT_MAX / 6);
    const int64_t prods[4][3] = {{d->batch, T, d->input_dim},
                                 {d->batch, T, 6 * d->hidden},
                                 {3 * d->hidden, d->input_dim, 1},
                                 {3 * d->hidden, d->hidden, 1}};
    for (int i = 0; i < 4; i++) {
        int64_t n;
        if (clattn__prod64(prods[i], 3, &n) || clattn__mul64(n, 4, &n))
            return clattn__fail(
                ctx, CLATTN_ERROR_OVERFLOW, "gru: a tensor of %lld x %lld x %lld floats overflows",
                (long long)prods[i][0], (long long)prods[i][1], (long long)prods[i][2]);
    }
    return CLATTN_SUCCESS;
}

/* Shapes of one direction's weights: w_ih [3H, Din], w_hh [3H, H], biases [3H] (optional). */
static clattn_status check_weights(clattn_context *ctx, const clattn_gru_desc *d,
                                   const clattn_gru_buffers *w, const char *dir) {
    if (!w || !w->w_ih || !w->w_hh)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "gru: the %s weights need w_ih and w_hh", dir);
    const int64_t H3 = 3 * d->hidden;
    clattn_status st;
    if ((st = clattn__check_buffer(ctx, w->w_ih, H3 * d->input_dim * 4, "gru w_ih [3H, Din]")) ||
        (st = clattn__check_buffer(ctx, w->w_hh, H3 * d->hidden * 4, "gru w_hh [3H, H]")) ||
        (w->b_ih && (st = clattn__check_buffer(ctx, w->b_ih, H3 * 4, "gru b_ih [3H]"))) ||
        (w->b_hh && (st = clattn__check_buffer(ctx, w->b_hh, H3 * 4, "gru b_hh [3H]"))))
        return st;
    return CLATTN_SUCCESS;
}

static int aliases(cl_mem out, const clattn_gru_buffers *w) {
    return w && (out == w->w_ih || out == w->w_hh || out == w->b_ih || out == w->b_hh);
}

/* Enqueues: gi[dir] = x W_ih[dir]^T for each direction, then steps 0..T-1 of gru_step, each
 * waiting for the one before (the queue may be the application's out-of-order queue). */
static clattn_status run_gru(clattn_context *ctx, const clattn_gru_desc *d, int64_t T, int ndir,
                             cl_mem x, const clattn_gru_buffers *const w[2], cl_mem lengths,
                             cl_mem h0, cl_mem out, cl_uint num_wait, const cl_event *wait_list,
                             cl_event *event) {
    const int64_t B = d->batch, H = d->hidden, Din = d->input_dim;
    cl_mem gi = NULL;
    cl_kernel k = NULL;
    cl_event gemm_ev = NULL, prev = NULL;
    clattn_status st = clattn__alloc(ctx, ndir * B * T * 3 * H * 4, CL_MEM_READ_WRITE, NULL,
                                     "gru input projections", &gi);
    for (int dir = 0; dir < ndir && !st; dir++) {
        clattn_gemm g = {0};
        g.trans_b = 1, g.m = B * T, g.n = 3 * H, g.k = Din, g.alpha = 1.0f;
        g.a = x, g.b = w[dir]->w_ih, g.c = gi, g.c_off = dir * B * T * 3 * H;
        g.lda = Din, g.ldb = Din, g.ldc = 3 * H, g.count = 1;
        g.a_stride = g.b_stride = g.c_stride = 1; /* unused with one entry; CLBlast refuses 0 */
        st = clattn__sgemm_batched(ctx, &g, num_wait, wait_list, "gru input projection");
    }
    /* The wrapper gives no event; a marker after both GEMMs completes with them. */
    if (!st) st = clattn__marker(ctx, 0, NULL, &gemm_ev);
    if (!st) st = clattn__kernel(ctx, "gru", "", "gru_step", &k);
    if (!st) {
        const clattn_gru_buffers *w1 = w[ndir - 1];
        cl_int iB = (cl_int)B, iT = (cl_int)T, iH = (cl_int)H, nd = ndir, hbi = w[0]->b_ih != NULL,
               hbh = w[0]->b_hh != NULL, hl = lengths != NULL, hh = h0 != NULL, s0 = 0;
        st = clattn__set_args(ctx, k, "gru_step", sizeof(cl_mem), &gi, sizeof(cl_mem), &w[0]->w_hh,
                              sizeof(cl_mem), &w1->w_hh, sizeof(cl_mem), &w[0]->b_ih,
                              sizeof(cl_mem), &w1->b_ih, sizeof(cl_mem), &w[0]->b_hh,
                              sizeof(cl_mem), &w1->b_hh, sizeof(cl_mem), &lengths, sizeof(cl_mem),
                              &h0, sizeof(cl_mem), &out, sizeof iB, &iB, sizeof iT, &iT, sizeof iH,
                              &iH, sizeof nd, &nd, sizeof s0, &s0, sizeof hbi, &hbi, sizeof hbh,
                              &hbh, sizeof hl, &hl, sizeof hh, &hh, (size_t)0);
    }
    /* GPUs (on-chip local memory) get 64-item groups along j, the global size rounded up (the
     * kernel skips j >= H), so a prime H does not force groups of one; CPU drivers choose. */
    size_t local[3] = {64, 1, 1}, *lp = NULL;
    if (!st && ctx->caps.local_mem_type == CLATTN_LOCAL_MEM_LOCAL) {
        size_t allowed = 0;
        cl_int err = clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                              sizeof allowed, &allowed, NULL);
        if (err != CL_SUCCESS)
            st = clattn__cl_fail(
                ctx, err, "gru_step: clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE) failed");
        while (local[0] > 1 && local[0] > allowed) local[0] /= 2;
        lp = local;
    }
    const size_t global[3] = {lp ? ((size_t)H + local[0] - 1) / local[0] * local[0] : (size_t)H,
                              (size_t)B, (size_t)ndir};
    for (int64_t s = 0; s < T && !st; s++) {
        cl_int is = (cl_int)s;
        cl_int err = clSetKernelArg(k, CLATTN_GRU_ARG_STEP, sizeof is, &is);
        if (err != CL_SUCCESS) {
            st = clattn__cl_fail(ctx, err, "gru_step: clSetKernelArg(s)");
            break;
        }
        cl_event next = NULL;
        if (s == 0)
            st = clattn__launch(ctx, k, 3, global, lp, 1, &gemm_ev, &next, "gru_step");
        else
            st = clattn__launch(ctx, k, 3, global, lp, 1, &prev, &next, "gru_step");
        clattn__release_event(&prev);
        prev = next;
    }
    if (!st && event) {
        *event = prev;
        prev = NULL;
    }
    clattn__release_event(&prev);
    clattn__release_event(&gemm_ev);
    if (k) clReleaseKernel(k);
    clattn__release_mem(&gi); /* freed once the enqueued steps are done */
    return st;
}

clattn_status clattn_birnn_gru(clattn_context *ctx, const clattn_gru_desc *caller_desc, cl_mem x,
                               const clattn_gru_buffers *fwd, const clattn_gru_buffers *bwd,
                               const void *lengths, cl_mem out, cl_uint num_wait,
                               const cl_event *wait_list, cl_event *event) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!caller_desc || !x || !out || (num_wait && !wait_list))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "birnn: desc, x and out are required");
    clattn_gru_desc d;
    const clattn_gru_desc *desc = &d;
    clattn_status st = desc_in(ctx, caller_desc, &d);
    if (!st) st = check_desc(ctx, desc, desc->seq);
    if (st) return st;
    const int64_t B = desc->batch, T = desc->seq;
    if ((st = check_weights(ctx, desc, fwd, "forward")) ||
        (st = check_weights(ctx, desc, bwd, "backward")))
        return st;
    /* One kernel build serves both directions, so they share the has-bias flags. */
    if ((fwd->b_ih != NULL) != (bwd->b_ih != NULL) || (fwd->b_hh != NULL) != (bwd->b_hh != NULL))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "birnn: give each bias for both directions or for neither");
    if (out == x || aliases(out, fwd) || aliases(out, bwd))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "birnn: out must not alias x or the weights");
    if ((st = clattn__check_buffer(ctx, x, B * T * desc->input_dim * 4, "birnn x [B, T, Din]")) ||
        (st = clattn__check_buffer(ctx, out, B * T * 2 * desc->hidden * 4, "birnn out [B, T, 2H]")))
        return st;
    cl_mem len_mem = NULL;
    if (lengths) {
        int32_t *len32 = malloc((size_t)B * sizeof(int32_t));
        char why[160];
        if (!len32) return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "birnn: lengths copy");
        st = clattn__check_lengths(lengths, desc->lengths_type, B, T, len32, why, sizeof why);
        if (st) st = clattn__fail(ctx, st, "birnn: %s", why);
        if (!st) st = clattn__upload(ctx, len32, B * 4, "birnn lengths", &len_mem);
        free(len32);
        if (st) return st;
    }
    const clattn_gru_buffers *w[2] = {fwd, bwd};
    st = run_gru(ctx, desc, T, 2, x, w, len_mem, NULL, out, num_wait, wait_list, event);
    clattn__release_mem(&len_mem);
    return st;
}

clattn_status clattn_gru_cell(clattn_context *ctx, const clattn_gru_desc *caller_desc, cl_mem x,
                              cl_mem h, const clattn_gru_buffers *w, cl_mem h_out, cl_uint num_wait,
                              const cl_event *wait_list, cl_event *event) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!caller_desc || !x || !h_out || (num_wait && !wait_list))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "gru cell: desc, x and h_out are required");
    clattn_gru_desc d;
    const clattn_gru_desc *desc = &d;
    clattn_status st = desc_in(ctx, caller_desc, &d);
    if (!st) st = check_desc(ctx, desc, 1);
    if (st) return st;
    if ((st = check_weights(ctx, desc, w, "cell"))) return st;
    if (h_out == x || h_out == h || aliases(h_out, w))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "gru cell: h_out must not alias x, h or the weights");
    const int64_t B = desc->batch, H = desc->hidden;
    if ((st = clattn__check_buffer(ctx, x, B * desc->input_dim * 4, "gru cell x [B, Din]")) ||
        (h && (st = clattn__check_buffer(ctx, h, B * H * 4, "gru cell h [B, H]"))) ||
        (st = clattn__check_buffer(ctx, h_out, B * H * 4, "gru cell h_out [B, H]")))
        return st;
    const clattn_gru_buffers *ws[2] = {w, w};
    return run_gru(ctx, desc, 1, 1, x, ws, NULL, h, h_out, num_wait, wait_list, event);
}

/* ---- Host-pointer forms ---------------------------------------------------------------------- */

static clattn_status upload_weights(clattn_context *ctx, const clattn_gru_desc *d,
                                    const clattn_gru_host_weights *hw, clattn_gru_buffers *w) {
    const int64_t H3 = 3 * d->hidden;
    clattn_status st;
    if (!hw || !hw->w_ih || !hw->w_hh)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "gru: w_ih and w_hh are required");
    if ((st = clattn__upload(ctx, hw->w_ih, H3 * d->input_dim * 4, "gru w_ih", &w->w_ih)) ||
        (st = clattn__upload(ctx, hw->w_hh, H3 * d->hidden * 4, "gru w_hh", &w->w_hh)) ||
        (st = clattn__upload(ctx, hw->b_ih, H3 * 4, "gru b_ih", &w->b_ih)) ||
        (st = clattn__upload(ctx, hw->b_hh, H3 * 4, "gru b_hh", &w->b_hh)))
        return st;
    return CLATTN_SUCCESS;
}

static void release_weights(clattn_gru_buffers *w) {
    clattn__release_mem(&w->w_ih);
    clattn__release_mem(&w->w_hh);
    clattn__release_mem(&w->b_ih);
    clattn__release_mem(&w->b_hh);
}

/* Runs the device form on uploaded copies and reads `out_bytes` of the result into `out`. */
clattn_status clattn_birnn_gru_host(clattn_context *ctx, const clattn_gru_desc *caller_desc,
                                    const float *x, const clattn_gru_host_weights *fwd,
                                    const clattn_gru_host_weights *bwd, const void *lengths,
                                    float *out) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!caller_desc || !x || !out)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "birnn: desc, x and out are required");
    clattn_gru_desc d;
    const clattn_gru_desc *desc = &d;
    clattn_status st = desc_in(ctx, caller_desc, &d);
    if (!st) st = check_desc(ctx, desc, desc->seq);
    if (st) return st;
    const int64_t n_in = desc->batch * desc->seq * desc->input_dim,
                  n_out = desc->batch * desc->seq * 2 * desc->hidden;
    clattn_gru_buffers wf = {0}, wb = {0};
    cl_mem xm = NULL, om = NULL;
    cl_event ev = NULL;
    if (!(st = upload_weights(ctx, desc, fwd, &wf)) &&
        !(st = upload_weights(ctx, desc, bwd, &wb)) &&
        !(st = clattn__upload(ctx, x, n_in * 4, "birnn x", &xm)) &&
        !(st = clattn__alloc(ctx, n_out * 4, CL_MEM_READ_WRITE, NULL, "birnn out", &om)) &&
        !(st = clattn_birnn_gru(ctx, desc, xm, &wf, &wb, lengths, om, 0, NULL, &ev)))
        st = clattn__download(ctx, om, out, n_out * 4, 1, &ev, "birnn out");
    clattn__release_event(&ev);
    release_weights(&wf);
    release_weights(&wb);
    clattn__release_mem(&xm);
    clattn__release_mem(&om);
    return st;
}

clattn_status clattn_gru_cell_host(clattn_context *ctx, const clattn_gru_desc *caller_desc,
                                   const float *x, const float *h, const clattn_gru_host_weights *w,
                                   float *h_out) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!caller_desc || !x || !h_out)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "gru cell: desc, x and h_out are required");
    clattn_gru_desc d;
    const clattn_gru_desc *desc = &d;
    clattn_status st = desc_in(ctx, caller_desc, &d);
    if (!st) st = check_desc(ctx, desc, 1);
    if (st) return st;
    const int64_t BH = desc->batch * desc->hidden;
    clattn_gru_buffers wd = {0};
    cl_mem xm = NULL, hm = NULL, om = NULL;
    cl_event ev = NULL;
    if (!(st = upload_weights(ctx, desc, w, &wd)) &&
        !(st = clattn__upload(ctx, x, desc->batch * desc->input_dim * 4, "gru cell x", &xm)) &&
        !(st = clattn__upload(ctx, h, BH * 4, "gru cell h", &hm)) &&
        !(st = clattn__alloc(ctx, BH * 4, CL_MEM_READ_WRITE, NULL, "gru cell h_out", &om)) &&
        !(st = clattn_gru_cell(ctx, desc, xm, hm, &wd, om, 0, NULL, &ev)))
        st = clattn__download(ctx, om, h_out, BH * 4, 1, &ev, "gru cell h_out");
    clattn__release_event(&ev);
    release_weights(&wd);
    clattn__release_mem(&xm);
    clattn__release_mem(&hm);
    clattn__release_mem(&om);
    return st;
}
