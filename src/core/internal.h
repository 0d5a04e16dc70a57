/* internal.h: what the library's own files share and callers never see: the context struct,
 * error recording, the program cache, checked size arithmetic and small OpenCL helpers.
 * Everything here is prefixed clattn__ (two underscores) and is not exported. */
#ifndef CLATTN_INTERNAL_H
#define CLATTN_INTERNAL_H

#include "clattn.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

struct clattn_program_cache; /* core/program_cache.c */

struct clattn_context {
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl_ctx;
    cl_command_queue queue;
    int owns_queue;      /* 0 when the application gave us its queue */
    int queue_profiling; /* the queue has CL_QUEUE_PROFILING_ENABLE */
    int used_blas;       /* a GEMM ran: CLBlast's caches hold this context (core/blas.c) */
    clattn_device_caps caps;
    /* A CPU device whose local memory is ordinary memory, as the driver reports it (not caps,
     * which CLATTN_LOCAL_MEM_TYPE overrides): one that compiles kernels to the host, where
     * common.cl's clattn_prefetch_line runs (PoCL). oclgrind is CPU-typed too, with real local
     * memory, and cannot run the prefetch intrinsic. */
    int host_prefetch;
    struct clattn_program_cache *cache;
    struct clattn_workspace *workspace; /* scratch buffers kept between calls (core/workspace.c) */
    /* Unique for the process's life (never reused), so the per-thread error tables can key on it
     * and an entry left behind by a destroyed context can never be mistaken for a new one's. */
    uint64_t id;
};

/* ---- Errors (core/errors.c) ---- */
/* Records a printf-style message as the calling thread's last error on ctx and returns `status`,
 * so a failure
 * reads `return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH, "k has %lld heads ...", ...);`.
 * ctx may be NULL (the message is then dropped). */
