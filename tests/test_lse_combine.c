/* test_lse_combine.c: clattn_lse_combine (include/clattn_combine.h), the merge of partial
 * attentions, and the one combine kernel behind it and the decode path. The keys of a random
 * SDPA problem (GQA, an additive mask, one query row masked in every key, causal or not) are cut
 * into N = 1, 2, 3 and 7 uneven parts, one of them empty; each part is attention with lse over
 * its own keys only (clattn_sdpa_host with the mask removing every other key), and the output
 * rows of a part that saw none of a row's keys (lse -inf) are overwritten with NaN, which the
 * merge must never read. The merge must equal one-shot attention over all the keys (out and lse)
 * and the float64 reference, every element, outputs poisoned, for float32, float16 and bfloat16
 * out (a narrow out also within half an ulp of the float32 merge). Also: a NaN or +inf lse makes
 * its row NaN and no other; the device-buffer entry with a wait list and an event gives the host
 * entry's bits; the decode path's narrow outputs, which the same kernel writes; bad input
 * refused with a message and nothing written. */
#include "npy.h"
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
    int causal;
    int parts;
    int cut[8]; /* the parts' boundaries: part n is keys cut[n] .. cut[n + 1] - 1 */
} ccase;

static const ccase cases[] = {
    {"N=1", 2, 4, 2, 5, 41, 24, 40, 0, 1, {0, 41}},
    {"N=2 causal Dv=80", 2, 4, 2, 5, 41, 24, 80, 1, 2, {0, 13, 41}},
    {"N=3, part 0 empty", 2, 4, 2, 5, 41, 24, 40, 0, 3, {0, 0, 20, 41}},
    {"N=7 uneven causal, part 2 empty", 2, 4, 2, 5, 41, 24, 40, 1, 7, {0, 1, 9, 9, 22, 30, 40, 41}},
    {"N=2 MQA Dv=3", 1, 3, 1, 2, 9, 8, 3, 0, 2, {0, 4, 9}},
};

/* One problem's inputs, its one-shot result and the float64 reference. */
typedef struct {
    const ccase *c;
    int64_t nq, nk, nv, nm, no, nl;
    float *q, *k, *v, *mask, *out1, *lse1;
    double *rout, *rlse;
} problem;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        printf("FAIL: allocation\n");
        exit(1);
    }
    return p;
}

static clattn_sdpa_desc sdpa_desc(const ccase *c) {
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = c->B, d.heads = c->Hq, d.kv_heads = c->Hkv, d.seq_q = c->Sq, d.seq_kv = c->Skv;
    d.head_dim = c->D, d.head_dim_v = c->Dv;
    d.causal = c->causal;
    d.has_mask = 1; /* [B, Hq, Sq, Skv] */
    return d;
}

/* Attention with lse under `mask`; a failure ends the test (nothing after it means anything). */
static void attention(clattn_context *ctx, const problem *p, const float *mask, float *out,
                      float *lse) {
    const clattn_sdpa_desc d = sdpa_desc(p->c);
    tu_poison(out, p->no);
    tu_poison(lse, p->nl);
    clattn_status st = clattn_sdpa_host(ctx, &d, p->q, p->k, p->v, mask, out, lse);
    if (!TU_CHECK(st == CLATTN_SUCCESS, "%s: attention: %s %s", p->c->name,
                  clattn_status_string(st), st ? clattn_context_last_error(ctx) : ""))
        exit(tu_finish());
}

