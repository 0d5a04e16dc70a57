/* gpu_check.c: the GPU flavour of one kernel family on small odd shapes, checked against the
 * float64 references in tests/ref/, meant to run under oclgrind (tests/oclgrind/run.sh), which
 * adds what PoCL cannot: real __local memory of a chosen size, a chosen work-group limit, and
 * data-race, out-of-bounds and API-misuse reports. This program checks the numbers; run.sh fails
 * on any oclgrind report. One family per process, because oclgrind's --max-errors limit counts
 * over the whole process and one noisy family would hide another's reports.
 *
 *   gpu_check FAMILY [--expect-local BYTES] [--expect-wg N]
 *   FAMILY: flash1 | flash2 | naive | decode | additive | gru | rnn | rope (decode also runs a
 * paged KV cache and the combine kernel it shares with clattn_lse_combine in the public layout;
 * rope runs clattn_rope and a paged cache whose append rotates K; rnn runs clattn_rnn's two
 *   recurrence flavours, GRU and LSTM)
 *
 * The device must be oclgrind's (else the test fails rather than silently checking another
 * device); --expect-* check that oclgrind reports the limits run.sh asked for, so the plan
 * printed for each case really is the tile for that much local memory. Inputs are fresh random
 * (the seed is printed; CLATTN_TEST_SEED repeats it), outputs are NaN-poisoned first and every
 * element is compared, with the tolerances of tests/test_sdpa.c, test_additive.c and
 * test_birnn.c. Shapes are small because oclgrind interprets every work-item: see run.sh and
 * tests/CMakeLists.txt for the measured times. */
#include "additive_ref.h"
#include "gru_ref.h"
#include "rnn_ref.h"
#include "rope_ref.h"
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds since the first call: each case prints its time, which is what the shapes in
 * sdpa_cases were sized by (oclgrind interprets every work-item, so time grows with work). */
static double elapsed(void) {
    static struct timespec t0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t0.tv_sec == 0 && t0.tv_nsec == 0) t0 = t;
    return (double)(t.tv_sec - t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - t0.tv_nsec);
}

typedef struct {
    const char *name;
    int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
    int causal, mask, lse; /* mask: [B, Hq] additive mask with -inf entries and dead rows */
    /* The options: window sides (window 0: none), softcap, ALiBi slopes [B, Hq], top-left. */
    int window;
    int64_t wl, wr;
    float softcap;
    int alibi, top_left;
    clattn_dtype dtype; /* storage of q, k, v, out and the mask (0: float32) */
} sdpa_case;

/* GQA with the shape of the known flash1 finding; causal with Sq > Skv (the first Sq - Skv
 * rows see no key) and two query blocks even at 64 KiB (56-row tiles); odd head dims with
 * Dv != D; B = 2 with a mask whose dead rows must give 0 and -inf, Skv past one 56-key tile;
 * MQA without lse. All head dims share the 64 bucket, so one program build serves every case.
 * The sizes keep a family to 5-20 s under oclgrind (the time grows with tiles x work-groups:
 * about 2 s per 56x56 tile at 64 KiB). */
static const sdpa_case sdpa_cases[] = {
    {"GQA 4/2 Sq37 Skv53 D64 lse", 1, 4, 2, 37, 53, 64, 64, 0, 0, 1, 0, 0, 0, 0.0f, 0, 0, 0},
    {"causal Sq61 Skv29 D37 Dv59 lse", 1, 1, 1, 61, 29, 37, 59, 1, 0, 1, 0, 0, 0, 0.0f, 0, 0, 0},
    {"B2 mask+dead rows causal Sq13 Skv61 D59 lse", 2, 1, 1, 13, 61, 59, 59, 1, 1, 1, 0, 0, 0, 0.0f,
     0, 0, 0},
    /* float16 storage: the integer widening of devices without F16C (cl/kernel_iface.h; oclgrind
     * defines no __F16C__) in the naive path's staging, eight elements at a time and a tail. */
    {"f16 MQA 2/1 mask+dead rows Sq19 Skv45 D37 no lse", 1, 2, 1, 19, 45, 37, 37, 0, 1, 0, 0, 0, 0,
     0.0f, 0, 0, CLATTN_DTYPE_F16},
    /* Every option at once: window blocks that start mid-tile, rows the window empties. */
    {"options: window (7,3) top-left softcap ALiBi mask causal B2 Sq29 Skv41", 2, 2, 1, 29, 41, 64,
     64, 1, 1, 1, 1, 7, 3, 4.0f, 1, 1, 0},
    /* bfloat16 storage: the 16-bit loads and stores, and the naive path's and flash1's float32
     * staging (cl/convert.cl), under oclgrind's bounds checks. */
    {"bf16 GQA 4/2 mask+dead rows causal Sq21 Skv37 D37 lse", 1, 4, 2, 21, 37, 37, 37, 1, 1, 1, 0,
     0, 0, 0.0f, 0, 0, CLATTN_DTYPE_BF16},
};

/* Decode shapes: few query rows per kv head (GQA, MQA, Sq 1 and 2), several splits (forced,
 * including more than the keys and splits cut mid-block), a mask with dead rows, options. */
