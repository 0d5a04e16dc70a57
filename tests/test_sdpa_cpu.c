/* test_sdpa_cpu.c: the CPU-flavour FlashAttention kernels (cl/flash_cpu.cl) through their
 * launcher and tile chooser (src/sdpa/launch_flash_cpu.c, plan_cpu.c), against the float64
 * reference (tests/ref/sdpa_ref.c) on fresh random inputs with outputs poisoned first: MHA, GQA,
 * MQA, causal with Sq < Skv and Sq > Skv (fully masked rows), broadcast masks with fully masked
 * rows, decode (Sq = 1), every head-dim bucket with odd sizes, D != Dv, large logits, scale = 1,
 * strided layouts (gaps must stay untouched), every accepted block_q and several block_kv, both
 * algorithms, a wait list, the public entry point with the CPU flavour forced, and flash2 on
 * contiguous copies of strided float32 K/V where the launcher makes them (and not below).
 * Distinct kernel builds (BR, VW, DCAP, DVCAP) are kept to about ten: each is seconds on PoCL. */
#include "sdpa/cpu_tiles.h"
#include "sdpa/plan.h"
#include "sdpa/plan_cpu.h"
#include "sdpa/sdpa_internal.h"
#include "sdpa/staging.h"
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MASK_NONE, MASK_BH, MASK_1H, MASK_B1, MASK_11 };
enum { LAYOUT_BHSD, LAYOUT_BSHD, LAYOUT_PADDED, LAYOUT_WIDE };

typedef struct {
    clattn_algo algo;
    int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
    int causal, mask, layout;
    float in_scale; /* inputs drawn from N(0, in_scale^2) */
    float scale;    /* 0: 1/sqrt(D) */
    int lse;
    int64_t bq, bkv; /* 0: the tile chooser's */
    int use_wait;    /* launch behind a user event */
    int staged;      /* flash2 must run on contiguous copies of the float32 K/V (1), or not (0) */
} tcase;

static clattn_context *ctx;

/* Strides (batch, head, seq) of a [B, H, S, dim] tensor in the case's layout; the padded one
 * leaves 3 unused floats after every row, the wide one also 2045 after every token's heads (keys
 * more than 8 KiB apart: the tile policies' stage_f32_wide_stride). Returns the number of
 * floats the tensor spans. */
static int64_t layout_strides(int layout, int64_t B, int64_t H, int64_t S, int64_t dim,
                              int64_t st[3]) {
    int64_t row = layout >= LAYOUT_PADDED ? dim + 3 : dim;
    if (layout == LAYOUT_BHSD) {
        st[2] = row;
        st[1] = S * row;
        st[0] = H * S * row;
    } else {
        st[1] = row;
        st[2] = H * row + (layout == LAYOUT_WIDE ? 2045 : 0);
        st[0] = S * st[2];
    }
    return B * st[0];
}

static cl_mem make_buffer(const float *host, int64_t n) {
    cl_int err;
    cl_mem m =
        clCreateBuffer(clattn_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                       (size_t)n * sizeof(float), (void *)host, &err);
    if (err != CL_SUCCESS || !m) {
        printf("FAIL: clCreateBuffer (%d)\n", err);
        exit(1);
    }
    return m;
}

static void read_buffer(cl_mem m, float *host, int64_t n) {
    cl_int err = clEnqueueReadBuffer(clattn_context_queue(ctx), m, CL_TRUE, 0,
                                     (size_t)n * sizeof(float), host, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        printf("FAIL: clEnqueueReadBuffer (%d)\n", err);
        exit(1);
    }
}

