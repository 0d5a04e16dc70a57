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

#endif