static const sdpa_case decode_cases[] = {
    {"decode GQA 4/2 Sq1 Skv53 D64 lse", 1, 4, 2, 1, 53, 64, 64, 0, 0, 1, 0, 0, 0, 0.0f, 0, 0, 0},
    {"decode MQA 8/1 Sq2 Skv7 D37 mask causal", 2, 8, 1, 2, 7, 37, 37, 1, 1, 1, 0, 0, 0, 0.0f, 0, 0,
     0},
    {"decode options: window (9,0) softcap ALiBi Sq1 Skv70", 1, 2, 1, 1, 70, 64, 64, 1, 0, 1, 1, 9,
     0, 4.0f, 1, 0, 0},
};
/* Forced split counts of the decode cases: 3 (splits cut mid-block), 9 (more than the 7 keys)
 * and the dispatcher's. The shapes are small: oclgrind interprets every work-item of every
 * split (about 50 s per family at 3 cases of this size on 2 loaded cores). */
static const int64_t decode_splits[] = {3, 9, 0};

/* Stores x as type t (rounding to nearest even) and packs the 16-bit words into the front of the
 * same array; from_narrow unpacks them into floats, the values the reference must see. */
static void to_narrow(clattn_dtype t, float *x, int64_t n) {
    uint16_t *w = (uint16_t *)x;
    for (int64_t i = 0; i < n; i++) {
        const uint16_t h = t == CLATTN_DTYPE_F16 ? tu_f2h(x[i]) : tu_f2b(x[i]);
        memcpy(&w[i], &h, 2); /* w[i] lies in x[i / 2], read already */
    }
}

static void from_narrow(clattn_dtype t, const void *src, float *dst, int64_t n) {
    for (int64_t i = n - 1; i >= 0; i--) { /* backwards: dst may be src */
        uint16_t h;
        memcpy(&h, (const char *)src + 2 * i, 2);
        dst[i] = t == CLATTN_DTYPE_F16 ? tu_h2f(h) : tu_b2f(h);
    }
}

/* clattn_lse_combine in its own layout (the decode cases run the same kernel on scratch
 * records): 3 parts of 1 x 2 x 3 rows, Dv 67 (two column blocks, the second partial), random lse
 * with -inf in some parts (their output rows NaN, never to be read) and one row -inf in all,
 * against the merge formula in double. */
