/* api.c (additive): the additive (Bahdanau) attention entry points: argument checks, the projected-
 * keys handle (one product per source batch: kp = keys W_h^T + bias; layer_linear on CPU devices,
 * a CLBlast GEMM elsewhere), the decoder step (one GEMM for
 * W_s query, one launch of the fused kernel of cl/additive.cl), the one-shot call and the
 * host-pointer wrappers. Tiles come from src/additive/plan.c. */
#include "core/internal.h"
#include "kernel_iface.h"
#include "core/blas.h"
#include "core/linear.h"
#include "additive/plan.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clattn_additive_keys {
    clattn_additive_desc desc; /* as validated; desc.steps is the default step count */
    clattn_additive_plan plan;
    char options[128];
    cl_mem keys, w_s, v; /* retained, not copied */
    cl_mem kp;           /* owned: [B, T, A] = keys W_h^T + bias */
    cl_mem lengths;      /* owned int32 [B], or NULL for "all T" */
};

/* The defaults, in a full-size struct. */
static void desc_defaults(clattn_additive_desc *d) {
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->steps = 1;
    d->lengths_type = CLATTN_LENGTHS_INT32;
    d->flavour = CLATTN_FLAVOUR_AUTO;
}

clattn_status clattn_additive_desc_init(clattn_additive_desc *desc, size_t size) {
    clattn_additive_desc d;
    desc_defaults(&d);
    return clattn__desc_init(desc, size, CLATTN_ADDITIVE_DESC_MIN_SIZE, &d, sizeof d);
}

/* The caller's descriptor, whatever its version, as a full-size struct with defaults. */
static clattn_status desc_in(clattn_context *ctx, const clattn_additive_desc *desc,
                             clattn_additive_desc *d) {
    desc_defaults(d);
    return clattn__struct_in(ctx, "clattn_additive_desc", desc, CLATTN_ADDITIVE_DESC_MIN_SIZE, d,
                             sizeof *d);
}

/* Every dimension positive and small enough for the kernels' int indices, every tensor's element
 * count representable in bytes. */
static clattn_status check_desc(clattn_context *ctx, const clattn_additive_desc *d, int64_t steps) {
    const int64_t dims[6] = {d->batch, d->seq, d->key_dim, d->query_dim, d->attn_dim, steps};
    static const char *names[6] = {"batch", "seq", "key_dim", "query_dim", "attn_dim", "steps"};
    for (int i = 0; i < 6; i++)
        if (dims[i] < 1 || dims[i] > INT_MAX)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "additive: %s = %lld must be in 1..%d", names[i],
                                (long long)dims[i], INT_MAX);
    if (d->flavour < CLATTN_FLAVOUR_AUTO || d->flavour > CLATTN_FLAVOUR_CPU)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "additive: bad flavour %d",
                            (int)d->flavour);
    if (d->block_t < 0 || d->work_group < 0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "additive: block_t and work_group must be >= 0 (0 = automatic)");
    const int64_t B = d->batch, T = d->seq;
    const int64_t prods[7][3] = {{B, T, d->key_dim},
                                 {B, T, d->attn_dim},
                                 {B, steps, d->query_dim},
                                 {B, steps, d->key_dim},
                                 {B, steps, T},
                                 {B, steps, d->attn_dim},
                                 {d->attn_dim, d->key_dim, d->query_dim}};
    for (int i = 0; i < 7; i++) {
        int64_t n;
        if (clattn__prod64(prods[i], 3, &n) || clattn__mul64(n, 4, &n))
            return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                                "additive: a tensor of %lld x %lld x %lld floats overflows",
                                (long long)prods[i][0], (long long)prods[i][1],
                                (long long)prods[i][2]);
    }
    return CLATTN_SUCCESS;
}

clattn_status clattn_additive_plan_get(clattn_context *ctx, const clattn_additive_desc *desc,
                                       clattn_additive_plan *plan, size_t size) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_additive_desc d;
    clattn_status st = clattn__struct_out_check(ctx, "clattn_additive_plan", plan, size,
                                                CLATTN_ADDITIVE_PLAN_MIN_SIZE);
    if (!st) st = desc_in(ctx, desc, &d);
    if (!st) st = check_desc(ctx, &d, d.steps);
    if (st) return st;
    char why[256];
    clattn_additive_plan p;
    memset(&p, 0, sizeof p); /* its padding reaches the caller: no stack bytes */
    st = clattn__additive_dispatch(&ctx->caps, d.attn_dim, &d, &p, why, sizeof why);
    if (st) return clattn__fail(ctx, st, "%s", why);
    clattn__struct_out(plan, size, &p, sizeof p);
    return CLATTN_SUCCESS;
}

