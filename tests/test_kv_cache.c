/* test_kv_cache.c: the KV cache (include/clattn_kv_cache.h) against the float64 reference, on
 * a host shadow of what it must hold (the appended values rounded to its storage type). Caches
 * paged (pages of 16 and 7 tokens, which divide neither the capacity nor the lengths, one with a
 * pool too small for every slot) and contiguous; f32, f16 and bf16; Hq/Hkv 8/8 and 12/3; D 64
 * and 80. Four steps of interleaved appends (different counts per sequence, a count of 0, a
 * strided [n, T, Hkv, D] input, the device form behind a user event) and resets (a reset then
 * re-append), with sequences at length 0 and at capacity; after each step, attention over the
 * slots in permuted order for Sq = 1 and 5 (the decode kernels read the pages: CPU flavour, and
 * GPU flavour through tu_gpu_context) and Sq = 40 (prefill: the pages gathered, then flash2),
 * causal, and with a mask, window, softcap and ALiBi on one cache. Two more f32 caches (paged
 * by 5, and contiguous) rotate K as it is appended (RoPE: NEOX on 48 of 64 dims with position
 * scale 0.5, GPT-J on all with theta 5e5), their shadows holding K rotated by the reference
 * (tests/ref/rope_ref.c) at each row's position in its sequence, which restarts at 0 after a
 * reset. Outputs poisoned, every element checked; the pool's free pages checked against the
 * shadow. Bad input refused with a
 * status and nothing changed: capacity overflow and pool exhaustion (lengths, free pages and a
 * later attention result bit for bit as before), slots out of range or named twice, negative
 * and too-large counts, a too-small buffer, mismatched dims and dtypes, NULL pointers, bad
 * descriptors, bad rotation settings (and a rotation for a cache of odd head_dim). */
#include "rope_ref.h"
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SLOTS = 4, CAP = 100, MAX_SQ = 40 }; /* 40 rows: past the decode kernels' 32 */

typedef struct {
    const char *name;
    int64_t Hq, Hkv, D, page_size, num_pages;
    clattn_dtype dtype;
    int strided; /* appends in [n, T, Hkv, D] layout */
    int options; /* mask, window, softcap and ALiBi on the decode-sized calls */
    /* RoPE on append (rope_theta 0: none): style, rotated dims (0: all), position scale */
    double rope_theta;
    clattn_rope_style rope_style;
    int64_t rope_dim;
    double rope_scale;
} cache_case;

/* The host shadow: what the cache must hold. */
typedef struct {
    const cache_case *c;
    clattn_kv_cache *cache;
    clattn_context *ctx;
    int gpu;     /* the context plans the GPU flavour */
    int prefill; /* run the prefill-sized calls and the refusals (first context) */
    int32_t len[SLOTS];
    float *k, *v;  /* [SLOTS, Hkv, CAP, D], values as stored */
    float *slopes; /* [Hq] */
} shadow;

static const char *dt_name(clattn_dtype t) {
    return t == CLATTN_DTYPE_F16 ? "f16" : t == CLATTN_DTYPE_BF16 ? "bf16" : "f32";
}

static int64_t pages_for(const cache_case *c, int64_t len) {
    return c->page_size ? (len + c->page_size - 1) / c->page_size : 1;
}

/* Appends counts[i] random tokens to slots[i] (host form, or the device form behind a user
 * event when `device`), mirrors them in the shadow and checks the status. */