static void make_problem(clattn_context *ctx, const ccase *c, problem *p) {
    memset(p, 0, sizeof *p);
    p->c = c;
    p->nq = c->B * c->Hq * c->Sq * c->D, p->nk = c->B * c->Hkv * c->Skv * c->D;
    p->nv = c->B * c->Hkv * c->Skv * c->Dv, p->nl = c->B * c->Hq * c->Sq;
    p->nm = p->nl * c->Skv, p->no = p->nl * c->Dv;
    p->q = tu_alloc_floats(p->nq), p->k = tu_alloc_floats(p->nk), p->v = tu_alloc_floats(p->nv);
    p->mask = tu_alloc_floats(p->nm);
    p->out1 = tu_alloc_floats(p->no), p->lse1 = tu_alloc_floats(p->nl);
    tu_fill_normal(p->q, p->nq, 1.0f);
    tu_fill_normal(p->k, p->nk, 1.0f);
    tu_fill_normal(p->v, p->nv, 1.0f);
    tu_fill_uniform(p->mask, p->nm, -1.0f, 1.0f);
    /* The last query row of the last (b, h) sees no key, in any part. */
    for (int64_t j = 0; j < c->Skv; j++) p->mask[p->nm - 1 - j] = -INFINITY;
    attention(ctx, p, p->mask, p->out1, p->lse1);
    sdpa_ref_problem rp;
    memset(&rp, 0, sizeof rp);
    rp.B = c->B, rp.Hq = c->Hq, rp.Hkv = c->Hkv, rp.Sq = c->Sq, rp.Skv = c->Skv;
    rp.D = c->D, rp.Dv = c->Dv;
    rp.scale = 1.0 / sqrt((double)c->D);
    rp.causal = c->causal;
    rp.q = p->q, rp.k = p->k, rp.v = p->v, rp.mask = p->mask;
    sdpa_ref_contiguous(c->Hq, c->Sq, c->D, rp.q_st);
    sdpa_ref_contiguous(c->Hkv, c->Skv, c->D, rp.k_st);
    sdpa_ref_contiguous(c->Hkv, c->Skv, c->Dv, rp.v_st);
    sdpa_ref_mask_strides(c->B, c->Hq, c->Hq, c->Sq, c->Skv, rp.m_st);
    p->rout = xmalloc((size_t)p->no * sizeof(double));
    p->rlse = xmalloc((size_t)p->nl * sizeof(double));
    if (sdpa_ref(&rp, p->rout, p->rlse)) {
        printf("FAIL: reference allocation\n");
        exit(1);
    }
}

static void free_problem(problem *p) {
    free(p->q), free(p->k), free(p->v), free(p->mask), free(p->out1), free(p->lse1);
    free(p->rout), free(p->rlse);
}

/* The parts: part n's output [B, Hq, Sq, Dv] and lse [B, Hq, Sq] at n * no and n * nl. A row a
 * part did not see must come out as 0 and -inf; its output row is then replaced by NaN. */
static void make_parts(clattn_context *ctx, const problem *p, float *part_out, float *part_lse) {
    const ccase *c = p->c;
    float *m = tu_alloc_floats(p->nm);
    int dead_ok = 1;
    for (int n = 0; n < c->parts; n++) {
        for (int64_t x = 0; x < p->nm; x++) {
            const int64_t j = x % c->Skv;
            m[x] = j >= c->cut[n] && j < c->cut[n + 1] ? p->mask[x] : -INFINITY;
        }
        float *o = part_out + n * p->no, *l = part_lse + n * p->nl;
        attention(ctx, p, m, o, l);
        for (int64_t r = 0; r < p->nl; r++) {
            if (l[r] != -INFINITY) continue;
            for (int64_t e = 0; e < c->Dv; e++) dead_ok &= o[r * c->Dv + e] == 0.0f;
            tu_poison(o + r * c->Dv, c->Dv);
        }
    }
    TU_CHECK(dead_ok, "%s: every row a part did not see has out 0 there", c->name);
    free(m);
}

static clattn_lse_combine_desc combine_desc(const ccase *c, clattn_dtype out_dtype) {
    clattn_lse_combine_desc d;
    clattn_lse_combine_desc_init(&d, sizeof d);
    d.parts = c->parts, d.batch = c->B, d.heads = c->Hq, d.seq = c->Sq, d.head_dim_v = c->Dv;
    d.out_dtype = out_dtype;
    return d;
}

static const char *dt_name(clattn_dtype t) {
    return t == CLATTN_DTYPE_F16 ? "f16" : t == CLATTN_DTYPE_BF16 ? "bf16" : "f32";
}

