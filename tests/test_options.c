/* test_options.c: the attention options (sliding window, ALiBi, softcap, top-left or bottom-right
 * alignment) alone and combined with each other, with causal and with an additive mask, against
 * the float64 reference (tests/ref/sdpa_ref.c), in every algorithm (naive, flash1, flash2) and
 * both kernel flavours (CPU on PoCL as it is; GPU with the local memory overridden to 32 KiB),
 * plus forced tiles whose blocks do not line up with the window, and bad option values refused
 * with nothing written. Fresh random inputs, outputs poisoned, every element checked. */
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int64_t B, Hq, Hkv, Sq, Skv;
    int causal, top_left, window;
    int64_t wl, wr;
    float softcap;
    int alibi;      /* 0 none, 1 slopes [Hq], 2 slopes [B, Hq] */
    int mask;       /* additive [B, Hq, Sq, Skv] mask with -inf entries and one dead row */
    float amp;      /* input scale: large values make the softcap bite */
    int ragged;     /* kv_lens: sequence 0 has no key, 1 has all, the rest in between */
    int64_t offset; /* position_offset */
} ocase;

enum { D = 64 };

static const ocase cases[] = {
    {"window (16, 0) + causal", 1, 4, 2, 113, 113, 1, 0, 1, 16, 0, 0, 0, 0, 1, 0, 0},
    {"window (5, 7), Sq < Skv", 1, 4, 2, 59, 113, 0, 0, 1, 5, 7, 0, 0, 0, 1, 0, 0},
    {"window (0, 0) top-left, Sq > Skv: rows with no key", 1, 2, 1, 113, 59, 0, 1, 1, 0, 0, 0, 0, 0,
     1, 0, 0},
    {"window (-1, 3): open left", 1, 4, 4, 37, 59, 0, 0, 1, -1, 3, 0, 0, 0, 1, 0, 0},
    {"window (4, -1): open right, causal", 1, 4, 1, 59, 59, 1, 0, 1, 4, -1, 0, 0, 0, 1, 0, 0},
    {"causal top-left, Sq < Skv", 1, 4, 2, 37, 59, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0},
    {"causal top-left, Sq > Skv", 1, 4, 2, 59, 37, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0},
    {"causal bottom-right, Sq > Skv", 1, 4, 2, 59, 37, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
    {"ALiBi [Hq] + causal", 1, 4, 2, 59, 113, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0},
    {"ALiBi [B, Hq] + mask, top-left", 2, 4, 2, 37, 59, 0, 1, 0, 0, 0, 0, 2, 1, 1, 0, 0},
    {"softcap 5", 1, 4, 2, 59, 113, 0, 0, 0, 0, 0, 5.0f, 0, 0, 3, 0, 0},
    {"softcap + ALiBi + window + mask + causal", 2, 4, 2, 113, 113, 1, 0, 1, 20, 0, 3.0f, 2, 1, 3,
     0, 0},
    {"ragged kv_lens {0, Skv, ...} + causal, Sq < Skv", 3, 4, 2, 13, 59, 1, 0, 0, 0, 0, 0, 0, 0, 1,
     1, 0},
    {"ragged kv_lens + window + ALiBi [B, Hq] + mask, top-left causal", 3, 2, 1, 37, 113, 1, 1, 1,
     5, 2, 0, 2, 1, 1, 1, 0},
    /* position_offset: a query block placed later (or earlier) along the keys, as a piece of a
     * longer sequence (ring attention) sees them; cases[14] onwards. */
    {"causal top-left, position_offset 23", 1, 4, 2, 37, 59, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 23},
    {"causal, position_offset -50: leading rows see no key", 1, 4, 2, 59, 59, 1, 0, 0, 0, 0, 0, 0,
     0, 1, 0, -50},
    {"window (6, 3) + ALiBi [Hq] + causal, position_offset -17", 1, 4, 2, 59, 113, 1, 0, 1, 6, 3, 0,
     1, 0, 1, 0, -17},
    {"ragged kv_lens + ALiBi [Hq] bottom-right, position_offset 5", 3, 4, 2, 13, 59, 0, 0, 0, 0, 0,
     0, 1, 0, 1, 1, 5},
    {"ALiBi [Hq] + window (9, 2) top-left, Sq 3, position_offset 40", 2, 4, 2, 3, 59, 0, 1, 1, 9, 2,
     0, 1, 0, 1, 0, 40},
    {"window (120, -1) wider than Sq + Skv, top-left, position_offset 150: still bites", 1, 4, 2,
     37, 59, 0, 1, 1, 120, -1, 0, 0, 0, 1, 0, 150},
};

static const char *algo_s(clattn_algo a) {
    return a == CLATTN_ALGO_NAIVE    ? "naive"
           : a == CLATTN_ALGO_FLASH1 ? "flash1"
           : a == CLATTN_ALGO_FLASH2 ? "flash2"
                                     : "decode";
}

/* The ragged lengths of a case: sequence 0 none, 1 all, the rest in between. */
static void ragged_lengths(const ocase *c, int32_t *lens) {
    for (int64_t b = 0; b < c->B; b++)
        lens[b] = b == 0 ? 0 : b == 1 ? (int32_t)c->Skv : (int32_t)((b * 37) % c->Skv + 1);
}

static void fill_desc(clattn_sdpa_desc *d, const ocase *c, const float *slopes,
                      const int32_t *lens) {
    clattn_sdpa_desc_init(d, sizeof *d);
    d->batch = c->B, d->heads = c->Hq, d->kv_heads = c->Hkv, d->seq_q = c->Sq, d->seq_kv = c->Skv;
    d->head_dim = D;
    d->causal = c->causal;
    d->causal_align = c->top_left ? CLATTN_CAUSAL_TOP_LEFT : CLATTN_CAUSAL_BOTTOM_RIGHT;
    d->window = c->window;
    d->window_left = c->wl;
    d->window_right = c->wr;
    d->softcap = c->softcap;
    d->alibi_slopes = c->alibi ? slopes : NULL;
    d->alibi_batch = c->alibi == 2 ? c->B : 0;
    d->has_mask = c->mask;
    d->kv_lens = c->ragged ? lens : NULL;
    d->position_offset = c->offset;
}

static void run(clattn_context *ctx, const char *flavour, const ocase *c, clattn_algo algo,
                int64_t bq, int64_t bkv) {
    char label[256];
    snprintf(label, sizeof label, "%s %s%s: %s", algo_s(algo), flavour, bq ? " (forced tile)" : "",
             c->name);
    const int64_t nq = c->B * c->Hq * c->Sq * D, nk = c->B * c->Hkv * c->Skv * D;
    const int64_t nl = c->B * c->Hq * c->Sq, no = nl * D, nm = c->mask ? nl * c->Skv : 0;
    float *q = tu_alloc_floats(nq), *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nk);
    float *m = c->mask ? tu_alloc_floats(nm) : NULL, *o = tu_alloc_floats(no);
    float *l = tu_alloc_floats(nl), *slopes = tu_alloc_floats(c->B * c->Hq);
    tu_fill_normal(q, nq, c->amp);
    tu_fill_normal(k, nk, c->amp);
    tu_fill_normal(v, nk, 1.0f);
    tu_fill_uniform(slopes, c->B * c->Hq, 0.01f, 0.5f);
    if (m) {
        tu_fill_uniform(m, nm, -2.0f, 2.0f);
        for (int64_t i = 0; i < nm; i++)
            if (tu_uniform() < 0.15) m[i] = -INFINITY;
        for (int64_t j = 0; j < c->Skv; j++) m[(c->Sq / 2) * c->Skv + j] = -INFINITY;
    }
    tu_poison(o, no);
    tu_poison(l, nl);
    int32_t lens[8];
    ragged_lengths(c, lens);
    clattn_sdpa_desc d;
    fill_desc(&d, c, slopes, lens);
    d.algo = algo;
    d.block_q = bq;
    d.block_kv = bkv;
    clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, m, o, l);
    if (TU_CHECK(st == CLATTN_SUCCESS, "%s: status %s %s", label, clattn_status_string(st),
                 st ? clattn_context_last_error(ctx) : "")) {
        sdpa_ref_problem rp;
        memset(&rp, 0, sizeof rp);
        rp.B = c->B, rp.Hq = c->Hq, rp.Hkv = c->Hkv, rp.Sq = c->Sq, rp.Skv = c->Skv;
        rp.D = rp.Dv = D;
        rp.scale = 1.0 / sqrt((double)D);
        rp.causal = c->causal;
        rp.q = q, rp.k = k, rp.v = v, rp.mask = m;
        sdpa_ref_contiguous(c->Hq, c->Sq, D, rp.q_st);
        sdpa_ref_contiguous(c->Hkv, c->Skv, D, rp.k_st);
        sdpa_ref_contiguous(c->Hkv, c->Skv, D, rp.v_st);
        if (m) sdpa_ref_mask_strides(c->B, c->Hq, c->Hq, c->Sq, c->Skv, rp.m_st);
        rp.top_left = c->top_left;
        rp.window = c->window, rp.window_left = c->wl, rp.window_right = c->wr;
        rp.softcap = c->softcap;
        rp.alibi = c->alibi ? slopes : NULL;
        rp.alibi_sb = c->alibi == 2 ? c->Hq : 0;
        rp.kv_lens = c->ragged ? lens : NULL;
        rp.position_offset = c->offset;
        double *ro = malloc((size_t)no * sizeof(double)), *rl = malloc((size_t)nl * sizeof(double));
        if (!ro || !rl || sdpa_ref(&rp, ro, rl)) {
            printf("FAIL: reference allocation\n");
            exit(1);
        }
        const double tol = c->amp > 1.0f ? 2e-3 : 2e-4;
        TU_CHECK(tu_compare("out", o, ro, no, tol, 1e-3), "%s: out matches", label);
        TU_CHECK(tu_compare("lse", l, rl, nl, 1e-3, 1e-4), "%s: lse matches", label);
        free(ro);
        free(rl);
    }
    free(q);
    free(k);
    free(v);
    free(m);
    free(o);
    free(l);
    free(slopes);
}

