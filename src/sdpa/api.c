/* api.c (sdpa): the public scaled dot-product attention entry points. Turns a descriptor into a
 * validated clattn_sdpa_problem (defaults filled, strides resolved, every size product checked),
 * asks the pure dispatcher for a plan, checks every buffer against the span its shape and strides
 * need, and only then hands the problem to the launcher the plan names, so a failed call has
 * enqueued nothing and written nothing the caller owns. Also the synchronous host-pointer form. */
#include "kernel_iface.h"
#include "sdpa/plan.h"

#include <math.h>
#include <string.h>

/* Head dimensions the kernels are written for (private arrays, local tiles). */
#define SDPA_MAX_HEAD_DIM 256

/* The defaults, in a full-size struct. */
static void desc_defaults(clattn_sdpa_desc *d) {
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->algo = CLATTN_ALGO_AUTO;
    d->flavour = CLATTN_FLAVOUR_AUTO;
}

clattn_status clattn_sdpa_desc_init(clattn_sdpa_desc *desc, size_t size) {
    clattn_sdpa_desc d;
    desc_defaults(&d);
    return clattn__desc_init(desc, size, CLATTN_SDPA_DESC_MIN_SIZE, &d, sizeof d);
}

clattn_status clattn__sdpa_desc_in(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                   clattn_sdpa_desc *d) {
    desc_defaults(d);
    return clattn__struct_in(ctx, "clattn_sdpa_desc", desc, CLATTN_SDPA_DESC_MIN_SIZE, d,
                             sizeof *d);
}

clattn_status clattn__sdpa_resolve_strides(clattn_context *ctx, const char *name, const int64_t *in,
                                           int64_t H, int64_t S, int64_t dim, int64_t *out) {
    for (int i = 0; i < 3; i++)
        if (in[i] < 0)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s stride %d is %lld (< 0)",
                                name, i, (long long)in[i]);
    int64_t ss = in[2] ? in[2] : dim, sh = in[1], sb = in[0];
    if ((sh == 0 && clattn__mul64(S, ss, &sh)) || (sb == 0 && clattn__mul64(H, sh, &sb)))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW, "%s: default strides overflow int64", name);
    if (ss < dim)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s sequence stride %lld is smaller than its row of %lld elements",
                            name, (long long)ss, (long long)dim);
    out[0] = sb;
    out[1] = sh;
    out[2] = ss;
    return CLATTN_SUCCESS;
}

