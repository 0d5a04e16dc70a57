/* test_nan.c: NaN in, NaN out. A NaN in q, k or the mask must make exactly the rows whose
 * scores it reaches NaN (output and lse), a NaN in v the output columns it reaches, +inf in the
 * mask what the float64 reference gives (NaN through inf - inf), while a fully masked row keeps
 * output 0 and lse -inf: a corrupted input is never disguised as masking. Every algorithm
 * (naive, flash1, flash2) in both kernel flavours (CPU on PoCL as it is, GPU with the local
 * memory overridden to 32 KiB), against the IEEE float64 reference (tests/ref/sdpa_ref.c), every
 * element checked, outputs poisoned first. */
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The repro shape: GQA q (1,4,37,64), k/v (1,2,53,64). */
enum { B = 1, HQ = 4, HKV = 2, SQ = 37, SKV = 53, D = 64 };

typedef enum { NAN_Q, NAN_K, NAN_V, NAN_MASK, INF_MASK } poison_site;

static const char *site_s(poison_site s) {
    static const char *names[] = {"NaN in q", "NaN in k", "NaN in v", "NaN in mask",
                                  "+inf in mask"};
    return names[s];
}

static int64_t at(int64_t h, int64_t s, int64_t S, int64_t d) {
    return (h * S + s) * D + d; /* B = 1, contiguous [B, H, S, D] */
}

/* Runs one case; returns 1 when it passed. The expected NaN rows are checked twice: through
 * the reference, and by name, so the test says which rule broke. */
