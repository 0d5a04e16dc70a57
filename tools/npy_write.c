/* npy_write.c: the .npy writer declared in npy.h: the preamble numpy's np.save writes, and
 * whole files written through tools/outfile.c (a temporary beside the target, renamed into
 * place only when complete). The reader is src/npy/npy_read.c. */
#include "npy.h"
#include "npy/npy_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int clattn_npy_preamble(clattn_npy_dtype dtype, int ndim, const int64_t *shape, char *buf,
                        size_t *len) {
    char dict[CLATTN_NPY_MAX_PREAMBLE];
    const char *descr = clattn_npy_dtype_descr(dtype);
    if (!descr || ndim < 0 || ndim > CLATTN_NPY_MAX_DIMS || (ndim > 0 && !shape)) return -1;
    /* Byte for byte what numpy 1.24's np.save writes: sorted keys, repr() of the shape tuple,
     * then spare room so the first dimension can grow to 21 digits in place. */
    int n =
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)shape[i]);
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    if (ndim > 0) {
        int digits = snprintf(NULL, 0, "%lld", (long long)shape[0]);
        for (int k = digits; k < 21; k++) dict[n++] = ' ';
    }
    /* Version 1.0 stores the length in 16 bits; 2.0 in 32. With at most 8 dimensions the dict
     * stays under 300 bytes, so 2.0 is never needed, but the rule is numpy's. */
    size_t hlen = (size_t)n + 1, prefix = hlen + 64 > 65535 ? 12 : 10;
    size_t padded = hlen + (64 - (prefix + hlen) % 64); /* numpy pads a full 64 when aligned */
    if (prefix + padded > CLATTN_NPY_MAX_PREAMBLE) return -1;
    memcpy(buf, clattn_npy__magic, sizeof clattn_npy__magic);
    buf[6] = prefix == 10 ? 1 : 2;
    buf[7] = 0;
    for (size_t i = 0; i < prefix - 8; i++) buf[8 + i] = (char)((padded >> (8 * i)) & 0xff);
    memcpy(buf + prefix, dict, (size_t)n);
    memset(buf + prefix + n, ' ', padded - hlen);
    buf[prefix + padded - 1] = '\n';
    *len = prefix + padded;
    return 0;
}

/* The argument checks of both writers, made before any file is touched. */
static clattn_status write_args(const npy_sink *sink, clattn_npy_dtype dtype, int ndim,
                                const int64_t *shape, const void *data, char *pre, size_t *plen,
                                size_t *nbytes) {
    int64_t count;
    if (!clattn_npy_dtype_descr(dtype))
        return clattn_npy__fail(sink, CLATTN_ERROR_INVALID_ARGUMENT, "invalid dtype %d",
                                (int)dtype);
    if (ndim < 0 || ndim > CLATTN_NPY_MAX_DIMS || (ndim > 0 && !shape))
        return clattn_npy__fail(sink, CLATTN_ERROR_INVALID_ARGUMENT,
                                "ndim %d is outside 0..%d (or shape is NULL)", ndim,
                                CLATTN_NPY_MAX_DIMS);
    int r = clattn_npy__shape_bytes(ndim, shape, clattn_npy_dtype_size(dtype), &count, nbytes);
    if (r == 1) return clattn_npy__fail(sink, CLATTN_ERROR_INVALID_ARGUMENT, "negative dimension");
    if (r == 2) return clattn_npy__fail(sink, CLATTN_ERROR_OVERFLOW, "the array's size overflows");
    if (!data && *nbytes > 0)
        return clattn_npy__fail(sink, CLATTN_ERROR_INVALID_ARGUMENT, "NULL data for %lld elements",
                                (long long)count);
    if (!clattn_npy__host_is_little_endian())
        return clattn_npy__fail(sink, CLATTN_ERROR_UNSUPPORTED, ".npy needs a little-endian host");
    if (clattn_npy_preamble(dtype, ndim, shape, pre, plen) != 0)
        return clattn_npy__fail(sink, CLATTN_ERROR_INTERNAL, "header does not fit");
    return CLATTN_SUCCESS;
}

clattn_status clattn_npy_write_temp(clattn_outfile *o, const char *label, clattn_npy_dtype dtype,
                                    int ndim, const int64_t *shape, const void *data, char *err,
                                    size_t errlen) {
    npy_sink sink = {label, err, errlen};
    char pre[CLATTN_NPY_MAX_PREAMBLE];
    size_t plen, nbytes;
    if (err && errlen) err[0] = '\0';
    if (!o || !o->target || o->tmp)
        return clattn_npy__fail(&sink, CLATTN_ERROR_INVALID_ARGUMENT,
                                "npy_write_temp needs a resolved "
                                "output with no temporary yet");
    clattn_status st = write_args(&sink, dtype, ndim, shape, data, pre, &plen, &nbytes);
    if (st != CLATTN_SUCCESS) return st;
    if ((st = clattn_outfile_open(o, err, errlen)) != CLATTN_SUCCESS) return st;
    errno = 0;
    if (fwrite(pre, 1, plen, o->f) != plen ||
        (nbytes > 0 && fwrite(data, 1, nbytes, o->f) != nbytes)) {
        int e = errno;
        clattn_outfile_abort(o);
        errno = e;
        return clattn_npy__io_fail(&sink, "write", NULL);
    }
    return clattn_outfile_close(o, label, err, errlen);
}

clattn_status clattn_npy_write(const char *path, clattn_npy_dtype dtype, int ndim,
                               const int64_t *shape, const void *data, char *err, size_t errlen) {
    npy_sink sink = {path, err, errlen};
    char pre[CLATTN_NPY_MAX_PREAMBLE];
    size_t plen, nbytes;
    clattn_outfile o;
    if (err && errlen) err[0] = '\0';
    if (!path)
        return clattn_npy__fail(&sink, CLATTN_ERROR_INVALID_ARGUMENT, "NULL path to npy_write");
    clattn_status st = write_args(&sink, dtype, ndim, shape, data, pre, &plen, &nbytes);
    if (st != CLATTN_SUCCESS) return st;
    if ((st = clattn_outfile_resolve(&o, path, err, errlen)) != CLATTN_SUCCESS) return st;
    /* A temporary renamed over the target: a failed write leaves the old file, never half a new
     * one, and nothing but a regular file is ever replaced. */
    if ((st = clattn_npy_write_temp(&o, path, dtype, ndim, shape, data, err, errlen)) ==
        CLATTN_SUCCESS)
        st = clattn_outfile_commit(&o, path, err, errlen);
    clattn_outfile_discard(&o);
    return st;
}