/* d is the full-size copy desc_in made. */
static clattn_status make_problem(clattn_context *ctx, const clattn_sdpa_desc *d, int has_lse,
                                  clattn_sdpa_problem *p) {
    memset(p, 0, sizeof *p);
    const struct {
        const char *name;
        int64_t v;
    } sizes[] = {{"batch", d->batch},
                 {"heads", d->heads},
                 {"kv_heads", d->kv_heads},
                 {"seq_q", d->seq_q},
                 {"seq_kv", d->seq_kv},
                 {"head_dim", d->head_dim},
                 {"head_dim_v", d->head_dim_v == 0 ? 1 : d->head_dim_v}};
    for (int i = 0; i < 7; i++)
        if (sizes[i].v < 1)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s is %lld; it must be >= 1",
                                sizes[i].name, (long long)sizes[i].v);
    p->B = d->batch;
    p->Hq = d->heads;
    p->Hkv = d->kv_heads;
    p->Sq = d->seq_q;
    p->Skv = d->seq_kv;
    p->D = d->head_dim;
    p->Dv = d->head_dim_v ? d->head_dim_v : d->head_dim;
    if (p->D > SDPA_MAX_HEAD_DIM || p->Dv > SDPA_MAX_HEAD_DIM)
        return clattn__fail(ctx, CLATTN_ERROR_UNSUPPORTED,
                            "head_dim %lld / head_dim_v %lld: supported head dims are 1..%d",
                            (long long)p->D, (long long)p->Dv, SDPA_MAX_HEAD_DIM);
    if (p->Hq % p->Hkv != 0)
        return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                            "heads (%lld) is not a multiple of kv_heads (%lld)", (long long)p->Hq,
                            (long long)p->Hkv);
    p->group = p->Hq / p->Hkv;
    if (!isfinite(d->scale))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "scale is not finite");
    p->scale = d->scale != 0.0f ? d->scale : (float)(1.0 / sqrt((double)p->D));
    if (d->algo < CLATTN_ALGO_AUTO || d->algo > CLATTN_ALGO_DECODE)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "unknown algo %d", (int)d->algo);
    if (d->flavour < CLATTN_FLAVOUR_AUTO || d->flavour > CLATTN_FLAVOUR_CPU)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "unknown flavour %d",
                            (int)d->flavour);
    if (d->block_q < 0 || d->block_kv < 0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "block_q/block_kv are negative");
    p->causal = d->causal != 0;
    p->has_mask = d->has_mask != 0;
    p->has_lse = has_lse;
    const struct {
        const char *name;
        clattn_dtype v;
        int *to;
    } dtypes[] = {{"q_dtype", d->q_dtype, &p->q_dtype},
                  {"kv_dtype", d->kv_dtype, &p->kv_dtype},
                  {"out_dtype", d->out_dtype, &p->o_dtype},
                  {"mask_dtype", d->mask_dtype, &p->m_dtype}};
    for (int i = 0; i < 4; i++) {
        if ((int)dtypes[i].v < CLATTN_DTYPE_F32 || (int)dtypes[i].v > CLATTN_DTYPE_BF16)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "%s is %d; it must be CLATTN_DTYPE_F32, _F16 or _BF16",
                                dtypes[i].name, (int)dtypes[i].v);
        *dtypes[i].to = (int)dtypes[i].v; /* clattn_dtype and CLATTN_STORAGE_* agree */
    }
    clattn_status st = clattn__sdpa_options(ctx, d, p);
    if (st != CLATTN_SUCCESS) return st;
    if ((st = clattn__sdpa_resolve_strides(ctx, "q", d->q_strides, p->Hq, p->Sq, p->D, p->q_st)) ||
        (st =
             clattn__sdpa_resolve_strides(ctx, "k", d->k_strides, p->Hkv, p->Skv, p->D, p->k_st)) ||
        (st = clattn__sdpa_resolve_strides(ctx, "v", d->v_strides, p->Hkv, p->Skv, p->Dv,
                                           p->v_st)) ||
        (st = clattn__sdpa_resolve_strides(ctx, "out", d->out_strides, p->Hq, p->Sq, p->Dv,
                                           p->o_st)))
        return st;
    if (p->has_mask) {
        const int64_t mb = d->mask_batch ? d->mask_batch : p->B;
        const int64_t mh = d->mask_heads ? d->mask_heads : p->Hq;
        if ((mb != 1 && mb != p->B) || (mh != 1 && mh != p->Hq))
            return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                                "mask is [%lld, %lld, Sq, Skv]; it must broadcast to [%lld, %lld, "
                                "Sq, Skv] (each of its first two dims 1 or the full size)",
                                (long long)mb, (long long)mh, (long long)p->B, (long long)p->Hq);
        /* The strides are formed here, before tensor_spans checks the sizes, so they are
           checked too: a [mb, mh, Sq, Skv] mask must have an int64 element count. */
        const int64_t plane[2] = {p->Sq, p->Skv}, all[3] = {mh, p->Sq, p->Skv};
        int64_t plane_elems = 0, all_elems = 0;
        if (clattn__prod64(plane, 2, &plane_elems) || clattn__prod64(all, 3, &all_elems))
            return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                                "mask [%lld, %lld, %lld, %lld] has more elements than int64 holds",
                                (long long)mb, (long long)mh, (long long)p->Sq, (long long)p->Skv);
        p->m_st[2] = p->Skv;
        p->m_st[1] = mh == 1 ? 0 : plane_elems;
        p->m_st[0] = mb == 1 ? 0 : all_elems;
    }
    return CLATTN_SUCCESS;
}

