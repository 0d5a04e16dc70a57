/* clattn.h: the public C API of clattn, a portable attention library on OpenCL.
 *
 * Style (after zstd's header): opaque handles with create/destroy pairs (destroy accepts NULL),
 * every call returns a clattn_status, descriptors are plain structs filled by an init function so
 * new fields can be added without breaking callers, sizes are int64_t and their products are
 * checked for overflow. The library never aborts or exits.
 *
 * Thread-safety: a clattn_context may be used from several threads at once; calls that enqueue
 * work serialise on the context's command queue. The last-error message is per context, so read
 * it from the thread that made the failing call before another call on the same context fails.
 */
#ifndef CLATTN_H
#define CLATTN_H

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
#define CLATTN_VERSION_MINOR 1
#define CLATTN_VERSION_PATCH 0
#define CLATTN_VERSION_NUMBER                                                                      \
    (CLATTN_VERSION_MAJOR * 10000 + CLATTN_VERSION_MINOR * 100 + CLATTN_VERSION_PATCH)
#define CLATTN_VERSION_STRING "0.1.0"

CLATTN_API unsigned clattn_version_number(void);
CLATTN_API const char *clattn_version_string(void);

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
    CLATTN_ERROR_INTERNAL = 14          /* a bug in clattn: please report it */
} clattn_status;

/* A static English name for the status, e.g. "CLATTN_ERROR_SHAPE_MISMATCH: shapes disagree". */
CLATTN_API const char *clattn_status_string(clattn_status status);

/* ---- Devices --------------------------------------------------------------------------------- */
typedef enum { CLATTN_LOCAL_MEM_LOCAL = 1, CLATTN_LOCAL_MEM_GLOBAL = 2 } clattn_local_mem_type;

/* What the dispatcher knows of a device. Read once per context. */
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

/* Lists the OpenCL devices of every platform. Fills up to `capacity` entries of `out` (may be NULL
 * when capacity is 0) and stores the total number in *count. */
CLATTN_API clattn_status clattn_list_devices(clattn_device_caps *out, int capacity, int *count);

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
CLATTN_API void clattn_context_destroy(clattn_context *ctx);
/* The message of the last failed clattn_context_create* on the calling thread ("" if none). */
CLATTN_API const char *clattn_create_error(void);

/* The message of the last failure on this context ("" when none). Valid until the next call. */
CLATTN_API const char *clattn_context_last_error(const clattn_context *ctx);
CLATTN_API clattn_status clattn_context_caps(const clattn_context *ctx, clattn_device_caps *caps);
CLATTN_API cl_command_queue clattn_context_queue(const clattn_context *ctx);
CLATTN_API cl_context clattn_context_cl_context(const clattn_context *ctx);

/* Program-cache counters, for tests and the CLI. */
typedef struct {
    int64_t builds_from_source; /* clBuildProgram from OpenCL C source */
    int64_t loads_from_binary;  /* programs created from clattn's disk cache */
    int64_t memory_hits;        /* requests served by the in-memory cache */
    int64_t disk_writes;        /* binaries written to the disk cache */
    int64_t disk_rejects;       /* disk entries found unreadable, truncated or foreign */
} clattn_cache_stats;
CLATTN_API clattn_status clattn_context_cache_stats(const clattn_context *ctx,
                                                    clattn_cache_stats *stats);

/* Builds (or loads from the caches) every embedded kernel family with its default options.
 * Used by `clattn selftest`; `built` (may be NULL) receives how many programs were prepared. */
CLATTN_API clattn_status clattn_context_prepare_all(clattn_context *ctx, int *built);

/* ---- Scaled dot-product attention (MHA, MQA, GQA) ------------------------------------------- */
typedef enum {
    CLATTN_ALGO_AUTO = 0,
    CLATTN_ALGO_NAIVE = 1,  /* CLBlast GEMM, masked softmax, GEMM; materialises S */
    CLATTN_ALGO_FLASH1 = 2, /* FlashAttention: outer loop over K/V blocks, O/l/m in global */
    CLATTN_ALGO_FLASH2 = 3  /* FlashAttention-2: outer loop over Q blocks, lse stored */
} clattn_algo;

typedef enum {
    CLATTN_FLAVOUR_AUTO = 0,
    CLATTN_FLAVOUR_GPU = 1, /* K/V tiles staged in __local memory, work-groups of many items */
    CLATTN_FLAVOUR_CPU = 2  /* one work-item per work-group, float8 register blocking */
} clattn_flavour;

