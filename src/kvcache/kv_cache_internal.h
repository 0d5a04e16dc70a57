/* kv_cache_internal.h: the KV cache object (include/clattn_kv_cache.h) as its three parts see it:
 * cache.c (creation, the page allocator, reset, lengths), append.c (new tokens into pages) and
 * attend.c (attention over the pages). One mechanism serves both layouts: a contiguous cache is
 * a paged one whose page is the capacity and whose block table is the identity (slot s owns page
 * s), so every kernel addresses the pool through a block table (cl/common.cl: clattn_kv_row). */
#ifndef CLATTN_KV_CACHE_INTERNAL_H
#define CLATTN_KV_CACHE_INTERNAL_H

#include "core/internal.h"

#include <pthread.h>

struct clattn_kv_cache {
    clattn_context *ctx;
    pthread_mutex_t lock; /* serialises the calls on this cache */
    int64_t slots, Hkv, capacity, D, Dv;
    int dtype; /* CLATTN_STORAGE_* of the pools */
    int paged; /* 0: contiguous (page_size = capacity, slot s owns page s) */
    int64_t page_size, num_pages, pages_per_seq;
    int64_t page_stride_k, page_stride_v; /* elements of one page of K, of V */
    cl_mem k, v;                          /* the pools: [num_pages, Hkv, page_size, D or Dv] */
    int32_t *len;                         /* [slots] tokens held */
    int32_t *table;                       /* [slots, pages_per_seq] pages held, in order */
    int32_t *free_pages;                  /* a stack of the pages no slot holds (paged only) */
    int64_t num_free;
};

/* Pages slot s holds for its current length. */
int64_t clattn__kv_pages_held(const clattn_kv_cache *c, int64_t slot);
/* Pages a sequence of `len` tokens needs. */
int64_t clattn__kv_pages_for(const clattn_kv_cache *c, int64_t len);

/* The kv_cache family's kernel `name` (cl/kv_cache.cl), built for the cache's storage type. */
clattn_status clattn__kv_kernel(clattn_kv_cache *c, const char *name, cl_kernel *kern);

#endif /* CLATTN_KV_CACHE_INTERNAL_H */
