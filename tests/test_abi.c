/* test_abi.c: the binary-compatibility rule of clattn_core.h, as a program built against another
 * version of the header would meet it. An older caller (a struct that is a prefix of today's
 * descriptor, followed by guard bytes in a bigger buffer): init writes nothing past its size and
 * calls work with the defaults of the fields it lacks. A newer caller (a longer struct): works
 * while its extra bytes are zero, is refused with CLATTN_ERROR_UNSUPPORTED once one is set. Output
 * structs (device list, caps, plans, cache counters) sized smaller than today's: exactly that many
 * bytes are written per struct, and the device list strides by the caller's element size. The
 * combine descriptor (clattn_combine.h) at its minimum size and with a newer caller's field; the
 * KV cache's descriptors (the append's first version without the rotation fields included) and
 * info struct, the RoPE descriptor, the attention layer's two descriptors and the ring's
 * descriptor and stats (clattn_seqpar.h) follow the same rule. */
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { GUARD = 0xA5, B = 1, HQ = 2, HKV = 1, S = 17, D = 16 };

/* clattn_sdpa_desc as a caller built before algo, flavour, block_q and block_kv existed. */
typedef struct {
    size_t struct_size;
    int64_t batch, heads, kv_heads, seq_q, seq_kv, head_dim, head_dim_v;
    float scale;
    int causal;
    int has_mask;
    int64_t mask_batch, mask_heads;
    int64_t q_strides[3], k_strides[3], v_strides[3], out_strides[3];
} old_sdpa_desc;
_Static_assert(sizeof(old_sdpa_desc) == CLATTN_SDPA_DESC_MIN_SIZE, "old SDPA prefix");

/* clattn_additive_desc before steps and the tuning fields. */
typedef struct {
    size_t struct_size;
    int64_t batch, seq, key_dim, query_dim, attn_dim;
} old_additive_desc;
_Static_assert(sizeof(old_additive_desc) == CLATTN_ADDITIVE_DESC_MIN_SIZE, "old additive prefix");

/* clattn_kv_append_desc before the rotation fields (its first version). */
typedef struct {
    size_t struct_size;
    int64_t num_seqs;
    const int32_t *slots, *counts;
    int64_t seq;
    int64_t k_strides[3], v_strides[3];
} old_append_desc;
_Static_assert(sizeof(old_append_desc) == CLATTN_KV_APPEND_DESC_MIN_SIZE, "old append prefix");
/* Appended fields start on an 8-byte boundary (the rule in clattn_core.h). */
_Static_assert(offsetof(clattn_kv_append_desc, rope_theta) % 8 == 0 &&
                   offsetof(clattn_kv_append_desc, rope_dim) % 8 == 0 &&
                   offsetof(clattn_kv_append_desc, rope_position_scale) % 8 == 0,
               "append desc: rotation fields on 8-byte boundaries");

/* clattn_sdpa_desc as a caller built against a future header with two more fields. */
typedef struct {
    clattn_sdpa_desc d;
    int64_t future_a, future_b;
} new_sdpa_desc;

static int guard_intact(const unsigned char *p, size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        if (p[i] != GUARD) return 0;
    return 1;
}

static float *q, *k, *v;
static double *rout, *rlse;

static void make_problem(void) {
    q = tu_alloc_floats(B * HQ * S * D);
    k = tu_alloc_floats(B * HKV * S * D);
    v = tu_alloc_floats(B * HKV * S * D);
    tu_fill_uniform(q, B * HQ * S * D, -1, 1);
    tu_fill_uniform(k, B * HKV * S * D, -1, 1);
    tu_fill_uniform(v, B * HKV * S * D, -1, 1);
    rout = malloc(sizeof(double) * B * HQ * S * D);
    rlse = malloc(sizeof(double) * B * HQ * S);
    sdpa_ref_problem p = {B,   HQ,  HKV, S, S, D, D, 1.0 / sqrt(D), 1,    q, k,    v, NULL, {0},
                          {0}, {0}, {0}, 0, 0, 0, 0, 0.0,           NULL, 0, NULL, 0};
    sdpa_ref_contiguous(HQ, S, D, p.q_st);
    sdpa_ref_contiguous(HKV, S, D, p.k_st);
    sdpa_ref_contiguous(HKV, S, D, p.v_st);
    if (!rout || !rlse || sdpa_ref(&p, rout, rlse) != 0) {
        printf("FAIL: reference\n");
        exit(1);
    }
}

/* Runs the problem with a descriptor of any version; returns the status, checks the result. */
static clattn_status run(clattn_context *ctx, const void *desc, const char *what) {
    float *out = tu_alloc_floats(B * HQ * S * D), *lse = tu_alloc_floats(B * HQ * S);
    tu_poison(out, B * HQ * S * D);
    tu_poison(lse, B * HQ * S);
    clattn_status st = clattn_sdpa_host(ctx, desc, q, k, v, NULL, out, lse);
    if (st == CLATTN_SUCCESS)
        TU_CHECK(tu_compare("out", out, rout, B * HQ * S * D, 2e-5, 2e-4) &&
                     tu_compare("lse", lse, rlse, B * HQ * S, 2e-5, 2e-5),
                 "%s: result matches the reference", what);
    free(out);
    free(lse);
    return st;
}