/* n elements of the 16-bit type t (F16 or BF16) at src, widened. */
static void widen16(clattn_dtype t, const uint16_t *src, int64_t n, float *dst) {
    for (int64_t i = 0; i < n; i++) {
        if (t == CLATTN_DTYPE_F16) {
            dst[i] = clattn_npy_half_to_float(src[i]);
        } else {
            const uint32_t x = (uint32_t)src[i] << 16;
            memcpy(&dst[i], &x, sizeof x);
        }
    }
}

/* n elements of t at src, widened. */
static void widen(clattn_dtype t, const void *src, int64_t n, float *dst) {
    if (t == CLATTN_DTYPE_F32)
        memcpy(dst, src, (size_t)n * sizeof *dst);
    else
        widen16(t, src, n, dst);
}

/* Every element of the narrow `got` is within half an ulp of t of the float32 `f`. */
static int half_ulp(clattn_dtype t, const float *got, const float *f, int64_t n) {
    const double rel = t == CLATTN_DTYPE_F16 ? 0x1p-11 : 0x1p-8;
    const double tiny = t == CLATTN_DTYPE_F16 ? 0x1p-25 : 0x1p-134; /* half the least step */
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - f[i]) <= rel * fabs(f[i]) + tiny)) {
            printf("  [%lld] %.9g rounded to %.9g\n", (long long)i, (double)f[i], (double)got[i]);
            return 0;
        }
    return 1;
}

static void check_case(clattn_context *ctx, const ccase *c) {
    problem p;
    make_problem(ctx, c, &p);
    float *po = tu_alloc_floats(c->parts * p.no), *pl = tu_alloc_floats(c->parts * p.nl);
    make_parts(ctx, &p, po, pl);
    float *out32 = tu_alloc_floats(p.no), *lse = tu_alloc_floats(p.nl);
    double *one = xmalloc((size_t)(p.no > p.nl ? p.no : p.nl) * sizeof(double));
    for (int t = CLATTN_DTYPE_F32; t <= CLATTN_DTYPE_BF16; t++) {
        const clattn_dtype dt = (clattn_dtype)t;
        const clattn_lse_combine_desc d = combine_desc(c, dt);
        void *out = xmalloc((size_t)p.no * 4);
        float *wide = tu_alloc_floats(p.no);
        if (dt == CLATTN_DTYPE_F32)
            tu_poison(out, p.no);
        else
            memset(out, 0xff, (size_t)p.no * 2); /* a NaN in both 16-bit types */
        tu_poison(lse, p.nl);
        clattn_status st = clattn_lse_combine_host(ctx, &d, po, pl, out, lse);
        if (TU_CHECK(st == CLATTN_SUCCESS, "%s, out %s: combine: %s %s", c->name, dt_name(dt),
                     clattn_status_string(st), st ? clattn_context_last_error(ctx) : "")) {
            widen(dt, out, p.no, wide);
            if (dt == CLATTN_DTYPE_F32) {
                memcpy(out32, wide, (size_t)p.no * sizeof(float));
                for (int64_t i = 0; i < p.no; i++) one[i] = p.out1[i];
                TU_CHECK(tu_compare("out", wide, one, p.no, 1e-5, 1e-4),
                         "%s: out equals one-shot attention's", c->name);
                for (int64_t i = 0; i < p.nl; i++) one[i] = p.lse1[i];
                TU_CHECK(tu_compare("lse", lse, one, p.nl, 1e-5, 1e-5),
                         "%s: lse equals one-shot attention's", c->name);
            } else {
                TU_CHECK(half_ulp(dt, wide, out32, p.no),
                         "%s, out %s: within half an ulp of the float32 merge", c->name,
                         dt_name(dt));
            }
            const double rtol = dt == CLATTN_DTYPE_F32   ? 1e-3
                                : dt == CLATTN_DTYPE_F16 ? 2e-3
                                                         : 8e-3;
            TU_CHECK(tu_compare("out", wide, p.rout, p.no, 2e-4, rtol),
                     "%s, out %s: out matches the float64 reference", c->name, dt_name(dt));
            TU_CHECK(tu_compare("lse", lse, p.rlse, p.nl, 1e-4, 1e-4),
                     "%s, out %s: lse matches the float64 reference (dead row -inf)", c->name,
                     dt_name(dt));
        }
        free(out);
        free(wide);
    }
    free(po), free(pl), free(out32), free(lse), free(one);
    free_problem(&p);
}

