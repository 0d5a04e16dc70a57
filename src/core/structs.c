/* structs.c: the one place that enforces the binary-compatibility rule of clattn_core.h for the
 * structs callers size: copying a descriptor in (older callers get defaults, newer callers'
 * unknown fields must be zero) and writing an output struct only as far as the caller sized it. */
#include "core/internal.h"

#include <string.h>

clattn_status clattn__struct_in(clattn_context *ctx, const char *what, const void *in,
                                size_t min_size, void *local, size_t local_size) {
    if (!in) return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s is NULL", what);
    size_t size;
    memcpy(&size, in, sizeof size); /* every descriptor begins with size_t struct_size */
    if (size < min_size || size > CLATTN_MAX_STRUCT_SIZE)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: struct_size %zu is outside %zu..%d (initialise it with its "
                            "_desc_init function, passing sizeof the struct)",
                            what, size, min_size, CLATTN_MAX_STRUCT_SIZE);
    /* A newer caller's fields past what this library knows would be silently ignored if set:
     * accept them only at zero, which every appended field defines as the old behaviour. */
    const unsigned char *bytes = in;
    for (size_t i = local_size; i < size; i++)
        if (bytes[i] != 0)
            return clattn__fail(ctx, CLATTN_ERROR_UNSUPPORTED,
                                "%s: the caller's struct has %zu bytes and sets byte %zu, past the "
                                "%zu this clattn %s knows; the newer fields it sets are not "
                                "supported by this library version",
                                what, size, i, local_size, CLATTN_VERSION_STRING);
    /* Keep local's own struct_size: it describes the full-size copy. */
    const size_t n = size < local_size ? size : local_size;
    memcpy((unsigned char *)local + sizeof size, bytes + sizeof size, n - sizeof size);
    return CLATTN_SUCCESS;
}

clattn_status clattn__struct_out_check(clattn_context *ctx, const char *what, const void *out,
                                       size_t size, size_t min_size) {
    if (!out) return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s is NULL", what);
    if (size < min_size || size > CLATTN_MAX_STRUCT_SIZE)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: size %zu is outside %zu..%d (pass sizeof the struct)", what, size,
                            min_size, CLATTN_MAX_STRUCT_SIZE);
    return CLATTN_SUCCESS;
}

void clattn__struct_out(void *out, size_t size, const void *local, size_t local_size) {
    const size_t n = size < local_size ? size : local_size;
    memcpy(out, local, n);
    /* A newer caller's fields this library does not know read as zero: their old behaviour. */
    if (size > n) memset((unsigned char *)out + n, 0, size - n);
}

clattn_status clattn__desc_init(void *desc, size_t size, size_t min_size, const void *defaults,
                                size_t full_size) {
    if (!desc || size < min_size || size > CLATTN_MAX_STRUCT_SIZE)
        return CLATTN_ERROR_INVALID_ARGUMENT;
    /* Only the caller's `size` bytes exist: an older caller's struct is shorter than ours. */
    clattn__struct_out(desc, size, defaults, full_size);
    memcpy(desc, &size, sizeof size); /* struct_size, the first member, records the caller's */
    return CLATTN_SUCCESS;
}