static void older_sdpa_caller(clattn_context *ctx) {
    union {
        old_sdpa_desc d;
        unsigned char bytes[sizeof(clattn_sdpa_desc) + 64];
    } buf;
    memset(buf.bytes, GUARD, sizeof buf.bytes);
    clattn_status st = clattn_sdpa_desc_init((clattn_sdpa_desc *)&buf, sizeof buf.d);
    TU_CHECK(st == CLATTN_SUCCESS && buf.d.struct_size == sizeof buf.d &&
                 guard_intact(buf.bytes, sizeof buf.d, sizeof buf.bytes),
             "older SDPA caller: init writes its %zu bytes and none of the guard after them",
             sizeof buf.d);
    buf.d.batch = B, buf.d.heads = HQ, buf.d.kv_heads = HKV, buf.d.seq_q = buf.d.seq_kv = S;
    buf.d.head_dim = D, buf.d.causal = 1;
    /* The guard bytes sit where algo/flavour/block_* would be: were they read, 0xA5A5A5A5 would
     * be refused as an unknown algo, so success shows the defaults were used. */
    st = run(ctx, &buf, "older SDPA caller");
    TU_CHECK(st == CLATTN_SUCCESS, "older SDPA caller: call works with defaults: %s %s",
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
    clattn_sdpa_desc full;
    clattn_sdpa_desc_init(&full, sizeof full);
    memcpy((char *)&full + sizeof(size_t), (char *)&buf.d + sizeof(size_t),
           sizeof buf.d - sizeof(size_t));
    clattn_sdpa_plan p_old, p_full;
    memset(&p_old, 0, sizeof p_old);
    memset(&p_full, 1, sizeof p_full);
    TU_CHECK(clattn_sdpa_plan_get(ctx, (const clattn_sdpa_desc *)&buf, &p_old, sizeof p_old) == 0 &&
                 clattn_sdpa_plan_get(ctx, &full, &p_full, sizeof p_full) == 0 &&
                 memcmp(&p_old, &p_full, sizeof p_old) == 0,
             "older SDPA caller: the plan is the one of today's struct at its init values");
    TU_CHECK(guard_intact(buf.bytes, sizeof buf.d, sizeof buf.bytes),
             "older SDPA caller: calls never write the descriptor");

    /* Too short to be any version, or never initialised. */
    memset(buf.bytes, GUARD, sizeof buf.bytes);
    st = clattn_sdpa_desc_init((clattn_sdpa_desc *)&buf, CLATTN_SDPA_DESC_MIN_SIZE - 8);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT && guard_intact(buf.bytes, 0, sizeof buf.bytes),
             "init with a size below the minimum: INVALID_ARGUMENT, nothing written");
    TU_CHECK(clattn_sdpa_desc_init(NULL, sizeof(clattn_sdpa_desc)) == CLATTN_ERROR_INVALID_ARGUMENT,
             "init of NULL: INVALID_ARGUMENT");
    clattn_sdpa_desc_init(&full, sizeof full);
    full.batch = B, full.heads = HQ, full.kv_heads = HKV, full.seq_q = full.seq_kv = S;
    full.head_dim = D;
    full.struct_size = CLATTN_SDPA_DESC_MIN_SIZE - 1;
    st = run(ctx, &full, "short struct_size");
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT &&
                 strstr(clattn_context_last_error(ctx), "struct_size") != NULL,
             "struct_size below the minimum: INVALID_ARGUMENT: %s", clattn_context_last_error(ctx));
    full.struct_size = (size_t)-1;
    st = run(ctx, &full, "garbage struct_size");
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "uninitialised (huge) struct_size: %s",
             clattn_status_string(st));
}

static void newer_sdpa_caller(clattn_context *ctx) {
    new_sdpa_desc n;
    memset(&n, GUARD, sizeof n);
    clattn_status st = clattn_sdpa_desc_init((clattn_sdpa_desc *)&n, sizeof n);
    TU_CHECK(st == CLATTN_SUCCESS && n.d.struct_size == sizeof n && n.future_a == 0 &&
                 n.future_b == 0,
             "newer SDPA caller: init sets struct_size %zu and zeroes the fields it does not know",
             sizeof n);
    n.d.batch = B, n.d.heads = HQ, n.d.kv_heads = HKV, n.d.seq_q = n.d.seq_kv = S;
    n.d.head_dim = D, n.d.causal = 1, n.d.algo = CLATTN_ALGO_FLASH2;
    st = run(ctx, &n, "newer SDPA caller, extra fields zero");
    TU_CHECK(st == CLATTN_SUCCESS, "newer SDPA caller with zero extra fields works: %s %s",
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
    n.future_b = 7;
    float *out = tu_alloc_floats(B * HQ * S * D), *before = tu_alloc_floats(B * HQ * S * D);
    tu_fill_uniform(out, B * HQ * S * D, -1, 1);
    memcpy(before, out, sizeof(float) * B * HQ * S * D);
    st = clattn_sdpa_host(ctx, (const clattn_sdpa_desc *)&n, q, k, v, NULL, out, NULL);
    const char *msg = clattn_context_last_error(ctx);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && strstr(msg, "clattn_sdpa_desc") != NULL &&
                 memcmp(out, before, sizeof(float) * B * HQ * S * D) == 0,
             "newer SDPA caller setting an unknown field: UNSUPPORTED, output untouched: %s", msg);
    clattn_sdpa_plan plan;
    memset(&plan, GUARD, sizeof plan);
    st = clattn_sdpa_plan_get(ctx, (const clattn_sdpa_desc *)&n, &plan, sizeof plan);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && guard_intact((void *)&plan, 0, sizeof plan),
             "plan_get refuses it too and writes no plan");
    free(out);
    free(before);
}

