/* test_dtypes.c: storage types. q, k/v, out and the additive mask each float32, float16 or
 * bfloat16 (together and mixed), in every algorithm (naive, flash1, flash2, decode) and both kernel
 * flavours (CPU on PoCL as it is; GPU with the local memory overridden to 32 KiB), with causal,
 * GQA/MQA, Sq != Skv, an odd head dim, a strided [B, S, H, D] layout and a float16 mask with -inf
 * entries and a dead row. The float64 reference is computed on the inputs as stored (rounded to
 * their type first), and the output is compared with the reference rounded to the output type,
 * within that type's precision, every element, outputs poisoned. Also the rounding itself (ties
 * to even, overflow, NaN, infinities, subnormals) through attention with one key, where the
 * output is v exactly; the widening of every kind of narrow value (subnormals, the largest finite,
 * infinities, NaN, signed zeros) in k/v the same way, through the CPU kernels' K/V tiles, the
 * naive path's staging and the GPU kernels' loads; the float32 copies counted in the plan's
 * scratch_bytes; and unknown dtypes refused with nothing written. */
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *dt_s(clattn_dtype t) {
    return t == CLATTN_DTYPE_F16 ? "f16" : t == CLATTN_DTYPE_BF16 ? "bf16" : "f32";
}

static size_t dt_bytes(clattn_dtype t) {
    return t == CLATTN_DTYPE_F32 ? 4 : 2;
}