/* Runs one case through the launcher and checks every element of out (and lse). */
static void run_case(const tcase *c) {
    clattn_sdpa_problem p;
    memset(&p, 0, sizeof p);
    p.B = c->B, p.Hq = c->Hq, p.Hkv = c->Hkv, p.Sq = c->Sq, p.Skv = c->Skv, p.D = c->D;
    p.Dv = c->Dv;
    p.group = c->Hq / c->Hkv;
    p.scale = c->scale != 0.0f ? c->scale : 1.0f / sqrtf((float)c->D);
    p.causal = c->causal;
    p.diag = c->Skv - c->Sq; /* bottom-right alignment, as the front end resolves it */
    p.has_mask = c->mask != MASK_NONE;
    p.has_lse = c->lse;
    const int64_t nq = layout_strides(c->layout, c->B, c->Hq, c->Sq, c->D, p.q_st);
    const int64_t nk = layout_strides(c->layout, c->B, c->Hkv, c->Skv, c->D, p.k_st);
    const int64_t nv = layout_strides(c->layout, c->B, c->Hkv, c->Skv, c->Dv, p.v_st);
    const int64_t no = layout_strides(c->layout, c->B, c->Hq, c->Sq, c->Dv, p.o_st);
    const int64_t mb = (c->mask == MASK_BH || c->mask == MASK_B1) ? c->B : 1;
    const int64_t mh = (c->mask == MASK_BH || c->mask == MASK_1H) ? c->Hq : 1;
    const int64_t nm = mb * mh * c->Sq * c->Skv, nl = c->B * c->Hq * c->Sq;
    if (p.has_mask) sdpa_ref_mask_strides(mb, mh, c->Hq, c->Sq, c->Skv, p.m_st);

    float *q = tu_alloc_floats(nq), *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nv);
    float *mask = tu_alloc_floats(nm > 0 ? nm : 1);
    tu_fill_normal(q, nq, c->in_scale);
    tu_fill_normal(k, nk, c->in_scale);
    tu_fill_uniform(v, nv, -1.0f, 1.0f);
    tu_fill_normal(mask, nm, 1.0f);
    /* About 15% of the mask removes keys, and row Sq/2 of every mask slice removes them all. */
    for (int64_t i = 0; i < nm; i++)
        if (tu_uniform() < 0.15) mask[i] = -INFINITY;
    for (int64_t s = 0; s < mb * mh && p.has_mask; s++)
        for (int64_t j = 0; j < c->Skv; j++) mask[(s * c->Sq + c->Sq / 2) * c->Skv + j] = -INFINITY;

    sdpa_ref_problem rp;
    memset(&rp, 0, sizeof rp);
    rp.B = p.B, rp.Hq = p.Hq, rp.Hkv = p.Hkv, rp.Sq = p.Sq, rp.Skv = p.Skv, rp.D = p.D;
    rp.Dv = p.Dv, rp.scale = p.scale, rp.causal = p.causal;
    rp.q = q, rp.k = k, rp.v = v, rp.mask = p.has_mask ? mask : NULL;
    memcpy(rp.q_st, p.q_st, sizeof rp.q_st);
    memcpy(rp.k_st, p.k_st, sizeof rp.k_st);
    memcpy(rp.v_st, p.v_st, sizeof rp.v_st);
    memcpy(rp.m_st, p.m_st, sizeof rp.m_st);
    double *ref_o = malloc((size_t)(nl * c->Dv) * sizeof(double));
    double *ref_l = malloc((size_t)nl * sizeof(double));
    if (!ref_o || !ref_l || sdpa_ref(&rp, ref_o, ref_l) != 0) {
        printf("FAIL: reference out of memory\n");
        exit(1);
    }

    clattn_sdpa_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.algo = c->algo;
    plan.flavour = CLATTN_FLAVOUR_CPU;
    plan.work_group = 1;
    if (c->bq || c->bkv) {
        plan.block_q = c->bq, plan.block_kv = c->bkv;
    } else {
        clattn__sdpa_cpu_tiles(c->algo, ctx->caps.preferred_vector_width_float, c->D, c->Dv, c->Sq,
                               c->Skv, c->causal, &plan.block_q, &plan.block_kv);
    }
    float *out = tu_alloc_floats(no), *poisoned = tu_alloc_floats(no), *lse = tu_alloc_floats(nl);
    tu_poison(poisoned, no);
    memcpy(out, poisoned, (size_t)no * sizeof(float));
    tu_poison(lse, nl);
    clattn_sdpa_buffers buf = {make_buffer(q, nq),
                               make_buffer(k, nk),
                               make_buffer(v, nv),
                               p.has_mask ? make_buffer(mask, nm) : NULL,
                               make_buffer(out, no),
                               c->lse ? make_buffer(lse, nl) : NULL,
                               NULL,
                               NULL,
                               NULL};
    cl_event user = NULL, done = NULL;
    if (c->use_wait) user = clCreateUserEvent(clattn_context_cl_context(ctx), NULL);
    /* Whether the launcher stages K/V in contiguous float32 copies, as the case expects. */
    const int stage = clattn__sdpa_stage_set(&ctx->caps, &p, &plan);
    const int staged =
        (stage & CLATTN_STAGE_F32) && clattn__sdpa_staging_bytes(&p, stage, NULL) > 0;
    clattn_status st =
        clattn__sdpa_flash_cpu(ctx, &p, &plan, &buf, user ? 1 : 0, user ? &user : NULL, &done);
    if (user) {
        clSetUserEventStatus(user, CL_COMPLETE);
        clReleaseEvent(user);
    }
    if (st == CLATTN_SUCCESS && done) {
        clWaitForEvents(1, &done);
        clReleaseEvent(done);
    }
    read_buffer(buf.out, out, no);
    if (c->lse) read_buffer(buf.lse, lse, nl);

    /* Gather the logical [B, Hq, Sq, Dv] output; check the gaps kept their poison. */
    float *got = tu_alloc_floats(nl * c->Dv);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hq; h++)
            for (int64_t i = 0; i < c->Sq; i++) {
                const int64_t src = b * p.o_st[0] + h * p.o_st[1] + i * p.o_st[2];
                const int64_t dst = ((b * c->Hq + h) * c->Sq + i) * c->Dv;
                memcpy(got + dst, out + src, (size_t)c->Dv * sizeof(float));
                memcpy(out + src, poisoned + src, (size_t)c->Dv * sizeof(float));
            }
    const double tol = c->in_scale > 2.0f ? 5e-4 : 1e-4;
    int ok = st == CLATTN_SUCCESS;
    if (!ok) printf("  launcher: %s\n", clattn_context_last_error(ctx));
    ok = tu_compare("out", got, ref_o, nl * c->Dv, tol, 1e-3) && ok;
    if (c->lse) ok = tu_compare("lse", lse, ref_l, nl, tol, 1e-4) && ok;
    ok = TU_CHECK(memcmp(out, poisoned, (size_t)no * sizeof(float)) == 0,
                  "  nothing written outside out's rows") &&
         ok;
    if (c->algo == CLATTN_ALGO_FLASH2)
        ok = TU_CHECK(staged == c->staged, "  K/V %s, as expected",
                      staged ? "staged in contiguous copies" : "read in place") &&
             ok;
    static const char *mask_names[] = {"none", "[B,H]", "[1,H]", "[B,1]", "[1,1]"};
    static const char *layout_names[] = {"bhsd", "bshd", "padded", "wide"};
    TU_CHECK(ok,
             "%s B=%lld Hq=%lld Hkv=%lld Sq=%lld Skv=%lld D=%lld Dv=%lld causal=%d mask=%s "
             "layout=%s x%g scale=%g lse=%d tile=%lldx%lld%s",
             c->algo == CLATTN_ALGO_FLASH1 ? "flash1" : "flash2", (long long)c->B, (long long)c->Hq,
             (long long)c->Hkv, (long long)c->Sq, (long long)c->Skv, (long long)c->D,
             (long long)c->Dv, c->causal, mask_names[c->mask], layout_names[c->layout],
             (double)c->in_scale, (double)p.scale, c->lse, (long long)plan.block_q,
             (long long)plan.block_kv, c->use_wait ? " (waits)" : "");

    clReleaseMemObject(buf.q);
    clReleaseMemObject(buf.k);
    clReleaseMemObject(buf.v);
    if (buf.mask) clReleaseMemObject(buf.mask);
    clReleaseMemObject(buf.out);
    if (buf.lse) clReleaseMemObject(buf.lse);
    free(q), free(k), free(v), free(mask), free(ref_o), free(ref_l), free(out), free(poisoned);
    free(lse), free(got);
}

