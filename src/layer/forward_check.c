/* forward_check.c: a forward call of the attention layer checked before anything is enqueued:
 * the descriptor, the sizes the call's buffers will have, the lengths and, with a KV cache, the
 * cache's shape and its state (slots, capacities, free pages) as the append would find it, so a
 * refused call changes nothing: neither y nor the cache. */
#include "kvcache/kv_cache_internal.h"
#include "layer/layer_internal.h"

#include <stdlib.h>
#include <string.h>

void clattn__mha_call_free(clattn_mha_call *c) {
    free(c->counts);
    free(c->first);
    c->counts = c->first = NULL;
}

/* The sizes of the call's tensors fit int64 (and so every product of fewer of their factors). */
static clattn_status check_sizes(clattn_mha_layer *l, const clattn_mha_call *c) {
    int64_t widest = l->ld > l->E ? l->ld : l->E;
    if (l->Hq * l->Dv > widest) widest = l->Hq * l->Dv;
    const int64_t f[3] = {c->rows, widest, (int64_t)sizeof(float)};
    int64_t bytes = 0;
    if (clattn__prod64(f, 3, &bytes))
        return clattn__fail(l->ctx, CLATTN_ERROR_OVERFLOW,
                            "mha forward: %lld tokens of %lld floats overflow int64",
                            (long long)c->rows, (long long)widest);
    return CLATTN_SUCCESS;
}

/* The cache's shape against the layer's, and each sequence's slot, room and pages. */
static clattn_status check_cache(clattn_mha_layer *l, clattn_mha_call *c) {
    clattn_context *ctx = l->ctx;
    clattn_kv_cache *cache = c->d.cache;
    if (cache->ctx != ctx)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha forward: the cache was created on another context");
    clattn_kv_cache_info info;
    clattn_status st = clattn_kv_cache_get_info(cache, &info, sizeof info);
    if (st != CLATTN_SUCCESS) return st;
    if (info.kv_heads != l->Hkv || info.head_dim != l->D || info.head_dim_v != l->Dv)
        return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                            "mha forward: the cache holds %lld kv heads of dims %lld/%lld; the "
                            "layer has %lld of %lld/%lld",
                            (long long)info.kv_heads, (long long)info.head_dim,
                            (long long)info.head_dim_v, (long long)l->Hkv, (long long)l->D,
                            (long long)l->Dv);
    const int32_t *slots = c->d.slots;
    if (!slots)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha forward: a cache needs slots [batch]");
    if (c->B > info.slots)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha forward: batch %lld is more than the cache's %lld slots",
                            (long long)c->B, (long long)info.slots);
    int32_t *held = calloc((size_t)info.slots, sizeof *held);
    unsigned char *seen = calloc((size_t)info.slots, 1);
    c->counts = malloc((size_t)c->B * sizeof *c->counts);
    c->first = malloc((size_t)c->B * sizeof *c->first);
    if (!held || !seen || !c->counts || !c->first) {
        st = clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "mha forward: host memory");
        goto done;
    }
    if ((st = clattn_kv_cache_lengths(cache, held, info.slots)) != CLATTN_SUCCESS) goto done;
    int64_t need = 0;
    for (int64_t b = 0; b < c->B && st == CLATTN_SUCCESS; b++) {
        const int64_t s = slots[b], n = c->lens ? c->lens[b] : c->S;
        if (s < 0 || s >= info.slots || seen[s]++) {
            st = clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                              "mha forward: slots[%lld] is %lld: %s", (long long)b, (long long)s,
                              s < 0 || s >= info.slots ? "outside the cache's slots"
                                                       : "named twice");
            break;
        }
        if (held[s] + n > info.capacity)
            st = clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                              "mha forward: slot %lld holds %d tokens; %lld more would pass its "
                              "capacity of %lld",
                              (long long)s, (int)held[s], (long long)n, (long long)info.capacity);
        c->first[b] = held[s];
        c->counts[b] = (int32_t)n;
        if (held[s] + n > c->skv) c->skv = held[s] + n;
        if (info.paged) /* pages the append will take */
            need += (held[s] + n + info.page_size - 1) / info.page_size -
                    (held[s] + info.page_size - 1) / info.page_size;
        if (c->d.causal && n > 0 && n < c->S) c->masked = 1;
    }
    if (st == CLATTN_SUCCESS && need > info.free_pages)
        st = clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                          "mha forward: the new tokens need %lld pages; the cache's pool has %lld "
                          "free (reset sequences to return theirs)",
                          (long long)need, (long long)info.free_pages);
    if (st == CLATTN_SUCCESS && c->masked) {
        const int64_t f[4] = {c->B, c->S, c->skv, (int64_t)sizeof(float)};
        int64_t bytes = 0;
        if (clattn__prod64(f, 4, &bytes))
            st = clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                              "mha forward: the causal mask of a ragged prefill overflows");
    }
done:
    free(held);
    free(seen);
    return st;
}

clattn_status clattn__mha_call_check(clattn_mha_layer *l, const clattn_mha_forward_desc *desc,
                                     clattn_mha_call *c) {
    clattn_context *ctx = l->ctx;
    memset(c, 0, sizeof *c);
    c->d.struct_size = sizeof c->d;
    clattn_status st = clattn__struct_in(ctx, "clattn_mha_forward_desc", desc,
                                         CLATTN_MHA_FORWARD_DESC_MIN_SIZE, &c->d, sizeof c->d);
    if (st != CLATTN_SUCCESS) return st;
    c->B = c->d.batch, c->S = c->d.seq, c->lens = c->d.lengths;
    if (c->B < 1 || c->B > INT32_MAX || c->S < 1 || c->S > INT32_MAX)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha forward: batch %lld and seq %lld must be 1..2^31-1",
                            (long long)c->B, (long long)c->S);
    c->rows = c->B * c->S; /* < 2^62 */
    if ((st = check_sizes(l, c)) != CLATTN_SUCCESS) return st;
    for (int64_t b = 0; c->lens && b < c->B; b++)
        if (c->lens[b] < 0 || c->lens[b] > c->S)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "mha forward: lengths[%lld] = %d is outside 0..%lld (seq)",
                                (long long)b, (int)c->lens[b], (long long)c->S);
    if (!c->d.cache) return CLATTN_SUCCESS;
    if ((st = check_cache(l, c)) != CLATTN_SUCCESS) clattn__mha_call_free(c);
    return st;
}
