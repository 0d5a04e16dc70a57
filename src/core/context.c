/* context.c: device discovery, selection, the capability struct (with the CLATTN_LOCAL_MEM_*
 * overrides that let every tile path run on PoCL) and the context's life cycle. */
#include "core/blas.h"
#include "core/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLATTN_MAX_PLATFORMS 16
#define CLATTN_MAX_DEVICES   64

static void info_string(cl_device_id d, cl_device_info what, char *out, size_t cap) {
    out[0] = '\0';
    if (clGetDeviceInfo(d, what, cap, out, NULL) != CL_SUCCESS) out[0] = '\0';
    out[cap - 1] = '\0';
}

static int has_extension(const char *exts, const char *name) {
    size_t n = strlen(name);
    for (const char *p = exts; (p = strstr(p, name)) != NULL; p += n)
        if ((p == exts || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

/* Reads what the driver reports; overrides are applied separately. */
static void read_caps(cl_platform_id p, cl_device_id d, int pi, int di, clattn_device_caps *c) {
    memset(c, 0, sizeof *c);
    c->platform_index = pi;
    c->device_index = di;
    if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof c->platform_name, c->platform_name, NULL) !=
        CL_SUCCESS)
        c->platform_name[0] = '\0';
    if (clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof c->platform_version, c->platform_version,
                          NULL) != CL_SUCCESS)
        c->platform_version[0] = '\0';
    c->platform_name[sizeof c->platform_name - 1] = '\0';
    c->platform_version[sizeof c->platform_version - 1] = '\0';
    info_string(d, CL_DEVICE_NAME, c->device_name, sizeof c->device_name);
    info_string(d, CL_DEVICE_VENDOR, c->vendor, sizeof c->vendor);
    info_string(d, CL_DRIVER_VERSION, c->driver_version, sizeof c->driver_version);
    cl_device_type type = 0;
    cl_uint cu = 0, vw = 0;
    size_t wg = 0, items[3] = {0, 0, 0};
    cl_ulong lm = 0, gm = 0, ma = 0;
    cl_device_local_mem_type lt = CL_LOCAL;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lm, &lm, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_TYPE, sizeof lt, &lt, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gm, &gm, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ma, &ma, NULL);
    clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof vw, &vw, NULL);
    c->type = type;
    c->compute_units = (int)cu;
    c->max_work_group_size = (int64_t)wg;
    for (int i = 0; i < 3; i++) c->max_work_item_sizes[i] = (int64_t)items[i];
    c->real_local_mem_bytes = c->local_mem_bytes = (int64_t)lm;
    c->local_mem_type = lt == CL_GLOBAL ? CLATTN_LOCAL_MEM_GLOBAL : CLATTN_LOCAL_MEM_LOCAL;
    c->global_mem_bytes = (int64_t)gm;
    c->max_alloc_bytes = (int64_t)ma;
    c->preferred_vector_width_float = (int)vw;
    size_t ext_len = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len) == CL_SUCCESS && ext_len) {
        char *ext = malloc(ext_len + 1);
        if (ext && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, ext_len, ext, NULL) == CL_SUCCESS) {
            ext[ext_len] = '\0';
            c->has_fp16 = has_extension(ext, "cl_khr_fp16");
            c->has_fp64 = has_extension(ext, "cl_khr_fp64");
            c->has_subgroups =
                has_extension(ext, "cl_khr_subgroups") || has_extension(ext, "cl_intel_subgroups");
        }
        free(ext);
    }
}

/* CLATTN_LOCAL_MEM_BYTES / CLATTN_LOCAL_MEM_TYPE / CLATTN_VECTOR_WIDTH: what the dispatcher is
 * told. The size and the width are never raised above what the driver reports, so an override
 * cannot make a launch overrun (the width only chooses kernel variants: a narrower one is always
 * correct, and lets an AVX-512 host run what an AVX2 host would). */
static clattn_status apply_overrides(clattn_context *ctx, clattn_device_caps *c) {
    const char *bytes = getenv("CLATTN_LOCAL_MEM_BYTES");
    if (bytes && *bytes) {
        char *end = NULL;
        long long v = strtoll(bytes, &end, 10);
        if (!end || *end != '\0' || v <= 0)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "CLATTN_LOCAL_MEM_BYTES=%s is not a positive integer", bytes);
        if (v < c->real_local_mem_bytes) c->local_mem_bytes = v;
    }
    const char *width = getenv("CLATTN_VECTOR_WIDTH");
    if (width && *width) {
        char *end = NULL;
        long v = strtol(width, &end, 10);
        if (!end || *end != '\0' || v <= 0)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "CLATTN_VECTOR_WIDTH=%s is not a positive integer", width);
        if (v < c->preferred_vector_width_float) c->preferred_vector_width_float = (int)v;
    }
    const char *type = getenv("CLATTN_LOCAL_MEM_TYPE");
    if (type && *type) {
        if (strcasecmp(type, "local") == 0)
            c->local_mem_type = CLATTN_LOCAL_MEM_LOCAL;
        else if (strcasecmp(type, "global") == 0)
            c->local_mem_type = CLATTN_LOCAL_MEM_GLOBAL;
        else
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "CLATTN_LOCAL_MEM_TYPE=%s: expected local or global", type);
    }
    return CLATTN_SUCCESS;
}

