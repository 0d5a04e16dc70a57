/* errors.c: status names, OpenCL error names and the per-context last-error message. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *clattn_status_string(clattn_status status) {
    switch (status) {
    case CLATTN_SUCCESS:
        return "CLATTN_SUCCESS: no error";
    case CLATTN_ERROR_INVALID_ARGUMENT:
        return "CLATTN_ERROR_INVALID_ARGUMENT: invalid argument";
    case CLATTN_ERROR_SHAPE_MISMATCH:
        return "CLATTN_ERROR_SHAPE_MISMATCH: shapes disagree";
    case CLATTN_ERROR_BUFFER_TOO_SMALL:
        return "CLATTN_ERROR_BUFFER_TOO_SMALL: buffer too small";
    case CLATTN_ERROR_OVERFLOW:
        return "CLATTN_ERROR_OVERFLOW: size overflows";
    case CLATTN_ERROR_OUT_OF_MEMORY:
        return "CLATTN_ERROR_OUT_OF_MEMORY: out of memory";
    case CLATTN_ERROR_UNSUPPORTED:
        return "CLATTN_ERROR_UNSUPPORTED: not supported on this device";
    case CLATTN_ERROR_DEVICE_NOT_FOUND:
        return "CLATTN_ERROR_DEVICE_NOT_FOUND: no such device";
    case CLATTN_ERROR_OPENCL:
        return "CLATTN_ERROR_OPENCL: an OpenCL call failed";
    case CLATTN_ERROR_BUILD_FAILED:
        return "CLATTN_ERROR_BUILD_FAILED: kernel build failed";
    case CLATTN_ERROR_KERNEL_NOT_FOUND:
        return "CLATTN_ERROR_KERNEL_NOT_FOUND: kernel missing";
    case CLATTN_ERROR_IO:
        return "CLATTN_ERROR_IO: file input/output failed";
    case CLATTN_ERROR_FORMAT:
        return "CLATTN_ERROR_FORMAT: malformed file";
    case CLATTN_ERROR_BLAS:
        return "CLATTN_ERROR_BLAS: CLBlast failed";
    case CLATTN_ERROR_INTERNAL:
        return "CLATTN_ERROR_INTERNAL: internal error";
    }
    return "CLATTN_ERROR_UNKNOWN: unknown status";
}

const char *clattn__cl_error_name(cl_int err) {
#define CLATTN_CASE(x)                                                                             \
    case x:                                                                                        \
        return #x
    switch (err) {
        CLATTN_CASE(CL_SUCCESS);
        CLATTN_CASE(CL_DEVICE_NOT_FOUND);
        CLATTN_CASE(CL_DEVICE_NOT_AVAILABLE);
        CLATTN_CASE(CL_COMPILER_NOT_AVAILABLE);
        CLATTN_CASE(CL_MEM_OBJECT_ALLOCATION_FAILURE);
        CLATTN_CASE(CL_OUT_OF_RESOURCES);
        CLATTN_CASE(CL_OUT_OF_HOST_MEMORY);
        CLATTN_CASE(CL_PROFILING_INFO_NOT_AVAILABLE);
        CLATTN_CASE(CL_MEM_COPY_OVERLAP);
        CLATTN_CASE(CL_IMAGE_FORMAT_MISMATCH);
        CLATTN_CASE(CL_IMAGE_FORMAT_NOT_SUPPORTED);
        CLATTN_CASE(CL_BUILD_PROGRAM_FAILURE);
        CLATTN_CASE(CL_MAP_FAILURE);
        CLATTN_CASE(CL_MISALIGNED_SUB_BUFFER_OFFSET);
        CLATTN_CASE(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST);
        CLATTN_CASE(CL_COMPILE_PROGRAM_FAILURE);
        CLATTN_CASE(CL_LINKER_NOT_AVAILABLE);
        CLATTN_CASE(CL_LINK_PROGRAM_FAILURE);
        CLATTN_CASE(CL_DEVICE_PARTITION_FAILED);
        CLATTN_CASE(CL_KERNEL_ARG_INFO_NOT_AVAILABLE);
        CLATTN_CASE(CL_INVALID_VALUE);
        CLATTN_CASE(CL_INVALID_DEVICE_TYPE);
        CLATTN_CASE(CL_INVALID_PLATFORM);
        CLATTN_CASE(CL_INVALID_DEVICE);
        CLATTN_CASE(CL_INVALID_CONTEXT);
        CLATTN_CASE(CL_INVALID_QUEUE_PROPERTIES);
        CLATTN_CASE(CL_INVALID_COMMAND_QUEUE);
        CLATTN_CASE(CL_INVALID_HOST_PTR);
        CLATTN_CASE(CL_INVALID_MEM_OBJECT);
        CLATTN_CASE(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR);
        CLATTN_CASE(CL_INVALID_IMAGE_SIZE);
        CLATTN_CASE(CL_INVALID_SAMPLER);
        CLATTN_CASE(CL_INVALID_BINARY);
        CLATTN_CASE(CL_INVALID_BUILD_OPTIONS);
        CLATTN_CASE(CL_INVALID_PROGRAM);
        CLATTN_CASE(CL_INVALID_PROGRAM_EXECUTABLE);
        CLATTN_CASE(CL_INVALID_KERNEL_NAME);
        CLATTN_CASE(CL_INVALID_KERNEL_DEFINITION);
        CLATTN_CASE(CL_INVALID_KERNEL);
        CLATTN_CASE(CL_INVALID_ARG_INDEX);
        CLATTN_CASE(CL_INVALID_ARG_VALUE);
        CLATTN_CASE(CL_INVALID_ARG_SIZE);
        CLATTN_CASE(CL_INVALID_KERNEL_ARGS);
        CLATTN_CASE(CL_INVALID_WORK_DIMENSION);
        CLATTN_CASE(CL_INVALID_WORK_GROUP_SIZE);
        CLATTN_CASE(CL_INVALID_WORK_ITEM_SIZE);
        CLATTN_CASE(CL_INVALID_GLOBAL_OFFSET);
        CLATTN_CASE(CL_INVALID_EVENT_WAIT_LIST);
        CLATTN_CASE(CL_INVALID_EVENT);
        CLATTN_CASE(CL_INVALID_OPERATION);
        CLATTN_CASE(CL_INVALID_GL_OBJECT);
        CLATTN_CASE(CL_INVALID_BUFFER_SIZE);
        CLATTN_CASE(CL_INVALID_MIP_LEVEL);
        CLATTN_CASE(CL_INVALID_GLOBAL_WORK_SIZE);
        CLATTN_CASE(CL_INVALID_PROPERTY);
        CLATTN_CASE(CL_INVALID_IMAGE_DESCRIPTOR);
        CLATTN_CASE(CL_INVALID_COMPILER_OPTIONS);
        CLATTN_CASE(CL_INVALID_LINKER_OPTIONS);
        CLATTN_CASE(CL_INVALID_DEVICE_PARTITION_COUNT);
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    }
#undef CLATTN_CASE
    return "CL_UNKNOWN_ERROR";
}

static clattn_status clattn__vrecord(clattn_context *ctx, clattn_status status, const char *suffix,
                                     const char *fmt, va_list ap) {
    if (!ctx) return status;
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0) n = 0;
    size_t len = (size_t)n + strlen(suffix) + 1;
    char *msg = malloc(len);
    if (msg) {
        vsnprintf(msg, len, fmt, ap);
        strcat(msg, suffix);
    }
    pthread_mutex_lock(&ctx->error_lock);
    if (msg) {
        free(ctx->last_error);
        ctx->last_error = msg;
    } else if (ctx->last_error) {
        /* Out of host memory for the message itself: keep a static-sized note. */
        snprintf(ctx->last_error, 1, "%s", "");
    }
    pthread_mutex_unlock(&ctx->error_lock);
    return status;
}

