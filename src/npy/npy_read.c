/* npy_read.c: the .npy reader declared in npy_read.h (the writer is tools/npy_write.c). The header
 * dict is read by a small recursive-descent parser for the subset of Python literals numpy writes,
 * working on a (pointer, end) pair so no input can make it read past the bytes it was given; every
 * size is checked against the bytes actually present before anything is allocated. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fseeko/ftello: file sizes past 2 GiB where long is 32-bit */
#endif
#include "npy/npy_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#define fseeko _fseeki64
#define ftello _ftelli64
#endif

const char clattn_npy__magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

typedef struct {
    clattn_npy_dtype dtype;
    int ndim;
    int64_t shape[CLATTN_NPY_MAX_DIMS];
} npy_header;

clattn_status clattn_npy__fail(const npy_sink *s, clattn_status status, const char *fmt, ...) {
    if (s->err && s->errlen > 0) {
        int n = snprintf(s->err, s->errlen, "%s: ", s->name ? s->name : "(memory)");
        if (n >= 0 && (size_t)n < s->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(s->err + n, s->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return status;
}

size_t clattn_npy_dtype_size(clattn_npy_dtype dtype) {
    switch (dtype) {
    case CLATTN_NPY_F32:
        return 4;
    case CLATTN_NPY_F16:
        return 2;
    case CLATTN_NPY_I32:
        return 4;
    case CLATTN_NPY_I64:
    case CLATTN_NPY_F64:
        return 8;
    }
    return 0;
}

const char *clattn_npy_dtype_descr(clattn_npy_dtype dtype) {
    switch (dtype) {
    case CLATTN_NPY_F32:
        return "<f4";
    case CLATTN_NPY_F16:
        return "<f2";
    case CLATTN_NPY_I32:
        return "<i4";
    case CLATTN_NPY_I64:
        return "<i8";
    case CLATTN_NPY_F64:
        return "<f8";
    }
    return NULL;
}

float clattn_npy_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exp == 0) {
        /* Zero or subnormal: mant * 2^-24, exact in float32 (10 bits, a power-of-two scale). */
        f = (float)mant * 5.9604644775390625e-8f;
        memcpy(&bits, &f, sizeof bits);
        bits |= sign;
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf, or NaN keeping its payload */
    } else {
        bits = sign | ((exp + 112u) << 23) | (mant << 13); /* rebias 15 -> 127 */
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

int clattn_npy__host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

int clattn_npy__shape_bytes(int ndim, const int64_t *shape, size_t item, int64_t *count,
                            size_t *bytes) {
    int64_t bound = (int64_t)item, n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return 1;
        if (shape[i] > 1 && bound > INT64_MAX / shape[i]) return 2;
        if (shape[i] > 1) bound *= shape[i];
        n *= shape[i]; /* |n| <= bound / item: cannot overflow */
    }
    if ((uint64_t)bound > (uint64_t)SIZE_MAX) return 2;
    *count = n;
    *bytes = (size_t)n * item;
    return 0;
}

/* ---- The header dict ------------------------------------------------------------------------ */

typedef struct {
    const unsigned char *p, *end;
    const npy_sink *sink;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end &&
           (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r' || *c->p == '\f'))
        c->p++;
}

/* Copies up to 40 bytes of untrusted text into `dst` for a message, non-printables as '?'. */
static const char *printable(const unsigned char *s, size_t n, char dst[48]) {
    size_t k = 0;
    for (; k < n && k < 40; k++) dst[k] = (s[k] >= 0x20 && s[k] < 0x7f) ? (char)s[k] : '?';
    if (k < n) dst[k++] = '.', dst[k++] = '.', dst[k++] = '.';
    dst[k] = '\0';
    return dst;
}

/* What the header holds at the cursor, for "expected X, found Y" messages. */
static const char *found(const cursor *c, char dst[48]) {
    if (c->p >= c->end) return "the end of the header";
    return printable(c->p, (size_t)(c->end - c->p) < 12 ? (size_t)(c->end - c->p) : 12, dst);
}

static clattn_status expect_char(cursor *c, char ch, const char *what) {
    char buf[48];
    skip_ws(c);
    if (c->p < c->end && *c->p == (unsigned char)ch) {
        c->p++;
        return CLATTN_SUCCESS;
    }
    return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT, "bad header: expected %s, found '%s'",
                            what, found(c, buf));
}

static clattn_status take_string(cursor *c, const unsigned char **s, size_t *n, const char *what) {
    char buf[48];
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT, "bad header: expected %s, found '%s'",
                                what, found(c, buf));
    unsigned char quote = *c->p++;
    *s = c->p;
    while (c->p < c->end && *c->p != quote) {
        /* numpy never writes escapes; refusing them keeps the comparison byte-exact. */
        if (*c->p == '\\' || *c->p == '\n')
            return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT,
                                    "bad header: escape or newline inside a string");
        c->p++;
    }
    if (c->p >= c->end)
        return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT, "bad header: unterminated string");
    *n = (size_t)(c->p - *s);
    c->p++;
    return CLATTN_SUCCESS;
}

