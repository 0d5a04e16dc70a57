/* cli_timing.h: timing one enqueued clattn call, for the bench commands (cmd_bench.c,
 * cmd_bench_rnn.c): the call is bracketed by a marker, so with queue profiling its device time
 * runs from the marker's end to its last event's end, whatever commands it enqueued. */
#ifndef CLATTN_CLI_TIMING_H
#define CLATTN_CLI_TIMING_H

#include "clattn.h"

#include <stdint.h>

/* Enqueues the call being timed on the context's queue; *event is its last command's event. */
typedef clattn_status (*cli_enqueue_fn)(const void *arg, cl_event *event);

typedef struct {
    double device_s;  /* OpenCL profiling (the host clock's host_s without profiling) */
    double host_s;    /* enqueue to completion on the host clock */
    double enqueue_s; /* until the call returned: its host-side cost */
} cli_call_time;

/* A monotonic clock in seconds. */
double cli_now_s(void);

/* Finishes the queue, then runs and times one call of fn(arg). */
clattn_status cli_timed_call(clattn_context *ctx, cli_enqueue_fn fn, const void *arg,
                             cli_call_time *t);

/* Sorts v[0..n) and returns its median (n >= 1). */
double cli_median(double *v, int64_t n);

/* One untimed call of fn(arg) (kernel builds, CLBlast's tuning), then R >= 1 timed ones: the
 * median, fastest and slowest device time in ms into ms[0..2]. times holds R doubles (scratch). */
clattn_status cli_timed_median(clattn_context *ctx, cli_enqueue_fn fn, const void *arg, int64_t R,
                               double *times, double ms[3]);

#endif /* CLATTN_CLI_TIMING_H */
