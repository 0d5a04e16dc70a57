/* test_sdpa.c: scaled dot-product attention through the public API against the float64
 * reference (tests/ref/sdpa_ref.c): argument validation and short buffers (right status, nothing
 * written), the naive path, and the GPU-flavour flash1/flash2 kernels run on PoCL with the local
 * memory overridden to 16, 32, 48 and 64 KiB. Every case uses fresh random inputs, poisons out
 * and lse, and checks every element. Problems are small and head dims are bucketed by the
 * library, so the whole executable needs only a few dozen kernel builds. */
#include "sdpa/plan.h"
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
    int causal;
    int mask; /* 0 none; else [mb, mh] = 1:[B,Hq] 2:[1,Hq] 3:[B,1] 4:[1,1], with -inf entries and
                 one fully masked row */
    float scale, amp;
    int bshd;    /* [B, S, H, D] layout for q, k, v and out */
    int pad_out; /* out rows padded: gaps must come back unchanged */
    int no_lse;
    clattn_algo algo;
    clattn_flavour flavour;
    int64_t bq, bkv;
} tcase;
/* A case literal from the shape fields (B ... no_lse); algorithm and tiles are set later. */
#define TC(...)                                                                                    \
    { __VA_ARGS__, CLATTN_ALGO_AUTO, CLATTN_FLAVOUR_AUTO, 0, 0 }

static void layout(const tcase *c, int64_t H, int64_t S, int64_t dim, int pad, int64_t st[3]) {
    if (c->bshd) {
        st[2] = H * (dim + pad);
        st[1] = dim + pad;
        st[0] = S * st[2];
    } else {
        st[2] = dim + pad;
        st[1] = S * st[2];
        st[0] = H * st[1];
    }
}

static int64_t span(const int64_t *st, int64_t H, int64_t S, int64_t dim, int64_t B) {
    return (B - 1) * st[0] + (H - 1) * st[1] + (S - 1) * st[2] + dim;
}

static const char *algo_s(clattn_algo a) {
    return a == CLATTN_ALGO_NAIVE ? "naive" : a == CLATTN_ALGO_FLASH1 ? "flash1" : "flash2";
}

