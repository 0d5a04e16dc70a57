/* fuzz_npy.c: libFuzzer target for the .npy parser. Besides letting ASan/UBSan watch
 * clattn_npy_parse on arbitrary bytes, it checks what the parser promises: a failure is
 * CLATTN_ERROR_FORMAT with a message naming the input and a zeroed result; a success has a
 * consistent shape and count, data that can be touched in full, and survives a round trip
 * through clattn's own header writer unchanged. Any broken promise aborts (a reported crash). */
#include "npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void require(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_npy: broken promise: %s\n", what);
        abort();
    }
}

static int is_zero(const clattn_npy_array *a) {
    static const clattn_npy_array zero;
    return memcmp(a, &zero, sizeof zero) == 0;
}

/* parse(preamble(a) + data(a)) must give back a. */
static void round_trip(const clattn_npy_array *a, size_t bytes) {
    char pre[CLATTN_NPY_MAX_PREAMBLE], err[256];
    size_t plen = 0;
    require(clattn_npy_preamble(a->dtype, a->ndim, a->shape, pre, &plen) == 0, "preamble");
    require(plen % 64 == 0, "preamble is 64-byte aligned");
    unsigned char *file = malloc(plen + bytes);
    require(file != NULL, "malloc");
    memcpy(file, pre, plen);
    memcpy(file + plen, a->data, bytes);
    clattn_npy_array b;
    clattn_status st = clattn_npy_parse(file, plen + bytes, "again", &b, err, sizeof err);
    if (st != CLATTN_SUCCESS) fprintf(stderr, "fuzz_npy: %s\n", err);
    require(st == CLATTN_SUCCESS, "our own header parses");
    require(b.dtype == a->dtype && b.ndim == a->ndim && b.count == a->count, "same header");
    require(memcmp(b.shape, a->shape, sizeof b.shape) == 0, "same shape");
    require(memcmp(b.data, a->data, bytes) == 0, "same data");
    clattn_npy_free(&b);
    free(file);
}

/* Reads of the data go here so the compiler cannot drop them. */
static volatile unsigned touched;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    clattn_npy_array a;
    char err[256];
    memset(&a, 0x5a, sizeof a);
    clattn_status st = clattn_npy_parse(data, size, "fuzz", &a, err, sizeof err);
    if (st != CLATTN_SUCCESS) {
        require(st == CLATTN_ERROR_FORMAT, "failures are CLATTN_ERROR_FORMAT");
        require(strncmp(err, "fuzz: ", 6) == 0, "message starts with the name");
        require(is_zero(&a), "failed parse leaves *out zeroed");
        return 0;
    }
    size_t item = clattn_npy_dtype_size(a.dtype);
    require(item != 0 && a.ndim >= 0 && a.ndim <= CLATTN_NPY_MAX_DIMS && a.data, "valid array");
    int64_t count = 1;
    for (int i = 0; i < a.ndim; i++) {
        require(a.shape[i] >= 0, "non-negative dims");
        count *= a.shape[i];
    }
    for (int i = a.ndim; i < CLATTN_NPY_MAX_DIMS; i++) require(a.shape[i] == 0, "unused dims 0");
    require(count == a.count, "count is the product of the shape");
    size_t bytes = (size_t)count * item;
    require(bytes <= size, "data no larger than the input");
    /* Touch every byte, so ASan sees an allocation shorter than the count claims. */
    for (size_t i = 0; i < bytes; i++) touched += ((const unsigned char *)a.data)[i];
    round_trip(&a, bytes);
    st = clattn_npy_to_f32(&a, "fuzz", err, sizeof err);
    if (a.dtype == CLATTN_NPY_F32) {
        require(st == CLATTN_SUCCESS, "float types convert");
        const float *f = a.data;
        for (int64_t i = 0; i < a.count; i++) touched += f[i] != f[i]; /* NaNs, reading all */
    } else {
        require(st == CLATTN_ERROR_FORMAT, "integers refuse conversion");
    }
    clattn_npy_free(&a);
    require(is_zero(&a), "free zeroes");
    return 0;
}