clattn_status clattn__fail(clattn_context *ctx, clattn_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    clattn__vrecord(ctx, status, "", fmt, ap);
    va_end(ap);
    return status;
}

clattn_status clattn__cl_fail(clattn_context *ctx, cl_int err, const char *fmt, ...) {
    /* CL_OUT_OF_RESOURCES counts as out of memory: drivers return it when a kernel needs more
     * registers or private/local memory than the device has, which the launchers answer by
     * falling back to a smaller tile. */
    clattn_status status =
        (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY ||
         err == CL_INVALID_BUFFER_SIZE || err == CL_OUT_OF_RESOURCES)
            ? CLATTN_ERROR_OUT_OF_MEMORY
            : CLATTN_ERROR_OPENCL;
    char suffix[96];
    snprintf(suffix, sizeof suffix, " (%s, %d)", clattn__cl_error_name(err), (int)err);
    va_list ap;
    va_start(ap, fmt);
    clattn__vrecord(ctx, status, suffix, fmt, ap);
    va_end(ap);
    return status;
}

void clattn__clear_error(clattn_context *ctx) {
    if (!ctx) return;
    pthread_mutex_lock(&ctx->error_lock);
    if (ctx->last_error) ctx->last_error[0] = '\0';
    pthread_mutex_unlock(&ctx->error_lock);
}

const char *clattn_context_last_error(const clattn_context *ctx) {
    if (!ctx || !ctx->last_error) return "";
    return ctx->last_error;
}

unsigned clattn_version_number(void) {
    return CLATTN_VERSION_NUMBER;
}

const char *clattn_version_string(void) {
    return CLATTN_VERSION_STRING;
}