/* Runs one case on ctx and checks it; returns 1 when it passed. */
static int run_case(clattn_context *ctx, const char *label, tcase c) {
    const char *only = getenv("CLATTN_TEST_ONLY"); /* a label substring, for debugging */
    if (only && !strstr(label, only)) return 1;
    if (!c.Dv) c.Dv = c.D;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = c.B;
    d.heads = c.Hq;
    d.kv_heads = c.Hkv;
    d.seq_q = c.Sq;
    d.seq_kv = c.Skv;
    d.head_dim = c.D;
    d.head_dim_v = c.Dv;
    d.scale = c.scale;
    d.causal = c.causal;
    d.algo = c.algo;
    d.flavour = c.flavour;
    d.block_q = c.bq;
    d.block_kv = c.bkv;
    layout(&c, c.Hq, c.Sq, c.D, 0, d.q_strides);
    layout(&c, c.Hkv, c.Skv, c.D, 0, d.k_strides);
    layout(&c, c.Hkv, c.Skv, c.Dv, 0, d.v_strides);
    layout(&c, c.Hq, c.Sq, c.Dv, c.pad_out ? 3 : 0, d.out_strides);
    int64_t mb = 1, mh = 1;
    if (c.mask) {
        d.has_mask = 1;
        mb = (c.mask == 1 || c.mask == 3) ? c.B : 1;
        mh = (c.mask == 1 || c.mask == 2) ? c.Hq : 1;
        d.mask_batch = mb;
        d.mask_heads = mh;
    }
    const int64_t nq = span(d.q_strides, c.Hq, c.Sq, c.D, c.B);
    const int64_t nk = span(d.k_strides, c.Hkv, c.Skv, c.D, c.B);
    const int64_t nv = span(d.v_strides, c.Hkv, c.Skv, c.Dv, c.B);
    const int64_t no = span(d.out_strides, c.Hq, c.Sq, c.Dv, c.B);
    const int64_t nm = c.mask ? mb * mh * c.Sq * c.Skv : 0;
    const int64_t nl = c.B * c.Hq * c.Sq;
    float *q = tu_alloc_floats(nq), *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nv);
    float *m = c.mask ? tu_alloc_floats(nm) : NULL;
    float *o = tu_alloc_floats(no), *l = tu_alloc_floats(nl), *og = tu_alloc_floats(no);
    tu_fill_normal(q, nq, c.amp);
    tu_fill_normal(k, nk, c.amp);
    tu_fill_normal(v, nv, 1.0f);
    if (m) {
        tu_fill_uniform(m, nm, -2.0f, 2.0f);
        for (int64_t i = 0; i < nm; i++)
            if (tu_uniform() < 0.15) m[i] = -INFINITY;
        for (int64_t s = 0; s < mb * mh; s++) /* one fully masked query row per mask slice */
            for (int64_t j = 0; j < c.Skv; j++) m[(s * c.Sq + c.Sq / 2) * c.Skv + j] = -INFINITY;
    }
    tu_poison(o, no);
    tu_poison(l, nl);
    memcpy(og, o, (size_t)no * sizeof(float));

    clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, m, o, c.no_lse ? NULL : l);
    int ok = TU_CHECK(st == CLATTN_SUCCESS, "%s: status %s %s", label, clattn_status_string(st),
                      st ? clattn_context_last_error(ctx) : "");
    if (ok) {
        sdpa_ref_problem rp = {c.B, c.Hq, c.Hkv, c.Sq, c.Skv, c.D, c.Dv, c.scale, c.causal,
                               q,   k,    v,     m,    {0},   {0}, {0},  {0},     0,
                               0,   0,    0,     0.0,  NULL,  0,   NULL, 0};
        if (rp.scale == 0.0) rp.scale = 1.0 / sqrt((double)c.D);
        memcpy(rp.q_st, d.q_strides, sizeof rp.q_st);
        memcpy(rp.k_st, d.k_strides, sizeof rp.k_st);
        memcpy(rp.v_st, d.v_strides, sizeof rp.v_st);
        if (m) sdpa_ref_mask_strides(mb, mh, c.Hq, c.Sq, c.Skv, rp.m_st);
        double *ro = malloc((size_t)(nl * c.Dv) * sizeof(double));
        double *rl = malloc((size_t)nl * sizeof(double));
        float *got = tu_alloc_floats(nl * c.Dv);
        if (!ro || !rl || sdpa_ref(&rp, ro, rl)) {
            printf("FAIL: reference allocation\n");
            exit(1);
        }
        /* gather the (possibly strided) output into [B, Hq, Sq, Dv]; gaps must be untouched */
        int gaps_ok = 1;
        char *seen = calloc((size_t)no, 1);
        for (int64_t b = 0; b < c.B; b++)
            for (int64_t h = 0; h < c.Hq; h++)
                for (int64_t i = 0; i < c.Sq; i++)
                    for (int64_t e = 0; e < c.Dv; e++) {
                        int64_t at =
                            b * d.out_strides[0] + h * d.out_strides[1] + i * d.out_strides[2] + e;
                        got[((b * c.Hq + h) * c.Sq + i) * c.Dv + e] = o[at];
                        seen[at] = 1;
                    }
        for (int64_t i = 0; i < no; i++)
            if (!seen[i] && memcmp(&o[i], &og[i], sizeof(float))) gaps_ok = 0;
        free(seen);
        const double atol = c.amp > 1.0f ? 2e-3 : 2e-4, rtol = c.amp > 1.0f ? 2e-3 : 1e-3;
        ok = TU_CHECK(tu_compare("out", got, ro, nl * c.Dv, atol, rtol) && gaps_ok,
                      "%s: out matches the reference%s", label, gaps_ok ? "" : " (GAPS WRITTEN)");
        if (!c.no_lse)
            ok &= TU_CHECK(tu_compare("lse", l, rl, nl, 1e-3, 1e-4), "%s: lse matches", label);
        free(ro);
        free(rl);
        free(got);
    }
    free(q);
    free(k);
    free(v);
    free(m);
    free(o);
    free(l);
    free(og);
    return ok;
}

/* Shapes every algorithm and flavour goes through: MHA/GQA/MQA, causal with Sq < Skv and
 * Sq > Skv (rows with no visible key), masks of every broadcast with fully masked rows, large
 * logits, scale 1, decode (Sq = 1), the [B, S, H, D] layout and a padded output. */
