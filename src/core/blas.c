/* blas.c: the strided-batched SGEMM wrapper declared in blas.h; the only file that includes
 * CLBlast. CLBlast enqueues on our queue and takes no wait list, so a barrier with the caller's
 * wait list is enqueued first: on the context's in-order queue (and on an out-of-order one too,
 * since a barrier orders everything after it) the GEMM then starts after the dependencies.
 * CLBlast has no tuning for CPU OpenCL devices (PoCL), so on those we give it our own kernel
 * parameters once per device before its first GEMM. */
#include "core/blas.h"

#include <clblast_c.h>
#include <stdio.h>

/* Parameters for CLBlast's indirect GEMM kernel "Xgemm" on CPU devices (CL_DEVICE_TYPE_CPU).
 * Why these: CLBlast's defaults stage tiles through local memory with barriers and give each
 * work-item a 4x2 tile; PoCL runs a work-group as loops over its work-items split at every
 * barrier, so the accumulators live in memory and the default runs at 13-25 GFLOP/s. With SA=SB=0
 * (no local memory, hence no barriers) each work-item keeps a 16x16 tile of float16 accumulators
 * in registers and streams A and B from the cache; small 2x2 work-groups of 32x32 tiles keep
 * enough groups for both cores without PoCL's per-group overhead dominating. The GEMMK=0 kernel
 * wants both operands with K as their slow dimension, so CLBlast copies (transposes) an operand
 * that is not, and a row-major C; clattn__sgemm_batched below therefore states every product
 * in column-major form, which leaves C in place (on every device).
 * XGEMM_MIN_INDIRECT_SIZE 128 (default 896): products with m*n*k >= 128^3 take this kernel; the
 * default sent 2048x2048x64 and 32x512x512 to the untuned XgemmDirect kernel (18 GFLOP/s).
 *
 * The measurements are data below the parameters (clattn__blas_cpu_runs); P V stays at ~49
 * because the GEMMK=0 kernel needs P (K fast) transposed into a temporary each call.
 * Tried and rejected: 1x1 work-groups (16x16 tiles: 235 on keys 1600 but 56 on the decoder),
 * 4x4 groups of 64x64 tiles (keys 1600 209, decoder 39), work-items vectorised across the
 * group (VWM=1, STRM=1, 16x1 groups: 27), larger local-memory tiles (84), the GEMMK=1 kernel in
 * row-major form (no copies at all, P V 150-164, but 92-150 elsewhere), retuned
 * Transpose/Padtranspose kernels (no gain), XgemmDirect with 4x4 groups (P V 69, Q K^T 30; its
 * 1x1/vector-16 variants took minutes to compile). */
static const char *const xgemm_names[] = {"GEMMK", "KREG",  "KWG",   "KWI", "MDIMA", "MDIMC",
                                          "MWG",   "NDIMB", "NDIMC", "NWG", "SA",    "SB",
                                          "STRM",  "STRN",  "VWM",   "VWN"};
static const size_t xgemm_cpu[] = {0, 1, 16, 1, 2, 2, 32, 2, 2, 32, 0, 0, 0, 0, 16, 16};
static const char *const routine_names[] = {"XGEMM_MIN_INDIRECT_SIZE"};
static const size_t routine_cpu[] = {128};

/* Method: a scratch harness calling CLBlastSgemmStridedBatched on PoCL 3.1 pthread (2 shared
 * AVX-512 EPYC cores), CLBlast 1.5.3; medians of 3 runs (defaults) or 5 (the parameters above)
 * after a warm-up run, in GFLOP/s. Shapes are row-major m x n x k;
 * "defaults" is CLBlast's own parameters called row-major, "tuned" the parameters above called
 * in the column-major form clattn__sgemm_batched uses. */
const clattn_blas_run clattn__blas_cpu_runs[] = {
    /* clang-format off */
    /* what                 m      n     k     batch trans_b defaults tuned */
    {"square",              2048,  2048, 2048, 1,    0,      24.2,    143.7},
    {"Q K^T",               2048,  2048, 64,   8,    1,      17.9,    273.2},
    {"P V",                 2048,  64,   2048, 8,    0,      22.6,    48.7},
    {"keys",                1600,  512,  1024, 1,    1,      12.6,    245.0},
    {"keys",                16000, 512,  1024, 1,    1,      14.0,    212.6},
    {"decoder",             32,    512,  512,  1,    1,      18.8,    87.9},
    {"GRU input",           1600,  1536, 512,  1,    1,      23.8,    320.0},
    {"square",              512,   512,  512,  1,    0,      22.7,    328.2},
    /* clang-format on */
};
const size_t clattn__blas_cpu_runs_count =
    sizeof clattn__blas_cpu_runs / sizeof *clattn__blas_cpu_runs;

