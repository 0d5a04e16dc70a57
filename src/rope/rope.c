/* rope.c: rotary position embeddings on the device (include/clattn_rope.h): the descriptor's
 * check (every size product checked, the settings and frequency table in rope_table.c), the
 * buffers' check, then one launch of cl/rope.cl, so a refused call has enqueued nothing and
 * written nothing. Also the synchronous host form. */
#include "rope/rope_internal.h"

#include "sdpa/sdpa_internal.h"

#include <stdio.h>
#include <string.h>

static void desc_defaults(clattn_rope_desc *d) {
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->style = CLATTN_ROPE_NEOX;
    d->theta = 10000.0;
    d->position_scale = 1.0;
    d->dtype = CLATTN_DTYPE_F32;
}

clattn_status clattn_rope_desc_init(clattn_rope_desc *desc, size_t size) {
    clattn_rope_desc d;
    desc_defaults(&d);
    return clattn__desc_init(desc, size, CLATTN_ROPE_DESC_MIN_SIZE, &d, sizeof d);
}

/* A checked call: the descriptor, resolved strides, the bytes each buffer must hold and the
 * frequency table. */
typedef struct {
    clattn_rope_desc d;
    int64_t in_st[3], out_st[3];
    int64_t in_bytes, out_bytes, dense_bytes, pos_bytes;
    clattn_rope_table tab;
} rope_problem;

static clattn_status make_problem(clattn_context *ctx, const clattn_rope_desc *desc, int in_place,
                                  rope_problem *p) {
    desc_defaults(&p->d);
    clattn_status st = clattn__struct_in(ctx, "clattn_rope_desc", desc, CLATTN_ROPE_DESC_MIN_SIZE,
                                         &p->d, sizeof p->d);
    if (st != CLATTN_SUCCESS) return st;
    const clattn_rope_desc *d = &p->d;
    if (d->batch < 1 || d->heads < 1 || d->seq < 1)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rope: batch %lld, heads %lld, seq %lld: each must be >= 1",
                            (long long)d->batch, (long long)d->heads, (long long)d->seq);
    if (d->positions_per_batch != 0 && d->positions_per_batch != 1)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rope: positions_per_batch is %d; it must be 0 (positions [seq]) or 1 "
                            "([batch, seq])",
                            d->positions_per_batch);
    if ((int)d->dtype < CLATTN_DTYPE_F32 || (int)d->dtype > CLATTN_DTYPE_BF16)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rope: dtype is %d; it must be CLATTN_DTYPE_F32, _F16 or _BF16",
                            (int)d->dtype);
    if ((st = clattn__rope_table(ctx, "rope", d->head_dim, d->rotary_dim, d->style, d->theta,
                                 d->position_scale, &p->tab)) ||
        (st = clattn__sdpa_resolve_strides(ctx, "rope in", d->in_strides, d->heads, d->seq,
                                           d->head_dim, p->in_st)) ||
        (st = clattn__sdpa_resolve_strides(ctx, "rope out", d->out_strides, d->heads, d->seq,
                                           d->head_dim, p->out_st)))
        return st;
    const int64_t es = clattn__storage_bytes((int)d->dtype);
    const int64_t shape[4] = {d->batch, d->heads, d->seq, d->head_dim};
    const int64_t ist[4] = {p->in_st[0], p->in_st[1], p->in_st[2], 1};
    const int64_t ost[4] = {p->out_st[0], p->out_st[1], p->out_st[2], 1};
    const int64_t dense[5] = {d->batch, d->heads, d->seq, d->head_dim, es};
    const int64_t pos[3] = {d->positions_per_batch ? d->batch : 1, d->seq,
                            (int64_t)sizeof(int32_t)};
    if (clattn__span_bytes(shape, ist, 4, es, &p->in_bytes) ||
        clattn__span_bytes(shape, ost, 4, es, &p->out_bytes) ||
        clattn__prod64(dense, 5, &p->dense_bytes) || clattn__prod64(pos, 3, &p->pos_bytes))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                            "rope: the tensor sizes overflow int64 (batch %lld, heads %lld, seq "
                            "%lld, head_dim %lld and the strides)",
                            (long long)d->batch, (long long)d->heads, (long long)d->seq,
                            (long long)d->head_dim);
    if (in_place && memcmp(p->in_st, p->out_st, sizeof p->in_st) != 0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rope: in place (out is in) the in and out strides must be the same");
    if (clattn__rows_overlap(shape, p->out_st, d->head_dim))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rope: the out strides make rows overlap (batch %lld, head %lld, "
                            "token %lld elements)",
                            (long long)p->out_st[0], (long long)p->out_st[1],
                            (long long)p->out_st[2]);
    return CLATTN_SUCCESS;
}

