/* append.c: new tokens into a KV cache (clattn_kv_cache_append). The whole call is checked and
 * the pages it needs are chosen (the top of the free stack, not yet taken) before anything is
 * enqueued; the kernel (cl/kv_cache.cl: kv_append) writes the new rows through a per-call block
 * table, rotating K (RoPE, with src/rope/'s frequency table) when the call asks, and only once
 * both launches are enqueued are the pages taken and the lengths advanced, so a refused or
 * failed call changes nothing a later call can see. */
#include "kvcache/kv_cache_internal.h"

#include "rope/rope_internal.h"
#include "sdpa/sdpa_internal.h"

#include <stdlib.h>
#include <string.h>

static void desc_defaults(clattn_kv_append_desc *d) {
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->rope_style = CLATTN_ROPE_NEOX;
    d->rope_position_scale = 1.0;
}

clattn_status clattn_kv_append_desc_init(clattn_kv_append_desc *desc, size_t size) {
    clattn_kv_append_desc d;
    desc_defaults(&d);
    return clattn__desc_init(desc, size, CLATTN_KV_APPEND_DESC_MIN_SIZE, &d, sizeof d);
}

/* An append as checked: the descriptor, its token extent and strides, the bytes the new K
 * and V span (float32) and, when K is rotated, the rotation (rope.half 0: none). */
typedef struct {
    clattn_kv_append_desc d;
    int64_t T;
    int64_t k_st[3], v_st[3];
    int64_t k_bytes, v_bytes;
    clattn_rope_table rope;
} append_shape;

/* What does not depend on the cache's state: the descriptor, counts, extent and strides. */
static clattn_status check_shape(clattn_kv_cache *c, const clattn_kv_append_desc *desc,
                                 append_shape *a) {
    clattn_context *ctx = c->ctx;
    desc_defaults(&a->d);
    clattn_status st = clattn__struct_in(ctx, "clattn_kv_append_desc", desc,
                                         CLATTN_KV_APPEND_DESC_MIN_SIZE, &a->d, sizeof a->d);
    if (st != CLATTN_SUCCESS) return st;
    const clattn_kv_append_desc *d = &a->d;
    if (d->num_seqs < 1 || d->num_seqs > c->slots || !d->slots || !d->counts || d->seq < 0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache append: num_seqs is %lld (1..%lld slots), slots %s, counts "
                            "%s, seq %lld (>= 0)",
                            (long long)d->num_seqs, (long long)c->slots, d->slots ? "set" : "NULL",
                            d->counts ? "set" : "NULL", (long long)d->seq);
    int64_t most = 0;
    for (int64_t i = 0; i < d->num_seqs; i++) {
        if (d->counts[i] < 0)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "kv cache append: counts[%lld] is %d (< 0)", (long long)i,
                                (int)d->counts[i]);
        if (d->counts[i] > most) most = d->counts[i];
    }
    a->T = d->seq ? d->seq : most;
    if (most > a->T)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache append: a count of %lld tokens is more than seq (%lld)",
                            (long long)most, (long long)a->T);
    if ((st = clattn__sdpa_resolve_strides(ctx, "new k", d->k_strides, c->Hkv, a->T, c->D,
                                           a->k_st)) ||
        (st = clattn__sdpa_resolve_strides(ctx, "new v", d->v_strides, c->Hkv, a->T, c->Dv,
                                           a->v_st)))
        return st;
    const int64_t ks[4] = {d->num_seqs, c->Hkv, a->T, c->D},
                  vs[4] = {d->num_seqs, c->Hkv, a->T, c->Dv};
    const int64_t kst[4] = {a->k_st[0], a->k_st[1], a->k_st[2], 1};
    const int64_t vst[4] = {a->v_st[0], a->v_st[1], a->v_st[2], 1};
    if (clattn__span_bytes(ks, kst, 4, (int64_t)sizeof(float), &a->k_bytes) ||
        clattn__span_bytes(vs, vst, 4, (int64_t)sizeof(float), &a->v_bytes))
        return clattn__fail(ctx, CLATTN_ERROR_OVERFLOW,
                            "kv cache append: the new K/V spans overflow int64");
    a->rope.half = 0;
    if (d->rope_theta != 0.0) /* NaN too: refused as a theta */
        return clattn__rope_table(ctx, "kv cache append (rope)", c->D, d->rope_dim, d->rope_style,
                                  d->rope_theta, d->rope_position_scale, &a->rope);
    return CLATTN_SUCCESS;
}