static void older_additive_caller(clattn_context *ctx) {
    union {
        old_additive_desc d;
        unsigned char bytes[sizeof(clattn_additive_desc) + 32];
    } buf;
    memset(buf.bytes, GUARD, sizeof buf.bytes);
    clattn_status st = clattn_additive_desc_init((clattn_additive_desc *)&buf, sizeof buf.d);
    TU_CHECK(st == CLATTN_SUCCESS && guard_intact(buf.bytes, sizeof buf.d, sizeof buf.bytes),
             "older additive caller: init writes no byte past its %zu", sizeof buf.d);
    buf.d.batch = 2, buf.d.seq = 9, buf.d.key_dim = 8, buf.d.query_dim = 6, buf.d.attn_dim = 5;
    /* steps defaults to 1, not 0: a zero (or guard) value would be refused. */
    clattn_additive_plan p_old, p_full;
    memset(&p_old, 0, sizeof p_old);
    memset(&p_full, 1, sizeof p_full);
    clattn_additive_desc full;
    clattn_additive_desc_init(&full, sizeof full);
    full.batch = 2, full.seq = 9, full.key_dim = 8, full.query_dim = 6, full.attn_dim = 5;
    st = clattn_additive_plan_get(ctx, (const clattn_additive_desc *)&buf, &p_old, sizeof p_old);
    TU_CHECK(st == CLATTN_SUCCESS &&
                 clattn_additive_plan_get(ctx, &full, &p_full, sizeof p_full) == 0 &&
                 memcmp(&p_old, &p_full, sizeof p_old) == 0,
             "older additive caller: plan as today's struct at its init values: %s %s",
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");

    /* The GRU descriptor's init too (its call is covered by test_birnn). */
    union {
        clattn_gru_desc d;
        unsigned char bytes[sizeof(clattn_gru_desc) + 32];
    } g;
    memset(g.bytes, GUARD, sizeof g.bytes);
    st = clattn_gru_desc_init(&g.d, CLATTN_GRU_DESC_MIN_SIZE);
    TU_CHECK(st == CLATTN_SUCCESS && g.d.struct_size == CLATTN_GRU_DESC_MIN_SIZE &&
                 guard_intact(g.bytes, CLATTN_GRU_DESC_MIN_SIZE, sizeof g.bytes),
             "older GRU caller: init writes no byte past its %zu",
             (size_t)CLATTN_GRU_DESC_MIN_SIZE);
}

/* clattn_lse_combine_desc as a caller sized it at its minimum (before out_dtype), and as a newer
 * caller's longer struct: the same bits as today's struct at its init values, or UNSUPPORTED
 * with nothing written once a field this library does not know is set. */
static void combine_callers(clattn_context *ctx) {
    enum { N = 2, R = 6, DV = 5 }; /* B 1, H 2, S 3 */
    float po[N * R * DV], pl[N * R], want[R * DV], got[R * DV];
    tu_fill_normal(po, N * R * DV, 1.0f);
    tu_fill_normal(pl, N * R, 1.0f);
    clattn_lse_combine_desc full;
    clattn_lse_combine_desc_init(&full, sizeof full);
    full.parts = N, full.batch = 1, full.heads = 2, full.seq = 3, full.head_dim_v = DV;
    clattn_status st = clattn_lse_combine_host(ctx, &full, po, pl, want, NULL);
    union {
        clattn_lse_combine_desc d;
        unsigned char bytes[sizeof(clattn_lse_combine_desc) + 32];
    } buf;
    memset(buf.bytes, GUARD, sizeof buf.bytes);
    clattn_status st2 = clattn_lse_combine_desc_init(&buf.d, CLATTN_LSE_COMBINE_DESC_MIN_SIZE);
    TU_CHECK(st == CLATTN_SUCCESS && st2 == CLATTN_SUCCESS &&
                 buf.d.struct_size == CLATTN_LSE_COMBINE_DESC_MIN_SIZE &&
                 guard_intact(buf.bytes, CLATTN_LSE_COMBINE_DESC_MIN_SIZE, sizeof buf.bytes),
             "older combine caller: init writes its %zu bytes and none after them",
             (size_t)CLATTN_LSE_COMBINE_DESC_MIN_SIZE);
    buf.d.parts = N, buf.d.batch = 1, buf.d.heads = 2, buf.d.seq = 3, buf.d.head_dim_v = DV;
    /* The guard sits where out_dtype is: read, 0xA5A5A5A5 would be refused as a dtype. */
    tu_poison(got, R * DV);
    st = clattn_lse_combine_host(ctx, &buf.d, po, pl, got, NULL);
    TU_CHECK(st == CLATTN_SUCCESS && memcmp(got, want, sizeof got) == 0,
             "older combine caller: float32 out by default, today's bits: %s",
             clattn_status_string(st));
    struct {
        clattn_lse_combine_desc d;
        int64_t future;
    } n;
    memset(&n, GUARD, sizeof n);
    st = clattn_lse_combine_desc_init(&n.d, sizeof n);
    n.d.parts = N, n.d.batch = 1, n.d.heads = 2, n.d.seq = 3, n.d.head_dim_v = DV;
    tu_poison(got, R * DV);
    if (st == CLATTN_SUCCESS) st = clattn_lse_combine_host(ctx, &n.d, po, pl, got, NULL);
    TU_CHECK(st == CLATTN_SUCCESS && n.future == 0 && memcmp(got, want, sizeof got) == 0,
             "newer combine caller with its extra field zero: today's bits: %s",
             clattn_status_string(st));
    n.future = 1;
    memcpy(got, want, sizeof got);
    st = clattn_lse_combine_host(ctx, &n.d, po, pl, got, NULL);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED &&
                 strstr(clattn_context_last_error(ctx), "clattn_lse_combine_desc") &&
                 memcmp(got, want, sizeof got) == 0,
             "newer combine caller setting an unknown field: UNSUPPORTED, nothing written: %s",
             clattn_context_last_error(ctx));
}