/* Plans and builds the step kernel, halving the GPU work-group while the compiled kernel allows
 * fewer work-items than planned (registers, driver limits). */
static clattn_status plan_and_build(clattn_context *ctx, clattn_additive_keys *h) {
    clattn_additive_desc d = h->desc;
    char why[256];
    for (;;) {
        clattn_status st =
            clattn__additive_dispatch(&ctx->caps, d.attn_dim, &d, &h->plan, why, sizeof why);
        if (st) return clattn__fail(ctx, st, "%s", why);
        clattn__additive_options(&h->plan, h->options, sizeof h->options);
        cl_kernel k;
        st = clattn__kernel(ctx, "additive", h->options, "additive_step", &k);
        if (st) return st;
        size_t allowed = 0;
        cl_int err = clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                              sizeof allowed, &allowed, NULL);
        clReleaseKernel(k);
        if (err != CL_SUCCESS)
            return clattn__cl_fail(
                ctx, err, "additive: clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE) failed");
        if ((int64_t)allowed >= h->plan.work_group) return CLATTN_SUCCESS;
        if (h->desc.work_group || h->plan.work_group <= 1)
            return clattn__fail(ctx, CLATTN_ERROR_UNSUPPORTED,
                                "additive: the step kernel allows %zu work-items per group, the "
                                "plan needs %lld",
                                allowed, (long long)h->plan.work_group);
        d.work_group = h->plan.work_group / 2;
    }
}

void clattn_additive_keys_destroy(clattn_additive_keys *h) {
    if (!h) return;
    clattn__release_mem(&h->keys);
    clattn__release_mem(&h->w_s);
    clattn__release_mem(&h->v);
    clattn__release_mem(&h->kp);
    clattn__release_mem(&h->lengths);
    free(h);
}

/* kp = bias (broadcast) so that the GEMM can accumulate keys W_h^T onto it with beta = 1. */
static clattn_status fill_bias(clattn_context *ctx, clattn_additive_keys *h, cl_mem bias,
                               cl_uint num_wait, const cl_event *wait, cl_event *ev) {
    cl_kernel k;
    clattn_status st = clattn__kernel(ctx, "additive", h->options, "additive_bias_fill", &k);
    if (st) return st;
    cl_long n = (cl_long)(h->desc.batch * h->desc.seq * h->desc.attn_dim);
    cl_int A = (cl_int)h->desc.attn_dim;
    st = clattn__set_args(ctx, k, "additive_bias_fill", sizeof(cl_mem), &h->kp, sizeof(cl_mem),
                          &bias, sizeof n, &n, sizeof A, &A, (size_t)0);
    size_t local = 64, global = (size_t)((n + 63) / 64 * 64);
    if (!st)
        st = clattn__launch(ctx, k, 1, &global, &local, num_wait, wait, ev, "additive_bias_fill");
    clReleaseKernel(k);
    return st;
}

/* kp [B*T, A] = keys [B*T, Dk] W_h^T (+ bias) on CPU devices: W_h packed into layer_linear's
 * panels (scratch released once the work is enqueued), the product, then layer_rows adds the
 * bias. Against the CLBlast GEMM it replaces (B=32, Dk=1024, A=512 on the AVX-512 PoCL host):
 * see the README's "Additive attention and the CLBlast GEMMs". */