static int is_ident_char(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

static int take_word(cursor *c, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return 0;
    if ((size_t)(c->end - c->p) > n && is_ident_char(c->p[n])) return 0;
    c->p += n;
    return 1;
}

static clattn_status parse_descr(cursor *c, npy_header *h) {
    const unsigned char *s;
    size_t n;
    char buf[48];
    skip_ws(c);
    if (c->p < c->end && *c->p == '[')
        return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT,
                                "structured dtypes are not supported (descr is a list)");
    clattn_status st = take_string(c, &s, &n, "a dtype string for 'descr'");
    if (st != CLATTN_SUCCESS) return st;
    for (int d = CLATTN_NPY_F32; d <= CLATTN_NPY_F64; d++) {
        const char *want = clattn_npy_dtype_descr((clattn_npy_dtype)d);
        if (n == strlen(want) && memcmp(s, want, n) == 0) {
            h->dtype = (clattn_npy_dtype)d;
            return CLATTN_SUCCESS;
        }
    }
    return clattn_npy__fail(
        c->sink, CLATTN_ERROR_FORMAT,
        "dtype '%s' is not supported (only little-endian '<f4', '<f2', '<f8', '<i4', '<i8')",
        printable(s, n, buf));
}

static clattn_status parse_bool(cursor *c, int *value) {
    char buf[48];
    skip_ws(c);
    if (take_word(c, "True")) {
        *value = 1;
        return CLATTN_SUCCESS;
    }
    if (take_word(c, "False")) {
        *value = 0;
        return CLATTN_SUCCESS;
    }
    return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT,
                            "bad header: fortran_order must be True or False, found '%s'",
                            found(c, buf));
}

static clattn_status parse_dim(cursor *c, int64_t *value) {
    char buf[48];
    skip_ws(c);
    if (c->p < c->end && *c->p == '-')
        return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT,
                                "shape has a negative dimension ('%s')", found(c, buf));
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT,
                                "shape entries must be non-negative integers, found '%s'",
                                found(c, buf));
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int digit = *c->p - '0';
        if (v > (INT64_MAX - digit) / 10)
            return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT,
                                    "shape has a dimension above 2^63-1");
        v = v * 10 + digit;
        c->p++;
    }
    if (c->p < c->end && (*c->p == 'L' || *c->p == 'l')) c->p++; /* Python 2 long */
    *value = v;
    return CLATTN_SUCCESS;
}

static clattn_status parse_shape(cursor *c, npy_header *h) {
    char buf[48];
    clattn_status st = expect_char(c, '(', "a tuple '(' for 'shape'");
    if (st != CLATTN_SUCCESS) return st;
    h->ndim = 0;
    skip_ws(c);
    if (c->p < c->end && *c->p == ')') {
        c->p++;
        return CLATTN_SUCCESS;
    }
    int comma = 0;
    for (;;) {
        int64_t v = 0;
        if ((st = parse_dim(c, &v)) != CLATTN_SUCCESS) return st;
        if (h->ndim == CLATTN_NPY_MAX_DIMS)
            return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT,
                                    "shape has more than %d dimensions", CLATTN_NPY_MAX_DIMS);
        h->shape[h->ndim++] = v;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            comma = 1;
            skip_ws(c);
            if (c->p < c->end && *c->p == ')') break;
        } else if (c->p < c->end && *c->p == ')') {
            if (!comma)
                return clattn_npy__fail(
                    c->sink, CLATTN_ERROR_FORMAT,
                    "shape (%lld) is an integer, not a tuple (a 1-d shape is (n,))", (long long)v);
            break;
        } else {
            return clattn_npy__fail(c->sink, CLATTN_ERROR_FORMAT,
                                    "bad header: expected ',' or ')' in shape, found '%s'",
                                    found(c, buf));
        }
    }
    c->p++; /* the ')' */
    return CLATTN_SUCCESS;
}