/* Stores x (n floats) as type t into a new array, and rounds x itself to what was stored. */
static void *stored(clattn_dtype t, float *x, int64_t n) {
    void *p = malloc((size_t)(n > 0 ? n : 1) * dt_bytes(t));
    if (!p) {
        printf("FAIL: allocation\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) {
        if (t == CLATTN_DTYPE_F16) ((uint16_t *)p)[i] = tu_f2h(x[i]);
        if (t == CLATTN_DTYPE_BF16) ((uint16_t *)p)[i] = tu_f2b(x[i]);
        if (t == CLATTN_DTYPE_F32) ((float *)p)[i] = x[i];
        x[i] = tu_round_to(t, x[i]);
    }
    return p;
}

static float element(clattn_dtype t, const void *p, int64_t i) {
    return t == CLATTN_DTYPE_F16    ? tu_h2f(((const uint16_t *)p)[i])
           : t == CLATTN_DTYPE_BF16 ? tu_b2f(((const uint16_t *)p)[i])
                                    : ((const float *)p)[i];
}

/* Fills n elements of type t with a NaN no correct output has. */
static void poison(clattn_dtype t, void *p, int64_t n) {
    if (t == CLATTN_DTYPE_F32) {
        tu_poison(p, n);
        return;
    }
    for (int64_t i = 0; i < n; i++) ((uint16_t *)p)[i] = 0x7fffu;
}

/* ---- Attention against the reference ---- */

typedef struct {
    const char *name;
    int64_t B, Hq, Hkv, Sq, Skv, D;
    int causal, mask, bshd; /* bshd: q, k, v and out laid out [B, S, H, D] by strides */
    clattn_dtype q, kv, out, m;
} dcase;

static const dcase cases[] = {
    {"f16 q/k/v/out, causal GQA, 37x59", 1, 4, 2, 37, 59, 64, 1, 0, 0, CLATTN_DTYPE_F16,
     CLATTN_DTYPE_F16, CLATTN_DTYPE_F16, CLATTN_DTYPE_F32},
    {"bf16 q/k/v/out, MQA, D 59, 59x37", 2, 4, 1, 59, 37, 59, 0, 0, 0, CLATTN_DTYPE_BF16,
     CLATTN_DTYPE_BF16, CLATTN_DTYPE_BF16, CLATTN_DTYPE_F32},
    {"f16 q, bf16 k/v, f32 out, causal", 1, 4, 2, 37, 59, 64, 1, 0, 0, CLATTN_DTYPE_F16,
     CLATTN_DTYPE_BF16, CLATTN_DTYPE_F32, CLATTN_DTYPE_F32},
    {"f16 mask (-inf, a dead row), f32 q, f16 k/v, bf16 out", 2, 2, 2, 37, 59, 64, 0, 1, 0,
     CLATTN_DTYPE_F32, CLATTN_DTYPE_F16, CLATTN_DTYPE_BF16, CLATTN_DTYPE_F16},
    {"f16 q/k/v/out [B, S, H, D] strided, bf16 mask, causal, D 59", 2, 4, 2, 59, 59, 59, 1, 1, 1,
     CLATTN_DTYPE_F16, CLATTN_DTYPE_F16, CLATTN_DTYPE_F16, CLATTN_DTYPE_BF16},
    /* 812 rows per kv head: CPU flash2 runs on float32 copies of K and V (plan_cpu.h's
     * clattn__cpu_stage_kv), widened from the strided bf16 by cl/convert.cl. */
    {"f16 q/out, bf16 k/v [B, S, H, D] strided, GQA 8/2, 203x113 (K/V copies)", 1, 8, 2, 203, 113,
     64, 0, 0, 1, CLATTN_DTYPE_F16, CLATTN_DTYPE_BF16, CLATTN_DTYPE_F16, CLATTN_DTYPE_F32},
};

/* Decode-shaped problems (at most 32 query rows per kv head) for the split-KV kernels, whose
 * K/V loads widen whole vectors of the narrow types: head dims that fill them (128), leave a
 * tail (59) and stop short of the build's cap (80). */
static const dcase decode_cases[] = {
    {"decode: f16 k/v, GQA 12/3, 1x1000, D 128", 1, 12, 3, 1, 1000, 128, 0, 0, 0, CLATTN_DTYPE_F32,
     CLATTN_DTYPE_F16, CLATTN_DTYPE_F32, CLATTN_DTYPE_F32},
    {"decode: bf16 k/v, f16 q/out, causal, 2x203, D 80", 2, 8, 2, 2, 203, 80, 1, 0, 0,
     CLATTN_DTYPE_F16, CLATTN_DTYPE_BF16, CLATTN_DTYPE_F16, CLATTN_DTYPE_F32},
    {"decode: f16 k/v [B, S, H, D], f16 mask, D 59, 1x59", 1, 8, 8, 1, 59, 59, 0, 1, 1,
     CLATTN_DTYPE_F32, CLATTN_DTYPE_F16, CLATTN_DTYPE_F32, CLATTN_DTYPE_F16},
    /* More rows than one register group (8): the CPU kernel widens each block into tiles. */
    {"decode: f16 k/v, MQA 16/1, causal, 2x203, D 59", 1, 16, 1, 2, 203, 59, 1, 0, 0,
     CLATTN_DTYPE_F32, CLATTN_DTYPE_F16, CLATTN_DTYPE_F32, CLATTN_DTYPE_F32},
    {"decode: bf16 k/v, f16 mask, GQA 24/2, 2x113, D 80", 2, 24, 2, 1, 113, 80, 0, 1, 0,
     CLATTN_DTYPE_F32, CLATTN_DTYPE_BF16, CLATTN_DTYPE_F32, CLATTN_DTYPE_F16},
};

static const char *algo_s(clattn_algo a) {
    return a == CLATTN_ALGO_NAIVE    ? "naive"
           : a == CLATTN_ALGO_FLASH1 ? "flash1"
           : a == CLATTN_ALGO_FLASH2 ? "flash2"
                                     : "decode";
}

/* Strides of [B, H, S, D] data stored as [B, S, H, D]. */
static void bshd_strides(int64_t H, int64_t S, int64_t D, int64_t st[3]) {
    st[0] = S * H * D;
    st[1] = D;
    st[2] = H * D;
}

static void run(clattn_context *ctx, const char *flavour, const dcase *c, clattn_algo algo) {
    char label[256];
    snprintf(label, sizeof label, "%s %s: %s", algo_s(algo), flavour, c->name);
    const int64_t D = c->D, nq = c->B * c->Hq * c->Sq * D, nk = c->B * c->Hkv * c->Skv * D;
    const int64_t nl = c->B * c->Hq * c->Sq, no = nl * D, nm = c->mask ? nl * c->Skv : 0;
    float *q = tu_alloc_floats(nq), *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nk);
    float *m = c->mask ? tu_alloc_floats(nm) : NULL, *l = tu_alloc_floats(nl);
    tu_fill_normal(q, nq, 1.0f);
    tu_fill_normal(k, nk, 1.0f);
    tu_fill_normal(v, nk, 1.0f);
    if (m) {
        tu_fill_uniform(m, nm, -2.0f, 2.0f);
        for (int64_t i = 0; i < nm; i++)
            if (tu_uniform() < 0.15) m[i] = -INFINITY;
        for (int64_t j = 0; j < c->Skv; j++) m[(c->Sq / 2) * c->Skv + j] = -INFINITY;
    }
    void *qs = stored(c->q, q, nq), *ks = stored(c->kv, k, nk), *vs = stored(c->kv, v, nk);
    void *ms = m ? stored(c->m, m, nm) : NULL, *os = malloc((size_t)no * dt_bytes(c->out));
    if (!os) exit(1);
    poison(c->out, os, no);
    tu_poison(l, nl);
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = c->B, d.heads = c->Hq, d.kv_heads = c->Hkv, d.seq_q = c->Sq, d.seq_kv = c->Skv;
    d.head_dim = D;
    d.causal = c->causal;
    d.has_mask = c->mask;
    d.algo = algo;
    d.q_dtype = c->q, d.kv_dtype = c->kv, d.out_dtype = c->out, d.mask_dtype = c->m;
    sdpa_ref_problem rp;
    memset(&rp, 0, sizeof rp);
    if (c->bshd) {
        bshd_strides(c->Hq, c->Sq, D, d.q_strides);
        bshd_strides(c->Hkv, c->Skv, D, d.k_strides);
        bshd_strides(c->Hkv, c->Skv, D, d.v_strides);
        bshd_strides(c->Hq, c->Sq, D, d.out_strides);
        memcpy(rp.q_st, d.q_strides, sizeof rp.q_st);
        memcpy(rp.k_st, d.k_strides, sizeof rp.k_st);
        memcpy(rp.v_st, d.v_strides, sizeof rp.v_st);
    } else {
        sdpa_ref_contiguous(c->Hq, c->Sq, D, rp.q_st);
        sdpa_ref_contiguous(c->Hkv, c->Skv, D, rp.k_st);
        sdpa_ref_contiguous(c->Hkv, c->Skv, D, rp.v_st);
    }
    clattn_status st = clattn_sdpa_host(ctx, &d, qs, ks, vs, ms, os, l);
    if (TU_CHECK(st == CLATTN_SUCCESS, "%s: status %s %s", label, clattn_status_string(st),
                 st ? clattn_context_last_error(ctx) : "")) {
        rp.B = c->B, rp.Hq = c->Hq, rp.Hkv = c->Hkv, rp.Sq = c->Sq, rp.Skv = c->Skv;
        rp.D = rp.Dv = D;
        rp.scale = 1.0 / sqrt((double)D);
        rp.causal = c->causal;
        rp.q = q, rp.k = k, rp.v = v, rp.mask = m;
        if (m) sdpa_ref_mask_strides(c->B, c->Hq, c->Hq, c->Sq, c->Skv, rp.m_st);
        double *ro = malloc((size_t)no * sizeof(double)), *rl = malloc((size_t)nl * sizeof(double));
        float *got = tu_alloc_floats(no);
        if (!ro || !rl || sdpa_ref(&rp, ro, rl)) {
            printf("FAIL: reference allocation\n");
            exit(1);
        }
        /* The output as float, in the reference's contiguous order; the reference rounded to
         * the output type (what a correctly rounded kernel stores, give or take one unit). */
        for (int64_t r = 0; r < nl; r++) {
            const int64_t i = r % c->Sq, bh = r / c->Sq, h = bh % c->Hq, b = bh / c->Hq;
            const int64_t at = c->bshd ? ((b * c->Sq + i) * c->Hq + h) * D : r * D;
            for (int64_t e = 0; e < D; e++) {
                got[r * D + e] = element(c->out, os, at + e);
                ro[r * D + e] = tu_round_to(c->out, (float)ro[r * D + e]);
            }
        }
        const double rtol = c->out == CLATTN_DTYPE_F16    ? 1e-3
                            : c->out == CLATTN_DTYPE_BF16 ? 8e-3
                                                          : 1e-3;
        const double atol = c->out == CLATTN_DTYPE_BF16 ? 1e-3 : 2e-4;
        TU_CHECK(tu_compare("out", got, ro, no, atol, rtol), "%s: out matches (%s)", label,
                 dt_s(c->out));
        TU_CHECK(tu_compare("lse", l, rl, nl, 1e-3, 1e-4), "%s: lse matches", label);
        free(ro);
        free(rl);
        free(got);
    }
    free(q);
    free(k);
    free(v);
    free(m);
    free(l);
    free(qs);
    free(ks);
    free(vs);
    free(ms);
    free(os);
}

