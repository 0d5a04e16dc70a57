/* cache.c: the KV cache object (include/clattn_kv_cache.h): creation and destruction of the
 * pools, the page allocator (a stack of free pages; pages are taken by append.c and given back
 * here by reset), lengths and info. */
#include "kvcache/kv_cache_internal.h"

#include "kernel_iface.h"
#include "sdpa/sdpa_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Head dims the decode and prefill kernels take. */
#define KV_MAX_HEAD_DIM 256

static void desc_defaults(clattn_kv_cache_desc *d) {
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->dtype = CLATTN_DTYPE_F32;
}

clattn_status clattn_kv_cache_desc_init(clattn_kv_cache_desc *desc, size_t size) {
    clattn_kv_cache_desc d;
    desc_defaults(&d);
    return clattn__desc_init(desc, size, CLATTN_KV_CACHE_DESC_MIN_SIZE, &d, sizeof d);
}

int64_t clattn__kv_pages_for(const clattn_kv_cache *c, int64_t len) {
    return (len + c->page_size - 1) / c->page_size;
}

int64_t clattn__kv_pages_held(const clattn_kv_cache *c, int64_t slot) {
    return c->paged ? clattn__kv_pages_for(c, c->len[slot]) : 1;
}

clattn_status clattn__kv_kernel(clattn_kv_cache *c, const char *name, cl_kernel *kern) {
    char opts[64];
    snprintf(opts, sizeof opts, "-DKV_PAGED=1");
    if (c->dtype != CLATTN_STORAGE_F32)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), " -DKV_DTYPE=%d", c->dtype);
    return clattn__kernel(c->ctx, "kv_cache", opts, name, kern);
}

/* Checks the descriptor and fills the cache's shape (no allocation). */
static clattn_status shape(clattn_context *ctx, const clattn_kv_cache_desc *d, clattn_kv_cache *c) {
    const struct {
        const char *name;
        int64_t v, max;
    } sizes[] = {{"slots", d->slots, INT32_MAX},
                 {"kv_heads", d->kv_heads, INT32_MAX},
                 {"capacity", d->capacity, INT32_MAX},
                 {"head_dim", d->head_dim, KV_MAX_HEAD_DIM},
                 {"head_dim_v", d->head_dim_v ? d->head_dim_v : d->head_dim, KV_MAX_HEAD_DIM}};
    for (int i = 0; i < 5; i++)
        if (sizes[i].v < 1 || sizes[i].v > sizes[i].max)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "kv cache: %s is %lld; it must be 1..%lld", sizes[i].name,
                                (long long)sizes[i].v, (long long)sizes[i].max);
    if ((int)d->dtype < CLATTN_DTYPE_F32 || (int)d->dtype > CLATTN_DTYPE_BF16)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache: dtype is %d; it must be CLATTN_DTYPE_F32, _F16 or _BF16",
                            (int)d->dtype);
    if (d->page_size < 0 || d->page_size > d->capacity || d->num_pages < 0 ||
        d->num_pages > INT32_MAX || (d->page_size == 0 && d->num_pages != 0))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache: page_size %lld, num_pages %lld: a paged cache has pages of "
                            "1..capacity (%lld) tokens and 0..2^31-1 pages (0: enough for every "
                            "slot); a contiguous one (page_size 0) has num_pages 0",
                            (long long)d->page_size, (long long)d->num_pages,
                            (long long)d->capacity);
    c->slots = d->slots;
    c->Hkv = d->kv_heads;
    c->capacity = d->capacity;
    c->D = d->head_dim;
    c->Dv = d->head_dim_v ? d->head_dim_v : d->head_dim;
    c->dtype = (int)d->dtype;
    c->paged = d->page_size > 0;
    c->page_size = c->paged ? d->page_size : d->capacity;
    c->pages_per_seq = clattn__kv_pages_for(c, c->capacity);
    c->num_pages = !c->paged ? c->slots : d->num_pages ? d->num_pages : -1;
    if (c->num_pages < 0 &&
        (clattn__mul64(c->slots, c->pages_per_seq, &c->num_pages) || c->num_pages > INT32_MAX))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                            "kv cache: %lld slots x %lld pages each is more than 2^31-1 pages; "
                            "set num_pages",
                            (long long)c->slots, (long long)c->pages_per_seq);
    return CLATTN_SUCCESS;
}