static void device_list(void) {
    int n = 0;
    clattn_status st = clattn_device_list(NULL, 0, 0, &n);
    if (!TU_CHECK(st == CLATTN_SUCCESS && n > 0, "device count %d", n)) return;
    clattn_device_caps *full = calloc((size_t)n, sizeof *full);
    const size_t elem = CLATTN_DEVICE_CAPS_MIN_SIZE + 8; /* not a multiple of today's size */
    const size_t total = elem * (size_t)(n + 1);
    unsigned char *small = malloc(total);
    if (!full || !small) {
        printf("FAIL: allocation\n");
        exit(1);
    }
    memset(small, GUARD, total);
    int n_full = 0, n_small = 0;
    st = clattn_device_list(full, sizeof *full, n, &n_full);
    clattn_status st2 = clattn_device_list((clattn_device_caps *)small, elem, n, &n_small);
    int same = st == CLATTN_SUCCESS && st2 == CLATTN_SUCCESS && n_full == n && n_small == n;
    for (int i = 0; same && i < n; i++) {
        clattn_device_caps e;
        memset(&e, 0, sizeof e);
        memcpy(&e, small + (size_t)i * elem, CLATTN_DEVICE_CAPS_MIN_SIZE);
        same = strcmp(e.device_name, full[i].device_name) == 0 &&
               strcmp(e.platform_name, full[i].platform_name) == 0 && e.type == full[i].type &&
               e.platform_index == full[i].platform_index && e.device_index == full[i].device_index;
        /* The 8 bytes past the minimum are today's next fields, as in the full list. */
        int64_t tail;
        memcpy(&tail, small + (size_t)i * elem + CLATTN_DEVICE_CAPS_MIN_SIZE, sizeof tail);
        same = same && memcmp(&tail, (const char *)&full[i] + CLATTN_DEVICE_CAPS_MIN_SIZE, 8) == 0;
    }
    TU_CHECK(same, "device list with elem_size %zu: every entry at its stride matches", elem);
    TU_CHECK(guard_intact(small, elem * (size_t)n, total),
             "device list with elem_size %zu: no byte written past entry %d", elem, n - 1);
    memset(small, GUARD, total);
    st = clattn_device_list((clattn_device_caps *)small, CLATTN_DEVICE_CAPS_MIN_SIZE - 1, n, &n);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT && guard_intact(small, 0, total),
             "device list with elem_size below the minimum: INVALID_ARGUMENT, nothing written");
    free(full);
    free(small);
}

static void output_getters(clattn_context *ctx) {
    unsigned char buf[2048];
    /* Device caps. */
    clattn_device_caps caps;
    const size_t cs = CLATTN_DEVICE_CAPS_MIN_SIZE;
    memset(buf, GUARD, sizeof buf);
    clattn_status st = clattn_context_caps(ctx, &caps, sizeof caps);
    clattn_status st2 = clattn_context_caps(ctx, (clattn_device_caps *)buf, cs);
    TU_CHECK(st == 0 && st2 == 0 && memcmp(buf, &caps, cs) == 0 &&
                 guard_intact(buf, cs, sizeof buf),
             "caps with size %zu: that prefix, nothing after", cs);
    memset(buf, GUARD, sizeof buf);
    TU_CHECK(clattn_context_caps(ctx, (clattn_device_caps *)buf, cs - 1) ==
                     CLATTN_ERROR_INVALID_ARGUMENT &&
                 guard_intact(buf, 0, sizeof buf),
             "caps with a size below the minimum: INVALID_ARGUMENT, nothing written");
    /* A newer caller's bigger struct: today's fields, then zeros, up to its size exactly. */
    st = clattn_context_caps(ctx, (clattn_device_caps *)buf, sizeof caps + 16);
    TU_CHECK(st == 0 && memcmp(buf, &caps, sizeof caps) == 0 && buf[sizeof caps] == 0 &&
                 buf[sizeof caps + 15] == 0 && guard_intact(buf, sizeof caps + 16, sizeof buf),
             "caps with a newer caller's size: zeros past today's fields, nothing past its size");

    /* SDPA plan. */
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = B, d.heads = HQ, d.kv_heads = HKV, d.seq_q = d.seq_kv = S, d.head_dim = D;
    clattn_sdpa_plan plan;
    const size_t ps = CLATTN_SDPA_PLAN_MIN_SIZE;
    memset(buf, GUARD, sizeof buf);
    st = clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan);
    st2 = clattn_sdpa_plan_get(ctx, &d, (clattn_sdpa_plan *)buf, ps);
    TU_CHECK(st == 0 && st2 == 0 && memcmp(buf, &plan, ps) == 0 &&
                 guard_intact(buf, ps, sizeof buf),
             "SDPA plan with size %zu: that prefix, nothing after", ps);
    TU_CHECK(clattn_sdpa_plan_get(ctx, &d, (clattn_sdpa_plan *)buf, ps - 1) ==
                 CLATTN_ERROR_INVALID_ARGUMENT,
             "SDPA plan with a size below the minimum: INVALID_ARGUMENT");

    /* Additive plan. */
    clattn_additive_desc ad;
    clattn_additive_desc_init(&ad, sizeof ad);
    ad.batch = 2, ad.seq = 9, ad.key_dim = 8, ad.query_dim = 6, ad.attn_dim = 5;
    clattn_additive_plan apl;
    const size_t as = CLATTN_ADDITIVE_PLAN_MIN_SIZE;
    memset(buf, GUARD, sizeof buf);
    st = clattn_additive_plan_get(ctx, &ad, &apl, sizeof apl);
    st2 = clattn_additive_plan_get(ctx, &ad, (clattn_additive_plan *)buf, as);
    TU_CHECK(st == 0 && st2 == 0 && memcmp(buf, &apl, as) == 0 && guard_intact(buf, as, sizeof buf),
             "additive plan with size %zu: that prefix, nothing after", as);

    /* Cache counters. */
    clattn_cache_stats cst;
    const size_t ss = CLATTN_CACHE_STATS_MIN_SIZE;
    memset(buf, GUARD, sizeof buf);
    st = clattn_context_cache_stats(ctx, &cst, sizeof cst);
    st2 = clattn_context_cache_stats(ctx, (clattn_cache_stats *)buf, ss);
    TU_CHECK(st == 0 && st2 == 0 && memcmp(buf, &cst, ss) == 0 && guard_intact(buf, ss, sizeof buf),
             "cache stats with size %zu: that prefix, nothing after", ss);
    TU_CHECK(clattn_context_cache_stats(ctx, &cst, ss - 1) == CLATTN_ERROR_INVALID_ARGUMENT,
             "cache stats with a size below the minimum: INVALID_ARGUMENT");
}