static void suite(clattn_context *ctx, const char *flavour) {
    static const clattn_algo algos[] = {CLATTN_ALGO_NAIVE, CLATTN_ALGO_FLASH1, CLATTN_ALGO_FLASH2};
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            run(ctx, flavour, &cases[i], algos[a]);
    for (size_t i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++)
        run(ctx, flavour, &decode_cases[i], CLATTN_ALGO_DECODE);
}

/* ---- Rounding through attention with one key: every query row's output is v's row ---- */

/* v values and the bits their bfloat16 / float16 store must have (0xffff: any NaN). */
typedef struct {
    uint32_t in;
    uint16_t bf16, f16;
} rcase;

static const rcase rounding[] = {
    {0x3f808000u, 0x3f80u, 0x3c04u}, /* 1 + 2^-8: bf16 tie to even (down) */
    {0x3f818000u, 0x3f82u, 0x3c0cu}, /* 1 + 3 * 2^-8: bf16 tie to even (up) */
    {0x3f808001u, 0x3f81u, 0x3c04u}, /* just above the tie */
    {0x3f807fffu, 0x3f80u, 0x3c04u}, /* just below */
    {0xbf818000u, 0xbf82u, 0xbc0cu}, /* negative tie, up in magnitude */
    {0x3f801000u, 0x3f80u, 0x3c00u}, /* 1 + 2^-11: f16 tie to even (down) */
    {0x3f803000u, 0x3f80u, 0x3c02u}, /* 1 + 3 * 2^-11: f16 tie to even (up) */
    {0x7f7fffffu, 0x7f80u, 0x7c00u}, /* FLT_MAX: rounds to +inf in both */
    {0x477ff000u, 0x4780u, 0x7c00u}, /* 65520: the f16 overflow tie, to inf */
    {0x477fe000u, 0x4780u, 0x7bffu}, /* 65504: f16's largest finite */
    {0x7f800000u, 0x7f80u, 0x7c00u}, /* +inf */
    {0xff800000u, 0xff80u, 0xfc00u}, /* -inf */
    {0x7f800001u, 0xffffu, 0xffffu}, /* a NaN with a one-bit payload stays a NaN */
    {0xffc00000u, 0xffffu, 0xffffu}, /* -NaN */
    {0xbf800000u, 0xbf80u, 0xbc00u}, /* -1, exact (-0 would come out +0: attention adds to 0) */
    {0x33800000u, 0x3380u, 0x0001u}, /* 2^-24: f16's smallest subnormal */
    {0x33000000u, 0x3300u, 0x0000u}, /* 2^-25: f16 tie to even, to 0 */
    {0x33c00000u, 0x33c0u, 0x0002u}, /* 3 * 2^-25: f16 tie to even, up */
};
enum { NR = sizeof rounding / sizeof rounding[0] };