/* One lock for every CLBlast call in the process. CLBlast 1.5 (Debian 12) stores compiled
 * programs in process-wide caches that are not safe against concurrent first use (fixed
 * upstream in 1.6.1, CLBlast issue #486): tests/test_threads.c crashed inside CLBlast with
 * std::bad_alloc before this lock. GEMM calls only enqueue work, so holding it is cheap. */
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;

/* Devices already given their parameters (CLBlast keeps overrides per device, process-wide, in
 * the same cache CLBlastClearCache empties). Guarded by blas_lock. */
#define BLAS_TUNED_MAX 16
static cl_device_id tuned[BLAS_TUNED_MAX];
static int n_tuned;

/* Gives CLBlast the CPU parameters for `device` the first time it is seen. A failure leaves
 * CLBlast's defaults in place: those are slower, not wrong, so nothing is reported. */
static void blas_tune_device(cl_device_id device) {
    for (int i = 0; i < n_tuned; i++)
        if (tuned[i] == device) return;
    cl_device_type type = 0;
    if (clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL) == CL_SUCCESS &&
        (type & CL_DEVICE_TYPE_CPU)) {
        const size_t nx = sizeof xgemm_cpu / sizeof xgemm_cpu[0];
        const size_t nr = sizeof routine_cpu / sizeof routine_cpu[0];
        /* the threshold only pays off with the tuned kernel behind it */
        if (CLBlastOverrideParameters(device, "Xgemm", CLBlastPrecisionSingle, nx,
                                      (const char **)xgemm_names, xgemm_cpu) == CLBlastSuccess)
            (void)CLBlastOverrideParameters(device, "GemmRoutine", CLBlastPrecisionSingle, nr,
                                            (const char **)routine_names, routine_cpu);
    }
    if (n_tuned < BLAS_TUNED_MAX) /* past that, overriding again is merely repeated work */
        tuned[n_tuned++] = device;
}

void clattn__blas_prepare(clattn_context *ctx) {
    pthread_mutex_lock(&blas_lock);
    blas_tune_device(ctx->device);
    pthread_mutex_unlock(&blas_lock);
}

int clattn__blas_tuned(cl_device_id device) {
    pthread_mutex_lock(&blas_lock);
    int seen = 0;
    for (int i = 0; i < n_tuned && !seen; i++) seen = tuned[i] == device;
    pthread_mutex_unlock(&blas_lock);
    return seen;
}

void clattn__blas_release(clattn_context *ctx) {
    pthread_mutex_lock(&blas_lock);
    if (ctx->used_blas) {
        /* CLBlast's caches hold programs, and through them our cl_context, until cleared; there
         * is no per-context clear, so all of it goes (other contexts rebuild on their next GEMM,
         * as they would on a new context anyway) and the overrides are given again. */
        (void)CLBlastClearCache();
        n_tuned = 0;
        ctx->used_blas = 0;
    }
    pthread_mutex_unlock(&blas_lock);
}

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

/* Before a CLBlast call: orders it after the caller's events (CLBlast takes no wait list), then
 * takes blas_lock (the caller unlocks after the call) with the device's parameters given. */
static clattn_status blas_enter(clattn_context *ctx, cl_uint num_wait, const cl_event *wait,
                                const char *what) {
    if (num_wait > 0) {
        cl_int err = clEnqueueBarrierWithWaitList(ctx->queue, num_wait, wait, NULL);
        if (err != CL_SUCCESS)
            return clattn__cl_fail(
                ctx, err,
                "%s: waiting for the caller's events: clEnqueueBarrierWithWaitList failed", what);
    }
    pthread_mutex_lock(&blas_lock);
    blas_tune_device(ctx->device);
    ctx->used_blas = 1;
    return CLATTN_SUCCESS;
}

/* A CLBlast status as a clattn one; `call` names the routine and its sizes. */
static clattn_status blas_result(clattn_context *ctx, CLBlastStatusCode s, const char *what,
                                 const char *call) {
    if (s == CLBlastSuccess) return CLATTN_SUCCESS;
    const char *name = blas_status_name(s);
    if (s > -1000) /* CLBlast passes OpenCL's own error codes through */
        return clattn__cl_fail(ctx, (cl_int)s, "%s: CLBlast %s", what, call);
    return clattn__fail(ctx, CLATTN_ERROR_BLAS, "%s: CLBlast %s failed with %s (%d)", what, call,
                        name ? name : "an unknown CLBlast status", (int)s);
}