/* The KV cache's structs: a newer caller's longer descriptors work while their extra bytes are
 * zero and are refused once one is set; the info struct is written exactly as far as sized. */
static void kv_cache_structs(clattn_context *ctx) {
    struct {
        clattn_kv_cache_desc d;
        int64_t future;
    } n;
    memset(&n, GUARD, sizeof n);
    clattn_status st = clattn_kv_cache_desc_init((clattn_kv_cache_desc *)&n, sizeof n);
    TU_CHECK(st == CLATTN_SUCCESS && n.d.struct_size == sizeof n && n.future == 0 &&
                 n.d.page_size == 0 && n.d.dtype == CLATTN_DTYPE_F32,
             "newer kv cache caller: init zeroes the fields it does not know");
    TU_CHECK(clattn_kv_cache_desc_init(&n.d, CLATTN_KV_CACHE_DESC_MIN_SIZE - 1) ==
                 CLATTN_ERROR_INVALID_ARGUMENT,
             "kv cache desc init below the minimum size: INVALID_ARGUMENT");
    n.d.slots = 2, n.d.kv_heads = 1, n.d.capacity = 8, n.d.head_dim = D, n.d.page_size = 3;
    clattn_kv_cache *cache = NULL;
    st = clattn_kv_cache_create(ctx, (const clattn_kv_cache_desc *)&n, &cache);
    TU_CHECK(st == CLATTN_SUCCESS, "newer kv cache caller with zero extra fields: %s %s",
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
    n.future = 1;
    clattn_kv_cache *refused = (clattn_kv_cache *)&n;
    st = clattn_kv_cache_create(ctx, (const clattn_kv_cache_desc *)&n, &refused);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && refused == NULL,
             "newer kv cache caller setting an unknown field: UNSUPPORTED: %s",
             clattn_context_last_error(ctx));
    if (!cache) return;
    struct {
        clattn_kv_append_desc d;
        int64_t future;
    } a;
    memset(&a, GUARD, sizeof a);
    st = clattn_kv_append_desc_init((clattn_kv_append_desc *)&a, sizeof a);
    const int32_t slot = 1, count = 2;
    float kv[2 * D];
    tu_fill_uniform(kv, 2 * D, -1, 1);
    TU_CHECK(st == CLATTN_SUCCESS && a.d.rope_theta == 0.0 && a.d.rope_style == CLATTN_ROPE_NEOX &&
                 a.d.rope_dim == 0 && a.d.rope_position_scale == 1.0,
             "append desc init: no rotation (rope_theta 0), NEOX, all dims, position scale 1");
    a.d.num_seqs = 1, a.d.slots = &slot, a.d.counts = &count;
    st = clattn_kv_cache_append_host(cache, (const clattn_kv_append_desc *)&a, kv, kv);
    TU_CHECK(st == CLATTN_SUCCESS && a.future == 0,
             "newer append caller with zero extra fields: %s %s", clattn_status_string(st),
             st ? clattn_context_last_error(ctx) : "");
    a.future = 1;
    st = clattn_kv_cache_append_host(cache, (const clattn_kv_append_desc *)&a, kv, kv);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED, "newer append caller setting an unknown field: %s",
             clattn_status_string(st));
    /* An older caller: the guard bytes sit where rope_theta would be (as a double, a negative
     * number, which would be refused), so success shows the defaults (no rotation) were used. */
    union {
        old_append_desc d;
        unsigned char bytes[sizeof(clattn_kv_append_desc) + 16];
    } o;
    memset(o.bytes, GUARD, sizeof o.bytes);
    st = clattn_kv_append_desc_init((clattn_kv_append_desc *)&o, sizeof o.d);
    TU_CHECK(st == CLATTN_SUCCESS && o.d.struct_size == sizeof o.d &&
                 guard_intact(o.bytes, sizeof o.d, sizeof o.bytes),
             "older append caller: init writes its %zu bytes and none of the guard after them",
             sizeof o.d);
    const int32_t old_slot = 0;
    o.d.num_seqs = 1, o.d.slots = &old_slot, o.d.counts = &count;
    st = clattn_kv_cache_append_host(cache, (const clattn_kv_append_desc *)&o, kv, kv);
    TU_CHECK(st == CLATTN_SUCCESS && guard_intact(o.bytes, sizeof o.d, sizeof o.bytes),
             "older append caller: the append works with the defaults: %s %s",
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
    unsigned char buf[512];
    clattn_kv_cache_info info;
    const size_t is = CLATTN_KV_CACHE_INFO_MIN_SIZE;
    memset(buf, GUARD, sizeof buf);
    st = clattn_kv_cache_get_info(cache, &info, sizeof info);
    clattn_status st2 = clattn_kv_cache_get_info(cache, (clattn_kv_cache_info *)buf, is + 16);
    TU_CHECK(st == 0 && st2 == 0 && memcmp(buf, &info, is) == 0 && buf[is] == 0 &&
                 buf[is + 15] == 0 && guard_intact(buf, is + 16, sizeof buf) && info.tokens == 4 &&
                 info.page_size == 3 && info.num_pages == 6 && info.free_pages == 4,
             "kv cache info with a newer caller's size: zeros past today's fields, nothing past "
             "its size (4 tokens, 4 of 6 pages free)");
    TU_CHECK(clattn_kv_cache_get_info(cache, &info, is - 1) == CLATTN_ERROR_INVALID_ARGUMENT,
             "kv cache info with a size below the minimum: INVALID_ARGUMENT");
    clattn_kv_cache_destroy(cache);
}