static void append(shadow *s, int n, const int32_t *slots, const int32_t *counts, int device) {
    const cache_case *c = s->c;
    int32_t T = 0;
    for (int i = 0; i < n; i++) T = counts[i] > T ? counts[i] : T;
    const int64_t ne = (int64_t)n * c->Hkv * (T ? T : 1) * c->D;
    float *k = tu_alloc_floats(ne), *v = tu_alloc_floats(ne);
    tu_fill_normal(k, ne, 1.0f);
    tu_fill_normal(v, ne, 1.0f);
    clattn_kv_append_desc d;
    clattn_kv_append_desc_init(&d, sizeof d);
    d.num_seqs = n, d.slots = slots, d.counts = counts;
    d.rope_theta = c->rope_theta, d.rope_style = c->rope_style, d.rope_dim = c->rope_dim;
    d.rope_position_scale = c->rope_theta ? c->rope_scale : 1.0;
    /* element (i, h, t, e) of the new K/V */
    int64_t st[3] = {c->Hkv * T * c->D, T * c->D, c->D};
    if (c->strided) {
        const int64_t bthd[3] = {T * c->Hkv * c->D, c->D, c->Hkv * c->D};
        memcpy(st, bthd, sizeof st);
        memcpy(d.k_strides, bthd, sizeof bthd);
        memcpy(d.v_strides, bthd, sizeof bthd);
    }
    clattn_status status;
    if (device) {
        clattn_context *ctx = s->ctx;
        cl_context clc = clattn_context_cl_context(ctx);
        cl_int err;
        cl_mem dk = clCreateBuffer(clc, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                   (size_t)ne * sizeof(float), k, &err);
        cl_mem dv = clCreateBuffer(clc, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                   (size_t)ne * sizeof(float), v, &err);
        cl_event gate = clCreateUserEvent(clc, &err), done = NULL;
        status = clattn_kv_cache_append(s->cache, &d, dk, dv, 1, &gate, &done);
        int32_t lens[SLOTS];
        clattn_kv_cache_lengths(s->cache, lens, SLOTS);
        int advanced = 1;
        for (int i = 0; i < n; i++) advanced &= lens[slots[i]] == s->len[slots[i]] + counts[i];
        TU_CHECK(status == CLATTN_SUCCESS && done && advanced,
                 "%s: device-form append behind a user event: lengths advance at once (%s)",
                 c->name, clattn_context_last_error(ctx));
        clSetUserEventStatus(gate, CL_COMPLETE);
        if (done) clWaitForEvents(1, &done);
        if (done) clReleaseEvent(done);
        clReleaseEvent(gate);
        clReleaseMemObject(dk);
        clReleaseMemObject(dv);
    } else {
        status = clattn_kv_cache_append_host(s->cache, &d, k, v);
    }
    TU_CHECK(status == CLATTN_SUCCESS, "%s: append to %d sequences: %s %s", c->name, n,
             clattn_status_string(status), status ? clattn_context_last_error(s->ctx) : "");
    double *row = tu_alloc_zeroed((size_t)c->D * sizeof *row);
    for (int i = 0; status == CLATTN_SUCCESS && i < n; i++) {
        for (int64_t h = 0; h < c->Hkv; h++)
            for (int64_t t = 0; t < counts[i]; t++) {
                const int64_t from = i * st[0] + h * st[1] + t * st[2];
                const int64_t to = ((slots[i] * c->Hkv + h) * CAP + s->len[slots[i]] + t) * c->D;
                /* K as the cache must hold it: rotated at its position in the sequence */
                for (int64_t e = 0; e < c->D; e++) row[e] = k[from + e];
                if (c->rope_theta)
                    rope_ref_row(c->D, c->rope_dim ? c->rope_dim : c->D,
                                 c->rope_style == CLATTN_ROPE_GPTJ, c->rope_theta, c->rope_scale,
                                 (int32_t)(s->len[slots[i]] + t), k + from, row);
                for (int64_t e = 0; e < c->D; e++) {
                    s->k[to + e] = tu_round_to(c->dtype, (float)row[e]);
                    s->v[to + e] = tu_round_to(c->dtype, v[from + e]);
                }
            }
        s->len[slots[i]] += counts[i];
    }
    free(k), free(v), free(row);
}

static void reset(shadow *s, int32_t slot) {
    clattn_status st = clattn_kv_cache_reset(s->cache, slot);
    TU_CHECK(st == CLATTN_SUCCESS, "%s: reset slot %d", s->c->name, (int)slot);
    s->len[slot] = 0;
}

/* Lengths and the pool's free pages agree with the shadow. */
static void check_state(shadow *s, const char *when) {
    const cache_case *c = s->c;
    int32_t lens[SLOTS];
    clattn_kv_cache_info info;
    clattn_status st = clattn_kv_cache_lengths(s->cache, lens, SLOTS);
    clattn_status st2 = clattn_kv_cache_get_info(s->cache, &info, sizeof info);
    int64_t used = 0, tokens = 0;
    for (int i = 0; i < SLOTS; i++) used += c->page_size ? pages_for(c, s->len[i]) : 0;
    for (int i = 0; i < SLOTS; i++) tokens += s->len[i];
    const int64_t pool =
        c->page_size ? (c->num_pages ? c->num_pages : SLOTS * pages_for(c, CAP)) : SLOTS;
    TU_CHECK(st == CLATTN_SUCCESS && st2 == CLATTN_SUCCESS && !memcmp(lens, s->len, sizeof lens) &&
                 info.free_pages == (c->page_size ? pool - used : 0) && info.num_pages == pool &&
                 info.tokens == tokens && info.paged == !!c->page_size,
             "%s %s: lengths %d,%d,%d,%d; %lld of %lld pages free", c->name, when, (int)lens[0],
             (int)lens[1], (int)lens[2], (int)lens[3], (long long)info.free_pages,
             (long long)info.num_pages);
}