/* The dict: exactly the three keys, any order, optional trailing comma, whitespace around. */
static clattn_status parse_dict(const unsigned char *text, size_t n, const npy_sink *sink,
                                npy_header *h) {
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    cursor c = {text, text + n, sink};
    int seen[3] = {0, 0, 0}, fortran = 0;
    char buf[48];
    clattn_status st = expect_char(&c, '{', "a dict '{'");
    if (st != CLATTN_SUCCESS)
        return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT,
                                "header is not a dict (it starts with '%s')", found(&c, buf));
    skip_ws(&c);
    while (!(c.p < c.end && *c.p == '}')) {
        const unsigned char *key;
        size_t klen;
        int k = 0;
        if ((st = take_string(&c, &key, &klen, "a key string or '}'")) != CLATTN_SUCCESS) return st;
        while (k < 3 && !(klen == strlen(keys[k]) && memcmp(key, keys[k], klen) == 0)) k++;
        if (k == 3)
            return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT, "header has an unexpected key '%s'",
                                    printable(key, klen, buf));
        if (seen[k])
            return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT, "header has key '%s' twice",
                                    keys[k]);
        seen[k] = 1;
        if ((st = expect_char(&c, ':', "':' after a key")) != CLATTN_SUCCESS) return st;
        st = k == 0 ? parse_descr(&c, h) : k == 1 ? parse_bool(&c, &fortran) : parse_shape(&c, h);
        if (st != CLATTN_SUCCESS) return st;
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            skip_ws(&c);
        } else if (!(c.p < c.end && *c.p == '}')) {
            return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT,
                                    "bad header: expected ',' or '}' after a value, found '%s'",
                                    found(&c, buf));
        }
    }
    c.p++; /* the '}' */
    skip_ws(&c);
    if (c.p != c.end)
        return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT, "bad header: '%s' after the dict",
                                found(&c, buf));
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT, "header has no '%s' key", keys[k]);
    if (fortran)
        return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT,
                                "fortran_order True is not supported (C order only)");
    return CLATTN_SUCCESS;
}

/* ---- The file around the dict --------------------------------------------------------------- */

/* Reads magic, version and header length from the first `have` bytes (all of them when the file
 * has fewer than 12) of a file of `total` bytes. Gives where the dict starts and its length,
 * checked to end within the file. */
static clattn_status parse_prefix(const unsigned char *b, size_t have, uint64_t total,
                                  const npy_sink *sink, size_t *dict_off, size_t *dict_len) {
    if (total < 10 || have < 10 || memcmp(b, clattn_npy__magic, sizeof clattn_npy__magic) != 0)
        return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT,
                                total < 10 ? "not a .npy file (%llu bytes, too short for the magic)"
                                           : "not a .npy file (bad magic, %llu bytes)",
                                (unsigned long long)total);
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT,
                                "unsupported .npy format version %d.%d (1.0, 2.0 and 3.0 are read)",
                                major, minor);
    size_t off = major == 1 ? 10 : 12;
    uint64_t hlen;
    if (major == 1) {
        hlen = (uint64_t)b[8] | (uint64_t)b[9] << 8;
    } else {
        if (total < 12 || have < 12)
            return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT,
                                    "file ends inside the version %d.0 header length", major);
        hlen = (uint64_t)b[8] | (uint64_t)b[9] << 8 | (uint64_t)b[10] << 16 | (uint64_t)b[11] << 24;
    }
    if (hlen > total - off)
        return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT,
                                "header length %llu runs past the end of the file (%llu bytes)",
                                (unsigned long long)hlen, (unsigned long long)total);
    *dict_off = off;
    *dict_len = (size_t)hlen;
    return CLATTN_SUCCESS;
}