static void suite(clattn_context *ctx, const char *flavour, int gpu) {
    static const clattn_algo algos[] = {CLATTN_ALGO_NAIVE, CLATTN_ALGO_FLASH1, CLATTN_ALGO_FLASH2};
    const int n = (int)(sizeof cases / sizeof cases[0]);
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < n; i++) run(ctx, flavour, &cases[i], algos[a], 0, 0);
    /* Tiles whose K/V blocks start off the window's edges: 8 and 24 keys on the CPU kernels (the
     * window walks from its first key, not a block boundary), 7x13 on the GPU kernels. */
    for (int a = 1; a < 3; a++) {
        run(ctx, flavour, &cases[0], algos[a], gpu ? 7 : 8, gpu ? 13 : 24);
        run(ctx, flavour, &cases[11], algos[a], gpu ? 7 : 64, gpu ? 13 : 8);
        run(ctx, flavour, &cases[13], algos[a], gpu ? 7 : 16, gpu ? 13 : 16);
    }
    /* The split-KV decode path on the position-offset cases small enough for it (at most 32 query
     * rows per kv head). */
    for (int i = 14; i < n; i++)
        if (cases[i].Sq * (cases[i].Hq / cases[i].Hkv) <= 32)
            run(ctx, flavour, &cases[i], CLATTN_ALGO_DECODE, 0, 0);
}