static void shape_suite(clattn_context *ctx, const char *tag, clattn_algo algo, clattn_flavour fl) {
    char label[160];
    const struct {
        const char *name;
        tcase c;
    } cases[] = {
        {"MHA 2x3 S59 D64", TC(2, 3, 3, 59, 59, 64, 0, 0, 0, 0, 1, 0, 0, 0)},
        {"GQA 6/2 Sq113 Skv203 D40 Dv59 causal",
         TC(1, 6, 2, 113, 203, 40, 59, 1, 0, 0, 1, 0, 0, 0)},
        {"MQA 4/1 Sq203 Skv59 causal", TC(1, 4, 1, 203, 59, 64, 0, 1, 0, 0, 1, 0, 0, 0)},
        {"mask [B,Hq] + causal", TC(2, 2, 1, 37, 61, 32, 0, 1, 1, 0, 1, 0, 0, 0)},
        {"mask [1,Hq] scale=1", TC(2, 2, 2, 29, 40, 16, 0, 0, 2, 1.0f, 1, 0, 0, 0)},
        {"mask [B,1] x10 logits", TC(2, 2, 2, 33, 47, 64, 0, 0, 3, 0, 10, 0, 0, 0)},
        {"mask [1,1] decode Sq1", TC(2, 4, 2, 1, 203, 64, 0, 0, 4, 0, 1, 0, 0, 0)},
        {"decode Sq1 causal GQA", TC(1, 8, 2, 1, 113, 128, 0, 1, 0, 0, 1, 0, 0, 0)},
        {"BSHD GQA causal x10", TC(2, 4, 2, 45, 45, 64, 0, 1, 0, 0, 10, 1, 0, 0)},
        {"padded out, no lse", TC(1, 2, 1, 31, 17, 32, 24, 0, 0, 0, 1, 0, 1, 1)},
        {"1x1x1 S1 D1", TC(1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tcase c = cases[i].c;
        c.algo = algo;
        c.flavour = fl;
        snprintf(label, sizeof label, "%s %s: %s", tag, algo_s(algo), cases[i].name);
        run_case(ctx, label, c);
    }
}

/* Every head dim the issue names, both algorithms, MHA with causal Sq != Skv. */
static void dim_suite(clattn_context *ctx, const char *tag, clattn_algo algo) {
    static const int64_t dims[] = {16, 32, 40, 59, 64, 80, 96, 111, 128, 160, 192, 256};
    char label[160];
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        tcase c = TC(1, 2, 1, 37, 53, dims[i], 0, 1, 0, 0, 1, 0, 0, 0);
        if (i % 3 == 1) c.Dv = dims[(i + 4) % 12]; /* some Dv != D */
        c.algo = algo;
        c.flavour = CLATTN_FLAVOUR_GPU;
        snprintf(label, sizeof label, "%s %s: D=%lld Dv=%lld", tag, algo_s(algo), (long long)c.D,
                 (long long)(c.Dv ? c.Dv : c.D));
        run_case(ctx, label, c);
    }
}

/* The built kernel's CL_KERNEL_LOCAL_MEM_SIZE is what the family's pure function says. */
static void check_local_function(clattn_context *ctx, clattn_algo algo, int64_t D) {
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = d.heads = d.kv_heads = 1;
    d.seq_q = d.seq_kv = 64;
    d.head_dim = D;
    d.algo = algo;
    d.flavour = CLATTN_FLAVOUR_GPU;
    clattn_sdpa_plan plan;
    if (!TU_CHECK(clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan) == CLATTN_SUCCESS,
                  "plan for D=%lld", (long long)D))
        return;
    char opts[160];
    snprintf(opts, sizeof opts, "-DBR=%lld -DBC=%lld -DTPR=%lld -DDCAP=%lld -DDVCAP=%lld",
             (long long)plan.block_q, (long long)plan.block_kv,
             (long long)(plan.work_group / plan.block_q), (long long)clattn__gpu_dim_cap(D),
             (long long)clattn__gpu_dim_cap(D));
    const char *fam = algo == CLATTN_ALGO_FLASH1 ? "flash1_gpu" : "flash2_gpu";
    cl_kernel kern = NULL;
    if (!TU_CHECK(clattn__kernel(ctx, "flash_gpu", opts, fam, &kern) == CLATTN_SUCCESS,
                  "build %s %s", fam, opts))
        return;
    cl_ulong local = 0;
    clGetKernelWorkGroupInfo(kern, ctx->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof local, &local,
                             NULL);
    TU_CHECK(
        (int64_t)local == plan.local_mem_bytes && plan.local_mem_bytes <= ctx->caps.local_mem_bytes,
        "%s D=%lld tile %lldx%lld: CL_KERNEL_LOCAL_MEM_SIZE %llu == planned %lld <= %lld", fam,
        (long long)D, (long long)plan.block_q, (long long)plan.block_kv, (unsigned long long)local,
        (long long)plan.local_mem_bytes, (long long)ctx->caps.local_mem_bytes);
    clReleaseKernel(kern);
}