/* Checks that exactly the bytes the header describes follow it; gives the data size. */
static clattn_status check_data(const npy_header *h, uint64_t avail, const npy_sink *sink,
                                int64_t *count, size_t *bytes) {
    int r =
        clattn_npy__shape_bytes(h->ndim, h->shape, clattn_npy_dtype_size(h->dtype), count, bytes);
    if (r != 0)
        return clattn_npy__fail(
            sink, CLATTN_ERROR_FORMAT,
            "shape is too large (its size in bytes overflows 64 bits or size_t)");
    if (avail < (uint64_t)*bytes)
        return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT,
                                "data truncated: expected %llu bytes of data, found %llu",
                                (unsigned long long)*bytes, (unsigned long long)avail);
    if (avail > (uint64_t)*bytes)
        return clattn_npy__fail(sink, CLATTN_ERROR_FORMAT,
                                "%llu bytes of trailing garbage after the %llu bytes of data",
                                (unsigned long long)(avail - *bytes), (unsigned long long)*bytes);
    return CLATTN_SUCCESS;
}

static void fill_out(clattn_npy_array *out, const npy_header *h, int64_t count, void *data) {
    out->dtype = h->dtype;
    out->ndim = h->ndim;
    for (int i = 0; i < h->ndim; i++) out->shape[i] = h->shape[i];
    out->count = count;
    out->data = data;
}

clattn_status clattn_npy_parse(const void *bytes, size_t len, const char *name,
                               clattn_npy_array *out, char *err, size_t errlen) {
    npy_sink sink = {name, err, errlen};
    npy_header h;
    size_t off, dlen, nbytes;
    int64_t count;
    clattn_status st;
    if (err && errlen) err[0] = '\0';
    if (out) memset(out, 0, sizeof *out);
    if (!out || (!bytes && len > 0))
        return clattn_npy__fail(&sink, CLATTN_ERROR_INVALID_ARGUMENT, "NULL argument to npy_parse");
    if (!clattn_npy__host_is_little_endian())
        return clattn_npy__fail(&sink, CLATTN_ERROR_UNSUPPORTED, ".npy needs a little-endian host");
    const unsigned char *b = bytes;
    memset(&h, 0, sizeof h);
    if ((st = parse_prefix(b, len, len, &sink, &off, &dlen)) != CLATTN_SUCCESS) return st;
    if ((st = parse_dict(b + off, dlen, &sink, &h)) != CLATTN_SUCCESS) return st;
    if ((st = check_data(&h, len - off - dlen, &sink, &count, &nbytes)) != CLATTN_SUCCESS)
        return st;
    void *data = malloc(nbytes > 0 ? nbytes : 1);
    if (!data)
        return clattn_npy__fail(&sink, CLATTN_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes",
                                nbytes);
    if (nbytes > 0) memcpy(data, b + off + dlen, nbytes);
    fill_out(out, &h, count, data);
    return CLATTN_SUCCESS;
}

/* ---- Files ---------------------------------------------------------------------------------- */

clattn_status clattn_npy__io_fail(const npy_sink *sink, const char *what, FILE *f) {
    int e = errno;
    if (f) fclose(f);
    return clattn_npy__fail(sink, CLATTN_ERROR_IO, "cannot %s: %s", what,
                            e ? strerror(e) : "unexpected end of file");
}