/* Attention of Sq new queries over `slots` (B of them), random ones or q_in; compares with the
 * reference unless `keep` is given, in which case the output and lse are copied there (for
 * bitwise checks). */
static void attend(shadow *s, int B, const int32_t *slots, int64_t Sq, int causal, int options,
                   const float *q_in, float *keep) {
    const cache_case *c = s->c;
    int32_t lens[SLOTS];
    int64_t Skv = 1;
    for (int b = 0; b < B; b++) lens[b] = s->len[slots[b]];
    for (int b = 0; b < B; b++) Skv = lens[b] > Skv ? lens[b] : Skv;
    const int64_t nq = B * c->Hq * Sq * c->D, nl = B * c->Hq * Sq, nm = options ? nl * Skv : 0;
    float *q = tu_alloc_floats(nq), *o = tu_alloc_floats(nq), *l = tu_alloc_floats(nl);
    float *m = options ? tu_alloc_floats(nm) : NULL;
    if (q_in)
        memcpy(q, q_in, (size_t)nq * sizeof(float));
    else
        tu_fill_normal(q, nq, 1.0f);
    tu_poison(o, nq);
    tu_poison(l, nl);
    if (m) {
        tu_fill_uniform(m, nm, -2.0f, 2.0f);
        for (int64_t i = 0; i < nm; i++)
            if (tu_uniform() < 0.2) m[i] = -INFINITY;
    }
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = B, d.heads = c->Hq, d.seq_q = Sq, d.head_dim = c->D, d.causal = causal;
    d.has_mask = options;
    if (options) {
        d.window = 1, d.window_left = 20, d.window_right = 0, d.softcap = 4.0f;
        d.alibi_slopes = s->slopes;
    }
    char label[160];
    snprintf(label, sizeof label, "%s%s: B%d Sq%lld%s%s lens %d,%d,%d,%d", c->name,
             s->gpu ? " (gpu)" : "", B, (long long)Sq, causal ? " causal" : "",
             options ? " mask+window+softcap+alibi" : "", (int)lens[0], (int)(B > 1 ? lens[1] : -1),
             (int)(B > 2 ? lens[2] : -1), (int)(B > 3 ? lens[3] : -1));
    clattn_sdpa_plan plan;
    clattn_status st = clattn_kv_cache_plan_get(s->cache, &d, slots, &plan, sizeof plan);
    const int decode = Sq * (c->Hq / c->Hkv) <= 32; /* src/sdpa/plan.h: CLATTN_DECODE_MAX_ROWS */
    TU_CHECK(st == CLATTN_SUCCESS &&
                 plan.algo == (decode ? CLATTN_ALGO_DECODE : CLATTN_ALGO_FLASH2) &&
                 plan.flavour == (s->gpu ? CLATTN_FLAVOUR_GPU : CLATTN_FLAVOUR_CPU),
             "%s: AUTO plans %s", label, decode ? "decode" : "flash2");
    st = clattn_kv_cache_attention_host(s->cache, &d, slots, q, m, o, l);
    if (TU_CHECK(st == CLATTN_SUCCESS, "%s: status %s %s", label, clattn_status_string(st),
                 st ? clattn_context_last_error(s->ctx) : "") &&
        !keep) {
        /* The reference on the shadow, gathered contiguous [B, Hkv, Skv, D]. */
        const int64_t nk = B * c->Hkv * Skv * c->D;
        float *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nk);
        for (int b = 0; b < B; b++)
            for (int64_t h = 0; h < c->Hkv; h++)
                for (int64_t j = 0; j < Skv; j++)
                    for (int64_t e = 0; e < c->D; e++) {
                        const int64_t to = ((b * c->Hkv + h) * Skv + j) * c->D + e;
                        const int64_t from = ((slots[b] * c->Hkv + h) * CAP + j) * c->D + e;
                        k[to] = j < lens[b] ? s->k[from] : 0.0f;
                        v[to] = j < lens[b] ? s->v[from] : 0.0f;
                    }
        sdpa_ref_problem rp;
        memset(&rp, 0, sizeof rp);
        rp.B = B, rp.Hq = c->Hq, rp.Hkv = c->Hkv, rp.Sq = Sq, rp.Skv = Skv;
        rp.D = rp.Dv = c->D;
        rp.scale = 1.0 / sqrt((double)c->D);
        rp.causal = causal;
        rp.q = q, rp.k = k, rp.v = v, rp.mask = m, rp.kv_lens = lens;
        sdpa_ref_contiguous(c->Hq, Sq, c->D, rp.q_st);
        sdpa_ref_contiguous(c->Hkv, Skv, c->D, rp.k_st);
        sdpa_ref_contiguous(c->Hkv, Skv, c->D, rp.v_st);
        if (m) sdpa_ref_mask_strides(B, c->Hq, c->Hq, Sq, Skv, rp.m_st);
        if (options) {
            rp.window = 1, rp.window_left = 20, rp.window_right = 0, rp.softcap = 4.0;
            rp.alibi = s->slopes, rp.alibi_sb = 0;
        }
        double *ro = tu_alloc_zeroed((size_t)nq * sizeof(double)),
               *rl = tu_alloc_zeroed((size_t)nl * sizeof(double));
        if (sdpa_ref(&rp, ro, rl)) {
            printf("FAIL: reference allocation\n");
            exit(1);
        }
        TU_CHECK(tu_compare("out", o, ro, nq, 2e-4, 1e-3), "%s: out matches", label);
        TU_CHECK(tu_compare("lse", l, rl, nl, 1e-3, 1e-4), "%s: lse matches", label);
        free(k), free(v), free(ro), free(rl);
    }
    if (keep) {
        memcpy(keep, o, (size_t)nq * sizeof(float));
        memcpy(keep + nq, l, (size_t)nl * sizeof(float));
    }
    free(q), free(o), free(l), free(m);
}

