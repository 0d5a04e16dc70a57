/* npy_read.h: reading NumPy .npy files. Internal to clattn (not installed, not exported from
 * the shared library): the library reads attention layer weights with it (src/layer/load.c),
 * and the CLI, the tests and the fuzzer read tensors with it; tools/npy.h adds the writer, a
 * helper of the CLI and the tests only.
 *
 * Supported: dtypes '<f4' (float32), '<f2' (float16), '<f8' (float64), '<i4' (int32) and '<i8'
 * (int64), C order,
 * header versions 1.0, 2.0 and 3.0 (3.0 is 2.0 with a UTF-8 header; only ASCII tokens matter).
 * The data is copied as raw bytes, so the host must be little-endian like the supported dtypes;
 * a big-endian host gets CLATTN_ERROR_UNSUPPORTED. Big-endian ('>'), native ('='), unordered
 * ('|') and structured dtypes are rejected with CLATTN_ERROR_FORMAT naming the descriptor.
 *
 * Strictness (decisions, as numpy leaves some of these open):
 * - The header dict must hold exactly 'descr', 'fortran_order' and 'shape' (as numpy checks);
 *   a duplicated key is rejected (Python would silently keep the last one).
 * - shape must be a tuple of non-negative decimal integers ("(3)" is an int, not a tuple), at
 *   most CLATTN_NPY_MAX_DIMS of them, and the product of the non-zero dimensions times the
 *   element size must fit in int64_t and size_t, so callers may compute strides freely.
 * - The data must be exactly count * element-size bytes: a short file is "truncated" and bytes
 *   after the data are rejected as trailing garbage (a file of the wrong shape written by a
 *   buggy tool is far more likely than an intentional trailer, and numpy never writes one).
 * - fortran_order True is rejected even for 0-d/1-d arrays, where the layouts coincide.
 *
 * Every failure message starts with the file name ("(memory)" when parse is given none). On
 * failure *out is all zero and nothing is allocated. float16 files keep their raw half bits in
 * parse/read (dtype CLATTN_NPY_F16, data uint16_t); clattn_npy_read_f32 and clattn_npy_to_f32
 * convert them exactly (subnormals, infinities and NaN payloads included) to float32, and
 * float64 (numpy's default type, as np.save writes arrays nobody cast) rounded to nearest.
 */
#ifndef CLATTN_NPY_READ_H
#define CLATTN_NPY_READ_H

#include "clattn.h"

#include <stddef.h>
#include <stdint.h>

#define CLATTN_NPY_MAX_DIMS 8
typedef enum {
    CLATTN_NPY_F32,
    CLATTN_NPY_F16,
    CLATTN_NPY_I32,
    CLATTN_NPY_I64,
    CLATTN_NPY_F64
} clattn_npy_dtype;

typedef struct {
    clattn_npy_dtype dtype;
    int ndim;                           /* 0 ... CLATTN_NPY_MAX_DIMS */
    int64_t shape[CLATTN_NPY_MAX_DIMS]; /* unused entries are 0 */
    int64_t count;                      /* product of shape, 1 for 0-d */
    void *data; /* malloc'ed, never NULL after success (even when count is 0) */
} clattn_npy_array;

/* Bytes per element (4, 2, 4, 8, 8), or 0 for a value outside the enum. */
size_t clattn_npy_dtype_size(clattn_npy_dtype dtype);
/* The .npy descriptor ("<f4" ...), or NULL for a value outside the enum. */
const char *clattn_npy_dtype_descr(clattn_npy_dtype dtype);

/* Exact IEEE binary16 -> binary32 conversion. */
float clattn_npy_half_to_float(uint16_t h);

/* Parses a whole .npy file held in memory; `name` only labels messages (may be NULL). Pure:
 * touches nothing but *out and err, allocates only the data, after checking it is present. */
clattn_status clattn_npy_parse(const void *bytes, size_t len, const char *name,
                               clattn_npy_array *out, char *err, size_t errlen);

/* Reads a file. The size of the file is checked against the header before the data is
 * allocated, and the data is read straight into its final buffer. */
clattn_status clattn_npy_read(const char *path, clattn_npy_array *out, char *err, size_t errlen);

/* Like clattn_npy_read, then float16 and float64 are converted to float32; integer files are
 * rejected with CLATTN_ERROR_FORMAT. */
clattn_status clattn_npy_read_f32(const char *path, clattn_npy_array *out, char *err,
                                  size_t errlen);

/* Converts a float16 or float64 array to float32 in place (a new data buffer); float32 is left
 * alone; integers give CLATTN_ERROR_FORMAT and leave *a untouched. `name` labels the message. */
clattn_status clattn_npy_to_f32(clattn_npy_array *a, const char *name, char *err, size_t errlen);

/* "[d0, d1, ...]" (up to 4 dims, then ", ...") into buf; returns buf. For messages. */
const char *clattn_npy_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);

/* Frees the data and zeroes *a; accepts NULL and an already freed/zeroed array. */
void clattn_npy_free(clattn_npy_array *a);

#endif /* CLATTN_NPY_READ_H */
