/* blas.h: clattn's only door to CLBlast. One strided-batched single-precision GEMM and one
 * GEMV, row-major, with CLBlast's status codes turned into clattn_status messages on the
 * context. */
#ifndef CLATTN_BLAS_H
#define CLATTN_BLAS_H

#include "core/internal.h"

/* One row-major GEMM per batch entry i < count:
 *   C_i = alpha * op(A_i) * op(B_i) + beta * C_i, op(X) = X or X^T (trans_a, trans_b),
 * where X_i starts at x_off + i * x_stride elements of its buffer with leading dimension ldx.
 * Enqueued on the context's queue after `wait` (CLBlast itself takes no wait list, so a barrier
 * carrying the list goes first). `what` names the product in error messages. */
typedef struct {
    int trans_a, trans_b;
    int64_t m, n, k;
    float alpha, beta;
    cl_mem a, b, c;
    int64_t a_off, lda, a_stride;
    int64_t b_off, ldb, b_stride;
    int64_t c_off, ldc, c_stride;
    int64_t count;
} clattn_gemm;

clattn_status clattn__sgemm_batched(clattn_context *ctx, const clattn_gemm *g, cl_uint num_wait,
                                    const cl_event *wait, const char *what);
/* y = op(A) x for one vector: row-major A [rows, cols] from a_off with leading dimension lda,
 * op(A) = A^T when trans (x has rows entries, y cols) else A (x has cols, y rows); x and y
 * contiguous from x_off and y_off. Enqueued as clattn__sgemm_batched is. For one row of
 * activations times a weight matrix (a decode step): CLBlast's GEMM pads such a product to a
 * whole tile of rows, and on PoCL took 3-20x the time of this GEMV (src/layer/forward.c). */
typedef struct {
    int trans;
    int64_t rows, cols;
    cl_mem a, x, y;
    int64_t a_off, lda, x_off, y_off;
} clattn_gemv;

clattn_status clattn__sgemv(clattn_context *ctx, const clattn_gemv *g, cl_uint num_wait,
                            const cl_event *wait, const char *what);

/* One measured GEMM on a CPU device (PoCL): CLBlast's default parameters against the ones
 * blas.c gives it. The table and its method are in blas.c; tests/test_tuning_tables.c checks
 * that the parameters win on every row. */
typedef struct {
    const char *what;
    int64_t m, n, k, batch;
    int trans_b; /* B transposed, as in clattn's projections and in Q K^T */
    double gflops_default, gflops_tuned;
} clattn_blas_run;

extern const clattn_blas_run clattn__blas_cpu_runs[];
extern const size_t clattn__blas_cpu_runs_count;

/* Called when a context is made: gives CLBlast the CPU parameters for its device (when it is a
 * CPU) now rather than at clattn's first GEMM on it, so that every GEMM on the device runs with
 * them from the first, the embedding program's own CLBlast calls included. Before, they came with
 * clattn's first GEMM: once the attention layer stopped calling CLBlast on CPU devices,
 * examples/generate's prefill (its MLPs are CLBlast GEMMs) took 20.6 s instead of 6.7. The
 * parameters are CLBlast's process-wide state for the device; clattn__blas_release, clearing
 * CLBlast's caches, drops them until the next context or GEMM gives them again. */
void clattn__blas_prepare(clattn_context *ctx);
/* Whether `device` was seen (given the parameters when it is a CPU) and not dropped since: for
 * the tests. */
int clattn__blas_tuned(cl_device_id device);

/* Called by clattn_context_destroy: drops what CLBlast cached for the context (its programs
 * retain the cl_context) when the context ever ran a GEMM. */
void clattn__blas_release(clattn_context *ctx);

#endif