/* After each step: attention over every slot (permuted) for the decode sizes, and a prefill
 * over some (CPU context only: it is the flash2 path there on gathered pages). */
static void attend_all(shadow *s) {
    static const int32_t all[4] = {3, 1, 0, 2}, some[3] = {0, 2, 1};
    const int opt = s->c->options;
    attend(s, 4, all, 1, 0, opt, NULL, NULL);
    if (5 * (s->c->Hq / s->c->Hkv) <= 16 || s->prefill) attend(s, 3, some, 5, 1, opt, NULL, NULL);
    if (s->prefill) attend(s, 4, all, MAX_SQ, 1, 0, NULL, NULL);
}

/* Every refusal leaves lengths, pages and results as they were. */
static void refusals(shadow *s) {
    const cache_case *c = s->c;
    clattn_context *ctx = s->ctx;
    static const int32_t all[4] = {0, 1, 2, 3};
    const int64_t nres = (int64_t)SLOTS * c->Hq * (c->D + 1);
    float *before = tu_alloc_floats(nres), *after = tu_alloc_floats(nres);
    float *q1 = tu_alloc_floats(SLOTS * c->Hq * c->D);
    tu_fill_normal(q1, SLOTS * c->Hq * c->D, 1.0f);
    attend(s, SLOTS, all, 1, 0, 0, q1, before);
    float *k = tu_alloc_floats(2 * CAP * c->Hkv * c->D),
          *v = tu_alloc_floats(2 * CAP * c->Hkv * c->D);
    tu_fill_normal(k, 2 * CAP * c->Hkv * c->D, 1.0f);
    tu_fill_normal(v, 2 * CAP * c->Hkv * c->D, 1.0f);
    clattn_kv_append_desc d;
    clattn_kv_append_desc_init(&d, sizeof d);
    struct {
        const char *what;
        int n;
        int32_t slots[2], counts[2];
        clattn_status want;
    } bad[] = {
        {"slot past the last", 1, {SLOTS, 0}, {1, 0}, CLATTN_ERROR_INVALID_ARGUMENT},
        {"negative slot", 1, {-1, 0}, {1, 0}, CLATTN_ERROR_INVALID_ARGUMENT},
        {"a slot named twice", 2, {1, 1}, {1, 1}, CLATTN_ERROR_INVALID_ARGUMENT},
        {"a negative count", 2, {0, 1}, {1, -1}, CLATTN_ERROR_INVALID_ARGUMENT},
        {"past the capacity",
         2,
         {0, 3},
         {1, (int32_t)(CAP - s->len[3] + 1)},
         CLATTN_ERROR_INVALID_ARGUMENT},
        {"pool exhaustion", 1, {0, 0}, {0, 0}, CLATTN_ERROR_OUT_OF_MEMORY},
    };
    const int nbad = c->page_size && c->num_pages ? 6 : 5;
    /* exhaustion: the shortest sequence grown to capacity needs more pages than are free */
    int64_t used = 0;
    for (int i = 0; i < SLOTS; i++) used += pages_for(c, s->len[i]);
    const int64_t free_pages = c->num_pages - used;
    int32_t shortest = 0;
    for (int i = 1; i < SLOTS; i++) shortest = s->len[i] < s->len[shortest] ? i : shortest;
    bad[5].slots[0] = shortest;
    bad[5].counts[0] = CAP - s->len[shortest];
    if (nbad == 6 && !TU_CHECK(pages_for(c, CAP) - pages_for(c, s->len[shortest]) > free_pages,
                               "%s: the pool is small enough to exhaust (%lld free)", c->name,
                               (long long)free_pages))
        return;
    for (int i = 0; i < nbad; i++) {
        d.num_seqs = bad[i].n, d.slots = bad[i].slots, d.counts = bad[i].counts;
        d.seq = CAP;
        clattn_status st = clattn_kv_cache_append_host(s->cache, &d, k, v);
        TU_CHECK(st == bad[i].want, "%s: append with %s refused: %s: %s", c->name, bad[i].what,
                 clattn_status_string(st), clattn_context_last_error(ctx));
        check_state(s, "after the refusal");
    }
    d.num_seqs = 1, d.slots = all, d.counts = (const int32_t[]){1}, d.seq = 0;
    clattn_status st = clattn_kv_cache_append_host(s->cache, NULL, k, v);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "%s: NULL append desc refused", c->name);
    st = clattn_kv_cache_append_host(s->cache, &d, NULL, v);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "%s: NULL k refused", c->name);
    TU_CHECK(clattn_kv_cache_append_host(NULL, &d, k, v) == CLATTN_ERROR_INVALID_ARGUMENT,
             "%s: NULL cache refused", c->name);
    d.slots = NULL;
    st = clattn_kv_cache_append_host(s->cache, &d, k, v);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "%s: NULL slots refused: %s", c->name,
             clattn_context_last_error(ctx));
    d.slots = all, d.seq = 0, d.counts = (const int32_t[]){3};
    d.k_strides[2] = c->D - 1;
    st = clattn_kv_cache_append_host(s->cache, &d, k, v);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "%s: a token stride below D refused: %s", c->name,
             clattn_context_last_error(ctx));
    d.k_strides[2] = 0;
    {
        cl_int err;
        cl_mem small = clCreateBuffer(clattn_context_cl_context(ctx), CL_MEM_READ_ONLY,
                                      (size_t)(3 * c->Hkv * c->D - 1) * sizeof(float), NULL, &err);
        cl_mem big = clCreateBuffer(clattn_context_cl_context(ctx), CL_MEM_READ_ONLY,
                                    (size_t)(3 * c->Hkv * c->D) * sizeof(float), NULL, &err);
        cl_event ev = (cl_event)1;
        st = clattn_kv_cache_append(s->cache, &d, small, big, 0, NULL, &ev);
        TU_CHECK(st == CLATTN_ERROR_BUFFER_TOO_SMALL && ev == NULL,
                 "%s: a new-k buffer one float short refused: %s", c->name,
                 clattn_context_last_error(ctx));
        clReleaseMemObject(small);
        clReleaseMemObject(big);
    }
    /* Rotation settings the cache refuses (whether or not this cache rotates). */
    const struct {
        const char *what;
        double theta, scale;
        int style;
        int64_t dim;
    } rbad[] = {
        {"rope_theta -1", -1.0, 1.0, 0, 0},
        {"rope_theta NaN", NAN, 1.0, 0, 0},
        {"rope_theta inf", INFINITY, 1.0, 0, 0},
        {"an odd rope_dim", 1e4, 1.0, 0, 5},
        {"rope_dim past head_dim", 1e4, 1.0, 0, c->D + 2},
        {"rope_style 3", 1e4, 1.0, 3, 0},
        {"rope_position_scale 0", 1e4, 0.0, 0, 0},
        {"rope_position_scale NaN", 1e4, NAN, 0, 0},
    };
    for (size_t i = 0; i < sizeof rbad / sizeof rbad[0]; i++) {
        clattn_kv_append_desc rd = d;
        rd.rope_theta = rbad[i].theta, rd.rope_position_scale = rbad[i].scale;
        rd.rope_style = (clattn_rope_style)rbad[i].style, rd.rope_dim = rbad[i].dim;
        st = clattn_kv_cache_append_host(s->cache, &rd, k, v);
        TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "%s: append with %s refused: %s", c->name,
                 rbad[i].what, clattn_context_last_error(ctx));
    }
    check_state(s, "after the refused appends");

    /* Attention calls that disagree with the cache. */
    float q[16 * 80], o[16 * 80];
    tu_fill_normal(q, 16 * 80, 1.0f);
    clattn_sdpa_desc ad;
    struct {
        const char *what;
        int64_t heads, kv_heads, head_dim, head_dim_v, seq_kv;
        clattn_dtype kv_dtype;
        int slot;
        clattn_status want;
    } abad[] = {
        {"head_dim D + 1", c->Hq, 0, c->D + 1, 0, 0, CLATTN_DTYPE_F32, 0,
         CLATTN_ERROR_SHAPE_MISMATCH},
        {"kv_heads Hkv * 2", c->Hq, c->Hkv * 2, 0, 0, 0, CLATTN_DTYPE_F32, 0,
         CLATTN_ERROR_SHAPE_MISMATCH},
        {"head_dim_v D / 2", c->Hq, 0, 0, c->D / 2, 0, CLATTN_DTYPE_F32, 0,
         CLATTN_ERROR_SHAPE_MISMATCH},
        {"another kv_dtype", c->Hq, 0, 0, 0, 0,
         c->dtype == CLATTN_DTYPE_BF16 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_BF16, 0,
         CLATTN_ERROR_SHAPE_MISMATCH},
        {"heads not a multiple of kv_heads", c->Hkv + 1, 0, 0, 0, 0, CLATTN_DTYPE_F32, 0,
         CLATTN_ERROR_SHAPE_MISMATCH},
        {"seq_kv below a length", c->Hq, 0, 0, 0, 1, CLATTN_DTYPE_F32, 3,
         CLATTN_ERROR_INVALID_ARGUMENT},
        {"slot past the last", c->Hq, 0, 0, 0, 0, CLATTN_DTYPE_F32, SLOTS,
         CLATTN_ERROR_INVALID_ARGUMENT},
    };
    for (size_t i = 0; i < sizeof abad / sizeof abad[0]; i++) {
        clattn_sdpa_desc_init(&ad, sizeof ad);
        ad.batch = 1, ad.heads = abad[i].heads, ad.kv_heads = abad[i].kv_heads, ad.seq_q = 1;
        ad.head_dim = abad[i].head_dim, ad.head_dim_v = abad[i].head_dim_v;
        ad.seq_kv = abad[i].seq_kv, ad.kv_dtype = abad[i].kv_dtype;
        const int32_t slot = abad[i].slot;
        tu_poison(o, 16 * 80);
        st = clattn_kv_cache_attention_host(s->cache, &ad, &slot, q, NULL, o, NULL);
        TU_CHECK(st == abad[i].want && isnan(o[0]) && isnan(o[c->Hq * c->D - 1]),
                 "%s: attention with %s refused, out untouched: %s: %s", c->name, abad[i].what,
                 clattn_status_string(st), clattn_context_last_error(ctx));
    }
    clattn_sdpa_desc_init(&ad, sizeof ad);
    ad.batch = 1, ad.heads = c->Hq, ad.seq_q = 1;
    TU_CHECK(clattn_kv_cache_attention_host(s->cache, &ad, NULL, q, NULL, o, NULL) ==
                     CLATTN_ERROR_INVALID_ARGUMENT &&
                 clattn_kv_cache_attention_host(s->cache, &ad, all, NULL, NULL, o, NULL) ==
                     CLATTN_ERROR_INVALID_ARGUMENT &&
                 clattn_kv_cache_attention(s->cache, &ad, all, NULL, NULL, NULL, NULL, 0, NULL,
                                           NULL) == CLATTN_ERROR_INVALID_ARGUMENT,
             "%s: attention with NULL slots, q or out refused", c->name);
    TU_CHECK(clattn_kv_cache_reset(s->cache, SLOTS) == CLATTN_ERROR_INVALID_ARGUMENT &&
                 clattn_kv_cache_reset(s->cache, -2) == CLATTN_ERROR_INVALID_ARGUMENT &&
                 clattn_kv_cache_lengths(s->cache, (int32_t[SLOTS + 1]){0}, SLOTS + 1) ==
                     CLATTN_ERROR_INVALID_ARGUMENT,
             "%s: reset of slot %d / -2 and lengths of %d slots refused", c->name, SLOTS,
             SLOTS + 1);
    check_state(s, "after every refusal");
    attend(s, SLOTS, all, 1, 0, 0, q1, after);
    TU_CHECK(!memcmp(before, after, (size_t)nres * sizeof(float)),
             "%s: attention after the refusals is bit for bit the one before", c->name);
    free(before), free(after), free(q1), free(k), free(v);
}

