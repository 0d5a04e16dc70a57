/* checked.c: int64 size arithmetic that reports overflow instead of wrapping, used wherever a
 * shape product or a strided span becomes a byte count, and the self-overlap test of strided
 * outputs. */
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

/* Sorted by stride, each dimension must step over the whole extent of the smaller ones. */
int clattn__rows_overlap(const int64_t *shape, const int64_t *st, int64_t dim) {
    int64_t s[3] = {st[0], st[1], st[2]}, n[3] = {shape[0], shape[1], shape[2]};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (s[j] < s[i]) {
                int64_t t = s[i];
                s[i] = s[j];
                s[j] = t;
                t = n[i];
                n[i] = n[j];
                n[j] = t;
            }
    int64_t extent = dim; /* elements spanned by the dimensions seen so far */
    for (int i = 0; i < 3; i++) {
        if (n[i] == 1) continue;
        if (s[i] < extent) return 1;
        /* extent = s * (n - 1) + extent, cannot overflow: the span was checked */
        extent = s[i] * (n[i] - 1) + extent;
    }
    return 0;
}
