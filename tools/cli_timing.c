/* cli_timing.c: timing one enqueued clattn call and taking medians, for the bench commands
 * (cli_timing.h). */
#include "cli_timing.h"

#include "core/internal.h"

#include <stdlib.h>
#include <time.h>

double cli_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

clattn_status cli_timed_call(clattn_context *ctx, cli_enqueue_fn fn, const void *arg,
                             cli_call_time *t) {
    cl_event mark = NULL, ev = NULL;
    const int prof = ctx->queue_profiling;
    clFinish(ctx->queue);
    const double t0 = cli_now_s();
    if (prof) clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &mark);
    const double t_call = cli_now_s();
    clattn_status st = fn(arg, &ev);
    t->enqueue_s = cli_now_s() - t_call;
    if (st == CLATTN_SUCCESS) {
        clWaitForEvents(1, &ev);
        t->device_s = t->host_s = cli_now_s() - t0;
        /* The call may be several commands (naive: GEMM, softmax, GEMM; flash1 on the CPU:
         * several kernels; an RNN: projections and steps), so it is timed from the marker
         * before it to its last event. */
        cl_ulong start = 0, end = 0;
        if (prof &&
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL) ==
                CL_SUCCESS &&
            clGetEventProfilingInfo(mark, CL_PROFILING_COMMAND_END, sizeof start, &start, NULL) ==
                CL_SUCCESS &&
            end > start)
            t->device_s = 1e-9 * (double)(end - start);
    }
    if (mark) clReleaseEvent(mark);
    if (ev) clReleaseEvent(ev);
    return st;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double cli_median(double *v, int64_t n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

clattn_status cli_timed_median(clattn_context *ctx, cli_enqueue_fn fn, const void *arg, int64_t R,
                               double *times, double ms[3]) {
    cli_call_time ct;
    clattn_status st = cli_timed_call(ctx, fn, arg, &ct); /* warm-up */
    for (int64_t r = 0; r < R && st == CLATTN_SUCCESS; r++) {
        st = cli_timed_call(ctx, fn, arg, &ct);
        times[r] = ct.device_s;
    }
    if (st != CLATTN_SUCCESS) return st;
    ms[0] = 1e3 * cli_median(times, R); /* sorts: the extremes are at the ends */
    ms[1] = 1e3 * times[0];
    ms[2] = 1e3 * times[R - 1];
    return CLATTN_SUCCESS;
}