/* A case with the usual defaults: contiguous, unit inputs, lse on, chooser's tiles. */
static tcase base(clattn_algo algo, int64_t B, int64_t Hq, int64_t Hkv, int64_t Sq, int64_t Skv,
                  int64_t D, int64_t Dv, int causal) {
    tcase c = {algo,      B,           Hq,   Hkv,  Sq, Skv, D, Dv, causal,
               MASK_NONE, LAYOUT_BHSD, 1.0f, 0.0f, 1,  0,   0, 0,  0};
    return c;
}

static void test_pure_functions(void) {
    const int64_t bqs[] = {8, 16, 24, 32, 64}, bad_bq[] = {1, 4, 12, 40, 48, 128};
    const int64_t bad_bkv[] = {1, 4, 12, 136, 256};
    int ok = 1;
    for (int a = CLATTN_ALGO_FLASH1; a <= CLATTN_ALGO_FLASH2; a++) {
        for (int i = 0; i < 5; i++)
            for (int64_t bkv = 8; bkv <= CLATTN_CPU_MAX_BLOCK_KV; bkv += 8)
                ok &= clattn__sdpa_cpu_valid_tiles((clattn_algo)a, 64, 64, bqs[i], bkv);
        for (int i = 0; i < 6; i++)
            ok &= !clattn__sdpa_cpu_valid_tiles((clattn_algo)a, 64, 64, bad_bq[i], 64);
        for (int i = 0; i < 5; i++)
            ok &= !clattn__sdpa_cpu_valid_tiles((clattn_algo)a, 64, 64, 32, bad_bkv[i]);
        ok &= !clattn__sdpa_cpu_valid_tiles((clattn_algo)a, 257, 64, 32, 64);
        ok &= !clattn__sdpa_cpu_valid_tiles((clattn_algo)a, 64, 0, 32, 64);
        /* Every tile the chooser picks is one the kernels accept. */
        const int64_t dims[] = {1, 16, 59, 64, 111, 128, 256}, lens[] = {1, 7, 16, 113, 2048};
        for (int d = 0; d < 7; d++)
            for (int s = 0; s < 10; s++) {
                int64_t bq = 0, bkv = 0;
                clattn__sdpa_cpu_tiles((clattn_algo)a, s < 5 ? 8 : 16, dims[d], dims[6 - d],
                                       lens[s % 5], lens[4 - s % 5], d % 2, &bq, &bkv);
                ok &= bq > 0 && bkv > 0 &&
                      clattn__sdpa_cpu_valid_tiles((clattn_algo)a, dims[d], dims[6 - d], bq, bkv);
            }
    }
    ok &= !clattn__sdpa_cpu_valid_tiles(CLATTN_ALGO_NAIVE, 64, 64, 32, 64);
    /* The launcher's fallback steps through the accepted blocks, never to one it lacks. */
    ok &= clattn__cpu_smaller_block_q(64) == 32 && clattn__cpu_smaller_block_q(32) == 24 &&
          clattn__cpu_smaller_block_q(24) == 16 && clattn__cpu_smaller_block_q(16) == 8 &&
          clattn__cpu_smaller_block_q(8) == 0 && clattn__cpu_smaller_block_q(1) == 0;
    /* The measured rules: small Sq gets the block that holds it, plain attention from 256 rows and
     * long K/V (16 MiB a head) 64 rows, causal 16 up to 1024 rows and keys and 32 above, flash1
     * the largest block_kv. */
    int64_t t[10][2];
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 16, 64, 64, 1, 4096, 0, &t[0][0], &t[0][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 16, 64, 64, 13, 4096, 0, &t[1][0], &t[1][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 16, 64, 64, 2048, 2048, 0, &t[2][0], &t[2][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 16, 64, 64, 65536, 65536, 1, &t[3][0], &t[3][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH1, 16, 64, 64, 2048, 2048, 0, &t[4][0], &t[4][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 16, 64, 64, 2048, 2048, 1, &t[5][0], &t[5][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 16, 64, 64, 255, 2048, 0, &t[6][0], &t[6][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 16, 128, 128, 1024, 1024, 1, &t[7][0], &t[7][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 16, 64, 64, 1025, 1025, 1, &t[8][0], &t[8][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 16, 64, 64, 256, 2048, 1, &t[9][0], &t[9][1]);
    ok &= t[0][0] == 8 && t[1][0] == 16 && t[2][0] == 64 && t[2][1] == 64 && t[3][0] == 64 &&
          t[4][1] == CLATTN_CPU_MAX_BLOCK_KV && t[5][0] == 32 && t[5][1] == 64 && t[6][0] == 32 &&
          t[7][0] == 16 && t[8][0] == 32 && t[9][0] == 32;
    /* 8 lanes: a decode-like Sq still gets the smallest block that holds it, and plain attention
     * takes 24 (three 8-lane vectors) */
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 8, 64, 64, 1, 4096, 0, &t[0][0], &t[0][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH1, 8, 64, 64, 2048, 2048, 0, &t[4][0], &t[4][1]);
    clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, 8, 64, 64, 2048, 2048, 0, &t[2][0], &t[2][1]);
    ok &= t[0][0] == 8 && t[4][1] == CLATTN_CPU_MAX_BLOCK_KV && t[2][0] == 24;
    TU_CHECK(ok, "tile chooser picks only tiles the kernels accept; bad tiles refused");
    clattn_sdpa_problem p;
    memset(&p, 0, sizeof p);
    p.B = 3, p.Hq = 6, p.Hkv = 2, p.group = 3, p.Sq = 37, p.Skv = 50;
    int64_t gs[2];
    clattn__sdpa_cpu_global_size(&p, 16, gs);
    TU_CHECK(clattn__sdpa_flash1_state_bytes(&p) == 2 * 4 * 3 * 6 * 37 &&
                 gs[0] == (37 * 3 + 15) / 16 && gs[1] == 6,
             "flash1 scratch bytes and global size");
    TU_CHECK(clattn__cpu_dim_cap(1) == 16 && clattn__cpu_dim_cap(17) == 32 &&
                 clattn__cpu_dim_cap(59) == 64 && clattn__cpu_dim_cap(111) == 128 &&
                 clattn__cpu_dim_cap(129) == 256 && clattn__cpu_vector_width(16, 32) == 16 &&
                 clattn__cpu_vector_width(16, 8) == 8 && clattn__cpu_vector_width(8, 32) == 8,
             "head-dim buckets and vector width");
    /* Register blocking: 16 accumulators at 16 lanes (the kernels' old defaults), 12 at 8 lanes
     * (AVX2's 16 registers: 16 accumulators spilled and ran 1.5x slower), in powers of two: 3 x 4
     * for block_q 24, 2 x 4 (not 2 x 6) for 16. */
    TU_CHECK(clattn__cpu_reg_block(16, 8) == 8 && clattn__cpu_reg_block(16, 16) == 8 &&
                 clattn__cpu_reg_block(16, 24) == 4 && clattn__cpu_reg_block(16, 32) == 8 &&
                 clattn__cpu_reg_block(16, 64) == 4 && clattn__cpu_reg_block(8, 8) == 8 &&
                 clattn__cpu_reg_block(8, 16) == 4 && clattn__cpu_reg_block(8, 24) == 4 &&
                 clattn__cpu_reg_block(8, 32) == 2 && clattn__cpu_reg_block(8, 64) == 1 &&
                 clattn__cpu_reg_block(4, 32) == 2,
             "register blocking by lane width and block_q");
}

/* A plan the kernels do not have is refused before anything is enqueued. */
static void test_bad_plan(void) {
    clattn_sdpa_problem p;
    memset(&p, 0, sizeof p);
    p.B = p.Hq = p.Hkv = p.group = 1, p.Sq = p.Skv = 4, p.D = p.Dv = 8, p.scale = 1.0f;
    sdpa_ref_contiguous(1, 4, 8, p.q_st);
    memcpy(p.k_st, p.q_st, sizeof p.q_st);
    memcpy(p.v_st, p.q_st, sizeof p.q_st);
    memcpy(p.o_st, p.q_st, sizeof p.q_st);
    clattn_sdpa_plan plan = {CLATTN_ALGO_FLASH2, CLATTN_FLAVOUR_CPU, 12, 64, 1, 0, 0, {0, 0}, 0};
    clattn_sdpa_buffers buf = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    cl_event ev = (cl_event)&plan; /* must come back NULL */
    clattn_status st = clattn__sdpa_flash_cpu(ctx, &p, &plan, &buf, 0, NULL, &ev);
    TU_CHECK(st == CLATTN_ERROR_INTERNAL && ev == NULL, "launcher refuses a 12x64 tile (%s)",
             clattn_context_last_error(ctx));
}

/* The public entry point with the CPU flavour forced reaches these kernels. */
static void test_public_entry(clattn_algo algo) {
    const int64_t B = 2, H = 4, Hkv = 2, Sq = 33, Skv = 71, D = 48;
    clattn_sdpa_desc desc;
    clattn_sdpa_desc_init(&desc, sizeof desc);
    desc.batch = B, desc.heads = H, desc.kv_heads = Hkv, desc.seq_q = Sq, desc.seq_kv = Skv;
    desc.head_dim = D, desc.causal = 1, desc.algo = algo, desc.flavour = CLATTN_FLAVOUR_CPU;
    const int64_t nq = B * H * Sq * D, nk = B * Hkv * Skv * D, no = nq, nl = B * H * Sq;
    float *q = tu_alloc_floats(nq), *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nk);
    float *out = tu_alloc_floats(no), *lse = tu_alloc_floats(nl);
    tu_fill_normal(q, nq, 1.0f);
    tu_fill_normal(k, nk, 1.0f);
    tu_fill_uniform(v, nk, -1.0f, 1.0f);
    tu_poison(out, no);
    tu_poison(lse, nl);
    sdpa_ref_problem rp = {B,    H, Hkv, Sq, Skv,  D,   D,    1.0 / sqrt((double)D),
                           1,    q, k,   v,  NULL, {0}, {0},  {0},
                           {0},  0, 0,   0,  0,    0.0, NULL, 0,
                           NULL, 0};
    sdpa_ref_contiguous(H, Sq, D, rp.q_st);
    sdpa_ref_contiguous(Hkv, Skv, D, rp.k_st);
    sdpa_ref_contiguous(Hkv, Skv, D, rp.v_st);
    double *ro = malloc((size_t)no * sizeof(double)), *rl = malloc((size_t)nl * sizeof(double));
    if (!ro || !rl || sdpa_ref(&rp, ro, rl) != 0) exit(1);
    clattn_sdpa_plan plan;
    clattn_status ps = clattn_sdpa_plan_get(ctx, &desc, &plan, sizeof plan);
    clattn_status st = clattn_sdpa_host(ctx, &desc, q, k, v, NULL, out, lse);
    int ok = st == CLATTN_SUCCESS && ps == CLATTN_SUCCESS && plan.flavour == CLATTN_FLAVOUR_CPU;
    if (!ok) printf("  %s\n", clattn_context_last_error(ctx));
    ok = tu_compare("out", out, ro, no, 1e-4, 1e-3) && ok;
    ok = tu_compare("lse", lse, rl, nl, 1e-4, 1e-4) && ok;
    TU_CHECK(ok, "clattn_sdpa_host, %s, CPU flavour forced, GQA causal",
             algo == CLATTN_ALGO_FLASH1 ? "flash1" : "flash2");
    free(q), free(k), free(v), free(out), free(lse), free(ro), free(rl);
}

int main(void) {
    tu_seed();
    ctx = tu_context();
    test_pure_functions();
    test_bad_plan();
    const clattn_algo algos[2] = {CLATTN_ALGO_FLASH2, CLATTN_ALGO_FLASH1};
    for (int a = 0; a < 2; a++) {
        const clattn_algo al = algos[a];
        /* Every accepted tile: each block_q (one build each) with every block_kv (a run-time
         * argument), below, at and above the key count; causal on every other one, with
         * Sq > Skv so some rows see no key. */
        const int64_t bqs[] = {8, 16, 24, 32, 64};
        for (int i = 0; i < 5; i++)
            for (int64_t bkv = 8; bkv <= CLATTN_CPU_MAX_BLOCK_KV; bkv += 8) {
                tcase c = base(al, 2, 2, 1, 67, 53, 64, 64, (int)(bkv / 8) % 2);
                c.bq = bqs[i], c.bkv = bkv;
                run_case(&c);
            }
        /* MHA, GQA, MQA; causal with Sq < Skv and Sq > Skv. */
        tcase c = base(al, 2, 6, 2, 70, 113, 59, 59, 1);
        run_case(&c);
        c = base(al, 1, 4, 1, 113, 50, 40, 40, 1);
        run_case(&c);
        c = base(al, 2, 6, 3, 23, 203, 64, 64, 1);
        run_case(&c);
        c = base(al, 1, 8, 8, 59, 59, 96, 96, 0);
        c.use_wait = 1;
        run_case(&c);
        /* Masks broadcast every way, each with a fully masked row, with and without causal. */
        for (int m = MASK_BH; m <= MASK_11; m++) {
            c = base(al, 2, 4, 2, 45, 77, 32, 32, m % 2);
            c.mask = m;
            run_case(&c);
        }
        /* Decode: one query against a long cache, MHA and GQA, causal (all keys visible). */
        c = base(al, 2, 4, 4, 1, 1023, 64, 64, 1);
        run_case(&c);
        c = base(al, 1, 8, 2, 1, 1023, 64, 64, 1);
        c.mask = MASK_B1;
        run_case(&c);
        c = base(al, 1, 1, 1, 1, 1, 16, 16, 0);
        run_case(&c);
        /* Every head-dim bucket, odd sizes included, then D != Dv. */
        const int64_t dims[] = {16, 32, 40, 59, 64, 80, 96, 111, 128, 160, 192, 256};
        for (int d = 0; d < 12; d++) {
            c = base(al, 1, 2, 1, 45, 67, dims[d], dims[d], d % 2);
            c.layout = d % 3 == 2 ? LAYOUT_BSHD : LAYOUT_BHSD;
            run_case(&c);
        }
        c = base(al, 1, 3, 1, 37, 61, 59, 111, 1);
        run_case(&c);
        c = base(al, 2, 2, 2, 29, 41, 256, 40, 0);
        run_case(&c);
        /* Large logits, Luong's scale = 1, strided and padded layouts, no lse. */
        c = base(al, 1, 4, 2, 77, 203, 64, 64, 1);
        c.in_scale = 10.0f;
        run_case(&c);
        c = base(al, 1, 2, 2, 50, 90, 32, 32, 0);
        c.scale = 1.0f;
        c.in_scale = 0.5f;
        run_case(&c);
        c = base(al, 2, 4, 2, 61, 35, 59, 59, 1);
        c.layout = LAYOUT_PADDED;
        c.mask = MASK_1H;
        run_case(&c);
        c = base(al, 1, 2, 1, 31, 40, 64, 64, 1);
        c.lse = 0;
        run_case(&c);
        /* Float32 K/V whose rows are not packed, with enough query rows per kv head that flash2
         * runs on contiguous copies of them (plan_cpu.h's clattn__cpu_stage_kv), by the rules of
         * the device's tile policy (cpu_tiles.h: 2048 rows on 16 lanes, 1024 on 8; from 1024 or
         * 512 where keys are 8 KiB apart or more): keys more than 8 KiB apart (16 x 67 rows
         * here), [B, S, H, D] from the policy's rows (16 x 131 or 16 x 67, D 59), and 16 rows
         * fewer read in place. */
        if (al == CLATTN_ALGO_FLASH2) {
            const clattn_cpu_tile_policy *pol =
                clattn__cpu_tile_policy_for(ctx->caps.preferred_vector_width_float);
            c = base(al, 1, 16, 1, 67, 203, 64, 64, 1);
            c.layout = LAYOUT_WIDE;
            c.mask = MASK_1H;
            c.staged = 1;
            run_case(&c);
            c = base(al, 2, 32, 2, pol->stage_f32_rows / 16 + 3, 113, 59, 59, 0);
            c.layout = LAYOUT_BSHD;
            c.staged = 1;
            run_case(&c);
            c.Sq = pol->stage_f32_rows / 16 - 1; /* 16 rows short of the rule: read in place */
            c.staged = 0;
            run_case(&c);
        }
        /* The other lane width than the device's (8 lanes with 4 vectors a block and JB=EB=2 on
         * AVX2, 16 lanes with JB=EB=8 on AVX-512), forced by making the context believe the
         * device prefers it, so that both widths' kernels run whatever the host. */
        const int pref = ctx->caps.preferred_vector_width_float;
        ctx->caps.preferred_vector_width_float = pref >= 16 ? 8 : 16;
        c = base(al, 2, 4, 2, 71, 90, 59, 59, 1);
        c.mask = MASK_BH;
        run_case(&c);
        ctx->caps.preferred_vector_width_float = pref;
        test_public_entry(al);
    }
    clattn_context_destroy(ctx);
    return tu_finish();
}