clattn_status clattn_kv_cache_create(clattn_context *ctx, const clattn_kv_cache_desc *desc,
                                     clattn_kv_cache **out) {
    if (!ctx) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!out) return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "kv cache: out is NULL");
    *out = NULL;
    clattn_kv_cache_desc d;
    desc_defaults(&d);
    clattn_status st = clattn__struct_in(ctx, "clattn_kv_cache_desc", desc,
                                         CLATTN_KV_CACHE_DESC_MIN_SIZE, &d, sizeof d);
    if (st != CLATTN_SUCCESS) return st;
    clattn_kv_cache *c = calloc(1, sizeof *c);
    if (!c) return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "kv cache: host memory");
    c->ctx = ctx;
    st = shape(ctx, &d, c);
    const int64_t es = clattn__storage_bytes(c->dtype);
    const int64_t fk[4] = {c->Hkv, c->page_size, c->D, 1}, fv[4] = {c->Hkv, c->page_size, c->Dv, 1};
    int64_t bytes_k = 0, bytes_v = 0;
    if (st == CLATTN_SUCCESS &&
        (clattn__prod64(fk, 4, &c->page_stride_k) || clattn__prod64(fv, 4, &c->page_stride_v) ||
         clattn__mul64(c->page_stride_k, c->num_pages * es, &bytes_k) ||
         clattn__mul64(c->page_stride_v, c->num_pages * es, &bytes_v)))
        st = clattn__fail(ctx, CLATTN_ERROR_OVERFLOW, "kv cache: the pool sizes overflow int64");
    if (st == CLATTN_SUCCESS) {
        c->len = calloc((size_t)c->slots, sizeof *c->len);
        c->table = calloc((size_t)(c->slots * c->pages_per_seq), sizeof *c->table);
        c->free_pages = c->paged ? malloc((size_t)c->num_pages * sizeof *c->free_pages) : NULL;
        if (!c->len || !c->table || (c->paged && !c->free_pages))
            st = clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                              "kv cache: host memory for %lld slots' block tables",
                              (long long)c->slots);
    }
    if (st == CLATTN_SUCCESS) {
        if (c->paged) /* a stack popped from the end: pages are first taken in order 0, 1, ... */
            for (int64_t i = 0; i < c->num_pages; i++)
                c->free_pages[i] = (int32_t)(c->num_pages - 1 - i);
        else
            for (int64_t s = 0; s < c->slots; s++) c->table[s] = (int32_t)s;
        c->num_free = c->paged ? c->num_pages : 0;
        const int64_t limit = ctx->caps.max_alloc_bytes;
        if (bytes_k > limit || bytes_v > limit)
            st = clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                              "kv cache: a pool of %lld bytes (K) / %lld (V) exceeds the device's "
                              "largest allocation of %lld bytes",
                              (long long)bytes_k, (long long)bytes_v, (long long)limit);
    }
    if (st == CLATTN_SUCCESS)
        st = clattn__alloc(ctx, bytes_k, CL_MEM_READ_WRITE, NULL, "kv cache K pool", &c->k);
    if (st == CLATTN_SUCCESS)
        st = clattn__alloc(ctx, bytes_v, CL_MEM_READ_WRITE, NULL, "kv cache V pool", &c->v);
    if (st == CLATTN_SUCCESS && pthread_mutex_init(&c->lock, NULL) != 0)
        st = clattn__fail(ctx, CLATTN_ERROR_INTERNAL, "kv cache: pthread_mutex_init failed");
    if (st != CLATTN_SUCCESS) {
        clattn__release_mem(&c->k);
        clattn__release_mem(&c->v);
        free(c->len);
        free(c->table);
        free(c->free_pages);
        free(c);
        return st;
    }
    *out = c;
    return CLATTN_SUCCESS;
}

