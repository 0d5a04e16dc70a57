/* lse_combine_api.c: the public combine entry points (include/clattn_combine.h). Turns a
 * descriptor into a validated problem (every size product checked), checks the buffers against
 * it, builds the kernel, and only then enqueues (src/sdpa/lse_combine.c), so a refused call has
 * enqueued nothing and written nothing the caller owns. Also the synchronous host form. */
#include "kernel_iface.h"
#include "sdpa/lse_combine.h"
#include "sdpa/sdpa_internal.h"

#include <string.h>

/* The defaults, in a full-size struct. */
static void desc_defaults(clattn_lse_combine_desc *d) {
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->out_dtype = CLATTN_DTYPE_F32;
}

clattn_status clattn_lse_combine_desc_init(clattn_lse_combine_desc *desc, size_t size) {
    clattn_lse_combine_desc d;
    desc_defaults(&d);
    return clattn__desc_init(desc, size, CLATTN_LSE_COMBINE_DESC_MIN_SIZE, &d, sizeof d);
}

/* A validated descriptor: the shape and the bytes each tensor takes. */
typedef struct {
    int64_t N, B, H, S, Dv, rows;
    int out_dtype; /* CLATTN_STORAGE_* */
    int64_t part_out_bytes, part_lse_bytes, out_bytes, lse_bytes;
} combine_problem;

static clattn_status make_problem(clattn_context *ctx, const clattn_lse_combine_desc *desc,
                                  combine_problem *p) {
    clattn_lse_combine_desc d;
    desc_defaults(&d);
    clattn_status st = clattn__struct_in(ctx, "clattn_lse_combine_desc", desc,
                                         CLATTN_LSE_COMBINE_DESC_MIN_SIZE, &d, sizeof d);
    if (st != CLATTN_SUCCESS) return st;
    const struct {
        const char *name;
        int64_t v;
    } sizes[] = {{"parts", d.parts},
                 {"batch", d.batch},
                 {"heads", d.heads},
                 {"seq", d.seq},
                 {"head_dim_v", d.head_dim_v}};
    for (int i = 0; i < 5; i++)
        if (sizes[i].v < 1)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "lse_combine: %s is %lld; it must be >= 1", sizes[i].name,
                                (long long)sizes[i].v);
    if ((int)d.out_dtype < CLATTN_DTYPE_F32 || (int)d.out_dtype > CLATTN_DTYPE_BF16)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "lse_combine: out_dtype is %d; it must be CLATTN_DTYPE_F32, _F16 or "
                            "_BF16",
                            (int)d.out_dtype);
    memset(p, 0, sizeof *p);
    p->N = d.parts, p->B = d.batch, p->H = d.heads, p->S = d.seq, p->Dv = d.head_dim_v;
    p->out_dtype = (int)d.out_dtype; /* clattn_dtype and CLATTN_STORAGE_* agree */
    const int64_t eo = clattn__storage_bytes(p->out_dtype), ef = CLATTN_ACC_BYTES;
    const int64_t shape[3] = {p->B, p->H, p->S};
    int bad = clattn__prod64(shape, 3, &p->rows);
    const int64_t po[4] = {p->N, p->rows, p->Dv, ef}, pl[3] = {p->N, p->rows, ef};
    const int64_t o[3] = {p->rows, p->Dv, eo}, l[2] = {p->rows, ef};
    if (bad || clattn__prod64(po, 4, &p->part_out_bytes) ||
        clattn__prod64(pl, 3, &p->part_lse_bytes) || clattn__prod64(o, 3, &p->out_bytes) ||
        clattn__prod64(l, 2, &p->lse_bytes))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                            "lse_combine: tensor sizes overflow int64 (parts=%lld batch=%lld "
                            "heads=%lld seq=%lld head_dim_v=%lld)",
                            (long long)p->N, (long long)p->B, (long long)p->H, (long long)p->S,
                            (long long)p->Dv);
    return CLATTN_SUCCESS;
}

