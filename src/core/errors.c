/* errors.c: status names, OpenCL error names and the last-error messages, kept per thread and
 * per context. */
#include "core/internal.h"

#include <stdatomic.h>
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
    case CLATTN_ERROR_TRANSPORT:
        return "CLATTN_ERROR_TRANSPORT: exchange between ranks failed";
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

/* ---- Per-thread, per-context messages ----
 * Each thread owns a small table mapping a context id to the message of its last failure on that
 * context. Only the owning thread touches its table, so a message stays valid until the same
 * thread fails again on the same context, whatever other threads do, and no lock is needed. The
 * table lives in a pthread key whose destructor frees it when the thread exits; ids are never
 * reused, so an entry of a destroyed context is only memory, never a wrong answer. */
typedef struct {
    uint64_t id;
    char *msg; /* heap; NULL: the message itself could not be allocated */
} error_entry;

typedef struct {
    int n, cap;
    error_entry *e;
} error_table;

static pthread_key_t error_key;
static pthread_once_t error_once = PTHREAD_ONCE_INIT;
static int error_key_ok;
static _Atomic uint64_t next_id = 1; /* 0 is the failed-create slot */

static void free_table(void *p) {
    error_table *t = p;
    for (int i = 0; i < t->n; i++) free(t->e[i].msg);
    free(t->e);
    free(t);
}

static void make_key(void) {
    error_key_ok = pthread_key_create(&error_key, free_table) == 0;
}

static error_table *thread_table(int create) {
    pthread_once(&error_once, make_key);
    if (!error_key_ok) return NULL;
    error_table *t = pthread_getspecific(error_key);
    if (!t && create) {
        t = calloc(1, sizeof *t);
        if (t && pthread_setspecific(error_key, t) != 0) {
            free(t);
            t = NULL;
        }
    }
    return t;
}

static error_entry *find_entry(error_table *t, uint64_t id) {
    for (int i = 0; t && i < t->n; i++)
        if (t->e[i].id == id) return &t->e[i];
    return NULL;
}

/* Gives `msg` (heap or NULL) to this thread's entry for `id`, freeing the previous message. */
static void store(uint64_t id, char *msg) {
    error_table *t = thread_table(1);
    error_entry *e = find_entry(t, id);
    if (!e && t) {
        if (t->n == t->cap) {
            int cap = t->cap ? 2 * t->cap : 4;
            error_entry *grown = realloc(t->e, (size_t)cap * sizeof *grown);
            if (grown) {
                t->e = grown;
                t->cap = cap;
            }
        }
        if (t->n < t->cap) {
            e = &t->e[t->n++];
            e->id = id;
            e->msg = NULL;
        }
    }
    if (!e) { /* no table: the message is lost, as when ctx is NULL */
        free(msg);
        return;
    }
    free(e->msg);
    e->msg = msg;
}

static void remove_entry(uint64_t id) {
    error_table *t = thread_table(0);
    error_entry *e = find_entry(t, id);
    if (!e) return;
    free(e->msg);
    *e = t->e[--t->n];
}

static const char *lookup(uint64_t id) {
    error_entry *e = find_entry(thread_table(0), id);
    if (!e) return "";
    return e->msg ? e->msg : "(out of host memory while recording the error message)";
}

uint64_t clattn__next_context_id(void) {
    return next_id++;
}

void clattn__keep_create_error(const clattn_context *ctx) {
    error_entry *e = find_entry(thread_table(0), ctx->id);
    if (!e) return;
    char *msg = e->msg;
    e->msg = NULL;
    remove_entry(ctx->id);
    store(0, msg);
}

void clattn__forget_errors(const clattn_context *ctx) {
    remove_entry(ctx->id);
}

const char *clattn_context_create_error(void) {
    return lookup(0);
}

const char *clattn_context_last_error(const clattn_context *ctx) {
    return ctx ? lookup(ctx->id) : "";
}

static clattn_status clattn__vrecord(clattn_context *ctx, clattn_status status, const char *suffix,
                                     const char *fmt, va_list ap) {
    if (!ctx) return status;
    if (!fmt) fmt = ""; /* never passed, but gcc's -O2 sanitizer build cannot prove it */
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
    store(ctx->id, msg);
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

unsigned clattn_version_number(void) {
    return CLATTN_VERSION_NUMBER;
}

const char *clattn_version_string(void) {
    return CLATTN_VERSION_STRING;
}
