/* fuzz_kv.c: the API fuzzer's recipes for the KV cache and the LSE combine. A KV cache input
 * creates a cache from a fuzzed descriptor (sizes at their edges; only small ones are really
 * allocated) and then runs a short program of appends, resets, attention calls and length
 * queries with fuzzed slots, counts and shapes. What it checks besides ASan/UBSan: every
 * refusal is a known status with a message; a refused append or reset leaves every length as
 * it was, an accepted one moves exactly the lengths it names; attention writes no NaN from
 * finite inputs. A combine input runs clattn_lse_combine_host on fuzzed shapes and partials
 * (finite or -inf lse) and checks the same promises. */
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes a cache would allocate, or a huge value when the product leaves double's exact range:
 * only caches below SMALL_CACHE are created (a valid huge one would really be allocated). */
#define SMALL_CACHE (4.0 * 1024 * 1024)
#define MAX_SLOTS   16

static double cache_bytes(const clattn_kv_cache_desc *d) {
    const double pages = d->page_size > 0 ? (d->num_pages > 0 ? (double)d->num_pages * d->page_size
                                                              : (double)d->slots * d->capacity)
                                          : (double)d->slots * d->capacity;
    const double dv = d->head_dim_v > 0 ? (double)d->head_dim_v : (double)d->head_dim;
    return pages * (double)d->kv_heads * ((double)d->head_dim + dv) * 4.0;
}

static int all_positive(const clattn_kv_cache_desc *d) {
    return d->slots > 0 && d->kv_heads > 0 && d->capacity > 0 && d->head_dim > 0 &&
           d->head_dim_v >= 0 && d->page_size >= 0 && d->num_pages >= 0;
}

static void snapshot(clattn_kv_cache *c, int64_t slots, int32_t *len) {
    require(clattn_kv_cache_lengths(c, len, slots) == CLATTN_SUCCESS, "lengths of every slot");
}

static void fuzz_append(reader *r, clattn_kv_cache *c, const clattn_kv_cache_info *info) {
    clattn_kv_append_desc a;
    require(clattn_kv_append_desc_init(&a, sizeof a) == CLATTN_SUCCESS, "append desc init");
    const int n = 1 + byte(r) % 3;
    int32_t slots[3], counts[3];
    for (int i = 0; i < n; i++) {
        const uint8_t s = byte(r), k = byte(r);
        slots[i] = s < 240 ? (int32_t)(s % (info->slots + 1)) : (s % 2 ? -1 : INT32_MAX);
        counts[i] =
            k < 240
                ? (int32_t)(k % 6)
                : (k % 2 ? -1
                         : (int32_t)(info->capacity < INT32_MAX ? info->capacity + 1 : INT32_MAX));
    }
    a.num_seqs = n;
    a.slots = slots;
    a.counts = counts;
    const uint8_t f = byte(r);
    /* The extent: negative ones are refused; valid ones are capped at 16. */
    a.seq = f & 1 ? size_value(r) : 0;
    if (a.seq > 16) a.seq = 16;
    int64_t seq = a.seq; /* the extent the library reads: seq, or the largest count */
    for (int i = 0; a.seq == 0 && i < n; i++) seq = counts[i] > seq ? counts[i] : seq;
    /* The host path uploads the whole extent before the cache (under its lock) checks the
       capacity, so the arrays must span it: a count past the capacity is fuzzed only while the
       extent stays small. */
    if (seq > 64) return;
    if (seq < 0) seq = 1; /* a negative extent is refused before anything is read */
    const int64_t nk = n * info->kv_heads * (seq > 0 ? seq : 1) * info->head_dim;
    const int64_t nv = n * info->kv_heads * (seq > 0 ? seq : 1) * info->head_dim_v;
    float *k = floats(r, nk, 0), *v = floats(r, nv, 0);
    int32_t before[MAX_SLOTS], after[MAX_SLOTS];
    snapshot(c, info->slots, before);
    const clattn_status st = clattn_kv_cache_append_host(c, f & 2 ? NULL : &a, f & 4 ? NULL : k, v);
    snapshot(c, info->slots, after);
    if (st != CLATTN_SUCCESS) {
        check_refusal(ctx, st, "clattn_kv_cache_append_host");
        require(memcmp(before, after, sizeof(int32_t) * (size_t)info->slots) == 0,
                "a refused append changes no length");
    } else {
        require(!(f & 6), "NULL arguments are refused");
        for (int i = 0; i < n; i++) before[slots[i]] += counts[i];
        require(memcmp(before, after, sizeof(int32_t) * (size_t)info->slots) == 0,
                "an append moves exactly the lengths it names");
    }
    free(k), free(v);
}