/* Bad option values: refused with the named status, nothing written. */
static void refusals(clattn_context *ctx) {
    const ocase *c = &cases[9]; /* B = 2, ALiBi [B, Hq], mask */
    const int64_t nq = c->B * c->Hq * c->Sq * D, nk = c->B * c->Hkv * c->Skv * D;
    const int64_t nl = c->B * c->Hq * c->Sq, no = nl * D;
    float *q = tu_alloc_floats(nq), *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nk);
    float *m = tu_alloc_floats(nl * c->Skv), *o = tu_alloc_floats(no), *l = tu_alloc_floats(nl);
    float slopes[8] = {0.5f, 0.25f, 0.125f, 0.0625f, 0.5f, 0.25f, 0.125f, 0.0625f};
    tu_fill_normal(q, nq, 1.0f);
    tu_fill_normal(k, nk, 1.0f);
    tu_fill_normal(v, nk, 1.0f);
    tu_fill_uniform(m, nl * c->Skv, -1.0f, 1.0f);
    static const struct {
        const char *what;
        clattn_status want;
    } bad[] = {{"window_left -2", CLATTN_ERROR_INVALID_ARGUMENT},
               {"softcap -1", CLATTN_ERROR_INVALID_ARGUMENT},
               {"softcap inf", CLATTN_ERROR_INVALID_ARGUMENT},
               {"softcap NaN", CLATTN_ERROR_INVALID_ARGUMENT},
               {"alibi_batch 3 with B = 2", CLATTN_ERROR_SHAPE_MISMATCH},
               {"causal_align 7", CLATTN_ERROR_INVALID_ARGUMENT},
               {"kv_lens[1] = 60 > seq_kv", CLATTN_ERROR_INVALID_ARGUMENT},
               {"position_offset -2^48 - 1", CLATTN_ERROR_INVALID_ARGUMENT},
               /* Skv - Sq + offset past int64 (found by fuzz_api in CI): refused by the size
                  checks, with no signed overflow on the way (UBSan builds trap on one). */
               {"seq_kv INT64_MAX - 1, position_offset 2^48", CLATTN_ERROR_OVERFLOW},
               {"seq_q INT64_MAX - 1, position_offset -2^48", CLATTN_ERROR_OVERFLOW}};
    for (int i = 0; i < 10; i++) {
        clattn_sdpa_desc d;
        int32_t lens[2] = {1, 60}; /* 60 > Skv: used only by the kv_lens case */
        fill_desc(&d, c, slopes, lens);
        if (i == 0) d.window = 1, d.window_left = -2;
        if (i == 1) d.softcap = -1.0f;
        if (i == 2) d.softcap = INFINITY;
        if (i == 3) d.softcap = NAN;
        if (i == 4) d.alibi_batch = 3;
        if (i == 5) d.causal_align = (clattn_causal_align)7;
        if (i == 6) d.kv_lens = lens;
        if (i == 7) d.position_offset = -CLATTN_SDPA_MAX_POSITION_OFFSET - 1;
        if (i == 8) d.seq_kv = INT64_MAX - 1, d.position_offset = CLATTN_SDPA_MAX_POSITION_OFFSET;
        if (i == 9) d.seq_q = INT64_MAX - 1, d.position_offset = -CLATTN_SDPA_MAX_POSITION_OFFSET;
        tu_poison(o, no);
        tu_poison(l, nl);
        float *og = tu_alloc_floats(no);
        memcpy(og, o, (size_t)no * sizeof(float));
        clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, m, o, l);
        TU_CHECK(st == bad[i].want && memcmp(o, og, (size_t)no * sizeof(float)) == 0 &&
                     *clattn_context_last_error(ctx),
                 "%s refused (%s: %s), out untouched", bad[i].what, clattn_status_string(st),
                 clattn_context_last_error(ctx));
        free(og);
    }
    free(q);
    free(k);
    free(v);
    free(m);
    free(o);
    free(l);
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    clattn_device_caps caps;
    clattn_context_caps(ctx, &caps, sizeof caps);
    const int native_gpu = caps.local_mem_type == CLATTN_LOCAL_MEM_LOCAL;
    suite(ctx, native_gpu ? "gpu" : "cpu", native_gpu);
    refusals(ctx);
    clattn_context_destroy(ctx);
    if (!native_gpu) {
        ctx = tu_gpu_context(32768);
        suite(ctx, "gpu", 1);
        clattn_context_destroy(ctx);
    }
    return tu_finish();
}