static void check_combine(clattn_context *ctx) {
    enum { N = 3, R = 6, DV = 67 };
    float po[N * R * DV], pl[N * R], out[R * DV], lse[R];
    double ro[R * DV], rl[R];
    tu_fill_normal(po, N * R * DV, 1.0f);
    tu_fill_uniform(pl, N * R, -3.0f, 3.0f);
    for (int n = 0; n < N; n++)
        for (int r = 0; r < R; r++)
            if (r == R - 1 || (n + r) % 4 == 0) {
                pl[n * R + r] = -INFINITY;
                tu_poison(po + (n * R + r) * DV, DV);
            }
    for (int r = 0; r < R; r++) {
        double mx = -INFINITY, sum = 0.0;
        for (int n = 0; n < N; n++) mx = fmax(mx, pl[n * R + r]);
        for (int c = 0; c < DV; c++) ro[r * DV + c] = 0.0;
        for (int n = 0; n < N; n++) {
            if (pl[n * R + r] == -INFINITY) continue;
            const double w = exp(pl[n * R + r] - mx);
            sum += w;
            for (int c = 0; c < DV; c++) ro[r * DV + c] += w * po[(n * R + r) * DV + c];
        }
        for (int c = 0; c < DV; c++) ro[r * DV + c] = sum > 0 ? ro[r * DV + c] / sum : 0.0;
        rl[r] = sum > 0 ? mx + log(sum) : -INFINITY;
    }
    clattn_lse_combine_desc d;
    clattn_lse_combine_desc_init(&d, sizeof d);
    d.parts = N, d.batch = 1, d.heads = 2, d.seq = 3, d.head_dim_v = DV;
    tu_poison(out, R * DV);
    tu_poison(lse, R);
    clattn_status st = clattn_lse_combine_host(ctx, &d, po, pl, out, lse);
    TU_CHECK(st == CLATTN_SUCCESS && tu_compare("out", out, ro, R * DV, 2e-6, 2e-5) &&
                 tu_compare("lse", lse, rl, R, 2e-6, 2e-6),
             "lse_combine, 3 parts, Dv 67, empty parts with NaN rows, a row in none: %s %s",
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
}

static void plan_line(clattn_context *ctx, const clattn_sdpa_desc *d, const char *label) {
    clattn_sdpa_plan p;
    clattn_status st = clattn_sdpa_plan_get(ctx, d, &p, sizeof p);
    if (st == CLATTN_SUCCESS)
        printf("plan %s: flavour=%s block_q=%lld block_kv=%lld wg=%lld local=%lld\n", label,
               p.flavour == CLATTN_FLAVOUR_GPU ? "gpu" : "cpu", (long long)p.block_q,
               (long long)p.block_kv, (long long)p.work_group, (long long)p.local_mem_bytes);
}

static void check_sdpa(clattn_context *ctx, clattn_algo algo, const sdpa_case *c, int64_t splits) {
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.decode_splits = splits;
    d.batch = c->B, d.heads = c->Hq, d.kv_heads = c->Hkv, d.seq_q = c->Sq, d.seq_kv = c->Skv;
    d.head_dim = c->D, d.head_dim_v = c->Dv, d.causal = c->causal, d.algo = algo;
    /* Naive has no flavour of its own (its softmax is the GPU shape on CL_LOCAL devices). */
    d.flavour = algo == CLATTN_ALGO_NAIVE ? CLATTN_FLAVOUR_AUTO : CLATTN_FLAVOUR_GPU;
    d.has_mask = c->mask;
    float slopes[16];
    tu_fill_uniform(slopes, 16, 0.05f, 0.5f);
    d.window = c->window, d.window_left = c->wl, d.window_right = c->wr, d.softcap = c->softcap;
    d.alibi_slopes = c->alibi ? slopes : NULL, d.alibi_batch = c->alibi ? c->B : 0;
    d.causal_align = c->top_left ? CLATTN_CAUSAL_TOP_LEFT : CLATTN_CAUSAL_BOTTOM_RIGHT;
    const int64_t nq = c->B * c->Hq * c->Sq * c->D, nk = c->B * c->Hkv * c->Skv * c->D;
    const int64_t nv = c->B * c->Hkv * c->Skv * c->Dv, no = c->B * c->Hq * c->Sq * c->Dv;
    const int64_t nl = c->B * c->Hq * c->Sq, nm = c->mask ? nl * c->Skv : 0;
    float *q = tu_alloc_floats(nq), *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nv);
    float *o = tu_alloc_floats(no), *l = tu_alloc_floats(nl);
    float *m = c->mask ? tu_alloc_floats(nm) : NULL;
    tu_fill_normal(q, nq, 1.0f);
    tu_fill_normal(k, nk, 1.0f);
    tu_fill_normal(v, nv, 1.0f);
    if (m) {
        tu_fill_uniform(m, nm, -2.0f, 2.0f);
        for (int64_t i = 0; i < nm; i++)
            if (tu_uniform() < 0.15) m[i] = -INFINITY;
        for (int64_t s = 0; s < c->B * c->Hq; s++) /* two dead rows per (batch, head) slice */
            for (int64_t j = 0; j < c->Skv; j++) {
                m[(s * c->Sq + c->Sq / 2) * c->Skv + j] = -INFINITY;
                m[(s * c->Sq + c->Sq - 1) * c->Skv + j] = -INFINITY;
            }
    }
    tu_poison(o, no);
    tu_poison(l, nl);
    /* Narrow copies (the float arrays keep the rounded values for the reference). */
    float *qs = NULL, *ks = NULL, *vs = NULL, *ms = NULL;
    if (c->dtype) {
        d.q_dtype = d.kv_dtype = d.out_dtype = d.mask_dtype = c->dtype;
        float *src[4] = {q, k, v, m}, **dst[4] = {&qs, &ks, &vs, &ms};
        const int64_t n[4] = {nq, nk, nv, nm};
        for (int t = 0; t < 4; t++) {
            if (!src[t]) continue;
            *dst[t] = tu_alloc_floats(n[t] ? n[t] : 1);
            to_narrow(c->dtype, src[t], n[t]);           /* packs ... */
            memcpy(*dst[t], src[t], (size_t)n[t] * 2);   /* the words, */
            from_narrow(c->dtype, src[t], src[t], n[t]); /* unpacks the floats */
        }
        const uint16_t nan16 = 0x7fffu; /* a NaN in both types that no correct output has */
        for (int64_t i = 0; i < no; i++) memcpy((char *)o + 2 * i, &nan16, 2);
    }
    plan_line(ctx, &d, c->name);
    const double t0 = elapsed();
    clattn_status st = c->dtype ? clattn_sdpa_host(ctx, &d, qs, ks, vs, ms, o, c->lse ? l : NULL)
                                : clattn_sdpa_host(ctx, &d, q, k, v, m, o, c->lse ? l : NULL);
    printf("time %s: %.1f s\n", c->name, elapsed() - t0);
    if (c->dtype) from_narrow(c->dtype, o, o, no);
    if (TU_CHECK(st == CLATTN_SUCCESS, "%s: status %s %s", c->name, clattn_status_string(st),
                 st ? clattn_context_last_error(ctx) : "")) {
        sdpa_ref_problem rp;
        memset(&rp, 0, sizeof rp);
        rp.B = c->B, rp.Hq = c->Hq, rp.Hkv = c->Hkv, rp.Sq = c->Sq, rp.Skv = c->Skv;
        rp.D = c->D, rp.Dv = c->Dv, rp.scale = 1.0 / sqrt((double)c->D), rp.causal = c->causal;
        rp.q = q, rp.k = k, rp.v = v, rp.mask = m;
        sdpa_ref_contiguous(c->Hq, c->Sq, c->D, rp.q_st);
        sdpa_ref_contiguous(c->Hkv, c->Skv, c->D, rp.k_st);
        sdpa_ref_contiguous(c->Hkv, c->Skv, c->Dv, rp.v_st);
        if (m) sdpa_ref_mask_strides(c->B, c->Hq, c->Hq, c->Sq, c->Skv, rp.m_st);
        rp.top_left = c->top_left, rp.window = c->window, rp.window_left = c->wl;
        rp.window_right = c->wr, rp.softcap = c->softcap;
        rp.alibi = c->alibi ? slopes : NULL, rp.alibi_sb = c->Hq;
        double *ro = malloc((size_t)no * sizeof(double)), *rl = malloc((size_t)nl * sizeof(double));
        if (!ro || !rl || sdpa_ref(&rp, ro, rl)) {
            printf("FAIL: reference allocation\n");
            exit(1);
        }
        const int bf16 = c->dtype == CLATTN_DTYPE_BF16;
        TU_CHECK(tu_compare("out", o, ro, no, bf16 ? 1e-3 : 2e-4, bf16 ? 8e-3 : 1e-3),
                 "%s: out matches the reference", c->name);
        if (c->lse) TU_CHECK(tu_compare("lse", l, rl, nl, 1e-3, 1e-4), "%s: lse matches", c->name);
        free(ro), free(rl);
    }
    free(q), free(k), free(v), free(o), free(l), free(m);
    free(qs), free(ks), free(vs), free(ms);
}

