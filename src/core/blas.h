/* blas.h: clattn's only door to CLBlast. One strided-batched single-precision GEMM, row-major,
 * with CLBlast's status codes turned into clattn_status messages on the context. */
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
/* Called by clattn_context_destroy: drops what CLBlast cached for the context (its programs
 * retain the cl_context) when the context ever ran a GEMM. */
void clattn__blas_release(clattn_context *ctx);

#endif