/* Shapes: q [B, Hq, Sq, D], k [B, Hkv, Skv, D], v [B, Hkv, Skv, Dv], out [B, Hq, Sq, Dv],
 * lse [B, Hq, Sq] (contiguous; natural log-sum-exp of the scaled, masked scores), mask
 * [mask_batch, mask_heads, Sq, Skv] (contiguous, additive, float; -inf removes a key) with
 * mask_batch in {1, B} and mask_heads in {1, Hq}; 0 (the init value) means B / Hq.
 * Hq must be a multiple of Hkv (else CLATTN_ERROR_SHAPE_MISMATCH); query head h reads kv head
 * h / (Hq / Hkv): MHA, GQA and MQA are one call. D and Dv are 1..256 (larger:
 * CLATTN_ERROR_UNSUPPORTED). A fully masked query row gives out 0 and lse -inf, never NaN.
 * Strides are in elements, for the dimensions (batch, head, seq); the last dimension is always
 * contiguous. A stride of 0 means the contiguous [B, H, S, dim] default for that dimension, so
 * [B, S, H, D] data is described by strides {S*H*D, D, H*D}. A seq stride must be at least the
 * row length, and out's strides must not make two elements share memory. */
typedef struct {
    int64_t batch, heads, kv_heads, seq_q, seq_kv, head_dim, head_dim_v; /* head_dim_v 0: = D */
    float scale;  /* 0 (the init value) means 1/sqrt(head_dim); 1 is Luong's dot product */
    int causal;   /* bottom-right aligned: query i sees keys j <= i + Skv - Sq */
    int has_mask; /* an additive float mask is passed */
    int64_t mask_batch, mask_heads; /* 1 or B, 1 or Hq; 0 = B, Hq */
    int64_t q_strides[3], k_strides[3], v_strides[3], out_strides[3];
    clattn_algo algo;
    clattn_flavour flavour;
    /* 0: the dispatcher chooses; otherwise forced (tests, tuning); forcing one keeps the
     * dispatcher's choice for the other. A forced tile that does not fit is
     * CLATTN_ERROR_UNSUPPORTED. */
    int64_t block_q, block_kv;
} clattn_sdpa_desc;

CLATTN_API void clattn_sdpa_desc_init(clattn_sdpa_desc *desc);

/* The dispatcher's choice for a descriptor on this context's device (before any kernel build;
 * the launcher may still fall back to a smaller tile if the built kernel does not fit). */
typedef struct {
    clattn_algo algo;
    clattn_flavour flavour;    /* naive reports the flavour of the device */
    int64_t block_q, block_kv; /* Br, Bc (0 for naive) */
    int64_t work_group;        /* work-items per work-group */
    int64_t local_mem_bytes;   /* __local memory one work-group uses */
    int64_t scratch_bytes;     /* device memory the call allocates (naive S, flash1 m and l) */
    int64_t global_size[2];    /* the NDRange of the main kernel */
} clattn_sdpa_plan;

/* Validates the descriptor exactly as clattn_sdpa does (without buffers) and returns the plan.
 * Naive refuses with CLATTN_ERROR_OUT_OF_MEMORY, naming the bytes, when its S matrix
 * (B*Hq*Sq*Skv floats) exceeds the device's largest allocation or its global memory. */
CLATTN_API clattn_status clattn_sdpa_plan_get(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                              clattn_sdpa_plan *plan);

/* Enqueues attention on device buffers. mask and lse may be NULL (mask iff desc->has_mask).
 * Every buffer's CL_MEM_SIZE is checked against the span its shape and strides need; out and
 * lse must not share a buffer with anything else. Waits for the wait list; if `event` is not
 * NULL it receives an event that completes with the call (release it). On failure *event is
 * NULL; a call refused by validation, planning or a kernel build has enqueued nothing and
 * written nothing the caller owns. May be called from several threads on one context. */
CLATTN_API clattn_status clattn_sdpa(clattn_context *ctx, const clattn_sdpa_desc *desc, cl_mem q,
                                     cl_mem k, cl_mem v, cl_mem mask, cl_mem out, cl_mem lse,
                                     cl_uint num_wait, const cl_event *wait_list, cl_event *event);

/* The same on host arrays laid out as the descriptor says; synchronous. Elements of out that
 * its strides skip are left as they were. */
CLATTN_API clattn_status clattn_sdpa_host(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                          const float *q, const float *k, const float *v,
                                          const float *mask, float *out, float *lse);

#ifdef __cplusplus
}
#endif

#include "clattn_additive.h"

#endif /* CLATTN_H */