static int is_nan16(uint16_t w, clattn_dtype t) {
    return t == CLATTN_DTYPE_BF16 ? (w & 0x7f80u) == 0x7f80u && (w & 0x7fu)
                                  : (w & 0x7c00u) == 0x7c00u && (w & 0x3ffu);
}

/* One head, sq query rows, one key of dim dims: every row's output is v's row. */
static void one_key_desc(clattn_sdpa_desc *d, int64_t sq, int64_t dim, clattn_algo algo) {
    clattn_sdpa_desc_init(d, sizeof *d);
    d->batch = d->heads = d->kv_heads = 1;
    d->seq_q = sq;
    d->seq_kv = 1;
    d->head_dim = dim;
    d->algo = algo;
}

static void rounding_checks(clattn_context *ctx, const char *flavour, clattn_dtype out,
                            clattn_algo algo) {
    enum { SQ = 3 };
    float q[SQ * NR], k[NR], v[NR];
    uint16_t o[SQ * NR];
    tu_fill_normal(q, SQ * NR, 1.0f);
    tu_fill_normal(k, NR, 1.0f);
    for (int e = 0; e < NR; e++) memcpy(&v[e], &rounding[e].in, 4);
    poison(out, o, SQ * NR);
    clattn_sdpa_desc d;
    one_key_desc(&d, SQ, NR, algo);
    d.out_dtype = out;
    clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, NULL, o, NULL);
    int ok = st == CLATTN_SUCCESS, bad = -1;
    for (int r = 0; ok && r < SQ; r++)
        for (int e = 0; e < NR && ok; e++) {
            const uint16_t want = out == CLATTN_DTYPE_BF16 ? rounding[e].bf16 : rounding[e].f16;
            const uint16_t w = o[r * NR + e];
            if (want == 0xffffu ? !is_nan16(w, out) : w != want) ok = 0, bad = e;
        }
    TU_CHECK(ok, "%s %s: %s rounding (ties to even, overflow, NaN, inf, subnormals)%s%s",
             algo_s(algo), flavour, dt_s(out), st ? clattn_context_last_error(ctx) : "",
             bad >= 0 ? " wrong at a value" : "");
    if (bad >= 0)
        printf("  v bits 0x%08x: want 0x%04x\n", (unsigned)rounding[bad].in,
               (unsigned)(out == CLATTN_DTYPE_BF16 ? rounding[bad].bf16 : rounding[bad].f16));
}