/* Builds (or finds) the kernel for the dtype, uploads the table and enqueues the launch. */
static clattn_status launch(clattn_context *ctx, const rope_problem *p, cl_mem in, cl_mem out,
                            cl_mem positions, cl_uint num_wait, const cl_event *wait,
                            cl_event *event) {
    const clattn_rope_desc *d = &p->d;
    char opts[48] = "";
    if (d->dtype != CLATTN_DTYPE_F32)
        snprintf(opts, sizeof opts, "-DQ_DTYPE=%d -DO_DTYPE=%d", (int)d->dtype, (int)d->dtype);
    cl_kernel kern = NULL;
    cl_mem turns = NULL;
    const cl_long heads = d->heads, pos_sb = d->positions_per_batch ? d->seq : 0;
    const cl_long is[3] = {p->in_st[0], p->in_st[1], p->in_st[2]};
    const cl_long os[3] = {p->out_st[0], p->out_st[1], p->out_st[2]};
    const cl_int half = p->tab.half, gptj = p->tab.gptj;
    clattn_status st;
    if ((st = clattn__kernel(ctx, "rope", opts, "rope", &kern)) ||
        (st = clattn__rope_upload(ctx, &p->tab, &turns)) ||
        (st = clattn__set_args(ctx, kern, "rope", sizeof(cl_mem), &in, sizeof(cl_mem), &out,
                               sizeof(cl_mem), &positions, sizeof(cl_mem), &turns, sizeof heads,
                               &heads, sizeof(cl_long), &is[0], sizeof(cl_long), &is[1],
                               sizeof(cl_long), &is[2], sizeof(cl_long), &os[0], sizeof(cl_long),
                               &os[1], sizeof(cl_long), &os[2], sizeof pos_sb, &pos_sb, sizeof half,
                               &half, sizeof gptj, &gptj, (size_t)0)))
        goto done;
    /* In place the tail is already where it belongs: only the pairs run. */
    const size_t global[3] = {(size_t)(in == out ? half : d->head_dim / 2), (size_t)d->seq,
                              (size_t)(d->batch * d->heads)};
    st = clattn__launch(ctx, kern, 3, global, NULL, num_wait, wait, event, "rope");
done:
    clattn__release_mem(&turns);
    if (kern) clReleaseKernel(kern);
    return st;
}

clattn_status clattn_rope(clattn_context *ctx, const clattn_rope_desc *desc, cl_mem in, cl_mem out,
                          cl_mem positions, cl_uint num_wait, const cl_event *wait_list,
                          cl_event *event) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (event) *event = NULL;
    if (!in || !out || !positions || (num_wait > 0) != (wait_list != NULL))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rope: in, out and positions are required, and num_wait and "
                            "wait_list must agree");
    rope_problem p;
    clattn_status st = make_problem(ctx, desc, in == out, &p);
    if (st == CLATTN_SUCCESS) st = clattn__check_buffer(ctx, in, p.in_bytes, "rope in");
    if (st == CLATTN_SUCCESS) st = clattn__check_buffer(ctx, out, p.out_bytes, "rope out");
    if (st == CLATTN_SUCCESS) st = clattn__check_buffer(ctx, positions, p.pos_bytes, "positions");
    if (st == CLATTN_SUCCESS) st = launch(ctx, &p, in, out, positions, num_wait, wait_list, event);
    return st;
}

clattn_status clattn_rope_host(clattn_context *ctx, const clattn_rope_desc *desc, const void *in,
                               void *out, const int32_t *positions) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!in || !out || !positions)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "rope: in, out and positions are required");
    const int in_place = in == out;
    rope_problem p;
    clattn_status st = make_problem(ctx, desc, in_place, &p);
    if (st != CLATTN_SUCCESS) return st;
    /* In place, or out with gaps between its rows: the device copy starts as the caller's
     * array, so downloading the whole span gives everything the kernel does not write back
     * unchanged. */
    const int keep_out = !in_place && p.out_bytes != p.dense_bytes;
    cl_mem din = NULL, dout = NULL, dpos = NULL;
    cl_event ev = NULL;
    if ((st = clattn__upload(ctx, positions, p.pos_bytes, "positions", &dpos)) ||
        (st = clattn__upload(ctx, in, p.in_bytes, "rope in", &din)) ||
        (!in_place && (st = clattn__alloc(ctx, p.out_bytes,
                                          CL_MEM_READ_WRITE | (keep_out ? CL_MEM_COPY_HOST_PTR : 0),
                                          keep_out ? out : NULL, "rope out", &dout))) ||
        (st = launch(ctx, &p, din, in_place ? din : dout, dpos, 0, NULL, &ev)))
        goto done;
    st = clattn__download(ctx, in_place ? din : dout, out, p.out_bytes, 1, &ev, "rope out");
done:
    clattn__release_event(&ev);
    clattn__release_mem(&din);
    clattn__release_mem(&dout);
    clattn__release_mem(&dpos);
    return st;
}
