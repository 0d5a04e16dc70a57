/* npy_internal.h: what the two halves of the .npy code share (src/npy/npy_read.c reads and
 * parses, tools/npy_write.c writes): the magic, the error sink and the checked size product. Not
 * part of npy.h's interface. */
#ifndef CLATTN_NPY_INTERNAL_H
#define CLATTN_NPY_INTERNAL_H

#include "npy/npy_read.h"

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

extern const char clattn_npy__magic[6];

/* Where the failures of one call go: the label every message starts with, and the buffer. */
typedef struct {
    const char *name;
    char *err;
    size_t errlen;
} npy_sink;

/* Writes "<name>: <message>" into the sink and returns status. */
clattn_status clattn_npy__fail(const npy_sink *s, clattn_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

int clattn_npy__host_is_little_endian(void);

/* An I/O failure: the message names `what` and errno (or an early end of file); closes f. */
clattn_status clattn_npy__io_fail(const npy_sink *sink, const char *what, FILE *f);

/* count = product of shape; bytes = count * item. Returns 0, 1 for a negative dimension, 2 when
 * the product of the non-zero dimensions times item overflows int64_t or size_t (checked on the
 * non-zero ones so a caller's stride arithmetic cannot overflow either). */
int clattn_npy__shape_bytes(int ndim, const int64_t *shape, size_t item, int64_t *count,
                            size_t *bytes);

#endif