static clattn_status tensor_spans(clattn_context *ctx, const clattn_sdpa_desc *d,
                                  const clattn_sdpa_problem *p, clattn_sdpa_spans *s) {
    const int64_t qs[4] = {p->B, p->Hq, p->Sq, p->D}, ks[4] = {p->B, p->Hkv, p->Skv, p->D};
    const int64_t vs[4] = {p->B, p->Hkv, p->Skv, p->Dv}, os[4] = {p->B, p->Hq, p->Sq, p->Dv};
    const int64_t qst[4] = {p->q_st[0], p->q_st[1], p->q_st[2], 1};
    const int64_t kst[4] = {p->k_st[0], p->k_st[1], p->k_st[2], 1};
    const int64_t vst[4] = {p->v_st[0], p->v_st[1], p->v_st[2], 1};
    const int64_t ost[4] = {p->o_st[0], p->o_st[1], p->o_st[2], 1};
    /* bytes per stored element */
    const int64_t eq = clattn__storage_bytes(p->q_dtype), ekv = clattn__storage_bytes(p->kv_dtype);
    const int64_t eo = clattn__storage_bytes(p->o_dtype), em = clattn__storage_bytes(p->m_dtype);
    int64_t mf[5] = {1, 1, p->Sq, p->Skv, em}, lf[4] = {p->B, p->Hq, p->Sq, CLATTN_ACC_BYTES};
    if (p->has_mask) {
        mf[0] = d->mask_batch ? d->mask_batch : p->B;
        mf[1] = d->mask_heads ? d->mask_heads : p->Hq;
    }
    memset(s, 0, sizeof *s);
    if (clattn__span_bytes(qs, qst, 4, eq, &s->q) || clattn__span_bytes(ks, kst, 4, ekv, &s->k) ||
        clattn__span_bytes(vs, vst, 4, ekv, &s->v) || clattn__span_bytes(os, ost, 4, eo, &s->out) ||
        clattn__prod64(mf, 5, &s->mask) || clattn__prod64(lf, 4, &s->lse))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                            "attention tensor sizes overflow int64 (B=%lld Hq=%lld Sq=%lld "
                            "Skv=%lld D=%lld Dv=%lld with the given strides)",
                            (long long)p->B, (long long)p->Hq, (long long)p->Sq, (long long)p->Skv,
                            (long long)p->D, (long long)p->Dv);
    if (!p->has_mask) s->mask = 0;
    const int64_t oshape[3] = {p->B, p->Hq, p->Sq};
    if (clattn__rows_overlap(oshape, p->o_st, p->Dv))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "out strides {%lld, %lld, %lld} make output elements overlap",
                            (long long)p->o_st[0], (long long)p->o_st[1], (long long)p->o_st[2]);
    return CLATTN_SUCCESS;
}

clattn_status clattn__sdpa_plan(clattn_context *ctx, const clattn_sdpa_desc *d,
                                const clattn_sdpa_problem *p, clattn_sdpa_plan *plan) {
    if (d->decode_splits < 0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "decode_splits is %lld (< 0)",
                            (long long)d->decode_splits);
    const clattn_sdpa_request req = {d->algo, d->flavour, d->block_q, d->block_kv,
                                     d->decode_splits};
    char why[512];
    clattn_status st = clattn__sdpa_dispatch(&ctx->caps, p, &req, plan, why, sizeof why);
    if (st != CLATTN_SUCCESS) return clattn__fail(ctx, st, "%s", why);
    return CLATTN_SUCCESS;
}

clattn_status clattn__sdpa_validate(clattn_context *ctx, const clattn_sdpa_desc *d, int has_lse,
                                    clattn_sdpa_problem *p, clattn_sdpa_spans *s) {
    clattn_status st = make_problem(ctx, d, has_lse, p);
    return st != CLATTN_SUCCESS ? st : tensor_spans(ctx, d, p, s);
}

clattn_status clattn_sdpa_plan_get(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                   clattn_sdpa_plan *plan, size_t size) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_sdpa_desc d;
    clattn_sdpa_problem p;
    clattn_sdpa_plan local;
    clattn_sdpa_spans s;
    memset(&local, 0, sizeof local); /* what reaches the caller holds no stack bytes */
    clattn_status st =
        clattn__struct_out_check(ctx, "clattn_sdpa_plan", plan, size, CLATTN_SDPA_PLAN_MIN_SIZE);
    if (st == CLATTN_SUCCESS) st = clattn__sdpa_desc_in(ctx, desc, &d);
    if (st == CLATTN_SUCCESS) st = clattn__sdpa_validate(ctx, &d, 0, &p, &s);
    if (st == CLATTN_SUCCESS) st = clattn__sdpa_plan(ctx, &d, &p, &local);
    if (st == CLATTN_SUCCESS) clattn__struct_out(plan, size, &local, sizeof local);
    return st;
}