typedef struct {
    cl_platform_id platform;
    cl_device_id device;
    int pi, di;
} device_ref;

/* Every device of every platform, in platform then device order. */
static int enumerate(device_ref *out, int cap) {
    cl_platform_id plats[CLATTN_MAX_PLATFORMS];
    cl_uint np = 0;
    if (clGetPlatformIDs(CLATTN_MAX_PLATFORMS, plats, &np) != CL_SUCCESS) return 0;
    if (np > CLATTN_MAX_PLATFORMS) np = CLATTN_MAX_PLATFORMS;
    int n = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devs[CLATTN_MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, CLATTN_MAX_DEVICES, devs, &nd) !=
            CL_SUCCESS)
            continue;
        if (nd > CLATTN_MAX_DEVICES) nd = CLATTN_MAX_DEVICES;
        for (cl_uint d = 0; d < nd && n < cap; d++)
            out[n++] = (device_ref){plats[p], devs[d], (int)p, (int)d};
    }
    return n;
}

clattn_status clattn_device_list(clattn_device_caps *out, size_t elem_size, int capacity,
                                 int *count) {
    if (!count || capacity < 0 || (capacity > 0 && !out)) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (capacity > 0 &&
        (elem_size < CLATTN_DEVICE_CAPS_MIN_SIZE || elem_size > CLATTN_MAX_STRUCT_SIZE))
        return CLATTN_ERROR_INVALID_ARGUMENT;
    device_ref refs[CLATTN_MAX_DEVICES];
    int n = enumerate(refs, CLATTN_MAX_DEVICES);
    /* The caller's entries are elem_size bytes apart: its sizeof, perhaps an older one. */
    for (int i = 0; i < n && i < capacity; i++) {
        clattn_device_caps c;
        read_caps(refs[i].platform, refs[i].device, refs[i].pi, refs[i].di, &c);
        clattn__struct_out((char *)out + (size_t)i * elem_size, elem_size, &c, sizeof c);
    }
    *count = n;
    return CLATTN_SUCCESS;
}

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return n == 0;
}

/* Resolves a selector ("p:d" or a name substring; NULL: $CLATTN_DEVICE, first GPU, first). */
static clattn_status select_device(clattn_context *ctx, const char *sel, device_ref *out) {
    device_ref refs[CLATTN_MAX_DEVICES];
    int n = enumerate(refs, CLATTN_MAX_DEVICES);
    if (n == 0)
        return clattn__fail(ctx, CLATTN_ERROR_DEVICE_NOT_FOUND,
                            "no OpenCL platform or device found (is an ICD such as "
                            "pocl-opencl-icd installed?)");
    if (!sel) {
        const char *env = getenv("CLATTN_DEVICE");
        if (env && *env) sel = env;
    }
    if (!sel) {
        for (int i = 0; i < n; i++) {
            cl_device_type t = 0;
            clGetDeviceInfo(refs[i].device, CL_DEVICE_TYPE, sizeof t, &t, NULL);
            if (t & CL_DEVICE_TYPE_GPU) {
                *out = refs[i];
                return CLATTN_SUCCESS;
            }
        }
        *out = refs[0];
        return CLATTN_SUCCESS;
    }
    int p = -1, d = -1, used = 0;
    if (sscanf(sel, "%d:%d%n", &p, &d, &used) == 2 && sel[used] == '\0') {
        for (int i = 0; i < n; i++)
            if (refs[i].pi == p && refs[i].di == d) {
                *out = refs[i];
                return CLATTN_SUCCESS;
            }
        return clattn__fail(ctx, CLATTN_ERROR_DEVICE_NOT_FOUND,
                            "device selector \"%s\": no device %d on platform %d (see `clattn "
                            "devices`)",
                            sel, d, p);
    }
    for (int i = 0; i < n; i++) {
        char name[256];
        info_string(refs[i].device, CL_DEVICE_NAME, name, sizeof name);
        if (*sel && contains_nocase(name, sel)) {
            *out = refs[i];
            return CLATTN_SUCCESS;
        }
    }
    return clattn__fail(ctx, CLATTN_ERROR_DEVICE_NOT_FOUND,
                        "device selector \"%s\" matches no device name (see `clattn devices`)",
                        sel);
}

static clattn_context *context_alloc(void) {
    clattn_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->id = clattn__next_context_id();
    return ctx;
}

/* Caps, overrides and the program cache: the part both constructors share. */
static clattn_status context_finish(clattn_context *ctx, int pi, int di) {
    read_caps(ctx->platform, ctx->device, pi, di, &ctx->caps);
    ctx->host_prefetch = (ctx->caps.type & CL_DEVICE_TYPE_CPU) &&
                         ctx->caps.local_mem_type == CLATTN_LOCAL_MEM_GLOBAL; /* before overrides */
    clattn_status st = apply_overrides(ctx, &ctx->caps);
    if (st != CLATTN_SUCCESS) return st;
    st = clattn__workspace_create(ctx);
    if (st != CLATTN_SUCCESS) return st;
    clattn__blas_prepare(ctx);
    return clattn__cache_create(ctx);
}

