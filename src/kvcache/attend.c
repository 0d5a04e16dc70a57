/* attend.c: attention of new queries over a KV cache (clattn_kv_cache_attention). The caller's
 * SDPA descriptor gets its key side from the cache (heads, dims, storage type, each sequence's
 * length as kv_lens) and is validated and planned as clattn_sdpa's. The decode plan reads the
 * pools in place: the problem is marked paged (cl/common.cl: clattn_kv_row) with a block table
 * of the attended sequences' pages. Any other plan (a prompt's prefill: Sq * group > 32 rows, or
 * a forced algorithm) first gathers the sequences into a contiguous scratch (cl/kv_cache.cl:
 * kv_gather), an O(B * Skv * D) copy beside the O(B * Sq * Skv * D) work it feeds, and runs on
 * that as clattn_sdpa does. */
#include "kvcache/kv_cache_internal.h"

#include "sdpa/sdpa_internal.h"

#include <stdlib.h>
#include <string.h>

/* A call as validated and planned. */
typedef struct {
    clattn_sdpa_desc d; /* the caller's with the key side filled from the cache */
    clattn_sdpa_problem p;
    clattn_sdpa_spans s;
    clattn_sdpa_plan plan;
    int32_t *meta; /* the attended sequences' pages [B, pps], then their lengths [B] */
    int64_t pps;
} attend_call;

/* The key-side fields of the caller's descriptor must be unset or agree with the cache. */
static clattn_status check_key_side(clattn_kv_cache *c, const clattn_sdpa_desc *d) {
    const struct {
        const char *name;
        int64_t v, cache;
    } f[] = {{"kv_heads", d->kv_heads, c->Hkv},
             {"head_dim", d->head_dim, c->D},
             {"head_dim_v", d->head_dim_v, c->Dv},
             {"kv_dtype", (int64_t)d->kv_dtype, c->dtype}};
    for (int i = 0; i < 4; i++)
        if (f[i].v != 0 && f[i].v != f[i].cache)
            return clattn__fail(c->ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                                "kv cache attention: desc.%s is %lld; the cache's is %lld (leave "
                                "it 0 to take the cache's)",
                                f[i].name, (long long)f[i].v, (long long)f[i].cache);
    for (int i = 0; i < 3; i++)
        if (d->k_strides[i] || d->v_strides[i])
            return clattn__fail(c->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "kv cache attention: k/v strides must be 0 (the cache lays out "
                                "its keys)");
    if (d->kv_lens)
        return clattn__fail(c->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache attention: kv_lens must be NULL (the lengths are the "
                            "cache's)");
    if (d->batch < 1 || d->batch > INT32_MAX || d->seq_kv < 0)
        return clattn__fail(c->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache attention: batch is %lld (1..2^31-1 sequences), seq_kv %lld "
                            "(0: the longest)",
                            (long long)d->batch, (long long)d->seq_kv);
    return CLATTN_SUCCESS;
}

/* Under the lock: validates and plans the call; a->meta is the caller's to free. */
static clattn_status prepare(clattn_kv_cache *c, const clattn_sdpa_desc *desc, const int32_t *slots,
                             int has_lse, attend_call *a) {
    clattn_context *ctx = c->ctx;
    memset(a, 0, sizeof *a);
    clattn_status st = clattn__sdpa_desc_in(ctx, desc, &a->d);
    if (st == CLATTN_SUCCESS) st = check_key_side(c, &a->d);
    if (st != CLATTN_SUCCESS) return st;
    if (!slots)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache attention: slots is NULL");
    const int64_t B = a->d.batch;
    int64_t longest = 0;
    for (int64_t b = 0; b < B; b++) {
        if (slots[b] < 0 || slots[b] >= c->slots)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "kv cache attention: slots[%lld] is %d, outside 0..%lld",
                                (long long)b, (int)slots[b], (long long)c->slots - 1);
        if (c->len[slots[b]] > longest) longest = c->len[slots[b]];
    }
    if (a->d.seq_kv && a->d.seq_kv < longest)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache attention: seq_kv is %lld but an attended sequence holds "
                            "%lld tokens (0 takes the longest)",
                            (long long)a->d.seq_kv, (long long)longest);
    a->pps = longest > 0 ? clattn__kv_pages_for(c, longest) : 1;
    if (!(a->meta = malloc((size_t)(B * (1 + a->pps)) * sizeof *a->meta)))
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "kv cache attention: host memory");
    for (int64_t b = 0; b < B; b++) {
        memcpy(a->meta + b * a->pps, c->table + slots[b] * c->pages_per_seq,
               (size_t)a->pps * sizeof *a->meta);
        a->meta[B * a->pps + b] = c->len[slots[b]];
    }
    a->d.kv_heads = c->Hkv;
    a->d.head_dim = c->D;
    a->d.head_dim_v = c->Dv;
    a->d.kv_dtype = (clattn_dtype)c->dtype;
    a->d.seq_kv = a->d.seq_kv ? a->d.seq_kv : (longest > 0 ? longest : 1);
    a->d.kv_lens = a->meta + B * a->pps;
    if ((st = clattn__sdpa_validate(ctx, &a->d, has_lse, &a->p, &a->s)) ||
        (st = clattn__sdpa_plan(ctx, &a->d, &a->p, &a->plan))) {
        free(a->meta);
        a->meta = NULL;
        return st;
    }
    if (a->plan.algo != CLATTN_ALGO_DECODE) /* the gathered copy is scratch of the call too */
        a->plan.scratch_bytes += a->s.k + a->s.v;
    return CLATTN_SUCCESS;
}