static clattn_status project_keys_cpu(clattn_context *ctx, clattn_additive_keys *h, int lanes,
                                      cl_mem keys, cl_mem w_h, cl_mem bias, cl_uint num_wait,
                                      const cl_event *wait_list, cl_event *event) {
    const int64_t m = h->desc.batch * h->desc.seq, k = h->desc.key_dim, n = h->desc.attn_dim;
    const int64_t panel = clattn__linear_panel(lanes);
    int64_t cols = 0, bytes = 0; /* W_h^T [k, n] with n rounded up to whole panels */
    if (clattn__add64(n, panel - 1, &cols) ||
        clattn__mul64(cols / panel * panel, k * (int64_t)sizeof(float), &bytes))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW, "additive: W_h's panels overflow");
    cl_mem panels = NULL;
    cl_kernel lin = NULL, rows = NULL;
    cl_event packed = NULL, product = NULL;
    clattn_status st =
        clattn__alloc(ctx, bytes, CL_MEM_READ_WRITE, NULL, "additive W_h in panels", &panels);
    if (!st) st = clattn__linear_kernel(ctx, lanes, m, "layer_linear", &lin);
    if (!st && bias) st = clattn__kernel(ctx, "layer", "", "layer_rows", &rows);
    if (!st)
        st = clattn__linear_pack(ctx, lanes, m, w_h, n, k, panels, num_wait, wait_list, &packed);
    if (!st)
        st = clattn__linear_launch(ctx, lin, lanes, keys, panels, h->kp, m, k, n, 1, &packed,
                                   bias ? &product : event, "additive key projection");
    if (!st && bias) {
        const cl_mem none = NULL;
        const cl_long ld = n, seq = 1;
        const cl_int one = 1, zero = 0;
        st = clattn__set_args(ctx, rows, "additive key bias", sizeof(cl_mem), &h->kp,
                              sizeof(cl_mem), &bias, sizeof(cl_mem), &none, sizeof ld, &ld,
                              sizeof seq, &seq, sizeof one, &one, sizeof zero, &zero, (size_t)0);
        const size_t global[2] = {(size_t)n, (size_t)m};
        if (!st)
            st =
                clattn__launch(ctx, rows, 2, global, NULL, 1, &product, event, "additive key bias");
    }
    clattn__release_event(&packed);
    clattn__release_event(&product);
    if (lin) clReleaseKernel(lin);
    if (rows) clReleaseKernel(rows);
    clattn__release_mem(&panels); /* freed by OpenCL once the product has read it */
    return st;
}

clattn_status clattn_additive_keys_create(clattn_context *ctx,
                                          const clattn_additive_desc *caller_desc, cl_mem keys,
                                          cl_mem w_h, cl_mem w_s, cl_mem v, cl_mem bias,
                                          const void *lengths, cl_uint num_wait,
                                          const cl_event *wait_list, cl_event *event,
                                          clattn_additive_keys **out) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!caller_desc || !out || !keys || !w_h || !w_s || !v || (num_wait && !wait_list))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "additive: desc, out, keys, w_h, w_s and v are required (and a wait "
                            "list when num_wait > 0)");
    clattn_additive_desc d;
    const clattn_additive_desc *desc = &d;
    clattn_status st = desc_in(ctx, caller_desc, &d);
    if (!st) st = check_desc(ctx, desc, desc->steps);
    if (st) return st;
    const int64_t B = desc->batch, T = desc->seq, Dk = desc->key_dim, Ds = desc->query_dim,
                  A = desc->attn_dim;
    if ((st = clattn__check_buffer(ctx, keys, B * T * Dk * 4, "additive keys [B, T, Dk]")) ||
        (st = clattn__check_buffer(ctx, w_h, A * Dk * 4, "additive w_h [A, Dk]")) ||
        (st = clattn__check_buffer(ctx, w_s, A * Ds * 4, "additive w_s [A, Ds]")) ||
        (st = clattn__check_buffer(ctx, v, A * 4, "additive v [A]")) ||
        (bias && (st = clattn__check_buffer(ctx, bias, A * 4, "additive bias [A]"))))
        return st;
    int32_t *len32 = NULL;
    if (lengths) {
        char why[160];
        if (!(len32 = malloc((size_t)B * sizeof(int32_t))))
            return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "additive: lengths copy");
        st = clattn__check_lengths(lengths, desc->lengths_type, B, T, len32, why, sizeof why);
        if (st) {
            free(len32);
            return clattn__fail(ctx, st, "additive: %s", why);
        }
    }
    clattn_additive_keys *h = calloc(1, sizeof *h);
    if (!h) {
        free(len32);
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "additive: handle allocation");
    }
    h->desc = *desc;
    st = plan_and_build(ctx, h);
    if (!st && len32) st = clattn__upload(ctx, len32, B * 4, "additive lengths", &h->lengths);
    free(len32);
    if (!st) st = clattn__alloc(ctx, B * T * A * 4, CL_MEM_READ_WRITE, NULL, "additive kp", &h->kp);
    cl_event fill_ev = NULL;
    const int lanes = clattn__linear_lanes(ctx);
    if (!st && lanes)
        st = project_keys_cpu(ctx, h, lanes, keys, w_h, bias, num_wait, wait_list, event);
    if (!st && !lanes && bias) st = fill_bias(ctx, h, bias, num_wait, wait_list, &fill_ev);
    if (!st && !lanes) {
        /* kp [B*T, A] = keys [B*T, Dk] x W_h^T (+ kp when the bias was filled in). */
        clattn_gemm g = {0};
        g.trans_b = 1, g.m = B * T, g.n = A, g.k = Dk, g.alpha = 1.0f, g.beta = bias ? 1.0f : 0.0f;
        g.a = keys, g.b = w_h, g.c = h->kp, g.lda = Dk, g.ldb = Dk, g.ldc = A, g.count = 1;
        g.a_stride = g.b_stride = g.c_stride = 1; /* unused with one entry; CLBlast refuses 0 */
        st = clattn__sgemm_batched(ctx, &g, fill_ev ? 1 : num_wait, fill_ev ? &fill_ev : wait_list,
                                   "additive key projection");
        /* The wrapper gives no event; a marker after it completes with the GEMM. */
        if (!st && event) st = clattn__marker(ctx, 0, NULL, event);
    }
    clattn__release_event(&fill_ev);
    if (st) {
        clattn_additive_keys_destroy(h);
        return st;
    }
    clRetainMemObject(keys), clRetainMemObject(w_s), clRetainMemObject(v);
    h->keys = keys, h->w_s = w_s, h->v = v;
    *out = h;
    return CLATTN_SUCCESS;
}

