/* clattn_core.h: the part of clattn's public C API every feature shares: the export macro, the
 * version, status codes, devices, the context, the program-cache counters and the two enums the
 * feature headers share (kernel flavour, sequence-length type). Self-contained; clattn.h includes
 * it with every feature header.
 *
 * Style (after zstd's header): opaque handles with create/destroy pairs (destroy accepts NULL),
 * every call returns a clattn_status, sizes are int64_t and their products are checked for
 * overflow. The library never aborts or exits. A failed call changes nothing the caller owns.
 *
 * Binary compatibility of structs (the rule for every struct in the API):
 *  - Descriptors (clattn_sdpa_desc, clattn_additive_desc, clattn_gru_desc) begin with
 *    `size_t struct_size`. Their init function takes the caller's sizeof, writes exactly that
 *    many bytes (defaults) and stores it in struct_size: `clattn_sdpa_desc_init(&d, sizeof d)`.
 *    Every call reads struct_size and copies that many bytes over a full-size copy holding the
 *    defaults, so a program built against an older header (a shorter struct) gets the defaults
 *    for the fields it does not know. A struct_size below the descriptor's CLATTN_*_MIN_SIZE is
 *    CLATTN_ERROR_INVALID_ARGUMENT; one above what this library knows is accepted only when
 *    the extra bytes are all zero (otherwise CLATTN_ERROR_UNSUPPORTED: a newer caller set
 *    fields this library would silently ignore).
 *  - Output structs (clattn_device_caps, clattn_sdpa_plan, clattn_additive_plan,
 *    clattn_cache_stats) are written by calls that take the caller's sizeof (for arrays, the
 *    element size, which is also the stride) and write exactly that many bytes per struct:
 *    fields this library knows up to that size, zeros beyond. A size below the struct's
 *    CLATTN_*_MIN_SIZE is CLATTN_ERROR_INVALID_ARGUMENT.
 *  - Fields are only ever appended, never reordered, resized or removed; an appended field
 *    starts on an 8-byte boundary (so an older caller's tail padding never overlaps it) and its
 *    zero or init value keeps the old behaviour.
 *  - Structs that only bundle pointers (clattn_gru_buffers, clattn_gru_host_weights) are frozen:
 *    they will never change; a new need gets a new struct and new calls.
 *  A struct_size or size above CLATTN_MAX_STRUCT_SIZE is refused as uninitialised.
 *
 * Thread-safety: a clattn_context may be used from several threads at once; calls that enqueue
 * work serialise on the context's command queue. Error messages are kept per thread and per
 * context (see clattn_context_last_error), so threads never see or free each other's.
 */
#ifndef CLATTN_CORE_H
#define CLATTN_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(CLATTN_SHARED_BUILD)
#define CLATTN_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CLATTN_API __attribute__((visibility("default")))
#else
#define CLATTN_API
#endif

/* ---- Version ------------------------------------------------------------------------------ */
#define CLATTN_VERSION_MAJOR 0
#define CLATTN_VERSION_MINOR 2
#define CLATTN_VERSION_PATCH 0
#define CLATTN_VERSION_NUMBER                                                                      \
    (CLATTN_VERSION_MAJOR * 10000 + CLATTN_VERSION_MINOR * 100 + CLATTN_VERSION_PATCH)
#define CLATTN_VERSION_STRING "0.2.0"

CLATTN_API unsigned clattn_version_number(void);
CLATTN_API const char *clattn_version_string(void);

/* Larger struct sizes are taken for an uninitialised struct_size rather than read. */
#define CLATTN_MAX_STRUCT_SIZE 4096

/* ---- Status codes (values are stable: never renumber) --------------------------------------- */
typedef enum {
    CLATTN_SUCCESS = 0,
    CLATTN_ERROR_INVALID_ARGUMENT = 1,  /* NULL pointer, bad enum, non-positive size ... */
    CLATTN_ERROR_SHAPE_MISMATCH = 2,    /* shapes that do not agree with each other */
    CLATTN_ERROR_BUFFER_TOO_SMALL = 3,  /* a cl_mem smaller than the shape and strides need */
    CLATTN_ERROR_OVERFLOW = 4,          /* a size product that does not fit in int64/size_t */
    CLATTN_ERROR_OUT_OF_MEMORY = 5,     /* host or device allocation failed or would not fit */
    CLATTN_ERROR_UNSUPPORTED = 6,       /* the device cannot run this (tile does not fit ...) */
    CLATTN_ERROR_DEVICE_NOT_FOUND = 7,  /* no OpenCL device matches the selector */
    CLATTN_ERROR_OPENCL = 8,            /* an OpenCL call failed; the message names the error */
    CLATTN_ERROR_BUILD_FAILED = 9,      /* a kernel failed to compile; the message has the log */
    CLATTN_ERROR_KERNEL_NOT_FOUND = 10, /* a kernel source is missing or empty */
    CLATTN_ERROR_IO = 11,               /* a file could not be opened, read or written */
    CLATTN_ERROR_FORMAT = 12,           /* a malformed input file (.npy) */
    CLATTN_ERROR_BLAS = 13,             /* CLBlast returned an error */
    CLATTN_ERROR_INTERNAL = 14,         /* a bug in clattn: please report it */
    CLATTN_ERROR_TRANSPORT = 15         /* the exchange between ranks failed (clattn_seqpar.h) */
} clattn_status;

/* A static English name for the status, e.g. "CLATTN_ERROR_SHAPE_MISMATCH: shapes disagree". */
CLATTN_API const char *clattn_status_string(clattn_status status);