clattn_status clattn__fail(clattn_context *ctx, clattn_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* For a failed OpenCL call: the message ends with the error's name (" (CL_OUT_OF_RESOURCES)").
 * Allocation failures and CL_OUT_OF_RESOURCES map to CLATTN_ERROR_OUT_OF_MEMORY, the rest to
 * CLATTN_ERROR_OPENCL. */
clattn_status clattn__cl_fail(clattn_context *ctx, cl_int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
const char *clattn__cl_error_name(cl_int err);
/* A new context id (never 0: 0 is the calling thread's failed-create slot). */
uint64_t clattn__next_context_id(void);
/* After a failed create: moves the calling thread's message for ctx to the slot that
 * clattn_context_create_error() reads. */
void clattn__keep_create_error(const clattn_context *ctx);
/* Frees the calling thread's message for ctx (destroy). */
void clattn__forget_errors(const clattn_context *ctx);

/* ---- Versioned structs (core/structs.c): the rule at the top of clattn_core.h ---- */
/* Copies the caller's descriptor `in` (which begins with size_t struct_size) over `local`, a
 * full-size struct the caller filled with the defaults (its own struct_size is kept). Refuses
 * NULL, a struct_size below min_size or above CLATTN_MAX_STRUCT_SIZE, and a larger struct whose
 * bytes past local_size are not all zero; `what` names the type in the message. */
clattn_status clattn__struct_in(clattn_context *ctx, const char *what, const void *in,
                                size_t min_size, void *local, size_t local_size);
/* Checks an output struct the caller sized: out not NULL, min_size <= size <=
 * CLATTN_MAX_STRUCT_SIZE. */
clattn_status clattn__struct_out_check(clattn_context *ctx, const char *what, const void *out,
                                       size_t size, size_t min_size);
/* A descriptor's init: refuses NULL and sizes outside min_size..CLATTN_MAX_STRUCT_SIZE, else
 * writes exactly `size` bytes of `defaults` (a full-size struct of full_size bytes) and sets
 * struct_size to `size`. */
clattn_status clattn__desc_init(void *desc, size_t size, size_t min_size, const void *defaults,
                                size_t full_size);
/* Writes exactly `size` bytes to out: the first min(size, local_size) of local, zeros after. */
void clattn__struct_out(void *out, size_t size, const void *local, size_t local_size);

/* ---- Checked arithmetic (core/checked.c) ---- */
/* Return 0 and store the result, or return 1 on overflow / negative operands. */
int clattn__mul64(int64_t a, int64_t b, int64_t *out);
int clattn__add64(int64_t a, int64_t b, int64_t *out);
/* Product of n non-negative factors; 1 on overflow. */
int clattn__prod64(const int64_t *factors, int n, int64_t *out);
/* Bytes a strided tensor of `shape` (n dims, the last contiguous) spans: 1 + sum (shape_i - 1)
 * * stride_i elements, times elem_size. 0 when any dimension is 0. 1 on overflow. */
int clattn__span_bytes(const int64_t *shape, const int64_t *strides, int n, int64_t elem_size,
                       int64_t *out);
/* Whether a [shape[0], shape[1], shape[2], dim] tensor with element strides (st, 1), whose
 * span was checked, has elements that share an address (sufficient, and exact for every
 * permuted dense layout): an output that overlaps itself would make its writes race. */
int clattn__rows_overlap(const int64_t *shape, const int64_t *st, int64_t dim);

/* ---- Buffers and launches (core/clutil.c) ---- */
/* Fails with CLATTN_ERROR_BUFFER_TOO_SMALL naming `what` when `mem` holds fewer than `bytes`. */
clattn_status clattn__check_buffer(clattn_context *ctx, cl_mem mem, int64_t bytes,
                                   const char *what);
/* Device allocation with a clear message; `what` names the buffer. */
clattn_status clattn__alloc(clattn_context *ctx, int64_t bytes, cl_mem_flags flags, void *host,
                            const char *what, cl_mem *out);
/* clEnqueueNDRangeKernel with error mapping; local may be NULL. */
clattn_status clattn__launch(clattn_context *ctx, cl_kernel kernel, cl_uint dims,
                             const size_t *global, const size_t *local, cl_uint num_wait,
                             const cl_event *wait, cl_event *event, const char *what);
/* Sets kernel arguments from a list of (size, pointer) pairs ending with size 0. */
clattn_status clattn__set_args(clattn_context *ctx, cl_kernel kernel, const char *what, ...);
/* Waits for wait_list and gives a marker event, for calls that enqueue nothing else. */
clattn_status clattn__marker(clattn_context *ctx, cl_uint num_wait, const cl_event *wait,
                             cl_event *event);

/* ---- Kernel sources (core/kernel_registry.c, generated table in kernels_embedded.c) ---- */
/* Source of cl/<family>.cl: embedded, or read from $CLATTN_KERNEL_DIR when set. A missing or
 * empty file is CLATTN_ERROR_KERNEL_NOT_FOUND naming the file. *src is heap memory the caller
 * frees. */
clattn_status clattn__kernel_source(clattn_context *ctx, const char *family, char **src,
                                    size_t *len);
/* Names of the embedded entries (without extension), for selftest and the tests. */
int clattn__kernel_family_count(void);
const char *clattn__kernel_family_name(int i);
/* The preludes put in front of every family, in this order: cl/kernel_iface.h (the host/kernel
 * interface, also included by the host as C) and cl/common.cl. They are registry entries but
 * not families of their own. */
#define CLATTN_KERNEL_IFACE  "kernel_iface"
#define CLATTN_KERNEL_COMMON "common"
int clattn__kernel_is_prelude(const char *name);
/* The file an entry comes from: "kernel_iface.h" for the interface, "<name>.cl" otherwise. */
const char *clattn__kernel_file_ext(const char *name);

/* ---- Program cache (core/program_cache.c) ---- */
/* The program for cl/common.cl + cl/<family>.cl built with `options`, from the memory cache, the
 * disk cache or a fresh build. The cache owns the program: do not release it. Thread-safe: two
 * threads asking for the same (family, options) get one build. */
clattn_status clattn__program(clattn_context *ctx, const char *family, const char *options,
                              cl_program *out);
/* A new kernel object from that program; the caller releases it. */
clattn_status clattn__kernel(clattn_context *ctx, const char *family, const char *options,
                             const char *kernel_name, cl_kernel *out);
/* ---- Workspace (core/workspace.c): scratch buffers kept between calls ---- */
clattn_status clattn__workspace_create(clattn_context *ctx);
void clattn__workspace_destroy(clattn_context *ctx);
/* A scratch buffer of at least `bytes` for one call: a kept one, or a new one (OUT_OF_MEMORY and
 * the like as clattn__alloc, naming `what`). Its contents are undefined. */
clattn_status clattn__workspace_take(clattn_context *ctx, int64_t bytes, const char *what,
                                     cl_mem *out);
/* Hands *mem (from take; NULL is ignored) back once the call has enqueued its last use of it:
 * kept for later calls where the queue is in order, else released; *mem becomes NULL. */
void clattn__workspace_give(clattn_context *ctx, cl_mem *mem);
/* Releases every kept buffer; returns their bytes. */
int64_t clattn__workspace_trim(clattn_context *ctx);

clattn_status clattn__cache_create(clattn_context *ctx);
void clattn__cache_destroy(clattn_context *ctx);

/* ---- Host-pointer helpers (core/clutil.c) ---- */
/* A read-only device copy of host memory (NULL host gives a NULL buffer and success). */
clattn_status clattn__upload(clattn_context *ctx, const void *host, int64_t bytes, const char *what,
                             cl_mem *out);
clattn_status clattn__download(clattn_context *ctx, cl_mem mem, void *host, int64_t bytes,
                               cl_uint num_wait, const cl_event *wait, const char *what);
void clattn__release_mem(cl_mem *mem);
void clattn__release_event(cl_event *ev);

/* ---- Sequence lengths (core/lengths.c) ---- */
/* Checks host source lengths (int32 or int64, `B` of them) against 1..T and converts them to
 * int32 into `out`; shared by the additive and GRU front ends. lengths NULL: nothing to check
 * (returns success and leaves out alone). On failure `why` names the first bad entry. */
clattn_status clattn__check_lengths(const void *lengths, clattn_lengths_type type, int64_t B,
                                    int64_t T, int32_t *out, char *why, size_t why_len);

#endif /* CLATTN_INTERNAL_H */
