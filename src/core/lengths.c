/* lengths.c: the check of host sequence-length arrays (int32 or int64, one per batch entry)
 * that the additive and RNN front ends share. */
#include "core/internal.h"

#include <stdio.h>

clattn_status clattn__check_lengths(const void *lengths, clattn_lengths_type type, int64_t B,
                                    int64_t T, int32_t *out, char *why, size_t why_len) {
    if (!lengths) return CLATTN_SUCCESS;
    if (type != CLATTN_LENGTHS_INT32 && type != CLATTN_LENGTHS_INT64) {
        snprintf(why, why_len, "lengths_type %d is neither CLATTN_LENGTHS_INT32 nor _INT64",
                 (int)type);
        return CLATTN_ERROR_INVALID_ARGUMENT;
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t len = type == CLATTN_LENGTHS_INT32 ? ((const int32_t *)lengths)[b]
                                                   : ((const int64_t *)lengths)[b];
        if (len < 1 || len > T) {
            snprintf(why, why_len, "lengths[%lld] = %lld is outside 1..%lld (the sequence length)",
                     (long long)b, (long long)len, (long long)T);
            return CLATTN_ERROR_INVALID_ARGUMENT;
        }
        out[b] = (int32_t)len;
    }
    return CLATTN_SUCCESS;
}