/* ---- Widening through attention with one key: out (float32) is v's row, widened ---- */

/* Values of v's row (D = 19: two groups of eight and a tail of three in the CPU kernels' K/V
 * tiles and in the staging), as float16 and as bfloat16 words: ordinary values, the largest
 * finite, the smallest normal, subnormals (bfloat16's are float32 subnormals), infinities, NaN
 * with a large and a one-bit payload, and signed zeros. */
static const uint16_t widen_f16[] = {0x3c00u, 0xbc00u, 0x3555u, 0xc8f0u, 0x7bffu, 0xfbffu, 0x0400u,
                                     0x0001u, 0x03ffu, 0x8001u, 0x0200u, 0x7c00u, 0xfc00u, 0x7e00u,
                                     0x7c01u, 0xfe00u, 0x0000u, 0x8000u, 0x2e66u};
static const uint16_t widen_bf16[] = {0x3f80u, 0xbf80u, 0x3eabu, 0xc11eu, 0x7f7fu, 0xff7fu, 0x0080u,
                                      0x0001u, 0x007fu, 0x8001u, 0x0040u, 0x7f80u, 0xff80u, 0x7fc0u,
                                      0x7f81u, 0xffc0u, 0x0000u, 0x8000u, 0x3dcdu};
enum { NW = sizeof widen_f16 / sizeof widen_f16[0] };