static void fuzz_reset(reader *r, clattn_kv_cache *c, const clattn_kv_cache_info *info) {
    const uint8_t b = byte(r);
    const int64_t slot = b < 240 ? (int64_t)(b % (info->slots + 2)) - 1 : (b % 2 ? -2 : INT64_MAX);
    int32_t before[MAX_SLOTS], after[MAX_SLOTS];
    snapshot(c, info->slots, before);
    const clattn_status st = clattn_kv_cache_reset(c, slot);
    snapshot(c, info->slots, after);
    if (st != CLATTN_SUCCESS) {
        check_refusal(ctx, st, "clattn_kv_cache_reset");
        require(slot < -1 || slot >= info->slots, "a slot in range is reset");
        require(memcmp(before, after, sizeof(int32_t) * (size_t)info->slots) == 0,
                "a refused reset changes no length");
        return;
    }
    for (int64_t s = 0; s < info->slots; s++)
        require(after[s] == (slot == -1 || slot == s ? 0 : before[s]), "reset lengths");
}

static void fuzz_attention(reader *r, clattn_kv_cache *c, const clattn_kv_cache_info *info) {
    memset(desc_mem, 0, sizeof desc_mem);
    clattn_sdpa_desc *d = (clattn_sdpa_desc *)desc_mem;
    require(clattn_sdpa_desc_init(d, sizeof *d) == CLATTN_SUCCESS, "sdpa desc init");
    const uint8_t f = byte(r);
    d->batch = 1 + byte(r) % 3;
    d->heads = info->kv_heads * (1 + byte(r) % 3);
    d->seq_q = 1 + byte(r) % 4;
    if (f & 1) d->kv_heads = size_value(r);
    if (f & 2) d->head_dim = size_value(r);
    if (f & 4) d->seq_kv = size_value(r);
    /* a valid Skv is work (splits, a prefill's gather): kept small; huge ones must be refused */
    if (d->seq_kv > 64 && d->seq_kv < ((int64_t)1 << 40)) d->seq_kv = 64;
    d->causal = f >> 3 & 1;
    d->algo = (clattn_algo)enum_value(r, CLATTN_ALGO_DECODE);
    d->flavour = (clattn_flavour)enum_value(r, CLATTN_FLAVOUR_CPU);
    if (f & 16) d->decode_splits = size_value(r);
    finish_desc(r, CLATTN_SDPA_DESC_MIN_SIZE, sizeof *d);
    int32_t slots[3];
    for (int64_t b = 0; b < d->batch; b++) {
        const uint8_t s = byte(r);
        slots[b] = s < 240 ? (int32_t)(s % info->slots) : (s % 2 ? -1 : (int32_t)info->slots);
    }
    const int64_t rows = d->batch * d->heads * d->seq_q;
    float *q = floats(r, rows * info->head_dim, 0);
    float *out = malloc(sizeof(float) * (size_t)(rows * info->head_dim_v));
    float *lse = malloc(sizeof(float) * (size_t)rows);
    require(out && lse, "malloc");
    for (int64_t i = 0; i < rows * info->head_dim_v; i++) out[i] = NAN;
    const clattn_status st =
        clattn_kv_cache_attention_host(c, d, f & 32 ? NULL : slots, q, NULL, out, lse);
    if (st != CLATTN_SUCCESS) {
        check_refusal(ctx, st, "clattn_kv_cache_attention_host");
    } else {
        require(!(f & 32), "NULL slots are refused");
        for (int64_t i = 0; i < rows * info->head_dim_v; i++)
            require(!isnan(out[i]), "attention over the cache writes every output, no NaN");
        for (int64_t i = 0; i < rows; i++) require(!isnan(lse[i]), "no NaN in lse");
    }
    free(q), free(out), free(lse);
}

