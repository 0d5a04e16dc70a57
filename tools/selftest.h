/* selftest.h: the checks `clattn selftest` runs. Each check runs one kernel family on a small
 * random problem and compares with the float64 reference in tests/ref/. */
#ifndef CLATTN_SELFTEST_H
#define CLATTN_SELFTEST_H

#include "clattn.h"

#include <stddef.h>

/* Returns 0 when the check passes; writes a one-line detail (error, max error) to msg. */
typedef int (*selftest_fn)(clattn_context *ctx, char *msg, size_t cap);

typedef struct {
    const char *name;
    selftest_fn run;
} selftest_check;

/* Fills x with reproducible values in [-1, 1) from a seed (the self-test is deterministic). */
void selftest_fill(float *x, size_t n, unsigned seed);

/* Checks of the additive-attention and GRU kernel families (tools/selftest_additive.c). */
int selftest_additive(clattn_context *ctx, char *msg, size_t cap);
int selftest_gru(clattn_context *ctx, char *msg, size_t cap);

/* Checks of the naive and GPU-flavour attention families (tools/selftest_sdpa.c). */
int selftest_sdpa_naive(clattn_context *ctx, char *msg, size_t cap);
int selftest_flash1_gpu(clattn_context *ctx, char *msg, size_t cap);
int selftest_flash2_gpu(clattn_context *ctx, char *msg, size_t cap);
/* The CPU-flavour kernels, cl/flash_cpu.cl (same problem, CPU flavour forced). */
int selftest_flash1_cpu(clattn_context *ctx, char *msg, size_t cap);
int selftest_flash2_cpu(clattn_context *ctx, char *msg, size_t cap);

#endif
