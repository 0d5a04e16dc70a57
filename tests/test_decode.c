/* test_decode.c: the split-KV decode path (cl/decode.cl) against the float64 reference in both
 * kernel flavours (CPU on PoCL as it is; GPU with the local memory overridden to 32 KiB): Sq in
 * {1, 2, 5, 16}, Skv in {1, 7, 203, 1000, 4099}, head layouts 8/8, 12/3, 32/8, 16/1 and 32/1, D in
 * {64, 80, 128, 256}, split counts forced from 1 to more splits than keys, ragged kv_lens with 0
 * and full lengths, causal, a mask with dead rows, the options; AUTO must choose decode for such
 * shapes; a problem with too many rows per kv head is refused when decode is forced. Fresh
 * random inputs, outputs poisoned, every element checked. */
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t B, Hq, Hkv, Sq, Skv, D;
    int64_t splits; /* 0: the dispatcher's */
    int causal, ragged, mask;
    int options; /* 1: window (300, 0), softcap 4 and ALiBi; 2: softcap 4 alone */
} dcase;

static void run(clattn_context *ctx, const char *flavour, const dcase *c, clattn_algo algo) {
    char label[200];
    snprintf(label, sizeof label,
             "%s %s: B%lld Hq%lld/Hkv%lld Sq%lld Skv%lld D%lld splits %lld%s%s%s%s",
             algo == CLATTN_ALGO_DECODE ? "decode" : "auto", flavour, (long long)c->B,
             (long long)c->Hq, (long long)c->Hkv, (long long)c->Sq, (long long)c->Skv,
             (long long)c->D, (long long)c->splits, c->causal ? " causal" : "",
             c->ragged ? " ragged" : "", c->mask ? " mask" : "",
             c->options == 1   ? " options"
             : c->options == 2 ? " softcap"
                               : "");
    const int64_t nq = c->B * c->Hq * c->Sq * c->D, nk = c->B * c->Hkv * c->Skv * c->D;
    const int64_t nl = c->B * c->Hq * c->Sq, no = nl * c->D, nm = c->mask ? nl * c->Skv : 0;
    float *q = tu_alloc_floats(nq), *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nk);
    float *m = c->mask ? tu_alloc_floats(nm) : NULL, *o = tu_alloc_floats(no);
    float *l = tu_alloc_floats(nl), *slopes = tu_alloc_floats(c->B * c->Hq);
    int32_t lens[8];
    tu_fill_normal(q, nq, 1.0f);
    tu_fill_normal(k, nk, 1.0f);
    tu_fill_normal(v, nk, 1.0f);
    tu_fill_uniform(slopes, c->B * c->Hq, 0.01f, 0.3f);
    for (int64_t b = 0; b < c->B; b++)
        lens[b] = b == 0 ? 0 : b == 1 ? (int32_t)c->Skv : (int32_t)((b * 613) % c->Skv + 1);
    if (m) {
        tu_fill_uniform(m, nm, -2.0f, 2.0f);
        for (int64_t i = 0; i < nm; i++)
            if (tu_uniform() < 0.2) m[i] = -INFINITY;
        for (int64_t j = 0; j < c->Skv; j++) m[j] = -INFINITY; /* row 0 of head 0: dead */
    }
    tu_poison(o, no);
    tu_poison(l, nl);
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = c->B, d.heads = c->Hq, d.kv_heads = c->Hkv, d.seq_q = c->Sq, d.seq_kv = c->Skv;
    d.head_dim = c->D;
    d.causal = c->causal;
    d.algo = algo;
    d.decode_splits = c->splits;
    d.kv_lens = c->ragged ? lens : NULL;
    d.has_mask = c->mask;
    if (c->options) d.softcap = 4.0f;
    if (c->options == 1) {
        d.window = 1, d.window_left = 300, d.window_right = 0;
        d.alibi_slopes = slopes, d.alibi_batch = c->B;
    }
    clattn_sdpa_plan plan;
    clattn_status pst = clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan);
    TU_CHECK(pst == CLATTN_SUCCESS && plan.algo == CLATTN_ALGO_DECODE &&
                 (c->splits == 0 || plan.splits == c->splits) && plan.splits >= 1,
             "%s: planned as decode (%lld splits of %lld keys)", label, (long long)plan.splits,
             (long long)plan.block_kv);
    clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, m, o, l);
    if (TU_CHECK(st == CLATTN_SUCCESS, "%s: status %s %s", label, clattn_status_string(st),
                 st ? clattn_context_last_error(ctx) : "")) {
        sdpa_ref_problem rp;
        memset(&rp, 0, sizeof rp);
        rp.B = c->B, rp.Hq = c->Hq, rp.Hkv = c->Hkv, rp.Sq = c->Sq, rp.Skv = c->Skv;
        rp.D = rp.Dv = c->D;
        rp.scale = 1.0 / sqrt((double)c->D);
        rp.causal = c->causal;
        rp.q = q, rp.k = k, rp.v = v, rp.mask = m;
        sdpa_ref_contiguous(c->Hq, c->Sq, c->D, rp.q_st);
        sdpa_ref_contiguous(c->Hkv, c->Skv, c->D, rp.k_st);
        sdpa_ref_contiguous(c->Hkv, c->Skv, c->D, rp.v_st);
        if (m) sdpa_ref_mask_strides(c->B, c->Hq, c->Hq, c->Sq, c->Skv, rp.m_st);
        rp.kv_lens = c->ragged ? lens : NULL;
        if (c->options) rp.softcap = 4.0;
        if (c->options == 1) {
            rp.window = 1, rp.window_left = 300, rp.window_right = 0;
            rp.alibi = slopes, rp.alibi_sb = c->Hq;
        }
        double *ro = malloc((size_t)no * sizeof(double)), *rl = malloc((size_t)nl * sizeof(double));
        if (!ro || !rl || sdpa_ref(&rp, ro, rl)) {
            printf("FAIL: reference allocation\n");
            exit(1);
        }
        TU_CHECK(tu_compare("out", o, ro, no, 2e-4, 1e-3), "%s: out matches", label);
        TU_CHECK(tu_compare("lse", l, rl, nl, 1e-3, 1e-4), "%s: lse matches", label);
        free(ro);
        free(rl);
    }
    free(q), free(k), free(v), free(m), free(o), free(l), free(slopes);
}