/* Forced tiles that the rule never picks: 1x1, odd sizes, Br > Bc, Bc not a multiple of TPR. */
static void forced_tiles(clattn_context *g, const char *tag) {
    static const int64_t tiles[][2] = {{1, 1}, {7, 13}, {24, 5}};
    for (int al = 0; al < 2; al++)
        for (int i = 0; i < 3; i++) {
            tcase c = TC(2, 4, 2, 59, 113, 64, 40, 1, 1, 0, 1, 0, 0, 0);
            c.algo = al ? CLATTN_ALGO_FLASH1 : CLATTN_ALGO_FLASH2;
            c.flavour = CLATTN_FLAVOUR_GPU;
            c.bq = tiles[i][0];
            c.bkv = tiles[i][1];
            char label[96];
            snprintf(label, sizeof label, "%s %s forced tile %lldx%lld", tag, algo_s(c.algo),
                     (long long)c.bq, (long long)c.bkv);
            run_case(g, label, c);
        }
}

/* A tile that cannot fit is refused before anything runs, naming the limit. */
static void unsupported_tile(clattn_context *g) {
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = d.heads = d.kv_heads = 1;
    d.seq_q = d.seq_kv = 16;
    d.head_dim = 256;
    d.algo = CLATTN_ALGO_FLASH2;
    d.flavour = CLATTN_FLAVOUR_GPU;
    d.block_q = d.block_kv = 32;
    float x[16 * 256], o[16 * 256];
    tu_fill_normal(x, 16 * 256, 1.0f);
    tu_poison(o, 16 * 256);
    clattn_status st = clattn_sdpa_host(g, &d, x, x, x, NULL, o, NULL);
    const char *msg = clattn_context_last_error(g);
    int untouched = 1;
    for (int i = 0; i < 16 * 256; i++) untouched &= isnan(o[i]);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && strstr(msg, "local memory") && untouched,
             "16 KiB: forced 32x32 tile at D=256 refused, out untouched: %s", msg);
}

/* The launcher's fallback: handed a plan made for 64 KiB on a 16 KiB context, it must see the
 * built kernel's CL_KERNEL_LOCAL_MEM_SIZE exceed the device, shrink the tile and still compute
 * the right answer. Drives the internal launcher directly (the public path never plans that). */