/* ---- Enums the feature headers share --------------------------------------------------------- */
typedef enum {
    CLATTN_FLAVOUR_AUTO = 0,
    CLATTN_FLAVOUR_GPU = 1, /* tiles staged in __local memory, work-groups of many items */
    CLATTN_FLAVOUR_CPU = 2  /* one work-item per work-group, float8 register blocking */
} clattn_flavour;

typedef enum {
    CLATTN_LENGTHS_INT32 = 0, /* const int32_t * */
    CLATTN_LENGTHS_INT64 = 1  /* const int64_t * */
} clattn_lengths_type;

/* ---- Devices --------------------------------------------------------------------------------- */
typedef enum { CLATTN_LOCAL_MEM_LOCAL = 1, CLATTN_LOCAL_MEM_GLOBAL = 2 } clattn_local_mem_type;

/* What the dispatcher knows of a device. Read once per context. An output struct: see the rule
 * at the top. */
typedef struct {
    int platform_index, device_index;
    char platform_name[128];
    char device_name[256];
    char vendor[128];
    char driver_version[128];
    char platform_version[128];
    cl_device_type type; /* CL_DEVICE_TYPE_GPU, _CPU, ... */
    int compute_units;
    int64_t max_work_group_size;
    int64_t max_work_item_sizes[3];
    int64_t local_mem_bytes;              /* after CLATTN_LOCAL_MEM_BYTES, never above the real */
    int64_t real_local_mem_bytes;         /* as the driver reports it */
    clattn_local_mem_type local_mem_type; /* after CLATTN_LOCAL_MEM_TYPE */
    int64_t global_mem_bytes;
    int64_t max_alloc_bytes;
    int preferred_vector_width_float;
    int has_fp16, has_fp64, has_subgroups;
} clattn_device_caps;
/* The first version's fields: indices, names, vendor, versions and type. */
#define CLATTN_DEVICE_CAPS_MIN_SIZE offsetof(clattn_device_caps, compute_units)

/* Lists the OpenCL devices of every platform. Fills up to `capacity` entries of `out`, each
 * `elem_size` bytes (the caller's sizeof(clattn_device_caps), also the stride; out may be NULL
 * when capacity is 0) and stores the total number in *count. */
CLATTN_API clattn_status clattn_device_list(clattn_device_caps *out, size_t elem_size, int capacity,
                                            int *count);

/* ---- Context --------------------------------------------------------------------------------- */
typedef struct clattn_context clattn_context;

/* device_selector: NULL uses $CLATTN_DEVICE if set, else the first GPU, else the first device.
 * A selector is "p:d" (platform and device index) or a case-insensitive substring of the device
 * name. */
CLATTN_API clattn_status clattn_context_create(const char *device_selector, clattn_context **out);
/* Wraps a command queue the application owns: clattn retains it while the context lives and
 * never releases the application's reference. Work is enqueued on that queue. */
CLATTN_API clattn_status clattn_context_create_from_queue(cl_command_queue queue,
                                                          clattn_context **out);
/* Destroying a context frees the calling thread's message for it; other threads' messages for
 * it are freed when those threads exit. */
CLATTN_API void clattn_context_destroy(clattn_context *ctx);
/* The message of the last failed clattn_context_create* on the calling thread ("" if none),
 * valid until this thread's next failed create. */
CLATTN_API const char *clattn_context_create_error(void);

/* The message of the last failed call THIS thread made on this context ("" when none), e.g. a
 * whole kernel build log. Valid until this thread's next failing call on the same context (or
 * its destruction); other threads' failures never change or free it. */
CLATTN_API const char *clattn_context_last_error(const clattn_context *ctx);
/* The device's capabilities; writes `size` bytes (the caller's sizeof *caps). */
CLATTN_API clattn_status clattn_context_caps(const clattn_context *ctx, clattn_device_caps *caps,
                                             size_t size);
/* Releases the scratch buffers the context keeps between calls and returns their bytes (0 for
 * NULL). Calls that run on float32 copies of their tensors (clattn_sdpa_plan's scratch_bytes:
 * float16/bfloat16 tensors, and on CPU devices long prefills' strided float32 K/V) keep up to
 * four of those copies' buffers for the next call, where the queue is
 * in order, so the copies cost no new memory each call; this hands that memory back (the next
 * such call allocates again). clattn_context_destroy releases them too. Safe while other threads
 * use the context: a buffer in use by a call is not kept until the call has enqueued its work. */
CLATTN_API int64_t clattn_context_trim(clattn_context *ctx);
CLATTN_API cl_command_queue clattn_context_queue(const clattn_context *ctx);
CLATTN_API cl_context clattn_context_cl_context(const clattn_context *ctx);

/* Program-cache counters, for tests and the CLI. An output struct: see the rule at the top. */
typedef struct {
    int64_t builds_from_source; /* clBuildProgram from OpenCL C source */
    int64_t loads_from_binary;  /* programs created from clattn's disk cache */
    int64_t memory_hits;        /* requests served by the in-memory cache */
    int64_t disk_writes;        /* binaries written to the disk cache */
    int64_t disk_rejects;       /* disk entries found unreadable, truncated or foreign */
} clattn_cache_stats;
#define CLATTN_CACHE_STATS_MIN_SIZE offsetof(clattn_cache_stats, memory_hits)
/* Writes `size` bytes (the caller's sizeof *stats). */
CLATTN_API clattn_status clattn_context_cache_stats(const clattn_context *ctx,
                                                    clattn_cache_stats *stats, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_CORE_H */