static void scenario(clattn_context *ctx, const cache_case *c, int gpu, int first) {
    shadow s;
    memset(&s, 0, sizeof s);
    s.c = c, s.ctx = ctx, s.gpu = gpu, s.prefill = first;
    const int64_t n = (int64_t)SLOTS * c->Hkv * CAP * c->D;
    s.k = tu_alloc_floats(n), s.v = tu_alloc_floats(n), s.slopes = tu_alloc_floats(c->Hq);
    tu_fill_uniform(s.slopes, c->Hq, 0.01f, 0.3f);
    clattn_kv_cache_desc d;
    clattn_kv_cache_desc_init(&d, sizeof d);
    d.slots = SLOTS, d.kv_heads = c->Hkv, d.capacity = CAP, d.head_dim = c->D;
    d.dtype = c->dtype, d.page_size = c->page_size, d.num_pages = c->num_pages;
    clattn_status st = clattn_kv_cache_create(ctx, &d, &s.cache);
    if (!TU_CHECK(st == CLATTN_SUCCESS, "%s%s: create: %s %s", c->name, gpu ? " (gpu)" : "",
                  clattn_status_string(st), st ? clattn_context_last_error(ctx) : ""))
        return;
    check_state(&s, "empty");
    attend_all(&s); /* every sequence empty: out 0, lse -inf */
    /* step 1: two sequences, one long enough to span pages; slots 1 and 3 stay empty */
    append(&s, 2, (const int32_t[]){2, 0}, (const int32_t[]){37, 5}, 0);
    check_state(&s, "after step 1");
    attend_all(&s);
    /* step 2: ragged counts, one of them 0; the device form on the CPU context */
    append(&s, 3, (const int32_t[]){0, 1, 2}, (const int32_t[]){1, 63, 0}, first);
    check_state(&s, "after step 2");
    attend_all(&s);
    /* step 3: a reset and re-append; slot 3 filled to capacity */
    reset(&s, 2);
    check_state(&s, "after the reset");
    append(&s, 3, (const int32_t[]){2, 3, 0}, (const int32_t[]){9, CAP, 1}, 0);
    check_state(&s, "after step 3");
    attend_all(&s);
    /* step 4: two appends in a row */
    append(&s, 2, (const int32_t[]){1, 2}, (const int32_t[]){1, 50}, 0);
    append(&s, 1, (const int32_t[]){0}, (const int32_t[]){30}, 0);
    check_state(&s, "after step 4");
    attend_all(&s);
    if (first) refusals(&s);
    /* every slot reset gives every page back */
    st = clattn_kv_cache_reset(s.cache, -1);
    memset(s.len, 0, sizeof s.len);
    TU_CHECK(st == CLATTN_SUCCESS, "%s: reset of every slot", c->name);
    check_state(&s, "after resetting every slot");
    clattn_kv_cache_destroy(s.cache);
    free(s.k), free(s.v), free(s.slopes);
}