clattn_status clattn_npy_read(const char *path, clattn_npy_array *out, char *err, size_t errlen) {
    npy_sink sink = {path, err, errlen};
    unsigned char prefix[12];
    npy_header h;
    size_t off, dlen, nbytes;
    int64_t count;
    clattn_status st;
    if (err && errlen) err[0] = '\0';
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out)
        return clattn_npy__fail(&sink, CLATTN_ERROR_INVALID_ARGUMENT, "NULL argument to npy_read");
    if (!clattn_npy__host_is_little_endian())
        return clattn_npy__fail(&sink, CLATTN_ERROR_UNSUPPORTED, ".npy needs a little-endian host");
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return clattn_npy__io_fail(&sink, "open for reading", NULL);
    /* The size first, so that no header length or shape can make us allocate beyond it. */
    errno = 0;
    if (fseeko(f, 0, SEEK_END) != 0) return clattn_npy__io_fail(&sink, "seek", f);
    int64_t size = (int64_t)ftello(f);
    if (size < 0 || fseeko(f, 0, SEEK_SET) != 0)
        return clattn_npy__io_fail(&sink, "determine the size", f);
    size_t have = size < 12 ? (size_t)size : 12;
    errno = 0;
    if (fread(prefix, 1, have, f) != have) return clattn_npy__io_fail(&sink, "read", f);
    if ((st = parse_prefix(prefix, have, (uint64_t)size, &sink, &off, &dlen)) != CLATTN_SUCCESS)
        return fclose(f), st;
    /* off is 10 or 12, and the 12 bytes read may already hold the dict's first 2 bytes. */
    unsigned char *dict = malloc(dlen > 0 ? dlen : 1);
    if (!dict) {
        fclose(f);
        return clattn_npy__fail(&sink, CLATTN_ERROR_OUT_OF_MEMORY,
                                "cannot allocate a %zu-byte header", dlen);
    }
    errno = 0;
    if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(dict, 1, dlen, f) != dlen) {
        free(dict);
        return clattn_npy__io_fail(&sink, "read the header", f);
    }
    memset(&h, 0, sizeof h);
    st = parse_dict(dict, dlen, &sink, &h);
    free(dict);
    if (st == CLATTN_SUCCESS)
        st = check_data(&h, (uint64_t)size - off - dlen, &sink, &count, &nbytes);
    if (st != CLATTN_SUCCESS) return fclose(f), st;
    void *data = malloc(nbytes > 0 ? nbytes : 1);
    if (!data) {
        fclose(f);
        return clattn_npy__fail(&sink, CLATTN_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes",
                                nbytes);
    }
    errno = 0;
    if (fread(data, 1, nbytes, f) != nbytes) { /* the file shrank since we measured it */
        free(data);
        return clattn_npy__io_fail(&sink, "read the data", f);
    }
    fclose(f);
    fill_out(out, &h, count, data);
    return CLATTN_SUCCESS;
}

clattn_status clattn_npy_to_f32(clattn_npy_array *a, const char *name, char *err, size_t errlen) {
    npy_sink sink = {name, err, errlen};
    if (!a || (!a->data && a->count > 0))
        return clattn_npy__fail(&sink, CLATTN_ERROR_INVALID_ARGUMENT, "NULL array to npy_to_f32");
    if (a->dtype == CLATTN_NPY_F32) return CLATTN_SUCCESS;
    if (a->dtype != CLATTN_NPY_F16 && a->dtype != CLATTN_NPY_F64)
        return clattn_npy__fail(&sink, CLATTN_ERROR_FORMAT, "dtype %s is not a floating-point type",
                                clattn_npy_dtype_descr(a->dtype) ? clattn_npy_dtype_descr(a->dtype)
                                                                 : "(invalid)");
    if (a->count < 0 || (uint64_t)a->count > (uint64_t)(SIZE_MAX / sizeof(float)))
        return clattn_npy__fail(&sink, CLATTN_ERROR_OVERFLOW, "%lld elements do not fit in memory",
                                (long long)a->count);
    float *f = malloc(a->count > 0 ? (size_t)a->count * sizeof(float) : 1);
    if (!f)
        return clattn_npy__fail(&sink, CLATTN_ERROR_OUT_OF_MEMORY, "cannot allocate %lld floats",
                                (long long)a->count);
    if (a->dtype == CLATTN_NPY_F16) {
        const uint16_t *half = a->data;
        for (int64_t i = 0; i < a->count; i++) f[i] = clattn_npy_half_to_float(half[i]);
    } else { /* float64, rounded to nearest (C's conversion) */
        const double *wide = a->data;
        for (int64_t i = 0; i < a->count; i++) f[i] = (float)wide[i];
    }
    free(a->data);
    a->data = f;
    a->dtype = CLATTN_NPY_F32;
    return CLATTN_SUCCESS;
}

clattn_status clattn_npy_read_f32(const char *path, clattn_npy_array *out, char *err,
                                  size_t errlen) {
    clattn_status st = clattn_npy_read(path, out, err, errlen);
    if (st == CLATTN_SUCCESS && (st = clattn_npy_to_f32(out, path, err, errlen)) != CLATTN_SUCCESS)
        clattn_npy_free(out);
    return st;
}

void clattn_npy_free(clattn_npy_array *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

const char *clattn_npy_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t at = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && i < 4 && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (at < n) snprintf(buf + at, n - at, "%s]", ndim > 4 ? ", ..." : "");
    return buf;
}
