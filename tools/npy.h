/* npy.h: the .npy reader (src/npy/npy_read.h, part of the library) and the .npy writer
 * (tools/npy_write.c: a helper of the CLI and the tests, built into the static helper library
 * clattn_npy, not into clattn).
 *
 * The writer writes any of the reader's dtypes. */
#ifndef CLATTN_NPY_H
#define CLATTN_NPY_H

#include "npy/npy_read.h"
#include "outfile.h"

#include <stddef.h>
#include <stdint.h>

/* Upper bound of the magic + version + length + header dict that clattn writes: the dict with 8
 * dimensions of 19 digits is under 300 bytes, padded to a multiple of 64. */
#define CLATTN_NPY_MAX_PREAMBLE 512

/* The bytes numpy's np.save puts before the data for this dtype and shape: magic, version 1.0
 * (2.0 if the dict would not fit 65535 bytes), length and the dict padded with spaces and '\n'
 * to a multiple of 64 bytes, including numpy's spare room after the first dimension. `buf`
 * holds CLATTN_NPY_MAX_PREAMBLE bytes. Returns 0, or -1 for a bad dtype/ndim/shape. */
int clattn_npy_preamble(clattn_npy_dtype dtype, int ndim, const int64_t *shape, char *buf,
                        size_t *len);

/* Writes an array of any of the four dtypes (float16 data is raw uint16_t halves) to `path`
 * under the rule of outfile.h: a new name or an existing regular file (symlinks followed), written
 * as a temporary in the same directory and renamed over it, so the path shows the old file or the
 * whole new one, never part of one. Arguments are checked first (CLATTN_ERROR_INVALID_ARGUMENT,
 * CLATTN_ERROR_OVERFLOW); a path that is a directory, FIFO, device or socket, a missing directory
 * and a failed write give CLATTN_ERROR_IO. On any failure the path is unchanged and no temporary
 * is left. */
clattn_status clattn_npy_write(const char *path, clattn_npy_dtype dtype, int ndim,
                               const int64_t *shape, const void *data, char *err, size_t errlen);
/* The first half of clattn_npy_write, for callers that commit several files together: writes the
 * array to a new temporary beside o's resolved target (clattn_outfile_resolve, no temporary yet)
 * and closes it; clattn_outfile_commit then renames it into place. `label` starts messages. On
 * failure no temporary is left. */
clattn_status clattn_npy_write_temp(clattn_outfile *o, const char *label, clattn_npy_dtype dtype,
                                    int ndim, const int64_t *shape, const void *data, char *err,
                                    size_t errlen);

#endif /* CLATTN_NPY_H */