/* A rotating append to a cache of odd head_dim: refused, nothing appended. */
static void rope_odd_head_dim(clattn_context *ctx) {
    clattn_kv_cache_desc cd;
    clattn_kv_cache_desc_init(&cd, sizeof cd);
    cd.slots = 1, cd.kv_heads = 1, cd.capacity = 4, cd.head_dim = 5;
    clattn_kv_cache *cache = NULL;
    clattn_status st = clattn_kv_cache_create(ctx, &cd, &cache);
    const int32_t slot = 0, count = 1;
    const float kv[5] = {1, 2, 3, 4, 5};
    clattn_kv_append_desc d;
    clattn_kv_append_desc_init(&d, sizeof d);
    d.num_seqs = 1, d.slots = &slot, d.counts = &count, d.rope_theta = 10000.0;
    if (st == CLATTN_SUCCESS) st = clattn_kv_cache_append_host(cache, &d, kv, kv);
    int32_t len = -1;
    clattn_kv_cache_lengths(cache, &len, 1);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT && len == 0,
             "rotating append to a cache of head_dim 5 refused, nothing appended: %s",
             clattn_context_last_error(ctx));
    clattn_kv_cache_destroy(cache);
}

/* Descriptors the cache refuses, and the NULL cases of create. */
static void bad_create(clattn_context *ctx) {
    clattn_kv_cache_desc d;
    clattn_kv_cache *cache = (clattn_kv_cache *)&d;
    struct {
        const char *what;
        int64_t slots, capacity, head_dim, page_size, num_pages;
        int dtype;
    } bad[] = {
        {"0 slots", 0, 10, 64, 0, 0, 0},
        {"capacity 0", 2, 0, 64, 0, 0, 0},
        {"capacity 2^31", 2, (int64_t)1 << 31, 64, 0, 0, 0},
        {"head_dim 257", 2, 10, 257, 0, 0, 0},
        {"page_size past capacity", 2, 10, 64, 11, 0, 0},
        {"negative page_size", 2, 10, 64, -1, 0, 0},
        {"num_pages without pages", 2, 10, 64, 0, 4, 0},
        {"dtype 3", 2, 10, 64, 0, 0, 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clattn_kv_cache_desc_init(&d, sizeof d);
        d.slots = bad[i].slots, d.kv_heads = 2, d.capacity = bad[i].capacity;
        d.head_dim = bad[i].head_dim, d.page_size = bad[i].page_size;
        d.num_pages = bad[i].num_pages, d.dtype = (clattn_dtype)bad[i].dtype;
        cache = (clattn_kv_cache *)&d;
        clattn_status st = clattn_kv_cache_create(ctx, &d, &cache);
        TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT && cache == NULL, "create with %s refused: %s",
                 bad[i].what, clattn_context_last_error(ctx));
    }
    clattn_kv_cache_desc_init(&d, sizeof d);
    d.slots = 2, d.kv_heads = 2, d.capacity = 10, d.head_dim = 8;
    TU_CHECK(clattn_kv_cache_create(ctx, &d, NULL) == CLATTN_ERROR_INVALID_ARGUMENT &&
                 clattn_kv_cache_create(ctx, NULL, &cache) == CLATTN_ERROR_INVALID_ARGUMENT &&
                 clattn_kv_cache_create(NULL, &d, &cache) == CLATTN_ERROR_INVALID_ARGUMENT,
             "create with a NULL out, desc or context refused");
    clattn_kv_cache_destroy(NULL);
}