/* Under the lock: the slots, capacities and pool against the cache's state; fills the call's
 * block table meta ([n] first new rows, [n] counts, [n, *pps] pages, the new ones chosen in
 * order from the top of the free stack). */
static clattn_status check_state(clattn_kv_cache *c, const append_shape *a, int32_t **meta,
                                 int64_t *pps) {
    clattn_context *ctx = c->ctx;
    const clattn_kv_append_desc *d = &a->d;
    const int64_t n = d->num_seqs;
    unsigned char *seen = calloc((size_t)c->slots, 1);
    if (!seen) return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "kv cache append: host memory");
    clattn_status st = CLATTN_SUCCESS;
    int64_t need = 0, widest = 1;
    for (int64_t i = 0; i < n && st == CLATTN_SUCCESS; i++) {
        const int64_t s = d->slots[i];
        if (s < 0 || s >= c->slots)
            st = clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                              "kv cache append: slots[%lld] is %lld, outside 0..%lld", (long long)i,
                              (long long)s, (long long)c->slots - 1);
        else if (seen[s]++)
            st = clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                              "kv cache append: slot %lld is named twice", (long long)s);
        else if ((int64_t)c->len[s] + d->counts[i] > c->capacity)
            st = clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                              "kv cache append: slot %lld holds %d tokens; %d more would pass "
                              "its capacity of %lld",
                              (long long)s, (int)c->len[s], (int)d->counts[i],
                              (long long)c->capacity);
        if (st != CLATTN_SUCCESS) break;
        const int64_t pages = clattn__kv_pages_for(c, c->len[s] + d->counts[i]);
        if (c->paged) need += pages - clattn__kv_pages_held(c, s);
        if (pages > widest) widest = pages;
    }
    free(seen);
    if (st != CLATTN_SUCCESS) return st;
    if (need > c->num_free)
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                            "kv cache append: needs %lld new pages; the pool has %lld free of "
                            "%lld (reset sequences to return theirs)",
                            (long long)need, (long long)c->num_free, (long long)c->num_pages);
    int32_t *m = calloc((size_t)(n * (2 + widest)), sizeof *m);
    if (!m) return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "kv cache append: host memory");
    int64_t taken = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t s = d->slots[i], held = clattn__kv_pages_held(c, s);
        const int64_t pages = c->paged ? clattn__kv_pages_for(c, c->len[s] + d->counts[i]) : 1;
        int32_t *row = m + 2 * n + i * widest;
        m[i] = c->len[s];
        m[n + i] = d->counts[i];
        memcpy(row, c->table + s * c->pages_per_seq, (size_t)held * sizeof *row);
        for (int64_t p = held; p < pages; p++) row[p] = c->free_pages[c->num_free - 1 - taken++];
    }
    *meta = m;
    *pps = widest;
    return CLATTN_SUCCESS;
}

/* Takes the chosen pages and advances the lengths: the same order check_state chose them in. */
static void commit(clattn_kv_cache *c, const clattn_kv_append_desc *d) {
    for (int64_t i = 0; i < d->num_seqs; i++) {
        const int64_t s = d->slots[i];
        const int64_t held = clattn__kv_pages_held(c, s);
        c->len[s] += d->counts[i];
        for (int64_t p = held; p < clattn__kv_pages_held(c, s); p++)
            c->table[s * c->pages_per_seq + p] = c->free_pages[--c->num_free];
    }
}

/* One launch of kv_append: `src` (float32, strides st) into `pool` of row length dim, rotated by
 * the table `turns` (NULL: as given). */
static clattn_status launch(clattn_kv_cache *c, cl_kernel kern, cl_mem src, cl_mem pool,
                            cl_mem meta, const append_shape *a, int64_t pps, const int64_t st[3],
                            int64_t dim, int64_t page_stride, cl_mem turns, cl_uint num_wait,
                            const cl_event *wait, cl_event *event, const char *what) {
    const cl_long n = a->d.num_seqs, heads = c->Hkv, sb = st[0], sh = st[1], ss = st[2];
    const cl_long ps = page_stride, page = c->page_size, rows = pps;
    const cl_int half = turns ? a->rope.half : 0, gptj = a->rope.gptj;
    clattn_status s = clattn__set_args(
        c->ctx, kern, what, sizeof(cl_mem), &src, sizeof(cl_mem), &pool, sizeof(cl_mem), &meta,
        sizeof n, &n, sizeof heads, &heads, sizeof sb, &sb, sizeof sh, &sh, sizeof ss, &ss,
        sizeof ps, &ps, sizeof page, &page, sizeof rows, &rows, sizeof(cl_mem), &turns, sizeof half,
        &half, sizeof gptj, &gptj, (size_t)0);
    if (s != CLATTN_SUCCESS) return s;
    const size_t global[3] = {(size_t)dim, (size_t)a->T, (size_t)(n * heads)};
    return clattn__launch(c->ctx, kern, 3, global, NULL, num_wait, wait, event, what);
}