clattn_status clattn_context_create(const char *device_selector, clattn_context **out) {
    if (!out) return CLATTN_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    clattn_context *ctx = context_alloc();
    if (!ctx) return CLATTN_ERROR_OUT_OF_MEMORY;
    device_ref ref;
    clattn_status st = select_device(ctx, device_selector, &ref);
    if (st == CLATTN_SUCCESS) {
        cl_int err = CL_SUCCESS;
        ctx->platform = ref.platform;
        ctx->device = ref.device;
        cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ref.platform,
                                         0};
        ctx->cl_ctx = clCreateContext(props, 1, &ref.device, NULL, NULL, &err);
        if (err != CL_SUCCESS || !ctx->cl_ctx) {
            st = clattn__cl_fail(ctx, err, "clCreateContext failed");
        } else {
            ctx->queue =
                clCreateCommandQueue(ctx->cl_ctx, ref.device, CL_QUEUE_PROFILING_ENABLE, &err);
            if (err != CL_SUCCESS || !ctx->queue)
                st = clattn__cl_fail(ctx, err, "clCreateCommandQueue failed");
            else {
                ctx->owns_queue = 1;
                ctx->queue_profiling = 1;
                st = context_finish(ctx, ref.pi, ref.di);
            }
        }
    }
    if (st != CLATTN_SUCCESS) {
        clattn__keep_create_error(ctx);
        clattn_context_destroy(ctx);
        return st;
    }
    *out = ctx;
    return CLATTN_SUCCESS;
}

clattn_status clattn_context_create_from_queue(cl_command_queue queue, clattn_context **out) {
    if (!out) return CLATTN_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    if (!queue) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_context *ctx = context_alloc();
    if (!ctx) return CLATTN_ERROR_OUT_OF_MEMORY;
    cl_command_queue_properties props = 0;
    cl_int err =
        clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof ctx->cl_ctx, &ctx->cl_ctx, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof ctx->device, &ctx->device, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_PLATFORM, sizeof ctx->platform, &ctx->platform,
                              NULL);
    if (err != CL_SUCCESS) {
        ctx->cl_ctx = NULL;
        clattn__cl_fail(ctx, err,
                        "clattn_context_create_from_queue: not a valid command queue "
                        "(clGetCommandQueueInfo or clGetDeviceInfo failed)");
        clattn__keep_create_error(ctx);
        clattn_context_destroy(ctx);
        return CLATTN_ERROR_INVALID_ARGUMENT;
    }
    /* Our own references, released in destroy; the application's stay untouched. */
    clRetainContext(ctx->cl_ctx);
    clRetainCommandQueue(queue);
    ctx->queue = queue;
    ctx->owns_queue = 0;
    ctx->queue_profiling = (props & CL_QUEUE_PROFILING_ENABLE) != 0;
    int pi = -1, di = -1;
    device_ref refs[CLATTN_MAX_DEVICES];
    int n = enumerate(refs, CLATTN_MAX_DEVICES);
    for (int i = 0; i < n; i++)
        if (refs[i].device == ctx->device) {
            pi = refs[i].pi;
            di = refs[i].di;
        }
    clattn_status st = context_finish(ctx, pi, di);
    if (st != CLATTN_SUCCESS) {
        clattn__keep_create_error(ctx);
        clattn_context_destroy(ctx);
        return st;
    }
    *out = ctx;
    return CLATTN_SUCCESS;
}

void clattn_context_destroy(clattn_context *ctx) {
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    clattn__blas_release(ctx);
    clattn__cache_destroy(ctx);
    clattn__workspace_destroy(ctx);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->cl_ctx) clReleaseContext(ctx->cl_ctx);
    clattn__forget_errors(ctx);
    free(ctx);
}

clattn_status clattn_context_caps(const clattn_context *ctx, clattn_device_caps *caps,
                                  size_t size) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    /* The message goes to this thread's own table: the context itself is not modified. */
    clattn_status st = clattn__struct_out_check((clattn_context *)ctx, "clattn_device_caps", caps,
                                                size, CLATTN_DEVICE_CAPS_MIN_SIZE);
    if (st != CLATTN_SUCCESS) return st;
    clattn__struct_out(caps, size, &ctx->caps, sizeof ctx->caps);
    return CLATTN_SUCCESS;
}

int64_t clattn_context_trim(clattn_context *ctx) {
    return ctx ? clattn__workspace_trim(ctx) : 0;
}

cl_command_queue clattn_context_queue(const clattn_context *ctx) {
    return ctx ? ctx->queue : NULL;
}

cl_context clattn_context_cl_context(const clattn_context *ctx) {
    return ctx ? ctx->cl_ctx : NULL;
}