int main(void) {
    tu_seed();
    static const cache_case cases[] = {
        /* name, Hq, Hkv, D, page_size, num_pages, dtype, strided, options, rope (theta 0: none,
         * style, dims, position scale) */
        {"paged 16, f32, 8/8, D64", 8, 8, 64, 16, 0, CLATTN_DTYPE_F32, 0, 0, 0.0, CLATTN_ROPE_NEOX,
         0, 1.0},
        {"contiguous, f16, 12/3, D80", 12, 3, 80, 0, 0, CLATTN_DTYPE_F16, 1, 0, 0.0,
         CLATTN_ROPE_NEOX, 0, 1.0},
        {"paged 7 of 40, bf16, 8/8, D80", 8, 8, 80, 7, 40, CLATTN_DTYPE_BF16, 0, 1, 0.0,
         CLATTN_ROPE_NEOX, 0, 1.0},
        /* K rotated on append (f32: the shadow's rotation is the reference's, rounded once) */
        {"paged 5, f32, 8/8, D64, RoPE NEOX 48 dims scale 0.5", 8, 8, 64, 5, 0, CLATTN_DTYPE_F32, 1,
         1, 10000.0, CLATTN_ROPE_NEOX, 48, 0.5},
        {"contiguous, f32, 8/8, D64, RoPE GPT-J theta 5e5", 8, 8, 64, 0, 0, CLATTN_DTYPE_F32, 0, 0,
         500000.0, CLATTN_ROPE_GPTJ, 0, 1.0},
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    clattn_context *ctx = tu_context();
    clattn_device_caps caps;
    clattn_context_caps(ctx, &caps, sizeof caps);
    const int native_gpu = caps.local_mem_type == CLATTN_LOCAL_MEM_LOCAL;
    bad_create(ctx);
    rope_odd_head_dim(ctx);
    for (int i = 0; i < ncases; i++) scenario(ctx, &cases[i], native_gpu, 1);
    clattn_context_destroy(ctx);
    if (!native_gpu) { /* the GPU flavour on this device: decode-sized calls */
        ctx = tu_gpu_context(32768);
        for (int i = 0; i < ncases; i++) scenario(ctx, &cases[i], 1, 0);
        clattn_context_destroy(ctx);
    }
    printf("(storage types: %s, %s, %s)\n", dt_name(cases[0].dtype), dt_name(cases[1].dtype),
           dt_name(cases[2].dtype));
    return tu_finish();
}