static void fallback(clattn_context *g, clattn_algo algo) {
    enum { S = 45, DD = 64, H = 2 };
    clattn_sdpa_problem p = {0};
    p.B = 1, p.Hq = H, p.Hkv = 1, p.Sq = S, p.Skv = S, p.D = DD, p.Dv = DD, p.group = H;
    p.scale = 0.125f;
    p.causal = 1;
    p.diag = 0; /* Sq == Skv */
    p.has_lse = 1;
    sdpa_ref_contiguous(H, S, DD, p.q_st);
    sdpa_ref_contiguous(1, S, DD, p.k_st);
    sdpa_ref_contiguous(1, S, DD, p.v_st);
    sdpa_ref_contiguous(H, S, DD, p.o_st);
    clattn_device_caps big = g->caps;
    big.local_mem_bytes = 65536;
    const clattn_sdpa_request req = {algo, CLATTN_FLAVOUR_GPU, 0, 0, 0};
    clattn_sdpa_plan plan = {0}; /* printed even when the dispatch fails */
    char why[256];
    if (!TU_CHECK(clattn__sdpa_dispatch(&big, &p, &req, &plan, why, sizeof why) == 0 &&
                      plan.local_mem_bytes > g->caps.local_mem_bytes,
                  "a %lld-byte plan for a %lld-byte device", (long long)plan.local_mem_bytes,
                  (long long)g->caps.local_mem_bytes))
        return;
    float q[H * S * DD], k[S * DD], v[S * DD], o[H * S * DD], l[H * S];
    tu_fill_normal(q, H * S * DD, 1.0f);
    tu_fill_normal(k, S * DD, 1.0f);
    tu_fill_normal(v, S * DD, 1.0f);
    tu_poison(o, H * S * DD);
    tu_poison(l, H * S);
    cl_mem bq, bk, bv, bo, bl;
    clattn__upload(g, q, sizeof q, "q", &bq);
    clattn__upload(g, k, sizeof k, "k", &bk);
    clattn__upload(g, v, sizeof v, "v", &bv);
    clattn__upload(g, o, sizeof o, "out", &bo);
    clattn__upload(g, l, sizeof l, "lse", &bl);
    const clattn_sdpa_buffers buf = {bq, bk, bv, NULL, bo, bl, NULL, NULL, NULL};
    cl_event ev = NULL;
    clattn_status st = clattn__sdpa_flash_gpu(g, &p, &plan, &buf, 0, NULL, &ev);
    if (TU_CHECK(st == CLATTN_SUCCESS, "%s launcher falls back from %lldx%lld: %s", algo_s(algo),
                 (long long)plan.block_q, (long long)plan.block_kv,
                 st ? clattn_context_last_error(g) : "ok")) {
        clattn__download(g, bo, o, sizeof o, 1, &ev, "out");
        clattn__download(g, bl, l, sizeof l, 0, NULL, "lse");
        sdpa_ref_problem rp = {1,   H,   1,   S,   S, DD, DD, 0.125, 1,   q,    k, v,    NULL,
                               {0}, {0}, {0}, {0}, 0, 0,  0,  0,     0.0, NULL, 0, NULL, 0};
        memcpy(rp.q_st, p.q_st, sizeof rp.q_st);
        memcpy(rp.k_st, p.k_st, sizeof rp.k_st);
        memcpy(rp.v_st, p.v_st, sizeof rp.v_st);
        double ro[H * S * DD], rl[H * S];
        sdpa_ref(&rp, ro, rl);
        TU_CHECK(tu_compare("out", o, ro, H * S * DD, 2e-4, 1e-3) &&
                     tu_compare("lse", l, rl, H * S, 1e-3, 1e-4),
                 "%s: the smaller tile's result matches the reference", algo_s(algo));
    }
    clattn__release_event(&ev);
    cl_mem all[] = {bq, bk, bv, bo, bl};
    for (int i = 0; i < 5; i++) clattn__release_mem(&all[i]);
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    shape_suite(ctx, "default", CLATTN_ALGO_NAIVE, CLATTN_FLAVOUR_AUTO);
    /* the CPU flavour through this front end (its own kernel tests are in test_flash_cpu) */
    shape_suite(ctx, "default", CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_AUTO);
    shape_suite(ctx, "default", CLATTN_ALGO_FLASH1, CLATTN_FLAVOUR_AUTO);
    clattn_context_destroy(ctx);

    const int64_t kib[] = {48, 16, 32, 64};
    for (int i = 0; i < 4; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "gpu %lldKiB", (long long)kib[i]);
        clattn_context *g = tu_gpu_context(kib[i] * 1024);
        check_local_function(g, CLATTN_ALGO_FLASH2, 64);
        check_local_function(g, CLATTN_ALGO_FLASH1, 64);
        if (i == 0) {
            shape_suite(g, tag, CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_GPU);
            shape_suite(g, tag, CLATTN_ALGO_FLASH1, CLATTN_FLAVOUR_GPU);
            dim_suite(g, tag, CLATTN_ALGO_FLASH2);
            dim_suite(g, tag, CLATTN_ALGO_FLASH1);
            forced_tiles(g, tag);
            /* and the CPU flavour forced on a context that believes in on-chip local memory */
            tcase c = TC(2, 4, 2, 77, 131, 64, 0, 1, 1, 0, 1, 0, 0, 0);
            c.flavour = CLATTN_FLAVOUR_CPU;
            for (int al = 0; al < 2; al++) {
                c.algo = al ? CLATTN_ALGO_FLASH1 : CLATTN_ALGO_FLASH2;
                char label[96];
                snprintf(label, sizeof label, "%s %s CPU flavour forced", tag, algo_s(c.algo));
                run_case(g, label, c);
            }
        } else {
            if (kib[i] == 16) {
                unsupported_tile(g);
                fallback(g, CLATTN_ALGO_FLASH2);
                fallback(g, CLATTN_ALGO_FLASH1);
            }
            /* the tiles change with the local memory: one MHA and one GQA causal case each */
            tcase a = TC(2, 4, 2, 77, 131, 64, 0, 1, 1, 0, 1, 0, 0, 0);
            tcase b = TC(1, 3, 1, 59, 41, 256, 128, 1, 0, 0, 1, 1, 0, 0);
            for (int al = 0; al < 2; al++) {
                a.flavour = b.flavour = CLATTN_FLAVOUR_GPU;
                a.algo = b.algo = al ? CLATTN_ALGO_FLASH1 : CLATTN_ALGO_FLASH2;
                char label[96];
                snprintf(label, sizeof label, "%s %s D64 masked causal", tag, algo_s(a.algo));
                run_case(g, label, a);
                snprintf(label, sizeof label, "%s %s D256 Dv128 MQA causal BSHD", tag,
                         algo_s(b.algo));
                run_case(g, label, b);
            }
        }
        clattn_context_destroy(g);
    }
    return tu_finish();
}