clattn_status clattn_lse_combine(clattn_context *ctx, const clattn_lse_combine_desc *desc,
                                 cl_mem part_out, cl_mem part_lse, cl_mem out, cl_mem lse,
                                 cl_uint num_wait, const cl_event *wait_list, cl_event *event) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (event) *event = NULL;
    if (!part_out || !part_lse || !out)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "lse_combine: part_out, part_lse and out are required");
    if ((num_wait > 0) != (wait_list != NULL))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "lse_combine: num_wait and wait_list disagree");
    combine_problem p;
    clattn_status st = make_problem(ctx, desc, &p);
    if (st != CLATTN_SUCCESS) return st;
    if (out == part_out || out == part_lse || out == lse || lse == part_out || lse == part_lse)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "lse_combine: out and lse must not share a buffer with each other or "
                            "the inputs");
    if ((st = clattn__check_buffer(ctx, part_out, p.part_out_bytes, "part_out")) ||
        (st = clattn__check_buffer(ctx, part_lse, p.part_lse_bytes, "part_lse")) ||
        (st = clattn__check_buffer(ctx, out, p.out_bytes, "out")) ||
        (lse && (st = clattn__check_buffer(ctx, lse, p.lse_bytes, "lse"))))
        return st;
    /* The public layout: part n's row r at (n * rows + r) * Dv, its lse at n * rows + r; out
     * contiguous [B, H, S, Dv]. */
    const clattn_lse_combine_args a = {
        .part_out = part_out,
        .part_lse = part_lse,
        .out = out,
        .lse = lse,
        .out_dtype = p.out_dtype,
        .parts = p.N,
        .rows = p.rows,
        .heads = p.H,
        .seq = p.S,
        .head_dim_v = p.Dv,
        .part_out_st = {p.rows * p.Dv, p.Dv},
        .part_lse_st = {0, p.rows, 1},
        .out_st = {p.H * p.S * p.Dv, p.S * p.Dv, p.Dv},
    };
    cl_kernel kern = NULL;
    st = clattn__lse_combine_kernel(ctx, &a, &kern);
    if (st == CLATTN_SUCCESS)
        st = clattn__lse_combine_enqueue(ctx, kern, &a, num_wait, wait_list, event);
    if (kern) clReleaseKernel(kern);
    return st;
}

clattn_status clattn_lse_combine_host(clattn_context *ctx, const clattn_lse_combine_desc *desc,
                                      const float *part_out, const float *part_lse, void *out,
                                      float *lse) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!part_out || !part_lse || !out)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "lse_combine: part_out, part_lse and out are required");
    if ((const void *)out == (const void *)lse)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "lse_combine: out and lse must be different arrays");
    combine_problem p;
    clattn_status st = make_problem(ctx, desc, &p);
    if (st != CLATTN_SUCCESS) return st;
    cl_mem dpo = NULL, dpl = NULL, dout = NULL, dlse = NULL;
    cl_event ev = NULL;
    if ((st = clattn__upload(ctx, part_out, p.part_out_bytes, "part_out", &dpo)) ||
        (st = clattn__upload(ctx, part_lse, p.part_lse_bytes, "part_lse", &dpl)) ||
        (st = clattn__alloc(ctx, p.out_bytes, CL_MEM_READ_WRITE, NULL, "out", &dout)) ||
        (lse && (st = clattn__alloc(ctx, p.lse_bytes, CL_MEM_READ_WRITE, NULL, "lse", &dlse))) ||
        (st = clattn_lse_combine(ctx, desc, dpo, dpl, dout, dlse, 0, NULL, &ev)))
        goto done;
    if ((st = clattn__download(ctx, dout, out, p.out_bytes, 1, &ev, "out")) != CLATTN_SUCCESS)
        goto done;
    if (lse) st = clattn__download(ctx, dlse, lse, p.lse_bytes, 1, &ev, "lse");
done:
    clattn__release_event(&ev);
    clattn__release_mem(&dpo);
    clattn__release_mem(&dpl);
    clattn__release_mem(&dout);
    clattn__release_mem(&dlse);
    return st;
}
