/* ring_copy.c: strided copies of a run of sequence rows of a [B, H, S, row] tensor between a
 * caller's buffer (any strides) and the ring's packed chunk buffers or host slices, through
 * OpenCL's rectangle copies (which take byte pitches, so one copy moves a whole batch entry). */
#include "ring/ring_internal.h"

/* Whether a side can be one 3-D rectangle per batch entry: rows `ss` apart, heads `sh` apart,
 * and OpenCL's rules for pitches (row pitch >= the row, slice pitch a multiple of the row pitch
 * and at least len of them). */
static int rect_ok(const clattn_ring_view *v, int64_t len, int64_t row_bytes) {
    const int64_t ss = v->st[2], sh = v->st[1];
    return ss >= row_bytes && ss > 0 && sh % ss == 0 && sh >= len * ss;
}

/* One rectangle: region {row_bytes, len, nh} at byte offsets so (src) and do (dst). */
static cl_int rect(cl_command_queue qu, const clattn_ring_view *src, const clattn_ring_view *dst,
                   int64_t so, int64_t dof, int64_t len, int64_t nh, int64_t row_bytes,
                   cl_event *event) {
    const size_t region[3] = {(size_t)row_bytes, (size_t)len, (size_t)nh};
    const size_t sorg[3] = {(size_t)so, 0, 0}, dorg[3] = {(size_t)dof, 0, 0};
    const size_t srp = (size_t)src->st[2], ssp = nh > 1 ? (size_t)src->st[1] : 0;
    const size_t drp = (size_t)dst->st[2], dsp = nh > 1 ? (size_t)dst->st[1] : 0;
    if (src->mem && dst->mem)
        return clEnqueueCopyBufferRect(qu, src->mem, dst->mem, sorg, dorg, region, srp, ssp, drp,
                                       dsp, 0, NULL, event);
    if (src->mem) /* into host memory: blocking, so the caller may read it at once */
        return clEnqueueReadBufferRect(qu, src->mem, CL_TRUE, sorg, dorg, region, srp, ssp, drp,
                                       dsp, dst->host, 0, NULL, event);
    return clEnqueueWriteBufferRect(qu, dst->mem, CL_FALSE, dorg, sorg, region, drp, dsp, srp, ssp,
                                    src->host, 0, NULL, event);
}

clattn_status clattn__ring_copy(clattn_context *ctx, const clattn_ring_view *src,
                                const clattn_ring_view *dst, int64_t B, int64_t H, int64_t len,
                                int64_t row_bytes, cl_event *event) {
    if (event) *event = NULL;
    if ((!src->mem && !dst->mem) || B < 1 || H < 1 || len < 1)
        return clattn__fail(ctx, CLATTN_ERROR_INTERNAL, "ring copy: bad arguments");
    const int whole = rect_ok(src, len, row_bytes) && rect_ok(dst, len, row_bytes);
    const int64_t heads = whole ? 1 : H, nh = whole ? H : 1;
    cl_event last = NULL;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < heads; h++) {
            clattn__release_event(&last);
            const int64_t so = src->offset + b * src->st[0] + h * src->st[1];
            const int64_t dof = dst->offset + b * dst->st[0] + h * dst->st[1];
            cl_int err = rect(ctx->queue, src, dst, so, dof, len, nh, row_bytes, &last);
            if (err != CL_SUCCESS)
                return clattn__cl_fail(ctx, err,
                                       "ring: copying %lld rows of %lld bytes (batch %lld, head "
                                       "%lld) failed",
                                       (long long)len, (long long)row_bytes, (long long)b,
                                       (long long)h);
        }
    if (event)
        *event = last;
    else
        clattn__release_event(&last);
    return CLATTN_SUCCESS;
}