/* Gathers the attended sequences of K and V into contiguous scratch (*k, *v), after `wait`;
 * *done completes with both copies. */
static clattn_status gather(clattn_kv_cache *c, const attend_call *a, cl_mem meta, cl_uint num_wait,
                            const cl_event *wait, cl_mem *k, cl_mem *v, cl_event *done) {
    const clattn_sdpa_problem *p = &a->p;
    cl_kernel kern = NULL;
    cl_event k_done = NULL;
    clattn_status st; /* the spans of contiguous [B, Hkv, Skv, D or Dv] K and V */
    if ((st = clattn__alloc(c->ctx, a->s.k, CL_MEM_READ_WRITE, NULL, "kv cache gathered K", k)) ||
        (st = clattn__alloc(c->ctx, a->s.v, CL_MEM_READ_WRITE, NULL, "kv cache gathered V", v)) ||
        (st = clattn__kv_kernel(c, "kv_gather", &kern)))
        return st;
    const cl_mem from[2] = {c->k, c->v}, to[2] = {*k, *v};
    const int64_t dims[2] = {p->D, p->Dv}, strides[2] = {c->page_stride_k, c->page_stride_v};
    for (int t = 0; t < 2 && st == CLATTN_SUCCESS; t++) {
        const cl_long B = p->B, heads = p->Hkv, ps = strides[t], page = c->page_size;
        const cl_long pps = a->pps;
        st = clattn__set_args(c->ctx, kern, "kv_gather", sizeof(cl_mem), &from[t], sizeof(cl_mem),
                              &to[t], sizeof(cl_mem), &meta, sizeof B, &B, sizeof heads, &heads,
                              sizeof ps, &ps, sizeof page, &page, sizeof pps, &pps, (size_t)0);
        const size_t global[3] = {(size_t)dims[t], (size_t)p->Skv, (size_t)(p->B * p->Hkv)};
        if (st == CLATTN_SUCCESS)
            st = clattn__launch(c->ctx, kern, 3, global, NULL, t ? 1 : num_wait, t ? &k_done : wait,
                                t ? done : &k_done, "kv_gather");
    }
    clattn__release_event(&k_done);
    clReleaseKernel(kern);
    return st;
}

/* Under the lock: enqueues a prepared call. */
static clattn_status run(clattn_kv_cache *c, const attend_call *a, cl_mem q, cl_mem mask,
                         cl_mem out, cl_mem lse, cl_uint num_wait, const cl_event *wait,
                         cl_event *event) {
    clattn_context *ctx = c->ctx;
    const int64_t B = a->p.B;
    clattn_sdpa_buffers buf = {q, c->k, c->v, mask, out, lse, NULL, NULL, NULL};
    cl_mem meta = NULL;
    clattn_status st = clattn__upload(ctx, a->meta, B * (1 + a->pps) * (int64_t)sizeof *a->meta,
                                      "kv cache block table", &meta);
    if (st != CLATTN_SUCCESS) return st;
    if (a->plan.algo == CLATTN_ALGO_DECODE) {
        /* The pages in place: the batch strides of k and v step over pages. */
        clattn_sdpa_problem p = a->p;
        const int64_t ps = c->page_size;
        const int64_t k_st[3] = {c->page_stride_k, ps * c->D, c->D};
        const int64_t v_st[3] = {c->page_stride_v, ps * c->Dv, c->Dv};
        memcpy(p.k_st, k_st, sizeof k_st);
        memcpy(p.v_st, v_st, sizeof v_st);
        p.page_size = ps;
        p.pages_per_seq = a->pps;
        buf.block_table = meta; /* the lengths after the table are not read */
        st = clattn__sdpa_run(ctx, &p, &a->plan, &buf, num_wait, wait, event);
    } else {
        cl_event gathered = NULL;
        buf.k = buf.v = NULL;
        st = gather(c, a, meta, num_wait, wait, &buf.k, &buf.v, &gathered);
        if (st == CLATTN_SUCCESS)
            st = clattn__sdpa_run(ctx, &a->p, &a->plan, &buf, 1, &gathered, event);
        clattn__release_event(&gathered);
        clattn__release_mem(&buf.k); /* OpenCL keeps them until the kernels are done */
        clattn__release_mem(&buf.v);
    }
    clattn__release_mem(&meta);
    return st;
}