void fuzz_kv_cache(reader *r) {
    memset(desc_mem, 0, sizeof desc_mem);
    clattn_kv_cache_desc *d = (clattn_kv_cache_desc *)desc_mem;
    require(clattn_kv_cache_desc_init(d, sizeof *d) == CLATTN_SUCCESS, "cache desc init");
    const uint8_t f = byte(r);
    d->slots = f & 1 ? size_value(r) : 1 + byte(r) % 4;
    d->kv_heads = f & 2 ? size_value(r) : 1 + byte(r) % 3;
    d->capacity = size_value(r);
    d->head_dim = f & 4 ? size_value(r) : 1 + byte(r) % 40;
    if (f & 8) d->head_dim_v = size_value(r);
    d->dtype = (clattn_dtype)enum_value(r, CLATTN_DTYPE_BF16);
    if (f & 16) d->page_size = size_value(r);
    if (f & 32) d->num_pages = size_value(r);
    finish_desc(r, CLATTN_KV_CACHE_DESC_MIN_SIZE, sizeof *d);
    const double bytes = cache_bytes(d);
    /* A valid cache past SMALL_CACHE would be allocated for real: only those clearly beyond any
       device (more than 2^50 bytes) are tried, and must be refused. */
    if (all_positive(d) && ((bytes > SMALL_CACHE && bytes < 0x1p50) || d->slots > MAX_SLOTS))
        return;
    clattn_kv_cache *c = (clattn_kv_cache *)&c; /* must come back NULL on failure */
    clattn_status st = clattn_kv_cache_create(ctx, f & 64 ? NULL : d, &c);
    if (st != CLATTN_SUCCESS) {
        check_refusal(ctx, st, "clattn_kv_cache_create");
        require(c == NULL, "no cache on failure");
        return;
    }
    require(!(f & 64), "a NULL descriptor is refused");
    require(bytes <= SMALL_CACHE && d->slots <= MAX_SLOTS, "only a small cache is created");
    clattn_kv_cache_info info;
    require(clattn_kv_cache_get_info(c, &info, sizeof info) == CLATTN_SUCCESS, "cache info");
    require(info.slots == d->slots && info.kv_heads == d->kv_heads && info.head_dim_v >= 1,
            "the info describes the cache");
    for (int op = 0; op < 6 && r->n > 0; op++) {
        switch (byte(r) % 4) {
        case 0:
            fuzz_append(r, c, &info);
            break;
        case 1:
            fuzz_reset(r, c, &info);
            break;
        case 2:
            fuzz_attention(r, c, &info);
            break;
        default: {
            int32_t len[8];
            const int64_t n = (int64_t)(byte(r) % 8) - 1;
            st = clattn_kv_cache_lengths(c, len, n);
            if (st != CLATTN_SUCCESS) check_refusal(ctx, st, "clattn_kv_cache_lengths");
            require((st == CLATTN_SUCCESS) == (n >= 0 && n <= info.slots), "lengths of n slots");
        }
        }
    }
    clattn_kv_cache_destroy(c);
}

void fuzz_combine(reader *r) {
    memset(desc_mem, 0, sizeof desc_mem);
    clattn_lse_combine_desc *d = (clattn_lse_combine_desc *)desc_mem;
    require(clattn_lse_combine_desc_init(d, sizeof *d) == CLATTN_SUCCESS, "combine desc init");
    const uint8_t f = byte(r);
    d->parts = f & 1 ? size_value(r) : 1 + byte(r) % 4;
    d->batch = f & 2 ? size_value(r) : 1 + byte(r) % 2;
    d->heads = f & 4 ? size_value(r) : 1 + byte(r) % 3;
    d->seq = size_value(r);
    d->head_dim_v = f & 8 ? size_value(r) : 1 + byte(r) % 20;
    d->out_dtype = (clattn_dtype)enum_value(r, CLATTN_DTYPE_BF16);
    finish_desc(r, CLATTN_LSE_COMBINE_DESC_MIN_SIZE, sizeof *d);
    /* Inputs for shapes that fit 4096 floats; invalid or enormous ones get one-float arrays and
       must be refused before they are read (ASan would see an overread). */
    const double rows = (double)d->batch * (double)d->heads * (double)d->seq;
    const int positive =
        d->parts > 0 && d->batch > 0 && d->heads > 0 && d->seq > 0 && d->head_dim_v > 0;
    const double floats_needed = (double)d->parts * rows * ((double)d->head_dim_v + 1.0);
    if (positive && floats_needed > 4096 && floats_needed < 0x1p50) return; /* valid, too big */
    const int run = positive && floats_needed <= 4096;
    const int64_t n_rows = run ? (int64_t)rows : 0;
    float *po = floats(r, run ? d->parts * n_rows * d->head_dim_v : 1, 0);
    float *pl = floats(r, run ? d->parts * n_rows : 1, 1);
    float *out = malloc(sizeof(float) * (size_t)(run ? n_rows * d->head_dim_v : 1));
    float *lse = malloc(sizeof(float) * (size_t)(run ? n_rows : 1));
    require(out && lse, "malloc");
    const clattn_status st =
        clattn_lse_combine_host(ctx, f & 16 ? NULL : d, po, pl, out, f & 32 ? NULL : lse);
    if (st != CLATTN_SUCCESS) {
        check_refusal(ctx, st, "clattn_lse_combine_host");
    } else {
        require(!(f & 16), "a NULL descriptor is refused");
        require(run, "only shapes the arrays hold are combined");
        const int f32 = d->struct_size < sizeof *d || d->out_dtype == CLATTN_DTYPE_F32;
        for (int64_t i = 0; f32 && i < n_rows * d->head_dim_v; i++)
            require(!isnan(out[i]), "no NaN from finite partials");
        for (int64_t i = 0; !(f & 32) && i < n_rows; i++) require(!isnan(lse[i]), "no NaN lse");
    }
    free(po), free(pl), free(out), free(lse);
}