/* The attention layer's descriptors: init defaults, a newer caller's zero extra bytes accepted and
 * a set one refused (the layer with UNSUPPORTED and no layer, the forward with y untouched). */
static void layer_structs(clattn_context *ctx) {
    struct {
        clattn_mha_layer_desc d;
        int64_t future;
    } n;
    memset(&n, GUARD, sizeof n);
    clattn_status st = clattn_mha_layer_desc_init((clattn_mha_layer_desc *)&n, sizeof n);
    TU_CHECK(st == CLATTN_SUCCESS && n.d.struct_size == sizeof n && n.future == 0 &&
                 n.d.kv_heads == 0 && n.d.rope_position_scale == 1.0 &&
                 n.d.dtype == CLATTN_DTYPE_F32 && n.d.rope_style == CLATTN_ROPE_NEOX,
             "newer layer caller: init gives the defaults and zeroes the fields it does not know");
    TU_CHECK(clattn_mha_layer_desc_init(&n.d, CLATTN_MHA_LAYER_DESC_MIN_SIZE - 1) ==
                 CLATTN_ERROR_INVALID_ARGUMENT,
             "layer desc init below the minimum size: INVALID_ARGUMENT");
    enum { E = 8 };
    float w[E * E], x[2 * E], y[2 * E];
    tu_fill_uniform(w, E * E, -1, 1);
    tu_fill_uniform(x, 2 * E, -1, 1);
    n.d.embed_dim = E, n.d.heads = 2;
    const clattn_mha_weights hw = {w, w, w, w, NULL, NULL, NULL, NULL, NULL, NULL};
    clattn_mha_layer *layer = NULL;
    st = clattn_mha_layer_create(ctx, (const clattn_mha_layer_desc *)&n, &hw, &layer);
    TU_CHECK(st == CLATTN_SUCCESS, "newer layer caller with zero extra fields: %s %s",
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
    n.future = 1;
    clattn_mha_layer *refused = (clattn_mha_layer *)&n;
    st = clattn_mha_layer_create(ctx, (const clattn_mha_layer_desc *)&n, &hw, &refused);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && refused == NULL,
             "newer layer caller setting an unknown field: UNSUPPORTED: %s",
             clattn_context_last_error(ctx));
    if (!layer) return;
    struct {
        clattn_mha_forward_desc d;
        int64_t future;
    } f;
    memset(&f, GUARD, sizeof f);
    st = clattn_mha_forward_desc_init((clattn_mha_forward_desc *)&f, sizeof f);
    f.d.batch = 1, f.d.seq = 2;
    tu_poison(y, 2 * E);
    st = clattn_mha_layer_forward_host(layer, (const clattn_mha_forward_desc *)&f, x, y);
    TU_CHECK(st == CLATTN_SUCCESS && f.future == 0 && f.d.cache == NULL && f.d.lengths == NULL &&
                 !isnan(y[2 * E - 1]),
             "newer forward caller with zero extra fields: %s %s", clattn_status_string(st),
             st ? clattn_context_last_error(ctx) : "");
    f.future = 1;
    tu_poison(y, 2 * E);
    st = clattn_mha_layer_forward_host(layer, (const clattn_mha_forward_desc *)&f, x, y);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && isnan(y[0]),
             "newer forward caller setting an unknown field: UNSUPPORTED, y untouched: %s",
             clattn_context_last_error(ctx));
    clattn_mha_layer_destroy(layer);
}

