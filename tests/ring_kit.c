/* ring_kit.c: the shared part of the ring-attention tests (see ring_kit.h). */
#include "ring_kit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sequence lengths are not multiples of 2, 3 or 4 ranks' chunks (but for 38 over 2 ranks'
 * contiguous chunks, which case 4 does not use), and some cases have Sq != Skv. */
const ring_case ring_cases[] = {
    {"plain MHA, zigzag", 1, 2, 2, 45, 45, 32, 32, 0, 0, 0, 0, 0, 0, 0, CLATTN_RING_ZIGZAG, 0,
     CLATTN_DTYPE_F32, CLATTN_DTYPE_F32},
    {"causal GQA 4/2, Dv 24, zigzag", 2, 4, 2, 53, 53, 16, 24, 1, 0, 0, 0, 0, 0, 0,
     CLATTN_RING_ZIGZAG, 0, CLATTN_DTYPE_F32, CLATTN_DTYPE_F32},
    {"causal bottom-right Sq 29 < Skv 47, contiguous", 1, 2, 1, 29, 47, 16, 16, 1, 0, 0, 0, 0, 0, 0,
     CLATTN_RING_CONTIGUOUS, 0, CLATTN_DTYPE_F32, CLATTN_DTYPE_F32},
    {"causal top-left + window (7, 2) + ALiBi + softcap, Sq 41 > Skv 33", 1, 2, 2, 41, 33, 16, 16,
     1, 1, 1, 7, 2, 4.0f, 1, CLATTN_RING_ZIGZAG, 0, CLATTN_DTYPE_F32, CLATTN_DTYPE_F32},
    {"causal MQA, f16 q/k/v, bf16 out, [B, S, H, D] slices", 1, 4, 1, 38, 38, 32, 32, 1, 0, 0, 0, 0,
     0, 0, CLATTN_RING_ZIGZAG, 1, CLATTN_DTYPE_F16, CLATTN_DTYPE_BF16},
};
const int ring_case_count = (int)(sizeof ring_cases / sizeof ring_cases[0]);

static size_t esize(clattn_dtype t) {
    return t == CLATTN_DTYPE_F32 ? 4 : 2;
}

static float widen(clattn_dtype t, const void *p, int64_t i) {
    if (t == CLATTN_DTYPE_F32) return ((const float *)p)[i];
    const uint16_t w = ((const uint16_t *)p)[i];
    return t == CLATTN_DTYPE_F16 ? tu_h2f(w) : tu_b2f(w);
}

static void *xalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        printf("FAIL: test allocation of %zu bytes\n", n);
        exit(1);
    }
    return p;
}

/* n normal values stored as t. */
static void *fresh(clattn_dtype t, int64_t n) {
    float *f = tu_alloc_floats(n);
    tu_fill_normal(f, n, 1.0f);
    if (t == CLATTN_DTYPE_F32) return f;
    uint16_t *w = xalloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++) w[i] = t == CLATTN_DTYPE_F16 ? tu_f2h(f[i]) : tu_f2b(f[i]);
    free(f);
    return w;
}

int ring_problem_make(clattn_context *ctx, const ring_case *c, ring_problem *p) {
    memset(p, 0, sizeof *p);
    p->c = c;
    clattn_sdpa_desc *d = &p->d;
    clattn_sdpa_desc_init(d, sizeof *d);
    d->batch = c->B, d->heads = c->Hq, d->kv_heads = c->Hkv, d->seq_q = c->Sq, d->seq_kv = c->Skv;
    d->head_dim = c->D, d->head_dim_v = c->Dv;
    d->causal = c->causal;
    d->causal_align = c->top_left ? CLATTN_CAUSAL_TOP_LEFT : CLATTN_CAUSAL_BOTTOM_RIGHT;
    d->window = c->window, d->window_left = c->wl, d->window_right = c->wr;
    d->softcap = c->softcap;
    tu_fill_uniform(p->slopes, 16, 0.05f, 0.5f);
    d->alibi_slopes = c->alibi ? p->slopes : NULL;
    d->q_dtype = d->kv_dtype = c->in_dtype;
    d->out_dtype = c->out_dtype;
    p->q = fresh(c->in_dtype, c->B * c->Hq * c->Sq * c->D);
    p->k = fresh(c->in_dtype, c->B * c->Hkv * c->Skv * c->D);
    p->v = fresh(c->in_dtype, c->B * c->Hkv * c->Skv * c->Dv);
    const int64_t no = c->B * c->Hq * c->Sq * c->Dv, nl = c->B * c->Hq * c->Sq;
    void *out = xalloc((size_t)no * esize(c->out_dtype));
    p->out = tu_alloc_floats(no);
    p->lse = tu_alloc_floats(nl);
    clattn_status st = clattn_sdpa_host(ctx, d, p->q, p->k, p->v, NULL, out, p->lse);
    for (int64_t i = 0; i < no; i++) p->out[i] = widen(c->out_dtype, out, i);
    free(out);
    return !TU_CHECK(st == CLATTN_SUCCESS, "%s: one-device attention: %s %s", c->name,
                     clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
}

void ring_problem_free(ring_problem *p) {
    free(p->q);
    free(p->k);
    free(p->v);
    free(p->out);
    free(p->lse);
}

/* Element strides of a [B, H, S, dim] slice as the case lays it out. */
static void slice_strides(const ring_case *c, int64_t H, int64_t S, int64_t dim, int64_t st[3]) {
    st[0] = H * S * dim;
    st[1] = c->bshd ? dim : S * dim;
    st[2] = c->bshd ? H * dim : dim;
}

/* Where a rank's slice of a sequence comes from: its chunks (clattn_ring_chunks). */
typedef struct {
    int n;
    int64_t start[2], len[2], total;
} chunks;

static int get_chunks(clattn_ring_layout layout, int R, int r, int64_t S, chunks *c) {
    memset(c, 0, sizeof *c);
    clattn_status st = clattn_ring_chunks(layout, R, r, S, c->start, c->len, &c->n);
    c->total = c->len[0] + c->len[1];
    return st != CLATTN_SUCCESS;
}

/* The global row of the slice's row t. */
static int64_t global_row(const chunks *c, int64_t t) {
    return t < c->len[0] ? c->start[0] + t : c->start[1] + (t - c->len[0]);
}

/* Rank r's rows of a contiguous [B, H, S, dim] tensor (elements of es bytes) into a new slice
 * laid out by the case. */
static void *gather(const ring_case *cs, const void *full, size_t es, int64_t B, int64_t H,
                    int64_t S, int64_t dim, const chunks *c, size_t *bytes) {
    int64_t st[3];
    slice_strides(cs, H, c->total, dim, st);
    *bytes = (size_t)(B * H * c->total * dim) * es;
    unsigned char *slice = xalloc(*bytes);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < c->total; t++)
                memcpy(slice + (size_t)(b * st[0] + h * st[1] + t * st[2]) * es,
                       (const unsigned char *)full +
                           (size_t)(((b * H + h) * S + global_row(c, t)) * dim) * es,
                       (size_t)dim * es);
    return slice;
}