clattn_status clattn_additive_step(clattn_context *ctx, const clattn_additive_keys *h,
                                   int64_t steps, cl_mem query, cl_mem context, cl_mem weights,
                                   cl_uint num_wait, const cl_event *wait_list, cl_event *event) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!h || !query || !context || (num_wait && !wait_list))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "additive step: keys handle, query and context are required");
    if (steps == 0) steps = h->desc.steps;
    clattn_status st = check_desc(ctx, &h->desc, steps);
    if (st) return st;
    const int64_t B = h->desc.batch, T = h->desc.seq, Dk = h->desc.key_dim, Ds = h->desc.query_dim,
                  A = h->desc.attn_dim, rows = B * steps;
    if (context == query || context == h->keys ||
        (weights && (weights == context || weights == query || weights == h->keys)))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "additive step: context and weights must not alias the inputs or "
                            "each other");
    if ((st = clattn__check_buffer(ctx, query, rows * Ds * 4, "additive query [B, Tq, Ds]")) ||
        (st = clattn__check_buffer(ctx, context, rows * Dk * 4, "additive context [B, Tq, Dk]")) ||
        (weights &&
         (st = clattn__check_buffer(ctx, weights, rows * T * 4, "additive weights [B, Tq, T]"))))
        return st;

    cl_mem qp = NULL, sc = NULL;
    cl_event gemm_ev = NULL;
    cl_kernel k = NULL;
    st = clattn__alloc(ctx, rows * A * 4, CL_MEM_READ_WRITE, NULL, "additive W_s query", &qp);
    if (!st && !weights)
        st = clattn__alloc(ctx, rows * T * 4, CL_MEM_READ_WRITE, NULL, "additive scores", &sc);
    if (!st) {
        clattn_gemm g = {0};
        g.trans_b = 1, g.m = rows, g.n = A, g.k = Ds, g.alpha = 1.0f;
        g.a = query, g.b = h->w_s, g.c = qp, g.lda = Ds, g.ldb = Ds, g.ldc = A, g.count = 1;
        g.a_stride = g.b_stride = g.c_stride = 1; /* unused with one entry; CLBlast refuses 0 */
        st = clattn__sgemm_batched(ctx, &g, num_wait, wait_list, "additive query projection");
        if (!st) st = clattn__marker(ctx, 0, NULL, &gemm_ev);
    }
    if (!st) st = clattn__kernel(ctx, "additive", h->options, "additive_step", &k);
    if (!st) {
        cl_mem scores = weights ? weights : sc;
        cl_int iT = (cl_int)T, iTq = (cl_int)steps, iA = (cl_int)A, iDk = (cl_int)Dk,
               has_len = h->lengths != NULL;
        st = clattn__set_args(ctx, k, "additive_step", sizeof(cl_mem), &h->kp, sizeof(cl_mem), &qp,
                              sizeof(cl_mem), &h->v, sizeof(cl_mem), &h->keys, sizeof(cl_mem),
                              &h->lengths, sizeof(cl_mem), &scores, sizeof(cl_mem), &context,
                              sizeof iT, &iT, sizeof iTq, &iTq, sizeof iA, &iA, sizeof iDk, &iDk,
                              sizeof has_len, &has_len, (size_t)0);
        if (!st && h->plan.flavour == CLATTN_FLAVOUR_GPU) {
            size_t qv_bytes = h->plan.stage_query ? (size_t)(2 * A * 4) : 4;
            cl_int err = clSetKernelArg(k, CLATTN_ADDITIVE_ARG_QV_LOCAL, qv_bytes, NULL);
            if (err != CL_SUCCESS)
                st = clattn__cl_fail(
                    ctx, err,
                    "additive_step: clSetKernelArg of a local argument of %zu bytes failed",
                    qv_bytes);
        }
    }
    if (!st) {
        size_t wg = (size_t)h->plan.work_group, global = (size_t)rows * wg;
        st = clattn__launch(ctx, k, 1, &global, &wg, 1, &gemm_ev, event, "additive_step");
    }
    if (k) clReleaseKernel(k);
    clattn__release_event(&gemm_ev);
    /* Released now, freed by OpenCL once the enqueued kernel is done with them. */
    clattn__release_mem(&qp);
    clattn__release_mem(&sc);
    return st;
}

