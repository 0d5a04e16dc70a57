/* checked.c: int64 size arithmetic that reports overflow instead of wrapping, used wherever a
 * shape product or a strided span becomes a byte count. */
#include "core/internal.h"

int clattn__mul64(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return 1;
    if (a != 0 && b > INT64_MAX / a) return 1;
    *out = a * b;
    return 0;
}

int clattn__add64(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0 || a > INT64_MAX - b) return 1;
    *out = a + b;
    return 0;
}

int clattn__prod64(const int64_t *factors, int n, int64_t *out) {
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        if (clattn__mul64(p, factors[i], &p)) return 1;
    *out = p;
    return 0;
}

int clattn__span_bytes(const int64_t *shape, const int64_t *strides, int n, int64_t elem_size,
                       int64_t *out) {
    int64_t last = 0; /* index of the last element, in elements */
    for (int i = 0; i < n; i++) {
        if (shape[i] < 0 || strides[i] < 0) return 1;
        if (shape[i] == 0) {
            *out = 0;
            return 0;
        }
    }
    for (int i = 0; i < n; i++) {
        int64_t t;
        if (clattn__mul64(shape[i] - 1, strides[i], &t) || clattn__add64(last, t, &last)) return 1;
    }
    int64_t count;
    if (clattn__add64(last, 1, &count) || clattn__mul64(count, elem_size, out)) return 1;
    return 0;
}