/* The RoPE descriptor: a newer caller's longer struct works while its extra bytes are zero and
 * is refused, with nothing written, once one is set. */
static void rope_structs(clattn_context *ctx) {
    struct {
        clattn_rope_desc d;
        int64_t future;
    } n;
    memset(&n, GUARD, sizeof n);
    clattn_status st = clattn_rope_desc_init((clattn_rope_desc *)&n, sizeof n);
    TU_CHECK(st == CLATTN_SUCCESS && n.d.struct_size == sizeof n && n.future == 0 &&
                 n.d.theta == 10000.0 && n.d.position_scale == 1.0,
             "newer rope caller: init zeroes the fields it does not know");
    TU_CHECK(clattn_rope_desc_init(&n.d, CLATTN_ROPE_DESC_MIN_SIZE - 1) ==
                 CLATTN_ERROR_INVALID_ARGUMENT,
             "rope desc init below the minimum size: INVALID_ARGUMENT");
    n.d.batch = 1, n.d.heads = 2, n.d.seq = 3, n.d.head_dim = 4;
    float x[24], y[24], y0[24];
    const int32_t pos[3] = {0, 1, 2};
    tu_fill_uniform(x, 24, -1, 1);
    st = clattn_rope_host(ctx, (const clattn_rope_desc *)&n, x, y, pos);
    TU_CHECK(st == CLATTN_SUCCESS && memcmp(y, x, 4 * sizeof(float)) == 0,
             "newer rope caller with zero extra fields: %s %s (position 0 unrotated)",
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
    memcpy(y0, y, sizeof y);
    n.future = 1;
    st = clattn_rope_host(ctx, (const clattn_rope_desc *)&n, x, y, pos);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && memcmp(y, y0, sizeof y) == 0,
             "newer rope caller setting an unknown field: UNSUPPORTED, out unchanged: %s",
             clattn_status_string(st));
}

/* The ring's descriptor at its minimum size (the layout alone) runs with the defaults; a newer
 * caller's field set is refused; the stats are written exactly as far as the caller sized them.
 * One rank (clattn_ring_sdpa_devices over this context) on the problem above: the result is the
 * reference's. */
static void ring_structs(clattn_context *ctx) {
    union {
        clattn_ring_desc d;
        unsigned char bytes[sizeof(clattn_ring_desc) + 64];
    } r;
    memset(&r, GUARD, sizeof r);
    const size_t min = CLATTN_RING_DESC_MIN_SIZE;
    clattn_status st = clattn_ring_desc_init(&r.d, min);
    TU_CHECK(st == CLATTN_SUCCESS && r.d.struct_size == min && r.d.layout == CLATTN_RING_ZIGZAG &&
                 guard_intact(r.bytes, min, sizeof r.bytes),
             "older ring caller: init writes its %zu bytes only", min);
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = B, d.heads = HQ, d.kv_heads = HKV, d.seq_q = d.seq_kv = S, d.head_dim = D;
    d.causal = 1;
    const cl_mem_flags f = CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR;
    cl_context cl = clattn_context_cl_context(ctx);
    cl_int err;
    cl_mem dq = clCreateBuffer(cl, f, sizeof(float) * B * HQ * S * D, q, &err);
    cl_mem dk = clCreateBuffer(cl, f, sizeof(float) * B * HKV * S * D, k, &err);
    cl_mem dv = clCreateBuffer(cl, f, sizeof(float) * B * HKV * S * D, v, &err);
    float *out = tu_alloc_floats(B * HQ * S * D);
    tu_poison(out, B * HQ * S * D);
    cl_mem dout = clCreateBuffer(cl, f, sizeof(float) * B * HQ * S * D, out, &err);
    const clattn_sdpa_desc *dp = &d;
    st = clattn_ring_sdpa_devices(1, &ctx, &dp, &r.d, &dq, &dk, &dv, &dout, NULL);
    clEnqueueReadBuffer(clattn_context_queue(ctx), dout, CL_TRUE, 0, sizeof(float) * B * HQ * S * D,
                        out, 0, NULL, NULL);
    TU_CHECK(st == CLATTN_SUCCESS && tu_compare("out", out, rout, B * HQ * S * D, 1e-5, 1e-4),
             "older ring caller: one rank runs with the defaults: %s %s", clattn_status_string(st),
             st ? clattn_context_last_error(ctx) : "");
    /* A newer caller: zero extra bytes work, a set one is refused. */
    memset(&r, 0, sizeof r);
    clattn_ring_desc_init(&r.d, sizeof r.bytes);
    unsigned char stats[sizeof(clattn_ring_stats) + 32];
    memset(stats, GUARD, sizeof stats);
    const size_t ss = CLATTN_RING_STATS_MIN_SIZE;
    r.d.stats = (clattn_ring_stats *)stats;
    r.d.stats_size = ss;
    st = clattn_ring_sdpa_devices(1, &ctx, &dp, &r.d, &dq, &dk, &dv, &dout, NULL);
    clattn_ring_stats full;
    memcpy(&full, stats, ss);
    TU_CHECK(st == CLATTN_SUCCESS && guard_intact(stats, ss, sizeof stats) && full.ranks == 1 &&
                 full.steps == 1 && full.pieces_computed == 3,
             "newer ring caller with zero extra bytes; stats written to their %zu bytes only "
             "(1 rank, 1 step, %lld pieces): %s",
             ss, (long long)full.pieces_computed, clattn_status_string(st));
    r.bytes[sizeof(clattn_ring_desc) + 3] = 1;
    st = clattn_ring_sdpa_devices(1, &ctx, &dp, &r.d, &dq, &dk, &dv, &dout, NULL);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED, "newer ring caller setting an unknown field: %s",
             clattn_status_string(st));
    r.bytes[sizeof(clattn_ring_desc) + 3] = 0;
    r.d.stats_size = ss - 1;
    st = clattn_ring_sdpa_devices(1, &ctx, &dp, &r.d, &dq, &dk, &dv, &dout, NULL);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "ring stats below the minimum size: %s",
             clattn_status_string(st));
    free(out);
    clReleaseMemObject(dq);
    clReleaseMemObject(dk);
    clReleaseMemObject(dv);
    clReleaseMemObject(dout);
}