/* Whether CLBlast's strided-batched GEMM computes `g` right. CLBlast 1.5.3's XgemmStridedBatched
 * (routines/levelx/xgemmstridedbatched.cpp, BatchedGemmIndirect) skips the copy of an operand
 * whose sizes are whole tiles and whose leading dimension is its height, and then reads it from
 * the buffer's start with the packed stride: it drops the operand's offset and stride (the
 * single GEMM, Xgemm, also requires offset 0 before skipping the copy). Found by
 * examples/bahdanau at B=128: the backward GRU's input projection (c_off = B T 3H) overwrote the
 * forward one whenever B T was a multiple of 32 (CPU tiles) past XGEMM_MIN_INDIRECT_SIZE.
 * So the batched call is taken only when every operand starts at 0 and its entries are packed
 * (stride = ld x its rows); otherwise one CLBlastSgemm per entry (tests/test_blas.c). */
static int batched_call_safe(const clattn_gemm *g) {
    return g->count > 1 && g->a_off == 0 && g->b_off == 0 && g->c_off == 0 &&
           g->a_stride == g->lda * (g->trans_a ? g->k : g->m) &&
           g->b_stride == g->ldb * (g->trans_b ? g->n : g->k) && g->c_stride == g->ldc * g->m;
}

clattn_status clattn__sgemm_batched(clattn_context *ctx, const clattn_gemm *g, cl_uint num_wait,
                                    const cl_event *wait, const char *what) {
    if (g->m <= 0 || g->n <= 0 || g->k <= 0 || g->count <= 0)
        return clattn__fail(ctx, CLATTN_ERROR_INTERNAL, "%s: empty GEMM %lldx%lldx%lld x%lld", what,
                            (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->count);
    clattn_status st = blas_enter(ctx, num_wait, wait, what);
    if (st != CLATTN_SUCCESS) return st;
    /* Row-major C = op(A) op(B) is, on the same buffers read column-major, C^T = op(B)^T op(A)^T:
     * CLBlast's row-major path would copy-transpose C in and out; this form never touches C. */
    cl_command_queue queue = ctx->queue;
    const CLBlastTranspose ta = g->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo,
                           tb = g->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode s = CLBlastSuccess;
    if (batched_call_safe(g))
        s = CLBlastSgemmStridedBatched(
            CLBlastLayoutColMajor, ta, tb, (size_t)g->n, (size_t)g->m, (size_t)g->k, g->alpha, g->b,
            (size_t)g->b_off, (size_t)g->ldb, (size_t)g->b_stride, g->a, (size_t)g->a_off,
            (size_t)g->lda, (size_t)g->a_stride, g->beta, g->c, (size_t)g->c_off, (size_t)g->ldc,
            (size_t)g->c_stride, (size_t)g->count, &queue, NULL);
    else
        for (int64_t i = 0; i < g->count && s == CLBlastSuccess; i++)
            s = CLBlastSgemm(CLBlastLayoutColMajor, ta, tb, (size_t)g->n, (size_t)g->m,
                             (size_t)g->k, g->alpha, g->b, (size_t)(g->b_off + i * g->b_stride),
                             (size_t)g->ldb, g->a, (size_t)(g->a_off + i * g->a_stride),
                             (size_t)g->lda, g->beta, g->c, (size_t)(g->c_off + i * g->c_stride),
                             (size_t)g->ldc, &queue, NULL);
    pthread_mutex_unlock(&blas_lock);
    char call[96];
    snprintf(call, sizeof call, "SGEMM (%lldx%lldx%lld, batch %lld)", (long long)g->m,
             (long long)g->n, (long long)g->k, (long long)g->count);
    return blas_result(ctx, s, what, call);
}

clattn_status clattn__sgemv(clattn_context *ctx, const clattn_gemv *g, cl_uint num_wait,
                            const cl_event *wait, const char *what) {
    if (g->rows <= 0 || g->cols <= 0)
        return clattn__fail(ctx, CLATTN_ERROR_INTERNAL, "%s: empty GEMV %lldx%lld", what,
                            (long long)g->rows, (long long)g->cols);
    clattn_status st = blas_enter(ctx, num_wait, wait, what);
    if (st != CLATTN_SUCCESS) return st;
    cl_command_queue queue = ctx->queue;
    CLBlastStatusCode s =
        CLBlastSgemv(CLBlastLayoutRowMajor, g->trans ? CLBlastTransposeYes : CLBlastTransposeNo,
                     (size_t)g->rows, (size_t)g->cols, 1.0f, g->a, (size_t)g->a_off, (size_t)g->lda,
                     g->x, (size_t)g->x_off, 1, 0.0f, g->y, (size_t)g->y_off, 1, &queue, NULL);
    pthread_mutex_unlock(&blas_lock);
    char call[64];
    snprintf(call, sizeof call, "SGEMV (%lldx%lld)", (long long)g->rows, (long long)g->cols);
    return blas_result(ctx, s, what, call);
}