void clattn_kv_cache_destroy(clattn_kv_cache *cache) {
    if (!cache) return;
    clFinish(cache->ctx->queue); /* enqueued appends and attention calls still use the pools */
    clattn__release_mem(&cache->k);
    clattn__release_mem(&cache->v);
    pthread_mutex_destroy(&cache->lock);
    free(cache->len);
    free(cache->table);
    free(cache->free_pages);
    free(cache);
}

clattn_status clattn_kv_cache_reset(clattn_kv_cache *cache, int64_t slot) {
    if (!cache) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (slot < -1 || slot >= cache->slots)
        return clattn__fail(cache->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache reset: slot %lld is outside 0..%lld (or -1: all)",
                            (long long)slot, (long long)cache->slots - 1);
    pthread_mutex_lock(&cache->lock);
    for (int64_t s = slot < 0 ? 0 : slot; s < (slot < 0 ? cache->slots : slot + 1); s++) {
        /* Pushed last page first, so the next append takes them back in their old order. */
        for (int64_t i = cache->paged ? clattn__kv_pages_held(cache, s) : 0; i-- > 0;)
            cache->free_pages[cache->num_free++] = cache->table[s * cache->pages_per_seq + i];
        cache->len[s] = 0;
    }
    pthread_mutex_unlock(&cache->lock);
    return CLATTN_SUCCESS;
}

clattn_status clattn_kv_cache_lengths(clattn_kv_cache *cache, int32_t *lengths, int64_t n) {
    if (!cache) return CLATTN_ERROR_INVALID_ARGUMENT;
    if ((!lengths && n > 0) || n < 0 || n > cache->slots)
        return clattn__fail(cache->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache lengths: n is %lld (0..%lld slots) and lengths %s",
                            (long long)n, (long long)cache->slots, lengths ? "is set" : "NULL");
    pthread_mutex_lock(&cache->lock);
    if (n > 0) memcpy(lengths, cache->len, (size_t)n * sizeof *lengths);
    pthread_mutex_unlock(&cache->lock);
    return CLATTN_SUCCESS;
}

clattn_status clattn_kv_cache_get_info(clattn_kv_cache *cache, clattn_kv_cache_info *info,
                                       size_t size) {
    if (!cache) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_status st = clattn__struct_out_check(cache->ctx, "clattn_kv_cache_info", info, size,
                                                CLATTN_KV_CACHE_INFO_MIN_SIZE);
    if (st != CLATTN_SUCCESS) return st;
    clattn_kv_cache_info local;
    memset(&local, 0, sizeof local);
    const int64_t es = clattn__storage_bytes(cache->dtype);
    pthread_mutex_lock(&cache->lock);
    local.slots = cache->slots;
    local.kv_heads = cache->Hkv;
    local.capacity = cache->capacity;
    local.head_dim = cache->D;
    local.head_dim_v = cache->Dv;
    local.dtype = (clattn_dtype)cache->dtype;
    local.paged = cache->paged;
    local.page_size = cache->page_size;
    local.num_pages = cache->num_pages;
    local.free_pages = cache->num_free;
    local.pages_per_seq = cache->pages_per_seq;
    local.device_bytes = (cache->page_stride_k + cache->page_stride_v) * cache->num_pages * es;
    for (int64_t s = 0; s < cache->slots; s++) local.tokens += cache->len[s];
    pthread_mutex_unlock(&cache->lock);
    clattn__struct_out(info, size, &local, sizeof local);
    return CLATTN_SUCCESS;
}