clattn_status clattn_additive(clattn_context *ctx, const clattn_additive_desc *caller_desc,
                              cl_mem keys, cl_mem query, cl_mem w_h, cl_mem w_s, cl_mem v,
                              cl_mem bias, const void *lengths, cl_mem context, cl_mem weights,
                              cl_uint num_wait, const cl_event *wait_list, cl_event *event) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!caller_desc || !query || !context)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "additive: desc, query and context are required");
    /* Check the step's buffers before enqueuing the projection, so a bad call enqueues nothing. */
    clattn_additive_desc d;
    const clattn_additive_desc *desc = &d;
    clattn_status st = desc_in(ctx, caller_desc, &d);
    if (!st) st = check_desc(ctx, desc, desc->steps);
    if (st) return st;
    const int64_t rows = desc->batch * desc->steps;
    if ((st = clattn__check_buffer(ctx, query, rows * desc->query_dim * 4,
                                   "additive query [B, Tq, Ds]")) ||
        (st = clattn__check_buffer(ctx, context, rows * desc->key_dim * 4,
                                   "additive context [B, Tq, Dk]")) ||
        (weights && (st = clattn__check_buffer(ctx, weights, rows * desc->seq * 4,
                                               "additive weights [B, Tq, T]"))))
        return st;
    clattn_additive_keys *h = NULL;
    cl_event ev = NULL;
    st = clattn_additive_keys_create(ctx, desc, keys, w_h, w_s, v, bias, lengths, num_wait,
                                     wait_list, &ev, &h);
    if (st) return st;
    st = clattn_additive_step(ctx, h, desc->steps, query, context, weights, 1, &ev, event);
    clattn__release_event(&ev);
    clattn_additive_keys_destroy(h); /* the enqueued work keeps its buffers alive */
    return st;
}

/* ---- Host-pointer forms ---------------------------------------------------------------------- */