clattn_status clattn__sdpa_check_mask(clattn_context *ctx, const clattn_sdpa_problem *p,
                                      int has_mask) {
    if (p->has_mask != (has_mask != 0))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            p->has_mask ? "desc.has_mask is set but mask is NULL"
                                        : "a mask was passed but desc.has_mask is 0");
    return CLATTN_SUCCESS;
}

clattn_status clattn__sdpa_check_io(clattn_context *ctx, const clattn_sdpa_problem *p,
                                    const clattn_sdpa_spans *s, cl_mem q, cl_mem k, cl_mem v,
                                    cl_mem mask, cl_mem out, cl_mem lse) {
    clattn_status st = clattn__sdpa_check_mask(ctx, p, mask != NULL);
    if (st != CLATTN_SUCCESS) return st;
    if (out == q || (k && out == k) || (v && out == v) || out == mask || out == lse || lse == q ||
        (lse && k && lse == k) || (lse && v && lse == v) || (lse && lse == mask))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "out and lse must not share a buffer with each other or the inputs");
    if ((st = clattn__check_buffer(ctx, q, s->q, "q")) ||
        (k && (st = clattn__check_buffer(ctx, k, s->k, "k"))) ||
        (v && (st = clattn__check_buffer(ctx, v, s->v, "v"))) ||
        (st = clattn__check_buffer(ctx, out, s->out, "out")) ||
        (mask && (st = clattn__check_buffer(ctx, mask, s->mask, "mask"))) ||
        (lse && (st = clattn__check_buffer(ctx, lse, s->lse, "lse"))))
        return st;
    return CLATTN_SUCCESS;
}

clattn_status clattn__sdpa_run(clattn_context *ctx, const clattn_sdpa_problem *p,
                               const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *in,
                               cl_uint num_wait, const cl_event *wait, cl_event *event) {
    const clattn_sdpa_launcher launch = clattn__sdpa_launcher(plan->algo, plan->flavour);
    if (!launch)
        return clattn__fail(ctx, CLATTN_ERROR_INTERNAL, "no launcher for algo %d, flavour %d",
                            (int)plan->algo, (int)plan->flavour);
    if (p->page_size > 0 && plan->algo != CLATTN_ALGO_DECODE)
        return clattn__fail(ctx, CLATTN_ERROR_INTERNAL, "a paged K/V reached the %d path",
                            (int)plan->algo);
    /* The ALiBi slopes and the kv lengths are a few numbers of host metadata: copied to the
     * device for this call (released at once; OpenCL keeps them until the kernels are done). */
    clattn_sdpa_buffers buf = *in;
    buf.alibi = buf.kv_lens = NULL;
    clattn_status st = CLATTN_SUCCESS;
    if (p->alibi)
        st = clattn__upload(ctx, p->alibi, p->alibi_batch * p->Hq * (int64_t)sizeof(float),
                            "alibi slopes", &buf.alibi);
    if (p->kv_lens && st == CLATTN_SUCCESS)
        st = clattn__upload(ctx, p->kv_lens, p->B * (int64_t)sizeof(int32_t), "kv_lens",
                            &buf.kv_lens);
    if (st == CLATTN_SUCCESS) st = launch(ctx, p, plan, &buf, num_wait, wait, event);
    clattn__release_mem(&buf.alibi);
    clattn__release_mem(&buf.kv_lens);
    return st;
}

clattn_status clattn_sdpa(clattn_context *ctx, const clattn_sdpa_desc *desc, cl_mem q, cl_mem k,
                          cl_mem v, cl_mem mask, cl_mem out, cl_mem lse, cl_uint num_wait,
                          const cl_event *wait_list, cl_event *event) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (event) *event = NULL;
    if (!q || !k || !v || !out)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "q, k, v and out are required");
    if ((num_wait > 0) != (wait_list != NULL))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "num_wait and wait_list disagree");
    clattn_sdpa_desc d;
    clattn_sdpa_problem p;
    clattn_sdpa_spans s;
    clattn_sdpa_plan plan;
    clattn_status st;
    if ((st = clattn__sdpa_desc_in(ctx, desc, &d)) ||
        (st = clattn__sdpa_validate(ctx, &d, lse != NULL, &p, &s)) ||
        (st = clattn__sdpa_check_io(ctx, &p, &s, q, k, v, mask, out, lse)) ||
        (st = clattn__sdpa_plan(ctx, &d, &p, &plan)))
        return st;
    const clattn_sdpa_buffers buf = {q, k, v, mask, out, lse, NULL, NULL, NULL};
    return clattn__sdpa_run(ctx, &p, &plan, &buf, num_wait, wait_list, event);
}