int ring_local_make(const ring_problem *p, int R, int r, ring_local *l) {
    const ring_case *c = p->c;
    memset(l, 0, sizeof *l);
    chunks cq, ck;
    if (get_chunks(c->layout, R, r, c->Sq, &cq) || get_chunks(c->layout, R, r, c->Skv, &ck))
        return !TU_CHECK(0, "%s: clattn_ring_chunks refused %d ranks", c->name, R);
    const size_t ei = esize(c->in_dtype);
    l->q = gather(c, p->q, ei, c->B, c->Hq, c->Sq, c->D, &cq, &l->q_bytes);
    l->k = gather(c, p->k, ei, c->B, c->Hkv, c->Skv, c->D, &ck, &l->k_bytes);
    l->v = gather(c, p->v, ei, c->B, c->Hkv, c->Skv, c->Dv, &ck, &l->v_bytes);
    l->sq = cq.total;
    l->skv = ck.total;
    l->out_bytes = (size_t)(c->B * c->Hq * cq.total * c->Dv) * esize(c->out_dtype);
    l->lse_bytes = (size_t)(c->B * c->Hq * cq.total) * sizeof(float);
    l->d = p->d;
    if (c->bshd) {
        slice_strides(c, c->Hq, cq.total, c->D, l->d.q_strides);
        slice_strides(c, c->Hkv, ck.total, c->D, l->d.k_strides);
        slice_strides(c, c->Hkv, ck.total, c->Dv, l->d.v_strides);
        slice_strides(c, c->Hq, cq.total, c->Dv, l->d.out_strides);
    }
    return 0;
}

void ring_local_free(ring_local *l) {
    free(l->q);
    free(l->k);
    free(l->v);
}

int ring_check(const ring_problem *p, int R, int r, const ring_local *l, const void *out,
               const float *lse, const char *label) {
    const ring_case *c = p->c;
    chunks cq;
    if (get_chunks(c->layout, R, r, c->Sq, &cq) || cq.total != l->sq)
        return TU_CHECK(0, "%s: rank %d of %d: the slice's length", label, r, R);
    int64_t st[3];
    slice_strides(c, c->Hq, cq.total, c->Dv, st);
    const int64_t rows = c->B * c->Hq * cq.total;
    float *got = tu_alloc_floats(rows * c->Dv), *gl = tu_alloc_floats(rows);
    double *ref = xalloc((size_t)(rows * c->Dv) * sizeof(double));
    double *rl = xalloc((size_t)rows * sizeof(double));
    for (int64_t b = 0, row = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hq; h++)
            for (int64_t t = 0; t < cq.total; t++, row++) {
                const int64_t g = (b * c->Hq + h) * c->Sq + global_row(&cq, t);
                for (int64_t e = 0; e < c->Dv; e++) {
                    got[row * c->Dv + e] =
                        widen(c->out_dtype, out, b * st[0] + h * st[1] + t * st[2] + e);
                    ref[row * c->Dv + e] = p->out[g * c->Dv + e];
                }
                gl[row] = lse ? lse[row] : 0.0f;
                rl[row] = p->lse[g];
            }
    /* float32: the merge's other order of sums; 16-bit out: one rounding step apart at most. */
    const double rtol = c->out_dtype == CLATTN_DTYPE_BF16  ? 1e-2
                        : c->out_dtype == CLATTN_DTYPE_F16 ? 2e-3
                                                           : 1e-4;
    int ok = tu_compare("out", got, ref, rows * c->Dv, 2e-5, rtol);
    ok = TU_CHECK(ok, "%s: rank %d of %d: out equals one-device attention", label, r, R) && ok;
    if (lse) {
        const int lok = tu_compare("lse", gl, rl, rows, 2e-5, 2e-5);
        ok = TU_CHECK(lok, "%s: rank %d of %d: lse equals one-device attention", label, r, R) && ok;
    }
    free(got);
    free(gl);
    free(ref);
    free(rl);
    return ok;
}