clattn_status clattn_kv_cache_append(clattn_kv_cache *cache, const clattn_kv_append_desc *desc,
                                     cl_mem k, cl_mem v, cl_uint num_wait,
                                     const cl_event *wait_list, cl_event *event) {
    if (!cache) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_context *ctx = cache->ctx;
    if (event) *event = NULL;
    if (!k || !v || (num_wait > 0) != (wait_list != NULL))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache append: k and v are required, and num_wait and wait_list "
                            "must agree");
    append_shape a;
    clattn_status st;
    if ((st = check_shape(cache, desc, &a)) ||
        (st = clattn__check_buffer(ctx, k, a.k_bytes, "new k")) ||
        (st = clattn__check_buffer(ctx, v, a.v_bytes, "new v")))
        return st;
    pthread_mutex_lock(&cache->lock);
    int32_t *meta = NULL;
    int64_t pps = 0;
    cl_kernel kern = NULL;
    cl_mem dmeta = NULL, turns = NULL;
    cl_event k_done = NULL;
    st = check_state(cache, &a, &meta, &pps);
    if (st == CLATTN_SUCCESS && a.T == 0) /* nothing to write: only the ordering */
        st = clattn__marker(ctx, num_wait, wait_list, event);
    else if (st == CLATTN_SUCCESS) {
        if ((st = clattn__kv_kernel(cache, "kv_append", &kern)) ||
            (st = clattn__upload(ctx, meta, a.d.num_seqs * (2 + pps) * (int64_t)sizeof *meta,
                                 "kv cache append table", &dmeta)) ||
            (a.rope.half && (st = clattn__rope_upload(ctx, &a.rope, &turns))) ||
            (st = launch(cache, kern, k, cache->k, dmeta, &a, pps, a.k_st, cache->D,
                         cache->page_stride_k, turns, num_wait, wait_list, &k_done, "kv_append k")))
            goto done;
        st = launch(cache, kern, v, cache->v, dmeta, &a, pps, a.v_st, cache->Dv,
                    cache->page_stride_v, NULL, 1, &k_done, event, "kv_append v");
        /* Rows written past the lengths by a half-done call are never read. */
    }
    if (st == CLATTN_SUCCESS) commit(cache, &a.d);
done:
    pthread_mutex_unlock(&cache->lock);
    clattn__release_event(&k_done);
    clattn__release_mem(&dmeta);
    clattn__release_mem(&turns);
    if (kern) clReleaseKernel(kern);
    free(meta);
    return st;
}

clattn_status clattn_kv_cache_append_host(clattn_kv_cache *cache, const clattn_kv_append_desc *desc,
                                          const float *k, const float *v) {
    if (!cache) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_context *ctx = cache->ctx;
    if (!k || !v)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv cache append: k and v are required");
    append_shape a;
    clattn_status st = check_shape(cache, desc, &a);
    cl_mem dk = NULL, dv = NULL;
    cl_event ev = NULL;
    if (st == CLATTN_SUCCESS) st = clattn__upload(ctx, k, a.k_bytes, "new k", &dk);
    if (st == CLATTN_SUCCESS) st = clattn__upload(ctx, v, a.v_bytes, "new v", &dv);
    if (st == CLATTN_SUCCESS) st = clattn_kv_cache_append(cache, desc, dk, dv, 0, NULL, &ev);
    if (st == CLATTN_SUCCESS) {
        const cl_int err = clWaitForEvents(1, &ev);
        if (err != CL_SUCCESS) st = clattn__cl_fail(ctx, err, "kv cache append: clWaitForEvents");
    }
    clattn__release_event(&ev);
    clattn__release_mem(&dk);
    clattn__release_mem(&dv);
    return st;
}