clattn_status clattn_additive_keys_create_host(clattn_context *ctx,
                                               const clattn_additive_desc *caller_desc,
                                               const float *keys, const float *w_h,
                                               const float *w_s, const float *v, const float *bias,
                                               const void *lengths, clattn_additive_keys **out) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!caller_desc || !out || !keys || !w_h || !w_s || !v)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "additive: desc, out, keys, w_h, w_s and v are required");
    clattn_additive_desc d;
    const clattn_additive_desc *desc = &d;
    clattn_status st = desc_in(ctx, caller_desc, &d);
    if (!st) st = check_desc(ctx, desc, desc->steps);
    if (st) return st;
    const int64_t B = desc->batch, T = desc->seq, Dk = desc->key_dim, Ds = desc->query_dim,
                  A = desc->attn_dim;
    cl_mem m[5] = {NULL, NULL, NULL, NULL, NULL};
    cl_event ev = NULL;
    if (!(st = clattn__upload(ctx, keys, B * T * Dk * 4, "additive keys", &m[0])) &&
        !(st = clattn__upload(ctx, w_h, A * Dk * 4, "additive w_h", &m[1])) &&
        !(st = clattn__upload(ctx, w_s, A * Ds * 4, "additive w_s", &m[2])) &&
        !(st = clattn__upload(ctx, v, A * 4, "additive v", &m[3])) &&
        !(st = clattn__upload(ctx, bias, A * 4, "additive bias", &m[4])))
        st = clattn_additive_keys_create(ctx, desc, m[0], m[1], m[2], m[3], m[4], lengths, 0, NULL,
                                         &ev, out);
    if (!st) {
        cl_int err = clWaitForEvents(1, &ev);
        if (err != CL_SUCCESS) {
            st = clattn__cl_fail(
                ctx, err, "additive: waiting for the key projection: clWaitForEvents failed");
            clattn_additive_keys_destroy(*out);
            *out = NULL;
        }
    }
    clattn__release_event(&ev);
    for (int i = 0; i < 5; i++) clattn__release_mem(&m[i]);
    return st;
}

clattn_status clattn_additive_step_host(clattn_context *ctx, const clattn_additive_keys *h,
                                        int64_t steps, const float *query, float *context,
                                        float *weights) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!h || !query || !context)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "additive step: keys handle, query and context are required");
    if (steps == 0) steps = h->desc.steps;
    clattn_status st = check_desc(ctx, &h->desc, steps);
    if (st) return st;
    const int64_t rows = h->desc.batch * steps;
    cl_mem q = NULL, c = NULL, w = NULL;
    cl_event ev = NULL;
    if (!(st = clattn__upload(ctx, query, rows * h->desc.query_dim * 4, "additive query", &q)) &&
        !(st = clattn__alloc(ctx, rows * h->desc.key_dim * 4, CL_MEM_READ_WRITE, NULL,
                             "additive context", &c)) &&
        !(st = weights ? clattn__alloc(ctx, rows * h->desc.seq * 4, CL_MEM_READ_WRITE, NULL,
                                       "additive weights", &w)
                       : CLATTN_SUCCESS) &&
        !(st = clattn_additive_step(ctx, h, steps, q, c, w, 0, NULL, &ev))) {
        /* Read both into the caller's memory only after the whole step succeeded. */
        cl_int err = clWaitForEvents(1, &ev);
        if (err != CL_SUCCESS)
            st = clattn__cl_fail(ctx, err,
                                 "additive step failed on the device: clWaitForEvents failed");
        if (!st)
            st = clattn__download(ctx, c, context, rows * h->desc.key_dim * 4, 0, NULL,
                                  "additive context");
        if (!st && weights)
            st = clattn__download(ctx, w, weights, rows * h->desc.seq * 4, 0, NULL,
                                  "additive weights");
    }
    clattn__release_event(&ev);
    clattn__release_mem(&q);
    clattn__release_mem(&c);
    clattn__release_mem(&w);
    return st;
}

clattn_status clattn_additive_host(clattn_context *ctx, const clattn_additive_desc *caller_desc,
                                   const float *keys, const float *query, const float *w_h,
                                   const float *w_s, const float *v, const float *bias,
                                   const void *lengths, float *context, float *weights) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!caller_desc || !query || !context)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "additive: desc, query and context are required");
    clattn_additive_desc d;
    clattn_additive_keys *h = NULL;
    clattn_status st = desc_in(ctx, caller_desc, &d);
    if (!st) st = clattn_additive_keys_create_host(ctx, &d, keys, w_h, w_s, v, bias, lengths, &h);
    if (!st) st = clattn_additive_step_host(ctx, h, d.steps, query, context, weights);
    clattn_additive_keys_destroy(h);
    return st;
}