static void run(clattn_context *ctx, const char *flavour, clattn_algo algo, poison_site site,
                int causal) {
    const char *an = algo == CLATTN_ALGO_NAIVE    ? "naive"
                     : algo == CLATTN_ALGO_FLASH1 ? "flash1"
                                                  : "flash2";
    char label[160];
    snprintf(label, sizeof label, "%s %s, %s%s", an, flavour, site_s(site),
             causal ? ", causal" : "");
    const int mask = site == NAN_MASK || site == INF_MASK;
    const int64_t nq = (int64_t)B * HQ * SQ * D, nk = (int64_t)B * HKV * SKV * D;
    const int64_t nm = mask ? (int64_t)SQ * SKV : 0, nl = (int64_t)B * HQ * SQ, no = nl * D;
    float *q = tu_alloc_floats(nq), *k = tu_alloc_floats(nk), *v = tu_alloc_floats(nk);
    float *m = mask ? tu_alloc_floats(nm) : NULL, *o = tu_alloc_floats(no);
    float *l = tu_alloc_floats(nl);
    tu_fill_normal(q, nq, 1.0f);
    tu_fill_normal(k, nk, 1.0f);
    tu_fill_normal(v, nk, 1.0f);
    const int64_t dead_row = 20; /* fully masked by the mask: must stay 0 / -inf */
    if (m) {
        tu_fill_uniform(m, nm, -2.0f, 2.0f);
        for (int64_t i = 0; i < nm; i++)
            if (tu_uniform() < 0.15) m[i] = -INFINITY;
        for (int64_t j = 0; j < SKV; j++) m[dead_row * SKV + j] = -INFINITY;
    }
    switch (site) {
    case NAN_Q:
        q[at(1, 3, SQ, 5)] = NAN;
        break; /* head 1, query 3: that row only */
    case NAN_K:
        k[at(0, 20, SKV, 7)] = NAN;
        break; /* kv head 0, key 20: rows that see it */
    case NAN_V:
        v[at(1, 10, SKV, 3)] = NAN;
        break; /* kv head 1, key 10: column 3 */
    case NAN_MASK:
        m[5 * SKV + 7] = NAN;
        break; /* query 5 of every head */
    case INF_MASK:
        m[9 * SKV + 11] = INFINITY;
        break; /* query 9 of every head */
    }
    tu_poison(o, no);
    tu_poison(l, nl);

    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = B, d.heads = HQ, d.kv_heads = HKV, d.seq_q = SQ, d.seq_kv = SKV, d.head_dim = D;
    d.causal = causal;
    d.has_mask = mask;
    d.mask_batch = d.mask_heads = 1;
    d.algo = algo;
    clattn_status st = clattn_sdpa_host(ctx, &d, q, k, v, m, o, l);
    if (TU_CHECK(st == CLATTN_SUCCESS, "%s: status %s %s", label, clattn_status_string(st),
                 st ? clattn_context_last_error(ctx) : "")) {
        sdpa_ref_problem rp = {B,      HQ, HKV, SQ, SKV, D,   D,    1.0 / sqrt((double)D),
                               causal, q,  k,   v,  m,   {0}, {0},  {0},
                               {0},    0,  0,   0,  0,   0.0, NULL, 0,
                               NULL,   0};
        sdpa_ref_contiguous(HQ, SQ, D, rp.q_st);
        sdpa_ref_contiguous(HKV, SKV, D, rp.k_st);
        sdpa_ref_contiguous(HKV, SKV, D, rp.v_st);
        if (m) sdpa_ref_mask_strides(1, 1, HQ, SQ, SKV, rp.m_st);
        double *ro = malloc((size_t)no * sizeof(double)), *rl = malloc((size_t)nl * sizeof(double));
        if (!ro || !rl || sdpa_ref(&rp, ro, rl)) {
            printf("FAIL: reference allocation\n");
            exit(1);
        }
        TU_CHECK(tu_compare("out", o, ro, no, 2e-4, 1e-3), "%s: out matches the IEEE reference",
                 label);
        TU_CHECK(tu_compare("lse", l, rl, nl, 1e-3, 1e-4), "%s: lse matches the IEEE reference",
                 label);
        /* The rule by name, on the rows the poison reaches and on a row it does not. */
        int64_t row = -1; /* (head, query) row that must be NaN; -1: none by this rule */
        if (site == NAN_Q) row = 1 * SQ + 3;
        if (site == NAN_K) row = 0 * SQ + (causal ? SQ - 1 : 0);
        if (site == NAN_MASK) row = 2 * SQ + 5;
        if (site == INF_MASK) row = 3 * SQ + 9;
        if (row >= 0)
            TU_CHECK(isnan(o[row * D]) && isnan(l[row]),
                     "%s: the poisoned row gives NaN (out %g, lse %g), not the masked 0 / -inf",
                     label, o[row * D], l[row]);
        if (site == NAN_V)
            TU_CHECK(isnan(o[at(2, 0, SQ, 3)]) && !isnan(o[at(2, 0, SQ, 4)]) && !isnan(l[2 * SQ]),
                     "%s: NaN reaches column 3 only, lse stays finite", label);
        const int64_t clean = 2 * SQ + 30; /* head 2 (kv head 1): untouched by q/k poison */
        if (site == NAN_Q || site == NAN_K)
            TU_CHECK(isfinite(o[clean * D]) && isfinite(l[clean]), "%s: other rows unaffected",
                     label);
        if (mask)
            TU_CHECK(o[dead_row * D] == 0.0f && l[dead_row] == -INFINITY,
                     "%s: a fully masked row still gives 0 and lse -inf", label);
        free(ro);
        free(rl);
    }
    free(q);
    free(k);
    free(v);
    free(m);
    free(o);
    free(l);
}

static void suite(clattn_context *ctx, const char *flavour) {
    static const clattn_algo algos[] = {CLATTN_ALGO_NAIVE, CLATTN_ALGO_FLASH1, CLATTN_ALGO_FLASH2};
    for (int a = 0; a < 3; a++) {
        for (int s = NAN_Q; s <= INF_MASK; s++) run(ctx, flavour, algos[a], (poison_site)s, 0);
        run(ctx, flavour, algos[a], NAN_Q, 1);
        run(ctx, flavour, algos[a], NAN_K, 1);
    }
}

int main(void) {
    tu_seed();
    clattn_context *ctx = tu_context();
    clattn_device_caps caps;
    clattn_context_caps(ctx, &caps, sizeof caps);
    suite(ctx, caps.local_mem_type == CLATTN_LOCAL_MEM_GLOBAL ? "cpu" : "gpu");
    clattn_context_destroy(ctx);
    if (caps.local_mem_type == CLATTN_LOCAL_MEM_GLOBAL) {
        /* The GPU flavour on the same device, with GPU-sized local memory. */
        ctx = tu_gpu_context(32768);
        suite(ctx, "gpu");
        clattn_context_destroy(ctx);
    }
    return tu_finish();
}