clattn_status clattn__sdpa_host_run(clattn_context *ctx, const clattn_sdpa_problem *p,
                                    const clattn_sdpa_spans *s, const void *q, const void *k,
                                    const void *v, const void *mask, void *out, float *lse,
                                    clattn_sdpa_device_call call, void *arg) {
    /* A strided output with gaps starts as a copy of the caller's array, so downloading the
     * whole span gives the gaps back unchanged. */
    int64_t dense = -1; /* the spans were checked, so this product fits */
    const int64_t of[4] = {p->B, p->Hq, p->Sq, p->Dv * clattn__storage_bytes(p->o_dtype)};
    clattn__prod64(of, 4, &dense);
    cl_mem dq = NULL, dk = NULL, dv = NULL, dm = NULL, dout = NULL, dlse = NULL;
    cl_event ev = NULL;
    clattn_status st;
    if ((st = clattn__upload(ctx, q, s->q, "q", &dq)) ||
        (st = clattn__upload(ctx, k, s->k, "k", &dk)) ||
        (st = clattn__upload(ctx, v, s->v, "v", &dv)) ||
        (st = clattn__upload(ctx, mask, s->mask, "mask", &dm)) ||
        (st = clattn__alloc(ctx, s->out,
                            CL_MEM_READ_WRITE | (s->out != dense ? CL_MEM_COPY_HOST_PTR : 0),
                            s->out != dense ? out : NULL, "out", &dout)) ||
        (lse && (st = clattn__alloc(ctx, s->lse, CL_MEM_READ_WRITE, NULL, "lse", &dlse))) ||
        (st = call(arg, dq, dk, dv, dm, dout, dlse, &ev)))
        goto done;
    if ((st = clattn__download(ctx, dout, out, s->out, 1, &ev, "out")) != CLATTN_SUCCESS) goto done;
    if (lse) st = clattn__download(ctx, dlse, lse, s->lse, 1, &ev, "lse");
done:
    clattn__release_event(&ev);
    clattn__release_mem(&dq);
    clattn__release_mem(&dk);
    clattn__release_mem(&dv);
    clattn__release_mem(&dm);
    clattn__release_mem(&dout);
    clattn__release_mem(&dlse);
    return st;
}

/* clattn_sdpa_host's device call: clattn_sdpa on the device copies. */
typedef struct {
    clattn_context *ctx;
    const clattn_sdpa_desc *d;
} sdpa_call;

static clattn_status sdpa_device_call(void *arg, cl_mem q, cl_mem k, cl_mem v, cl_mem mask,
                                      cl_mem out, cl_mem lse, cl_event *event) {
    const sdpa_call *c = arg;
    return clattn_sdpa(c->ctx, c->d, q, k, v, mask, out, lse, 0, NULL, event);
}

clattn_status clattn_sdpa_host(clattn_context *ctx, const clattn_sdpa_desc *desc, const void *q,
                               const void *k, const void *v, const void *mask, void *out,
                               float *lse) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!q || !k || !v || !out)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "q, k, v and out are required");
    clattn_sdpa_desc d;
    clattn_sdpa_problem p;
    clattn_sdpa_spans s;
    clattn_status st = clattn__sdpa_desc_in(ctx, desc, &d);
    if (st == CLATTN_SUCCESS) st = clattn__sdpa_validate(ctx, &d, lse != NULL, &p, &s);
    if (st == CLATTN_SUCCESS) st = clattn__sdpa_check_mask(ctx, &p, mask != NULL);
    if (st != CLATTN_SUCCESS) return st;
    sdpa_call call = {ctx, &d};
    return clattn__sdpa_host_run(ctx, &p, &s, q, k, v, mask, out, lse, sdpa_device_call, &call);
}