static void suite(clattn_context *ctx, const char *flavour) {
    static const dcase cases[] = {
        /* B Hq Hkv Sq Skv D splits causal ragged mask options */
        {1, 8, 8, 1, 1, 64, 0, 0, 0, 0, 0},
        {1, 8, 8, 1, 7, 64, 0, 1, 0, 0, 0},
        {1, 12, 3, 2, 1000, 80, 0, 1, 0, 0, 0},
        {1, 32, 8, 1, 4099, 128, 0, 0, 0, 0, 0},
        {2, 32, 8, 2, 1000, 128, 0, 1, 0, 1, 0},
        {1, 16, 1, 1, 1000, 64, 0, 0, 0, 0, 0},
        {1, 8, 8, 5, 1000, 256, 0, 1, 0, 0, 0},
        {1, 8, 8, 16, 1000, 64, 0, 1, 0, 0, 0},
        {1, 12, 3, 1, 1000, 64, 1, 0, 0, 0, 0},
        {1, 12, 3, 1, 7, 64, 9, 0, 0, 0, 0},
        {1, 12, 3, 1, 1000, 64, 37, 1, 0, 0, 0},
        {3, 12, 3, 2, 1000, 64, 5, 1, 1, 0, 0},
        {3, 8, 2, 1, 4099, 64, 0, 1, 1, 1, 1},
        /* 32 rows per kv head (MQA with 32 query heads; two tokens of 16/1): four register
         * groups of rows in the CPU kernel */
        {1, 32, 1, 1, 1000, 128, 0, 0, 0, 0, 0},
        {2, 16, 1, 2, 203, 64, 3, 1, 1, 0, 1},
        /* the softcap alone: the CPU kernel's vector tanh, then per-key shaping only on blocks
         * some row does not see whole (the split's last partial block; causal and ragged) */
        {1, 32, 8, 1, 4099, 128, 0, 0, 0, 0, 2},
        {3, 12, 3, 2, 1000, 64, 3, 1, 1, 0, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run(ctx, flavour, &cases[i], CLATTN_ALGO_DECODE);
    /* AUTO takes the decode path for a decode shape, with the same results. */
    run(ctx, flavour, &cases[4], CLATTN_ALGO_AUTO);
}

/* Too many rows per kv head: forced decode is refused with nothing written. */
static void refusal(clattn_context *ctx) {
    enum { S = 9, H = 4, DD = 64 };
    float *x = tu_alloc_floats(H * S * DD), *o = tu_alloc_floats(H * S * DD);
    tu_fill_normal(x, H * S * DD, 1.0f);
    tu_poison(o, H * S * DD);
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = 1, d.heads = H, d.kv_heads = 1, d.seq_q = S, d.seq_kv = S, d.head_dim = DD;
    d.algo = CLATTN_ALGO_DECODE;
    clattn_status st = clattn_sdpa_host(ctx, &d, x, x, x, NULL, o, NULL);
    int untouched = 1;
    for (int i = 0; i < H * S * DD; i++) untouched &= isnan(o[i]);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED && untouched,
             "decode with 36 rows per kv head refused (%s: %s), out untouched",
             clattn_status_string(st), clattn_context_last_error(ctx));
    free(x), free(o);
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    clattn_device_caps caps;
    clattn_context_caps(ctx, &caps, sizeof caps);
    const int native_gpu = caps.local_mem_type == CLATTN_LOCAL_MEM_LOCAL;
    suite(ctx, native_gpu ? "gpu" : "cpu");
    refusal(ctx);
    clattn_context_destroy(ctx);
    if (!native_gpu) {
        ctx = tu_gpu_context(32768);
        suite(ctx, "gpu");
        clattn_context_destroy(ctx);
    }
    return tu_finish();
}