clattn_status clattn_kv_cache_attention(clattn_kv_cache *cache, const clattn_sdpa_desc *desc,
                                        const int32_t *slots, cl_mem q, cl_mem mask, cl_mem out,
                                        cl_mem lse, cl_uint num_wait, const cl_event *wait_list,
                                        cl_event *event) {
    if (!cache) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (event) *event = NULL;
    if (!q || !out || (num_wait > 0) != (wait_list != NULL))
        return clattn__fail(cache->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache attention: q and out are required, and num_wait and "
                            "wait_list must agree");
    attend_call a;
    pthread_mutex_lock(&cache->lock);
    clattn_status st = prepare(cache, desc, slots, lse != NULL, &a);
    if (st == CLATTN_SUCCESS) {
        st = clattn__sdpa_check_io(cache->ctx, &a.p, &a.s, q, NULL, NULL, mask, out, lse);
        if (st == CLATTN_SUCCESS)
            st = run(cache, &a, q, mask, out, lse, num_wait, wait_list, event);
        free(a.meta);
    }
    pthread_mutex_unlock(&cache->lock);
    return st;
}

/* The host form's device call: the prepared call on the device copies. */
typedef struct {
    clattn_kv_cache *cache;
    const attend_call *a;
} host_call;

static clattn_status host_device_call(void *arg, cl_mem q, cl_mem k, cl_mem v, cl_mem mask,
                                      cl_mem out, cl_mem lse, cl_event *event) {
    const host_call *h = arg;
    (void)k, (void)v; /* the cache's */
    return run(h->cache, h->a, q, mask, out, lse, 0, NULL, event);
}

clattn_status clattn_kv_cache_attention_host(clattn_kv_cache *cache, const clattn_sdpa_desc *desc,
                                             const int32_t *slots, const void *q, const void *mask,
                                             void *out, float *lse) {
    if (!cache) return CLATTN_ERROR_INVALID_ARGUMENT;
    if (!q || !out)
        return clattn__fail(cache->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache attention: q and out are required");
    attend_call a;
    pthread_mutex_lock(&cache->lock);
    clattn_status st = prepare(cache, desc, slots, lse != NULL, &a);
    if (st == CLATTN_SUCCESS) {
        st = clattn__sdpa_check_mask(cache->ctx, &a.p, mask != NULL);
        host_call h = {cache, &a};
        if (st == CLATTN_SUCCESS)
            st = clattn__sdpa_host_run(cache->ctx, &a.p, &a.s, q, NULL, NULL, mask, out, lse,
                                       host_device_call, &h);
        free(a.meta);
    }
    pthread_mutex_unlock(&cache->lock);
    return st;
}

clattn_status clattn_kv_cache_plan_get(clattn_kv_cache *cache, const clattn_sdpa_desc *desc,
                                       const int32_t *slots, clattn_sdpa_plan *plan, size_t size) {
    if (!cache) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_status st = clattn__struct_out_check(cache->ctx, "clattn_sdpa_plan", plan, size,
                                                CLATTN_SDPA_PLAN_MIN_SIZE);
    if (st != CLATTN_SUCCESS) return st;
    attend_call a;
    pthread_mutex_lock(&cache->lock);
    st = prepare(cache, desc, slots, 0, &a);
    pthread_mutex_unlock(&cache->lock);
    if (st != CLATTN_SUCCESS) return st;
    free(a.meta);
    clattn__struct_out(plan, size, &a.plan, sizeof a.plan);
    return CLATTN_SUCCESS;
}