static void widening_checks(clattn_context *ctx, const char *flavour, clattn_dtype kv,
                            clattn_algo algo) {
    enum { SQ = 3 };
    const uint16_t *vals = kv == CLATTN_DTYPE_F16 ? widen_f16 : widen_bf16;
    float q[SQ * NW], kf[NW], o[SQ * NW];
    uint16_t k[NW], v[NW];
    tu_fill_normal(q, SQ * NW, 1.0f);
    tu_fill_normal(kf, NW, 1.0f);
    for (int e = 0; e < NW; e++) {
        k[e] = kv == CLATTN_DTYPE_F16 ? tu_f2h(kf[e]) : tu_f2b(kf[e]);
        v[e] = vals[e];
    }
    tu_poison(o, SQ * NW);
    clattn_sdpa_desc d;
    one_key_desc(&d, SQ, NW, algo);
    d.kv_dtype = kv;
    clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, NULL, o, NULL);
    int ok = st == CLATTN_SUCCESS, bad = -1;
    for (int r = 0; ok && r < SQ; r++)
        for (int e = 0; e < NW && ok; e++) {
            float want = kv == CLATTN_DTYPE_F16 ? tu_h2f(vals[e]) : tu_b2f(vals[e]);
            if (want == 0.0f) want = 0.0f; /* -0 comes out +0: attention adds v to 0 */
            const float got = o[r * NW + e];
            if (isnan(want) ? !isnan(got) : memcmp(&got, &want, 4) != 0) ok = 0, bad = e;
        }
    TU_CHECK(ok, "%s %s: %s k/v widened exactly (subnormals, max, inf, NaN, zeros)%s%s",
             algo_s(algo), flavour, dt_s(kv), st ? clattn_context_last_error(ctx) : "",
             bad >= 0 ? " wrong at a value" : "");
    if (bad >= 0) printf("  v word 0x%04x: got %a\n", (unsigned)vals[bad], (double)o[bad]);
}

/* The plan counts the float32 copies of narrow tensors a path makes in scratch_bytes. */
static void plan_scratch(clattn_context *ctx) {
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = 2, d.heads = 4, d.kv_heads = 2, d.seq_q = 30, d.seq_kv = 50, d.head_dim = 16;
    d.q_dtype = d.out_dtype = CLATTN_DTYPE_F16;
    d.kv_dtype = CLATTN_DTYPE_BF16;
    const int64_t q = 4 * 2 * 4 * 30 * 16, kv = 2 * 4 * 2 * 2 * 50 * 16, s = 4 * 2 * 4 * 30 * 50;
    const int64_t ml = 2 * 4 * 2 * 4 * 30;
    clattn_sdpa_plan pn, p1, p2;
    d.algo = CLATTN_ALGO_NAIVE;
    clattn_status st = clattn_sdpa_plan_get(ctx, &d, &pn, sizeof pn);
    d.algo = CLATTN_ALGO_FLASH1;
    if (st == CLATTN_SUCCESS) st = clattn_sdpa_plan_get(ctx, &d, &p1, sizeof p1);
    d.algo = CLATTN_ALGO_FLASH2;
    if (st == CLATTN_SUCCESS) st = clattn_sdpa_plan_get(ctx, &d, &p2, sizeof p2);
    TU_CHECK(st == CLATTN_SUCCESS && pn.scratch_bytes == s + 2 * q + kv &&
                 p1.scratch_bytes == ml + q && p2.scratch_bytes == 0,
             "plan scratch_bytes counts the float32 copies: naive S + q, k, v, out; flash1 m, l + "
             "out; flash2 none");
}

