/* blas.c: the strided-batched SGEMM wrapper declared in blas.h; the only file that includes
 * CLBlast. CLBlast enqueues on our queue and takes no wait list, so a barrier with the caller's
 * wait list is enqueued first: on the context's in-order queue (and on an out-of-order one too,
 * since a barrier orders everything after it) the GEMM then starts after the dependencies. */
#include "blas.h"

#include <clblast_c.h>

static const char *blas_status_name(CLBlastStatusCode s) {
    switch (s) {
    case CLBlastNotImplemented:
        return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA:
        return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB:
        return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC:
        return "CLBlastInvalidMatrixC";
    case CLBlastInsufficientMemoryA:
        return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB:
        return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC:
        return "CLBlastInsufficientMemoryC";
    case CLBlastInvalidLocalMemUsage:
        return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision:
        return "CLBlastNoHalfPrecision";
    case CLBlastInvalidBatchCount:
        return "CLBlastInvalidBatchCount";
    case CLBlastInvalidOverrideKernel:
        return "CLBlastInvalidOverrideKernel";
    case CLBlastMissingOverrideParameter:
        return "CLBlastMissingOverrideParameter";
    case CLBlastInvalidLocalThreadsTotal:
        return "CLBlastInvalidLocalThreadsTotal";
    case CLBlastInvalidLocalThreadsDim:
        return "CLBlastInvalidLocalThreadsDim";
    case CLBlastInvalidLocalNumDimensions:
        return "CLBlastInvalidLocalNumDimensions";
    case CLBlastUnexpectedError:
        return "CLBlastUnexpectedError";
    default:
        return NULL;
    }
}

clattn_status clattn__sgemm_batched(clattn_context *ctx, const clattn_gemm *g, cl_uint num_wait,
                                    const cl_event *wait, const char *what) {
    if (g->m <= 0 || g->n <= 0 || g->k <= 0 || g->count <= 0)
        return clattn__fail(ctx, CLATTN_ERROR_INTERNAL, "%s: empty GEMM %lldx%lldx%lld x%lld", what,
                            (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->count);
    if (num_wait > 0) {
        cl_int err = clEnqueueBarrierWithWaitList(ctx->queue, num_wait, wait, NULL);
        if (err != CL_SUCCESS)
            return clattn__cl_fail(ctx, err, "%s: waiting for the caller's events", what);
    }
    cl_command_queue queue = ctx->queue;
    CLBlastStatusCode s = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, g->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        g->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, (size_t)g->m, (size_t)g->n,
        (size_t)g->k, g->alpha, g->a, (size_t)g->a_off, (size_t)g->lda, (size_t)g->a_stride, g->b,
        (size_t)g->b_off, (size_t)g->ldb, (size_t)g->b_stride, g->beta, g->c, (size_t)g->c_off,
        (size_t)g->ldc, (size_t)g->c_stride, (size_t)g->count, &queue, NULL);
    if (s == CLBlastSuccess) return CLATTN_SUCCESS;
    const char *name = blas_status_name(s);
    if (s > -1000) /* CLBlast passes OpenCL's own error codes through */
        return clattn__cl_fail(ctx, (cl_int)s, "%s: CLBlast SGEMM (%lldx%lldx%lld, batch %lld)",
                               what, (long long)g->m, (long long)g->n, (long long)g->k,
                               (long long)g->count);
    return clattn__fail(ctx, CLATTN_ERROR_BLAS,
                        "%s: CLBlast SGEMM (%lldx%lldx%lld, batch %lld) failed with %s (%d)", what,
                        (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->count,
                        name ? name : "an unknown CLBlast status", (int)s);
}