/* A NaN lse in one part (on the row no part saw) and +inf in another (on a live row): those rows
 * come out NaN, out and lse; every other element as without them, bit for bit. */
static void nan_rows(clattn_context *ctx) {
    const ccase *c = &cases[2];
    problem p;
    make_problem(ctx, c, &p);
    float *po = tu_alloc_floats(c->parts * p.no), *pl = tu_alloc_floats(c->parts * p.nl);
    make_parts(ctx, &p, po, pl);
    const clattn_lse_combine_desc d = combine_desc(c, CLATTN_DTYPE_F32);
    float *o0 = tu_alloc_floats(p.no), *l0 = tu_alloc_floats(p.nl);
    float *o1 = tu_alloc_floats(p.no), *l1 = tu_alloc_floats(p.nl);
    tu_poison(o0, p.no), tu_poison(l0, p.nl), tu_poison(o1, p.no), tu_poison(l1, p.nl);
    clattn_status st = clattn_lse_combine_host(ctx, &d, po, pl, o0, l0);
    const int64_t dead = p.nl - 1, live = 3;
    pl[1 * p.nl + dead] = NAN;
    pl[2 * p.nl + live] = INFINITY;
    if (st == CLATTN_SUCCESS) st = clattn_lse_combine_host(ctx, &d, po, pl, o1, l1);
    int ok = st == CLATTN_SUCCESS && isnan(l1[dead]) && isnan(l1[live]);
    for (int64_t r = 0; r < p.nl && ok; r++) {
        const int bad = r == dead || r == live;
        for (int64_t e = 0; e < c->Dv; e++) {
            const int64_t i = r * c->Dv + e;
            ok &= bad ? isnan(o1[i]) : memcmp(&o1[i], &o0[i], sizeof(float)) == 0;
        }
        if (!bad) ok &= memcmp(&l1[r], &l0[r], sizeof(float)) == 0;
    }
    TU_CHECK(ok, "a NaN lse (on a row no part saw) and an lse of +inf make just their rows NaN %s",
             st ? clattn_context_last_error(ctx) : "");
    free(po), free(pl), free(o0), free(l0), free(o1), free(l1);
    free_problem(&p);
}

/* The device entry: inputs written without blocking, their events the wait list; the result
 * must be the host entry's, bit for bit. */