/* The host helpers (testutil.c) are what the comparisons trust: check them against known bits. */
static void host_conversions(void) {
    int ok = 1;
    for (int e = 0; e < NR; e++) {
        float x;
        memcpy(&x, &rounding[e].in, 4);
        const uint16_t b = tu_f2b(x), h = tu_f2h(x);
        ok &= rounding[e].bf16 == 0xffffu ? is_nan16(b, CLATTN_DTYPE_BF16) : b == rounding[e].bf16;
        ok &= rounding[e].f16 == 0xffffu ? is_nan16(h, CLATTN_DTYPE_F16) : h == rounding[e].f16;
    }
    TU_CHECK(ok, "host f16/bf16 conversions agree with the table");
}

/* ---- Unknown dtypes: refused, naming the field, nothing written ---- */
static void refusals(clattn_context *ctx) {
    enum { S = 8, DD = 16 };
    float q[S * DD], k[S * DD], v[S * DD], o[S * DD], og[S * DD];
    tu_fill_normal(q, S * DD, 1.0f);
    tu_fill_normal(k, S * DD, 1.0f);
    tu_fill_normal(v, S * DD, 1.0f);
    static const char *field[4] = {"q_dtype", "kv_dtype", "out_dtype", "mask_dtype"};
    static const int value[4] = {3, -1, 7, 100};
    for (int i = 0; i < 4; i++) {
        clattn_sdpa_desc d;
        clattn_sdpa_desc_init(&d, sizeof d);
        d.batch = d.heads = d.kv_heads = 1;
        d.seq_q = d.seq_kv = S;
        d.head_dim = DD;
        clattn_dtype *f[4] = {&d.q_dtype, &d.kv_dtype, &d.out_dtype, &d.mask_dtype};
        *f[i] = (clattn_dtype)value[i];
        tu_poison(o, S * DD);
        memcpy(og, o, sizeof o);
        clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, NULL, o, NULL);
        clattn_sdpa_plan plan;
        clattn_status sp = clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan);
        TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT && sp == CLATTN_ERROR_INVALID_ARGUMENT &&
                     memcmp(o, og, sizeof o) == 0 &&
                     strstr(clattn_context_last_error(ctx), field[i]) != NULL,
                 "%s %d refused (%s: %s), out untouched", field[i], value[i],
                 clattn_status_string(st), clattn_context_last_error(ctx));
    }
}

int main(void) {
    tu_seed();
    host_conversions();
    clattn_context *ctx = tu_context();
    clattn_device_caps caps;
    clattn_context_caps(ctx, &caps, sizeof caps);
    const int native_gpu = caps.local_mem_type == CLATTN_LOCAL_MEM_LOCAL;
    const char *fl = native_gpu ? "gpu" : "cpu";
    suite(ctx, fl);
    for (int a = 0; a < 3; a++) {
        const clattn_algo algo = (clattn_algo)(CLATTN_ALGO_NAIVE + a);
        rounding_checks(ctx, fl, CLATTN_DTYPE_BF16, algo);
        rounding_checks(ctx, fl, CLATTN_DTYPE_F16, algo);
        widening_checks(ctx, fl, CLATTN_DTYPE_F16, algo);
        widening_checks(ctx, fl, CLATTN_DTYPE_BF16, algo);
    }
    plan_scratch(ctx);
    refusals(ctx);
    clattn_context_destroy(ctx);
    if (!native_gpu) {
        ctx = tu_gpu_context(32768);
        suite(ctx, "gpu");
        for (int a = 0; a < 2; a++) {
            const clattn_algo algo = (clattn_algo)(CLATTN_ALGO_FLASH1 + a);
            rounding_checks(ctx, "gpu", CLATTN_DTYPE_BF16, algo);
            widening_checks(ctx, "gpu", CLATTN_DTYPE_F16, algo);
            widening_checks(ctx, "gpu", CLATTN_DTYPE_BF16, algo);
        }
        clattn_context_destroy(ctx);
    }
    return tu_finish();
}