/* The general RNN's two descriptors (clattn_rnn.h): the first version's layout is fixed here;
 * init writes exactly the caller's size; a newer caller's longer struct works while its extra
 * bytes are zero and is refused (UNSUPPORTED, nothing created or written) once one is set. */
_Static_assert(sizeof(clattn_rnn_desc) == 48 && offsetof(clattn_rnn_desc, input_dim) == 16 &&
                   offsetof(clattn_rnn_desc, has_bias) == 40,
               "clattn_rnn_desc's first version");
_Static_assert(sizeof(clattn_rnn_forward_desc) == 40 &&
                   offsetof(clattn_rnn_forward_desc, lengths) == 24 &&
                   offsetof(clattn_rnn_forward_desc, algo) == 36,
               "clattn_rnn_forward_desc's first version");
static void rnn_structs(clattn_context *ctx) {
    enum { DIN = 3, HID = 2, BB = 2, TT = 3 };
    float wih[2][3 * HID * DIN], whh[2][3 * HID * HID], x[BB * TT * DIN], out[BB * TT * 2 * HID];
    float out0[BB * TT * 2 * HID];
    for (int dir = 0; dir < 2; dir++) {
        tu_fill_uniform(wih[dir], 3 * HID * DIN, -0.5f, 0.5f);
        tu_fill_uniform(whh[dir], 3 * HID * HID, -0.5f, 0.5f);
    }
    tu_fill_uniform(x, BB * TT * DIN, -1.0f, 1.0f);
    const clattn_rnn_host_weights w[2] = {{wih[0], whh[0], NULL, NULL},
                                          {wih[1], whh[1], NULL, NULL}};
    union {
        clattn_rnn_desc d;
        unsigned char bytes[sizeof(clattn_rnn_desc) + 32];
    } r;
    union {
        clattn_rnn_forward_desc d;
        unsigned char bytes[sizeof(clattn_rnn_forward_desc) + 32];
    } f;
    memset(r.bytes, GUARD, sizeof r.bytes);
    memset(f.bytes, GUARD, sizeof f.bytes);
    clattn_status st = clattn_rnn_desc_init(&r.d, sizeof r.d);
    TU_CHECK(st == CLATTN_SUCCESS && r.d.struct_size == sizeof r.d && r.d.num_layers == 1 &&
                 r.d.bidirectional == 1 && r.d.has_bias == 1 &&
                 guard_intact(r.bytes, sizeof r.d, sizeof r.bytes) &&
                 clattn_rnn_forward_desc_init(&f.d, sizeof f.d) == CLATTN_SUCCESS &&
                 guard_intact(f.bytes, sizeof f.d, sizeof f.bytes),
             "rnn descriptors: init writes exactly the caller's size, with the defaults");
    /* Newer callers: 16 more bytes, zero. */
    clattn_rnn_desc_init(&r.d, sizeof r.d + 16);
    clattn_rnn_forward_desc_init(&f.d, sizeof f.d + 16);
    r.d.input_dim = DIN, r.d.hidden = HID;
    f.d.batch = BB, f.d.seq = TT;
    clattn_rnn *rnn = NULL;
    st = clattn_rnn_create(ctx, &r.d, w, &rnn);
    if (!st) st = clattn_rnn_forward_host(rnn, &f.d, x, NULL, NULL, out, NULL, NULL);
    TU_CHECK(st == CLATTN_SUCCESS, "newer rnn callers with zero extra bytes: %s %s",
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
    tu_poison(out, BB * TT * 2 * HID);
    memcpy(out0, out, sizeof out);
    f.bytes[sizeof f.d + 5] = 1;
    st = clattn_rnn_forward_host(rnn, &f.d, x, NULL, NULL, out, NULL, NULL);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && memcmp(out, out0, sizeof out) == 0,
             "newer rnn forward caller setting an unknown field: %s", clattn_status_string(st));
    clattn_rnn_destroy(rnn);
    rnn = NULL;
    r.bytes[sizeof r.d + 2] = 1;
    st = clattn_rnn_create(ctx, &r.d, w, &rnn);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && rnn == NULL,
             "newer rnn caller setting an unknown field: %s", clattn_status_string(st));
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    make_problem();
    older_sdpa_caller(ctx);
    newer_sdpa_caller(ctx);
    older_additive_caller(ctx);
    combine_callers(ctx);
    device_list();
    output_getters(ctx);
    kv_cache_structs(ctx);
    layer_structs(ctx);
    rope_structs(ctx);
    ring_structs(ctx);
    rnn_structs(ctx);
    clattn_context_destroy(ctx);
    free(q), free(k), free(v), free(rout), free(rlse);
    return tu_finish();
}