static void device_entry(clattn_context *ctx) {
    const ccase *c = &cases[3];
    problem p;
    make_problem(ctx, c, &p);
    const int64_t npo = c->parts * p.no, npl = c->parts * p.nl;
    float *po = tu_alloc_floats(npo), *pl = tu_alloc_floats(npl);
    make_parts(ctx, &p, po, pl);
    const clattn_lse_combine_desc d = combine_desc(c, CLATTN_DTYPE_F32);
    float *oh = tu_alloc_floats(p.no), *lh = tu_alloc_floats(p.nl);
    float *od = tu_alloc_floats(p.no), *ld = tu_alloc_floats(p.nl);
    tu_poison(oh, p.no), tu_poison(lh, p.nl), tu_poison(od, p.no), tu_poison(ld, p.nl);
    clattn_status st = clattn_lse_combine_host(ctx, &d, po, pl, oh, lh);
    cl_context cc = clattn_context_cl_context(ctx);
    cl_command_queue queue = clattn_context_queue(ctx);
    cl_int e1 = 0, e2 = 0, e3 = 0, e4 = 0;
    cl_mem bpo = clCreateBuffer(cc, CL_MEM_READ_WRITE, (size_t)npo * 4, NULL, &e1);
    cl_mem bpl = clCreateBuffer(cc, CL_MEM_READ_WRITE, (size_t)npl * 4, NULL, &e2);
    cl_mem bo =
        clCreateBuffer(cc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, (size_t)p.no * 4, od, &e3);
    cl_mem bl =
        clCreateBuffer(cc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, (size_t)p.nl * 4, ld, &e4);
    cl_event w[2] = {NULL, NULL}, ev = NULL;
    if (e1 || e2 || e3 || e4 ||
        clEnqueueWriteBuffer(queue, bpo, CL_FALSE, 0, (size_t)npo * 4, po, 0, NULL, &w[0]) ||
        clEnqueueWriteBuffer(queue, bpl, CL_FALSE, 0, (size_t)npl * 4, pl, 0, NULL, &w[1])) {
        printf("FAIL: OpenCL setup\n");
        exit(1);
    }
    if (st == CLATTN_SUCCESS) st = clattn_lse_combine(ctx, &d, bpo, bpl, bo, bl, 2, w, &ev);
    int ok = st == CLATTN_SUCCESS && ev != NULL && clWaitForEvents(1, &ev) == CL_SUCCESS &&
             clEnqueueReadBuffer(queue, bo, CL_TRUE, 0, (size_t)p.no * 4, od, 0, NULL, NULL) == 0 &&
             clEnqueueReadBuffer(queue, bl, CL_TRUE, 0, (size_t)p.nl * 4, ld, 0, NULL, NULL) == 0;
    ok = ok && memcmp(od, oh, (size_t)p.no * 4) == 0 && memcmp(ld, lh, (size_t)p.nl * 4) == 0;
    TU_CHECK(ok, "device entry with a wait list and an event: the host entry's bits %s",
             st ? clattn_context_last_error(ctx) : "");
    if (ev) clReleaseEvent(ev);
    clWaitForEvents(2, w);
    clReleaseEvent(w[0]), clReleaseEvent(w[1]);
    clReleaseMemObject(bpo), clReleaseMemObject(bpl), clReleaseMemObject(bo);
    clReleaseMemObject(bl);
    free(po), free(pl), free(oh), free(lh), free(od), free(ld);
    free_problem(&p);
}

/* The decode path writes its output through the same kernel: narrow outputs, a ragged batch with
 * an empty sequence (out 0, lse -inf), forced splits, against the reference. */
static void decode_narrow(clattn_context *ctx) {
    enum { B = 2, HQ = 8, HKV = 2, SKV = 300, D = 64, NO = B * HQ * D, NL = B * HQ };
    float *q = tu_alloc_floats(NO), *k = tu_alloc_floats(B * HKV * SKV * D);
    float *v = tu_alloc_floats(B * HKV * SKV * D), wide[NO], lse[NL];
    uint16_t out[NO];
    int32_t lens[B] = {0, 217};
    tu_fill_normal(q, NO, 1.0f);
    tu_fill_normal(k, B * HKV * SKV * D, 1.0f);
    tu_fill_normal(v, B * HKV * SKV * D, 1.0f);
    sdpa_ref_problem rp;
    memset(&rp, 0, sizeof rp);
    rp.B = B, rp.Hq = HQ, rp.Hkv = HKV, rp.Sq = 1, rp.Skv = SKV, rp.D = rp.Dv = D;
    rp.scale = 1.0 / sqrt((double)D);
    rp.q = q, rp.k = k, rp.v = v, rp.kv_lens = lens;
    sdpa_ref_contiguous(HQ, 1, D, rp.q_st);
    sdpa_ref_contiguous(HKV, SKV, D, rp.k_st);
    sdpa_ref_contiguous(HKV, SKV, D, rp.v_st);
    double rout[NO], rlse[NL];
    if (sdpa_ref(&rp, rout, rlse)) {
        printf("FAIL: reference allocation\n");
        exit(1);
    }
    for (int t = CLATTN_DTYPE_F16; t <= CLATTN_DTYPE_BF16; t++) {
        clattn_sdpa_desc d;
        clattn_sdpa_desc_init(&d, sizeof d);
        d.batch = B, d.heads = HQ, d.kv_heads = HKV, d.seq_q = 1, d.seq_kv = SKV, d.head_dim = D;
        d.algo = CLATTN_ALGO_DECODE;
        d.decode_splits = 3;
        d.kv_lens = lens;
        d.out_dtype = (clattn_dtype)t;
        memset(out, 0xff, sizeof out);
        tu_poison(lse, NL);
        clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, NULL, out, lse);
        if (!TU_CHECK(st == CLATTN_SUCCESS, "decode, out %s: %s %s", dt_name(d.out_dtype),
                      clattn_status_string(st), st ? clattn_context_last_error(ctx) : ""))
            continue;
        widen16(d.out_dtype, out, NO, wide);
        TU_CHECK(tu_compare("out", wide, rout, NO, 2e-4, t == CLATTN_DTYPE_F16 ? 2e-3 : 8e-3) &&
                     tu_compare("lse", lse, rlse, NL, 1e-4, 1e-4),
                 "decode, out %s, ragged with an empty sequence, 3 splits: matches the reference",
                 dt_name(d.out_dtype));
    }
    free(q), free(k), free(v);
}

