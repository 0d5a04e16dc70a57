/* clutil.c: thin OpenCL helpers that turn every failure into a clattn status with a message:
 * buffer checks, allocation, argument setting, launches, markers and host transfers. */
#include "core/internal.h"

#include <stdarg.h>

clattn_status clattn__check_buffer(clattn_context *ctx, cl_mem mem, int64_t bytes,
                                   const char *what) {
    if (!mem) return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: buffer is NULL", what);
    size_t size = 0;
    cl_int err = clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof size, &size, NULL);
    if (err != CL_SUCCESS)
        return clattn__cl_fail(
            ctx, err, "%s: not a valid cl_mem (clGetMemObjectInfo(CL_MEM_SIZE) failed)", what);
    if ((uint64_t)size < (uint64_t)bytes)
        return clattn__fail(ctx, CLATTN_ERROR_BUFFER_TOO_SMALL,
                            "%s: buffer holds %zu bytes but the shape and strides need %lld", what,
                            size, (long long)bytes);
    return CLATTN_SUCCESS;
}

clattn_status clattn__alloc(clattn_context *ctx, int64_t bytes, cl_mem_flags flags, void *host,
                            const char *what, cl_mem *out) {
    *out = NULL;
    if (bytes <= 0) bytes = 4; /* OpenCL refuses empty buffers; keep a valid handle */
    if ((uint64_t)bytes > (uint64_t)ctx->caps.max_alloc_bytes)
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                            "%s: needs %lld bytes, more than the device's largest allocation "
                            "(%lld bytes)",
                            what, (long long)bytes, (long long)ctx->caps.max_alloc_bytes);
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(ctx->cl_ctx, flags, (size_t)bytes, host, &err);
    if (err != CL_SUCCESS || !m)
        return clattn__cl_fail(ctx, err, "%s: clCreateBuffer of %lld bytes failed", what,
                               (long long)bytes);
    *out = m;
    return CLATTN_SUCCESS;
}

clattn_status clattn__set_args(clattn_context *ctx, cl_kernel kernel, const char *what, ...) {
    va_list ap;
    va_start(ap, what);
    for (cl_uint i = 0;; i++) {
        size_t size = va_arg(ap, size_t);
        if (size == 0) break;
        const void *value = va_arg(ap, const void *);
        cl_int err = clSetKernelArg(kernel, i, size, value);
        if (err != CL_SUCCESS) {
            va_end(ap);
            return clattn__cl_fail(ctx, err, "%s: clSetKernelArg(%u) failed", what, i);
        }
    }
    va_end(ap);
    return CLATTN_SUCCESS;
}

clattn_status clattn__launch(clattn_context *ctx, cl_kernel kernel, cl_uint dims,
                             const size_t *global, const size_t *local, cl_uint num_wait,
                             const cl_event *wait, cl_event *event, const char *what) {
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, kernel, dims, NULL, global, local, num_wait,
                                        num_wait ? wait : NULL, event);
    if (err != CL_SUCCESS)
        return clattn__cl_fail(ctx, err, "%s: clEnqueueNDRangeKernel failed", what);
    return CLATTN_SUCCESS;
}

clattn_status clattn__marker(clattn_context *ctx, cl_uint num_wait, const cl_event *wait,
                             cl_event *event) {
    cl_int err = clEnqueueMarkerWithWaitList(ctx->queue, num_wait, num_wait ? wait : NULL, event);
    if (err != CL_SUCCESS) return clattn__cl_fail(ctx, err, "clEnqueueMarkerWithWaitList failed");
    return CLATTN_SUCCESS;
}

clattn_status clattn__upload(clattn_context *ctx, const void *host, int64_t bytes, const char *what,
                             cl_mem *out) {
    *out = NULL;
    if (!host) return CLATTN_SUCCESS;
    if (bytes <= 0) return clattn__alloc(ctx, 4, CL_MEM_READ_WRITE, NULL, what, out);
    return clattn__alloc(ctx, bytes, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, (void *)host, what,
                         out);
}

clattn_status clattn__download(clattn_context *ctx, cl_mem mem, void *host, int64_t bytes,
                               cl_uint num_wait, const cl_event *wait, const char *what) {
    if (!host || !mem || bytes <= 0) return CLATTN_SUCCESS;
    cl_int err = clEnqueueReadBuffer(ctx->queue, mem, CL_TRUE, 0, (size_t)bytes, host, num_wait,
                                     num_wait ? wait : NULL, NULL);
    if (err != CL_SUCCESS)
        return clattn__cl_fail(ctx, err, "%s: reading results: clEnqueueReadBuffer failed", what);
    return CLATTN_SUCCESS;
}

void clattn__release_mem(cl_mem *mem) {
    if (mem && *mem) {
        clReleaseMemObject(*mem);
        *mem = NULL;
    }
}

void clattn__release_event(cl_event *ev) {
    if (ev && *ev) {
        clReleaseEvent(*ev);
        *ev = NULL;
    }
}