/* Additive attention: lengths 1, T and in between; A above 256 so a 256-item work-group loops
 * over A; several steps; T not a multiple of any tile; weights requested and not. wg and bt
 * (0: the dispatcher's choice) force the work-group and the context pass's tile. */
static void check_additive(clattn_context *ctx, int64_t B, int64_t T, int64_t Tq, int64_t Dk,
                           int64_t Ds, int64_t A, int want_weights, int64_t wg, int64_t bt) {
    float *keys = tu_alloc_floats(B * T * Dk), *query = tu_alloc_floats(B * Tq * Ds);
    float *w_h = tu_alloc_floats(A * Dk), *w_s = tu_alloc_floats(A * Ds);
    float *v = tu_alloc_floats(A), *bias = tu_alloc_floats(A);
    int32_t *len = malloc((size_t)B * sizeof(int32_t));
    tu_fill_uniform(keys, B * T * Dk, -1.0f, 1.0f);
    tu_fill_uniform(query, B * Tq * Ds, -1.0f, 1.0f);
    /* Projections of O(1) so tanh is neither linear nor saturated (as test_additive.c). */
    tu_fill_normal(w_h, A * Dk, 1.5f / (float)sqrt((double)Dk));
    tu_fill_normal(w_s, A * Ds, 1.5f / (float)sqrt((double)Ds));
    tu_fill_normal(v, A, 3.0f / (float)sqrt((double)A));
    tu_fill_uniform(bias, A, -0.5f, 0.5f);
    for (int64_t b = 0; b < B; b++) {
        int64_t n = b == 0 ? 1 : b == 1 ? T : 1 + (int64_t)(tu_uniform() * (double)T);
        len[b] = (int32_t)(n > T ? T : n);
    }
    const int64_t nc = B * Tq * Dk, nw = B * Tq * T;
    float *c = tu_alloc_floats(nc), *w = tu_alloc_floats(nw);
    double *rc = malloc((size_t)nc * sizeof(double)), *rw = malloc((size_t)nw * sizeof(double));
    tu_poison(c, nc), tu_poison(w, nw);
    if (!rc || !rw ||
        ref_additive(B, T, Tq, Dk, Ds, A, keys, query, w_h, w_s, v, bias, len, rc, rw)) {
        printf("FAIL: reference allocation\n");
        exit(1);
    }
    clattn_additive_desc d;
    clattn_additive_desc_init(&d, sizeof d);
    d.batch = B, d.seq = T, d.steps = Tq, d.key_dim = Dk, d.query_dim = Ds, d.attn_dim = A;
    d.work_group = wg, d.block_t = bt;
    char name[160];
    snprintf(name, sizeof name,
             "additive B=%lld T=%lld Tq=%lld Dk=%lld Ds=%lld A=%lld weights=%d wg=%lld bt=%lld",
             (long long)B, (long long)T, (long long)Tq, (long long)Dk, (long long)Ds, (long long)A,
             want_weights, (long long)wg, (long long)bt);
    clattn_additive_plan p;
    clattn_status st = clattn_additive_plan_get(ctx, &d, &p, sizeof p);
    if (st == CLATTN_SUCCESS)
        printf("plan %s: flavour=%s block_t=%lld lanes=%lld wg=%lld stage_query=%d local=%lld\n",
               name, p.flavour == CLATTN_FLAVOUR_GPU ? "gpu" : "cpu", (long long)p.block_t,
               (long long)p.lanes, (long long)p.work_group, p.stage_query,
               (long long)p.local_mem_bytes);
    /* The dispatcher must pick the GPU shape by itself on a CL_LOCAL device. */
    TU_CHECK(st == CLATTN_SUCCESS && p.flavour == CLATTN_FLAVOUR_GPU, "%s: GPU flavour chosen",
             name);
    const double t0 = elapsed();
    st = clattn_additive_host(ctx, &d, keys, query, w_h, w_s, v, bias, len, c,
                              want_weights ? w : NULL);
    printf("time %s: %.1f s\n", name, elapsed() - t0);
    if (TU_CHECK(st == CLATTN_SUCCESS, "%s: status %s %s", name, clattn_status_string(st),
                 st ? clattn_context_last_error(ctx) : "")) {
        TU_CHECK(tu_compare("context", c, rc, nc, 2e-5, 2e-4), "%s: context matches", name);
        if (want_weights)
            TU_CHECK(tu_compare("weights", w, rw, nw, 2e-6, 2e-4), "%s: weights match", name);
    }
    free(keys), free(query), free(w_h), free(w_s), free(v), free(bias), free(len);
    free(c), free(w), free(rc), free(rw);
}