/* Bad input: a clear status and message, and nothing written. */
static void refusals(clattn_context *ctx) {
    enum { N = 2, R = 6, DV = 5 }; /* B 1, H 2, S 3 */
    float po[N * R * DV], pl[N * R], out[R * DV], lse[R], out0[R * DV], lse0[R];
    tu_fill_normal(po, N * R * DV, 1.0f);
    tu_fill_normal(pl, N * R, 1.0f);
    tu_fill_normal(out, R * DV, 1.0f);
    tu_fill_normal(lse, R, 1.0f);
    memcpy(out0, out, sizeof out), memcpy(lse0, lse, sizeof lse);
    clattn_lse_combine_desc good;
    clattn_lse_combine_desc_init(&good, sizeof good);
    good.parts = N, good.batch = 1, good.heads = 2, good.seq = 3, good.head_dim_v = DV;
    static const struct {
        const char *what, *needle;
        clattn_status want;
    } bad[] = {
        {"parts 0", "parts is 0", CLATTN_ERROR_INVALID_ARGUMENT},
        {"batch -1", "batch is -1", CLATTN_ERROR_INVALID_ARGUMENT},
        {"heads 0", "heads is 0", CLATTN_ERROR_INVALID_ARGUMENT},
        {"seq 0", "seq is 0", CLATTN_ERROR_INVALID_ARGUMENT},
        {"head_dim_v 0", "head_dim_v is 0", CLATTN_ERROR_INVALID_ARGUMENT},
        {"out_dtype 3", "out_dtype is 3", CLATTN_ERROR_INVALID_ARGUMENT},
        {"sizes past int64", "overflow", CLATTN_ERROR_OVERFLOW},
        {"struct_size 3", "struct_size", CLATTN_ERROR_INVALID_ARGUMENT},
        {"NULL part_out", "required", CLATTN_ERROR_INVALID_ARGUMENT},
        {"NULL part_lse", "required", CLATTN_ERROR_INVALID_ARGUMENT},
        {"NULL out", "required", CLATTN_ERROR_INVALID_ARGUMENT},
        {"out and lse the same array", "different", CLATTN_ERROR_INVALID_ARGUMENT},
        {"NULL descriptor", "NULL", CLATTN_ERROR_INVALID_ARGUMENT},
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        clattn_lse_combine_desc d = good;
        const float *a = po, *b = pl;
        void *o = out;
        float *l = lse;
        if (i == 0) d.parts = 0;
        if (i == 1) d.batch = -1;
        if (i == 2) d.heads = 0;
        if (i == 3) d.seq = 0;
        if (i == 4) d.head_dim_v = 0;
        if (i == 5) d.out_dtype = (clattn_dtype)3;
        if (i == 6) d.parts = (int64_t)1 << 40, d.batch = (int64_t)1 << 20, d.heads = 1 << 10;
        if (i == 7) d.struct_size = 3;
        if (i == 8) a = NULL;
        if (i == 9) b = NULL;
        if (i == 10) o = NULL;
        if (i == 11) l = (float *)out;
        clattn_status st = clattn_lse_combine_host(ctx, i == 12 ? NULL : &d, a, b, o, l);
        const char *msg = clattn_context_last_error(ctx);
        TU_CHECK(st == bad[i].want && strstr(msg, bad[i].needle) &&
                     memcmp(out, out0, sizeof out) == 0 && memcmp(lse, lse0, sizeof lse) == 0,
                 "host, %s: %s (%s), nothing written", bad[i].what, clattn_status_string(st), msg);
    }
    TU_CHECK(clattn_lse_combine_host(NULL, &good, po, pl, out, lse) ==
                     CLATTN_ERROR_INVALID_ARGUMENT &&
                 memcmp(out, out0, sizeof out) == 0,
             "host, NULL context: INVALID_ARGUMENT, nothing written");
    TU_CHECK(clattn_lse_combine_desc_init(NULL, sizeof good) == CLATTN_ERROR_INVALID_ARGUMENT &&
                 clattn_lse_combine_desc_init(&good, CLATTN_LSE_COMBINE_DESC_MIN_SIZE - 1) ==
                     CLATTN_ERROR_INVALID_ARGUMENT,
             "desc_init of NULL or below the minimum size: INVALID_ARGUMENT");

    /* Device buffers: sizes, aliasing and the wait list; the event comes back NULL. */
    cl_context cc = clattn_context_cl_context(ctx);
    cl_command_queue queue = clattn_context_queue(ctx);
    const size_t full[4] = {sizeof po, sizeof pl, sizeof out, sizeof lse};
    void *host[4] = {po, pl, out, lse};
    cl_mem m[4], small[4];
    for (int i = 0; i < 4; i++) {
        cl_int e1 = 0, e2 = 0;
        m[i] = clCreateBuffer(cc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, full[i], host[i], &e1);
        small[i] =
            clCreateBuffer(cc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, full[i] - 4, host[i], &e2);
        if (e1 || e2) {
            printf("FAIL: OpenCL setup\n");
            exit(1);
        }
    }
    static const char *names[4] = {"part_out", "part_lse", "out", "lse"};
    for (int i = 0; i < 4 + 4; i++) {
        cl_mem b[4] = {m[0], m[1], m[2], m[3]};
        cl_uint nw = 0;
        const char *needle = "share a buffer";
        clattn_status want = CLATTN_ERROR_INVALID_ARGUMENT;
        if (i < 4) {
            b[i] = small[i];
            needle = names[i];
            want = CLATTN_ERROR_BUFFER_TOO_SMALL;
        }
        if (i == 4) b[2] = m[0];             /* out is part_out */
        if (i == 5) b[3] = m[2];             /* lse is out */
        if (i == 6) b[3] = m[1];             /* lse is part_lse */
        if (i == 7) nw = 1, needle = "wait"; /* a count without a list */
        cl_event ev = (cl_event)&nw;         /* garbage the call must overwrite */
        clattn_status st = clattn_lse_combine(ctx, &good, b[0], b[1], b[2], b[3], nw, NULL, &ev);
        const char *msg = clattn_context_last_error(ctx);
        TU_CHECK(st == want && ev == NULL && strstr(msg, needle), "device, %s: %s (%s), no event",
                 i < 4   ? names[i]
                 : i < 7 ? "an output sharing a buffer"
                         : "num_wait without a wait list",
                 clattn_status_string(st), msg);
    }
    float got[R * DV];
    clEnqueueReadBuffer(queue, m[2], CL_TRUE, 0, sizeof got, got, 0, NULL, NULL);
    TU_CHECK(memcmp(got, out0, sizeof got) == 0, "device: refused calls wrote nothing to out");
    for (int i = 0; i < 4; i++) clReleaseMemObject(m[i]), clReleaseMemObject(small[i]);
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(ctx, &cases[i]);
    nan_rows(ctx);
    device_entry(ctx);
    decode_narrow(ctx);
    refusals(ctx);
    clattn_context_destroy(ctx);
    return tu_finish();
}