/* Weights of one GRU direction with PyTorch's init range, doubled so gates are not all ~0.5. */
static void gru_weights(int64_t Din, int64_t H, float *w[4]) {
    const int64_t n[4] = {3 * H * Din, 3 * H * H, 3 * H, 3 * H};
    const float sc = 2.0f / (float)sqrt((double)H);
    for (int i = 0; i < 4; i++) {
        w[i] = tu_alloc_floats(n[i]);
        tu_fill_uniform(w[i], n[i], -sc, sc);
    }
}

/* Bidirectional encoder with lengths 1, T and in between (padding must be exactly 0), then one
 * decoder cell step from a given state. */
static void check_gru(clattn_context *ctx, int64_t B, int64_t T, int64_t Din, int64_t H) {
    float *fw[4], *bw[4];
    gru_weights(Din, H, fw);
    gru_weights(Din, H, bw);
    float *x = tu_alloc_floats(B * T * Din), *out = tu_alloc_floats(B * T * 2 * H);
    double *ref = malloc((size_t)(B * T * 2 * H) * sizeof(double));
    int32_t *len = malloc((size_t)B * sizeof(int32_t));
    tu_fill_uniform(x, B * T * Din, -1.0f, 1.0f);
    for (int64_t b = 0; b < B; b++) {
        int64_t n = b == 0 ? 1 : b == 1 ? T : 1 + (int64_t)(tu_uniform() * (double)T);
        len[b] = (int32_t)(n > T ? T : n);
    }
    tu_poison(out, B * T * 2 * H);
    if (!ref || ref_birnn_gru(B, T, Din, H, x, (const float *const *)fw, (const float *const *)bw,
                              len, ref)) {
        printf("FAIL: reference allocation\n");
        exit(1);
    }
    clattn_gru_desc d;
    clattn_gru_desc_init(&d, sizeof d);
    d.batch = B, d.seq = T, d.input_dim = Din, d.hidden = H;
    clattn_gru_host_weights hf = {fw[0], fw[1], fw[2], fw[3]}, hb = {bw[0], bw[1], bw[2], bw[3]};
    clattn_status st = clattn_birnn_gru_host(ctx, &d, x, &hf, &hb, len, out);
    int pad_ok = 1;
    for (int64_t b = 0; st == CLATTN_SUCCESS && b < B; b++)
        for (int64_t t = len[b]; t < T; t++)
            for (int64_t j = 0; j < 2 * H; j++)
                if (out[(b * T + t) * 2 * H + j] != 0.0f) pad_ok = 0;
    TU_CHECK(st == CLATTN_SUCCESS && tu_compare("birnn out", out, ref, B * T * 2 * H, 2e-5, 1e-4) &&
                 pad_ok,
             "birnn B=%lld T=%lld Din=%lld H=%lld lengths: %s %s%s", (long long)B, (long long)T,
             (long long)Din, (long long)H, clattn_status_string(st),
             st ? clattn_context_last_error(ctx) : "", pad_ok ? "" : " (PADDING NOT 0)");

    /* Decoder cell: x [B, Din], h [B, H] given. */
    float *h = tu_alloc_floats(B * H), *ho = tu_alloc_floats(B * H);
    double *hd = malloc((size_t)(B * H) * sizeof(double));
    double *rh = malloc((size_t)(B * H) * sizeof(double));
    if (!hd || !rh) {
        printf("FAIL: reference allocation\n");
        exit(1);
    }
    tu_fill_uniform(h, B * H, -0.9f, 0.9f);
    for (int64_t i = 0; i < B * H; i++) hd[i] = h[i];
    for (int64_t b = 0; b < B; b++)
        ref_gru_cell(Din, H, x + b * Din, hd + b * H, fw[0], fw[1], fw[2], fw[3], rh + b * H);
    tu_poison(ho, B * H);
    st = clattn_gru_cell_host(ctx, &d, x, h, &hf, ho);
    TU_CHECK(st == CLATTN_SUCCESS && tu_compare("gru cell", ho, rh, B * H, 2e-5, 1e-4),
             "gru cell B=%lld Din=%lld H=%lld: %s %s", (long long)B, (long long)Din, (long long)H,
             clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
    for (int i = 0; i < 4; i++) free(fw[i]), free(bw[i]);
    free(x), free(out), free(ref), free(len), free(h), free(ho), free(hd), free(rh);
}

/* clattn_rnn (cl/rnn.cl): a 2-layer bidirectional LSTM with h0/c0 and a 1-layer GRU, lengths T, 0
 * and between, each recurrence flavour forced (the persistent one's barrier and the state
 * ping-pong are what oclgrind's race check looks at); out, h_n, c_n poisoned, all checked. */
static void check_rnn(clattn_context *ctx, int lstm, int64_t L, int64_t B, int64_t T, int64_t Din,
                      int64_t H) {
    const int64_t G = lstm ? 4 : 3, E = L * 2, no = B * T * 2 * H, ns = E * B * H;
    float *w[8][4];
    clattn_rnn_host_weights hw[8];
    ref_rnn_weights rw[8];
    for (int64_t e = 0; e < E; e++) {
        const int64_t din = e < 2 ? Din : 2 * H, n[4] = {G * H * din, G * H * H, G * H, G * H};
        for (int i = 0; i < 4; i++) {
            w[e][i] = tu_alloc_floats(n[i]);
            tu_fill_uniform(w[e][i], n[i], -1.0f / (float)sqrt((double)H),
                            1.0f / (float)sqrt((double)H));
        }
        hw[e] = (clattn_rnn_host_weights){w[e][0], w[e][1], w[e][2], w[e][3]};
        rw[e] = (ref_rnn_weights){w[e][0], w[e][1], w[e][2], w[e][3]};
    }
    float *x = tu_alloc_floats(B * T * Din), *h0 = tu_alloc_floats(ns), *c0 = tu_alloc_floats(ns);
    float *out = tu_alloc_floats(no), *hn = tu_alloc_floats(ns), *cn = tu_alloc_floats(ns);
    double *ro = malloc((size_t)no * sizeof(double)), *rh = malloc((size_t)ns * sizeof(double));
    double *rc = malloc((size_t)ns * sizeof(double));
    int32_t *len = malloc((size_t)B * sizeof(int32_t));
    tu_fill_uniform(x, B * T * Din, -1.0f, 1.0f);
    tu_fill_uniform(h0, ns, -0.8f, 0.8f);
    tu_fill_uniform(c0, ns, -0.8f, 0.8f);
    for (int64_t b = 0; b < B; b++) len[b] = (int32_t)(b == 0 ? T : b == 1 ? 0 : (b * T) / B);
    if (!ro || !rh || !rc ||
        ref_rnn(lstm, L, 2, B, T, Din, H, x, rw, len, h0, lstm ? c0 : NULL, ro, rh, rc)) {
        printf("FAIL: reference allocation\n");
        exit(1);
    }
    clattn_rnn_desc d;
    clattn_rnn_desc_init(&d, sizeof d);
    d.cell = lstm ? CLATTN_RNN_LSTM : CLATTN_RNN_GRU, d.input_dim = Din, d.hidden = H;
    d.num_layers = L;
    clattn_rnn *rnn = NULL;
    clattn_status st = clattn_rnn_create(ctx, &d, hw, &rnn);
    for (int a = 0; a < 2; a++) {
        clattn_rnn_forward_desc f;
        clattn_rnn_forward_desc_init(&f, sizeof f);
        f.batch = B, f.seq = T, f.lengths = len;
        f.algo = a ? CLATTN_RNN_ALGO_STEP : CLATTN_RNN_ALGO_PERSISTENT;
        tu_poison(out, no), tu_poison(hn, ns), tu_poison(cn, ns);
        clattn_status fs = st ? st
                              : clattn_rnn_forward_host(rnn, &f, x, h0, lstm ? c0 : NULL, out, hn,
                                                        lstm ? cn : NULL);
        TU_CHECK(fs == CLATTN_SUCCESS && tu_compare("rnn out", out, ro, no, 3e-5, 2e-4) &&
                     tu_compare("rnn h_n", hn, rh, ns, 3e-5, 2e-4) &&
                     (!lstm || tu_compare("rnn c_n", cn, rc, ns, 3e-5, 2e-4)),
                 "rnn %s L=%lld B=%lld T=%lld Din=%lld H=%lld %s: %s %s", lstm ? "lstm" : "gru",
                 (long long)L, (long long)B, (long long)T, (long long)Din, (long long)H,
                 a ? "step" : "persistent", clattn_status_string(fs),
                 fs ? clattn_context_last_error(ctx) : "");
    }
    clattn_rnn_destroy(rnn);
    for (int64_t e = 0; e < E; e++)
        for (int i = 0; i < 4; i++) free(w[e][i]);
    free(x), free(h0), free(c0), free(out), free(hn), free(cn), free(ro), free(rh), free(rc);
    free(len);
}

/* clattn_rope on B 2, H 3, S 3 (positions [batch, seq]: 0, +-2^20, +-2^31 ends and two small):
 * in place in the projection layout [B, S, H, D] when `in_place`, else out of place into a
 * contiguous out; D and R (0: D) as given; dtype f32 or f16 (the reference on rounded inputs). */
static void check_rope(clattn_context *ctx, clattn_rope_style style, clattn_dtype dt, int64_t D,
                       int64_t R, int in_place) {
    enum { RB = 2, RH = 3, RS = 3, MAXD = 8 };
    const int64_t n = RB * RH * RS * D;
    const int32_t pos[RB * RS] = {0, 1 << 20, -(1 << 20), INT32_MAX, INT32_MIN, 7};
    float x[RB * RH * RS * MAXD], got[RB * RH * RS * MAXD];
    double ref[RB * RH * RS * MAXD];
    unsigned char in[sizeof x], out[sizeof x];
    tu_fill_uniform(x, n, -1.0f, 1.0f);
    const int64_t pst[3] = {RS * RH * D, D, RH * D}, cst[3] = {RH * RS * D, RS * D, D};
    const int64_t *ist = in_place ? pst : cst; /* where (b, h, t) is in `in` */
    for (int64_t i = 0; i < n; i++) x[i] = tu_round_to(dt, x[i]);
    memcpy(in, x, sizeof x);
    if (dt != CLATTN_DTYPE_F32) to_narrow(dt, (float *)in, n);
    memset(out, 0xff, sizeof out); /* NaN in either type */
    clattn_rope_desc d;
    clattn_rope_desc_init(&d, sizeof d);
    d.batch = RB, d.heads = RH, d.seq = RS, d.head_dim = D, d.rotary_dim = R, d.style = style;
    d.dtype = dt, d.positions_per_batch = 1;
    if (in_place) memcpy(d.in_strides, pst, sizeof pst), memcpy(d.out_strides, pst, sizeof pst);
    clattn_status st = clattn_rope_host(ctx, &d, in, in_place ? in : out, pos);
    if (dt != CLATTN_DTYPE_F32)
        from_narrow(dt, in_place ? in : out, got, n);
    else
        memcpy(got, in_place ? in : out, sizeof got);
    for (int64_t b = 0; b < RB; b++)
        for (int64_t h = 0; h < RH; h++)
            for (int64_t t = 0; t < RS; t++) { /* ref and got in the order of `in` */
                const int64_t at = b * ist[0] + h * ist[1] + t * ist[2];
                rope_ref_row(D, R ? R : D, style == CLATTN_ROPE_GPTJ, 10000.0, 1.0, pos[b * RS + t],
                             x + at, ref + at);
            }
    const double rtol = dt == CLATTN_DTYPE_F16 ? 0x1p-11 * (1 + 1e-6) : 0.0;
    TU_CHECK(st == CLATTN_SUCCESS && tu_compare("rope", got, ref, n, 8e-7, rtol),
             "rope %s %s D%lld R%lld %s: %s %s", style == CLATTN_ROPE_GPTJ ? "GPTJ" : "NEOX",
             dt == CLATTN_DTYPE_F16 ? "f16" : "f32", (long long)D, (long long)R,
             in_place ? "in place, projection layout" : "out of place", clattn_status_string(st),
             st ? clattn_context_last_error(ctx) : "");
}

/* A paged KV cache (pages of 5 tokens, f32) under oclgrind: kv_append writing ragged counts
 * onto pages (one sequence left empty, one filled to capacity), then the decode kernel reading
 * the pages in place through the block table, attended in permuted slot order. With `rope`,
 * head_dim 38 (else 37) and K rotated as it is stored (GPT-J pairs, the first 30 dims), the
 * reference rotating its K rows at their positions. */
static void check_kv_cache(clattn_context *ctx, int rope) {
    enum { SLOTS = 3, HQ = 4, HKV = 2, CAPY = 23, PAGE = 5, ROPE_DIM = 30 };
    const int64_t DD = rope ? 38 : 37;
    static const int32_t slots[SLOTS] = {0, 1, 2}, counts[SLOTS] = {13, 0, CAPY};
    static const int32_t order[SLOTS] = {2, 0, 1};
    clattn_kv_cache_desc cd;
    clattn_kv_cache_desc_init(&cd, sizeof cd);
    cd.slots = SLOTS, cd.kv_heads = HKV, cd.capacity = CAPY, cd.head_dim = DD, cd.page_size = PAGE;
    clattn_kv_cache *cache = NULL;
    clattn_status st = clattn_kv_cache_create(ctx, &cd, &cache);
    const int64_t nk = SLOTS * HKV * CAPY * DD, nq = SLOTS * HQ * DD, nl = SLOTS * HQ;
    float *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nk), *q = tu_alloc_floats(nq);
    float *o = tu_alloc_floats(nq), *l = tu_alloc_floats(nl);
    float *rk = tu_alloc_floats(nk), *rv = tu_alloc_floats(nk);
    tu_fill_normal(k, nk, 1.0f);
    tu_fill_normal(v, nk, 1.0f);
    tu_fill_normal(q, nq, 1.0f);
    tu_poison(o, nq);
    tu_poison(l, nl);
    clattn_kv_append_desc ad;
    clattn_kv_append_desc_init(&ad, sizeof ad);
    ad.num_seqs = SLOTS, ad.slots = slots, ad.counts = counts;
    if (rope) ad.rope_theta = 10000.0, ad.rope_style = CLATTN_ROPE_GPTJ, ad.rope_dim = ROPE_DIM;
    if (st == CLATTN_SUCCESS) st = clattn_kv_cache_append_host(cache, &ad, k, v);
    double row[38];
    for (int64_t r = 0; rope && r < SLOTS * HKV * CAPY; r++) { /* row r is token r % CAPY */
        rope_ref_row(DD, ROPE_DIM, 1, 10000.0, 1.0, (int32_t)(r % CAPY), k + r * DD, row);
        for (int64_t e = 0; e < DD; e++) k[r * DD + e] = (float)row[e];
    }
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = SLOTS, d.heads = HQ, d.seq_q = 1, d.head_dim = DD, d.causal = 1;
    d.algo = CLATTN_ALGO_DECODE, d.flavour = CLATTN_FLAVOUR_GPU, d.decode_splits = 3;
    if (st == CLATTN_SUCCESS) st = clattn_kv_cache_attention_host(cache, &d, order, q, NULL, o, l);
    if (TU_CHECK(st == CLATTN_SUCCESS, "paged kv cache decode: %s %s", clattn_status_string(st),
                 st ? clattn_context_last_error(ctx) : "")) {
        int32_t lens[SLOTS];
        for (int b = 0; b < SLOTS; b++) { /* sequence b of the call is slot order[b] */
            lens[b] = counts[order[b]];
            memcpy(rk + b * HKV * CAPY * DD, k + order[b] * HKV * CAPY * DD,
                   sizeof(float) * HKV * CAPY * DD);
            memcpy(rv + b * HKV * CAPY * DD, v + order[b] * HKV * CAPY * DD,
                   sizeof(float) * HKV * CAPY * DD);
        }
        sdpa_ref_problem rp;
        memset(&rp, 0, sizeof rp);
        rp.B = SLOTS, rp.Hq = HQ, rp.Hkv = HKV, rp.Sq = 1, rp.Skv = CAPY, rp.D = rp.Dv = DD;
        rp.scale = 1.0 / sqrt((double)DD), rp.causal = 1, rp.q = q, rp.k = rk, rp.v = rv;
        rp.kv_lens = lens;
        sdpa_ref_contiguous(HQ, 1, DD, rp.q_st);
        sdpa_ref_contiguous(HKV, CAPY, DD, rp.k_st);
        sdpa_ref_contiguous(HKV, CAPY, DD, rp.v_st);
        double *ro = malloc(sizeof(double) * (size_t)nq), *rl = malloc(sizeof(double) * (size_t)nl);
        if (!ro || !rl || sdpa_ref(&rp, ro, rl)) {
            printf("FAIL: reference allocation\n");
            exit(1);
        }
        TU_CHECK(tu_compare("out", o, ro, nq, 2e-5, 1e-4) &&
                     tu_compare("lse", l, rl, nl, 2e-5, 2e-5),
                 "paged kv cache decode (pages of %d, lengths 13, 0, %d%s) matches", PAGE, CAPY,
                 rope ? ", K rotated as appended" : "");
        free(ro), free(rl);
    }
    clattn_kv_cache_destroy(cache);
    free(k), free(v), free(q), free(o), free(l), free(rk), free(rv);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr,
                "usage: gpu_check flash1|flash2|naive|decode|additive|gru|rnn|rope [--expect-local "
                "BYTES]"
                " [--expect-wg N]\n");
        return 2;
    }
    const char *family = argv[1];
    int64_t want_local = 0, want_wg = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--expect-local")) want_local = strtoll(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--expect-wg")) want_wg = strtoll(argv[i + 1], NULL, 10);
    }
    tu_seed();
    elapsed();
    clattn_context *ctx = tu_context();
    clattn_device_caps caps;
    clattn_context_caps(ctx, &caps, sizeof caps);
    printf("device: %s, local memory %lld bytes (%s), max work-group %lld\n", caps.device_name,
           (long long)caps.real_local_mem_bytes,
           caps.local_mem_type == CLATTN_LOCAL_MEM_LOCAL ? "local" : "global",
           (long long)caps.max_work_group_size);
    /* Run anywhere else this would quietly test another device's flavour. */
    if (!TU_CHECK(strstr(caps.device_name, "Oclgrind") &&
                      caps.local_mem_type == CLATTN_LOCAL_MEM_LOCAL,
                  "device is oclgrind's, with CL_LOCAL memory (run me through run.sh)") ||
        !TU_CHECK((!want_local || caps.local_mem_bytes == want_local) &&
                      (!want_wg || caps.max_work_group_size == want_wg),
                  "device limits are the ones asked for (local %lld, wg %lld)",
                  (long long)want_local, (long long)want_wg)) {
        clattn_context_destroy(ctx);
        return tu_finish();
    }
    const size_t nsdpa = sizeof sdpa_cases / sizeof sdpa_cases[0];
    if (!strcmp(family, "flash1") || !strcmp(family, "flash2") || !strcmp(family, "naive")) {
        clattn_algo algo = !strcmp(family, "flash1")   ? CLATTN_ALGO_FLASH1
                           : !strcmp(family, "flash2") ? CLATTN_ALGO_FLASH2
                                                       : CLATTN_ALGO_NAIVE;
        for (size_t i = 0; i < nsdpa; i++) check_sdpa(ctx, algo, &sdpa_cases[i], 0);
    } else if (!strcmp(family, "decode")) {
        for (size_t i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++)
            check_sdpa(ctx, CLATTN_ALGO_DECODE, &decode_cases[i], decode_splits[i]);
        check_combine(ctx);
        check_kv_cache(ctx, 0);
    } else if (!strcmp(family, "rope")) {
        check_rope(ctx, CLATTN_ROPE_GPTJ, CLATTN_DTYPE_F16, 8, 0, 1);
        check_rope(ctx, CLATTN_ROPE_NEOX, CLATTN_DTYPE_F32, 6, 4, 0);
        check_kv_cache(ctx, 1);
    } else if (!strcmp(family, "additive")) {
        check_additive(ctx, 3, 37, 2, 45, 19, 300, 1, 0, 0);
        /* The dispatcher stops at 256 items and 1024-position tiles; this one fills the device's
         * work-group limit and takes several 16-position tiles in the context pass. */
        check_additive(ctx, 2, 53, 1, 33, 21, 13, 0, caps.max_work_group_size, 16);
    } else if (!strcmp(family, "gru")) {
        check_gru(ctx, 3, 7, 13, 37);
    } else if (!strcmp(family, "rnn")) {
        check_rnn(ctx, 1, 2, 3, 4, 5, 11);
        check_rnn(ctx, 0, 1, 5, 3, 6, 9);
    } else {
        TU_CHECK(0, "unknown family '%s'", family);
    }
    clattn_context_destroy(ctx);
    printf("time %s total: %.1f s\n", family, elapsed());
    return tu_finish();
}
