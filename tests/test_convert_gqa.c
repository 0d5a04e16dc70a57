/* test_convert_gqa.c: clattn_mha_to_gqa (include/clattn_layer.h), the GQA paper's checkpoint
 * conversion. Random key/value projections (and biases) of layers with head_dim != embed_dim /
 * heads and head_dim_v != head_dim are pooled into every divisor G of their kv heads, outputs
 * poisoned first, every element checked against a float64 mean-pool written here head by head;
 * G = kv_heads must give back the input bit for bit, G = 1 is MQA, and a layer that already is
 * GQA pools further. The weights are a whole layer's (o_proj too), as clattn_mha_layer_create
 * takes them. The packed nn.MultiheadAttention form (in_proj_weight/in_proj_bias) must give
 * the same bits as the split form holding its slices. Bad input (NULLs, G not dividing, a bad
 * descriptor, the packed form of a non-MHA layer, overflowing sizes) is refused with a message
 * and nothing written. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int64_t E, Hq, Hkv, D, Dv; /* D, Dv 0: the descriptor's defaults */
    int bias;
} gcase;

static const gcase cases[] = {
    {"MHA E=48 Hq=8 D=6 Dv=5, biases", 48, 8, 8, 6, 5, 1},
    {"MHA E=40 Hq=4 D=Dv=E/H (defaults)", 40, 4, 0, 0, 0, 0},
    {"GQA in (Hkv=6 of Hq=12) E=20 D=7 Dv=3, biases", 20, 12, 6, 7, 3, 1},
    {"MHA Hq=1 E=9 D=4", 9, 1, 0, 4, 0, 1},
};

static clattn_mha_layer_desc make_desc(const gcase *c) {
    clattn_mha_layer_desc d;
    memset(&d, 0, sizeof d); /* the conversion reads only fields whose init value is 0 */
    d.struct_size = sizeof d;
    d.embed_dim = c->E, d.heads = c->Hq, d.kv_heads = c->Hkv, d.head_dim = c->D;
    d.head_dim_v = c->Dv, d.has_qkv_bias = c->bias;
    return d;
}

/* The float64 mean-pool: head h of `heads` heads of `rows` rows x `cols` adds 1/r of itself to
 * group h / r. */
static double *ref_pool(const float *w, int64_t heads, int64_t rows, int64_t cols, int64_t G) {
    const int64_t r = heads / G, per = rows * cols;
    double *out = calloc((size_t)(G * per), sizeof *out);
    if (!out) exit(1);
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                out[(h / r) * per + i * cols + j] += (double)w[h * per + i * cols + j] / (double)r;
    return out;
}

/* One pooled array against the reference (every element; a poisoned one fails). */
static void check_pool(const char *what, const float *got, const float *in, int64_t heads,
                       int64_t rows, int64_t cols, int64_t G) {
    double *ref = ref_pool(in, heads, rows, cols, G);
    const int64_t n = G * rows * cols;
    TU_CHECK(tu_compare(what, got, ref, n, 1e-37, 1.2e-7), "%s: %lld elements vs float64", what,
             (long long)n);
    if (G == heads)
        TU_CHECK(memcmp(got, in, (size_t)n * sizeof *got) == 0, "%s: G = kv_heads is the identity",
                 what);
    free(ref);
}

static void run_split(clattn_context *ctx, const gcase *c) {
    const clattn_mha_layer_desc d = make_desc(c);
    const int64_t Hkv = c->Hkv ? c->Hkv : c->Hq, D = c->D ? c->D : c->E / c->Hq;
    const int64_t Dv = c->Dv ? c->Dv : D, E = c->E;
    float *wk = tu_alloc_floats(Hkv * D * E), *wv = tu_alloc_floats(Hkv * Dv * E);
    float *bk = tu_alloc_floats(Hkv * D), *bv = tu_alloc_floats(Hkv * Dv);
    float *ok = tu_alloc_floats(Hkv * D * E), *ov = tu_alloc_floats(Hkv * Dv * E);
    float *obk = tu_alloc_floats(Hkv * D), *obv = tu_alloc_floats(Hkv * Dv);
    float dummy = 0.0f; /* q_proj, o_proj, q_bias: present (a whole layer), never read */
    tu_fill_normal(wk, Hkv * D * E, 1.0f);
    tu_fill_normal(wv, Hkv * Dv * E, 1.0f);
    tu_fill_normal(bk, Hkv * D, 1.0f);
    tu_fill_normal(bv, Hkv * Dv, 1.0f);
    clattn_mha_weights w = {0};
    w.q_proj = &dummy, w.k_proj = wk, w.v_proj = wv, w.k_bias = bk, w.v_bias = bv;
    w.o_proj = &dummy, w.q_bias = &dummy;
    for (int64_t G = Hkv; G >= 1; G--) {
        if (Hkv % G) continue;
        tu_poison(ok, Hkv * D * E);
        tu_poison(ov, Hkv * Dv * E);
        tu_poison(obk, Hkv * D);
        tu_poison(obv, Hkv * Dv);
        /* without biases the bias outputs are given but must stay as they are */
        clattn_status st = clattn_mha_to_gqa(ctx, &d, &w, G, ok, ov, obk, obv);
        char what[160];
        if (!TU_CHECK(st == CLATTN_SUCCESS, "%s, G=%lld: %s %s", c->name, (long long)G,
                      clattn_status_string(st), st ? clattn_context_last_error(ctx) : ""))
            continue;
        snprintf(what, sizeof what, "%s, G=%lld: k_proj", c->name, (long long)G);
        check_pool(what, ok, wk, Hkv, D, E, G);
        snprintf(what, sizeof what, "%s, G=%lld: v_proj", c->name, (long long)G);
        check_pool(what, ov, wv, Hkv, Dv, E, G);
        if (c->bias) {
            snprintf(what, sizeof what, "%s, G=%lld: k_bias", c->name, (long long)G);
            check_pool(what, obk, bk, Hkv, D, 1, G);
            snprintf(what, sizeof what, "%s, G=%lld: v_bias", c->name, (long long)G);
            check_pool(what, obv, bv, Hkv, Dv, 1, G);
        } else {
            float *p = tu_alloc_floats(Hkv * D + Hkv * Dv);
            tu_poison(p, Hkv * D + Hkv * Dv);
            TU_CHECK(!memcmp(obk, p, (size_t)(Hkv * D) * 4) &&
                         !memcmp(obv, p + Hkv * D, (size_t)(Hkv * Dv) * 4),
                     "%s, G=%lld: no biases: k_bias, v_bias not written", c->name, (long long)G);
            free(p);
        }
    }
    free(wk), free(wv), free(bk), free(bv), free(ok), free(ov), free(obk), free(obv);
}

/* The packed form: the same bits as the split form holding in_proj's k and v slices. */
static void run_packed(clattn_context *ctx, int64_t E, int64_t H, int bias) {
    clattn_mha_layer_desc d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.embed_dim = E, d.heads = H, d.has_qkv_bias = bias;
    const int64_t n = E * E;
    float *ipw = tu_alloc_floats(3 * n), *ipb = tu_alloc_floats(3 * E);
    float *pk = tu_alloc_floats(n), *pv = tu_alloc_floats(n), *sk = tu_alloc_floats(n);
    float *sv = tu_alloc_floats(n), *pbk = tu_alloc_floats(E), *pbv = tu_alloc_floats(E);
    float *sbk = tu_alloc_floats(E), *sbv = tu_alloc_floats(E);
    tu_fill_normal(ipw, 3 * n, 1.0f);
    tu_fill_normal(ipb, 3 * E, 1.0f);
    clattn_mha_weights packed = {0}, split = {0};
    packed.in_proj_weight = ipw, packed.in_proj_bias = bias ? ipb : NULL, packed.o_proj = ipw;
    split.q_proj = ipw, split.k_proj = ipw + n, split.v_proj = ipw + 2 * n, split.o_proj = ipw;
    split.q_bias = ipb, split.k_bias = ipb + E, split.v_bias = ipb + 2 * E;
    for (int64_t G = H; G >= 1; G--) {
        if (H % G) continue;
        const int64_t m = G * (E / H) * E, mb = G * (E / H);
        tu_poison(pk, n), tu_poison(pv, n), tu_poison(pbk, E), tu_poison(pbv, E);
        tu_poison(sk, n), tu_poison(sv, n), tu_poison(sbk, E), tu_poison(sbv, E);
        clattn_status st1 = clattn_mha_to_gqa(ctx, &d, &packed, G, pk, pv, pbk, pbv);
        clattn_status st2 = clattn_mha_to_gqa(ctx, &d, &split, G, sk, sv, sbk, sbv);
        if (!TU_CHECK(st1 == CLATTN_SUCCESS && st2 == CLATTN_SUCCESS,
                      "packed E=%lld H=%lld G=%lld%s: %s / %s %s", (long long)E, (long long)H,
                      (long long)G, bias ? " biases" : "", clattn_status_string(st1),
                      clattn_status_string(st2), clattn_context_last_error(ctx)))
            continue;
        char what[128];
        snprintf(what, sizeof what, "packed E=%lld H=%lld G=%lld%s: k_proj", (long long)E,
                 (long long)H, (long long)G, bias ? " biases" : "");
        check_pool(what, pk, ipw + n, H, E / H, E, G);
        int same = memcmp(pk, sk, (size_t)m * 4) == 0 && memcmp(pv, sv, (size_t)m * 4) == 0;
        if (bias) {
            snprintf(what, sizeof what, "packed E=%lld H=%lld G=%lld: v_bias", (long long)E,
                     (long long)H, (long long)G);
            check_pool(what, pbv, ipb + 2 * E, H, E / H, 1, G);
            same = same && memcmp(pbk, sbk, (size_t)mb * 4) == 0 &&
                   memcmp(pbv, sbv, (size_t)mb * 4) == 0;
        }
        TU_CHECK(same, "packed E=%lld H=%lld G=%lld%s: the split form's bits", (long long)E,
                 (long long)H, (long long)G, bias ? " biases" : "");
    }
    free(ipw), free(ipb), free(pk), free(pv), free(sk), free(sv), free(pbk), free(pbv);
    free(sbk), free(sbv);
}

/* Bad input: the status, a message naming the problem, and outputs untouched. Each case is the
 * valid call (E 16, 4 heads, q/k/v biases, split weights, G 2) with some fields changed: desc
 * fields at KEEP stay, `weights` picks a variant, `nulls` passes NULL for the named pointers. */
#define KEEP (-1)
enum { W_SPLIT, W_PACKED, W_NONE, W_NO_V, W_NO_KB, W_NO_O, W_NO_PB, W_COUNT };
enum { N_CTX = 1, N_DESC = 2, N_K = 4, N_KB = 8 };
typedef struct {
    const char *name;
    int64_t G, struct_size, E, H, Hkv, D, Dv;
    int weights, nulls;
    clattn_status want;
    const char *msg; /* a word the message must hold (NULL: no message, ctx is NULL) */
} bad;

static const bad bads[] = {
    /* clang-format off */
    /* name                              G  size  E     H     Hkv   D     Dv    weights   nulls */
    {"ctx NULL",                         2, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_SPLIT,  N_CTX,
     CLATTN_ERROR_INVALID_ARGUMENT, NULL},
    {"desc NULL",                        2, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_SPLIT,  N_DESC,
     CLATTN_ERROR_INVALID_ARGUMENT, "desc"},
    {"weights NULL",                     2, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_NONE,   0,
     CLATTN_ERROR_INVALID_ARGUMENT, "NULL"},
    {"out k_proj NULL",                  2, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_SPLIT,  N_K,
     CLATTN_ERROR_INVALID_ARGUMENT, "k_proj"},
    {"out k_bias NULL with biases",      2, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_SPLIT,  N_KB,
     CLATTN_ERROR_INVALID_ARGUMENT, "k_bias"},
    {"G = 3 does not divide 4",          3, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_SPLIT,  0,
     CLATTN_ERROR_INVALID_ARGUMENT, "divide"},
    {"G = 0",                            0, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_SPLIT,  0,
     CLATTN_ERROR_INVALID_ARGUMENT, "kv_heads 0"},
    {"G = 8 > kv heads",                 8, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_SPLIT,  0,
     CLATTN_ERROR_INVALID_ARGUMENT, "divide"},
    {"G = -2",                          -2, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_SPLIT,  0,
     CLATTN_ERROR_INVALID_ARGUMENT, "divide"},
    {"struct_size 0",                    2, 0,    KEEP, KEEP, KEEP, KEEP, KEEP, W_SPLIT,  0,
     CLATTN_ERROR_INVALID_ARGUMENT, "struct_size"},
    {"desc kv_heads 3 of 4 heads",       1, KEEP, KEEP, KEEP, 3,    KEEP, KEEP, W_SPLIT,  0,
     CLATTN_ERROR_SHAPE_MISMATCH, "multiple"},
    {"heads 3 does not divide E = 16",   1, KEEP, KEEP, 3,    KEEP, KEEP, KEEP, W_SPLIT,  0,
     CLATTN_ERROR_SHAPE_MISMATCH, "embed_dim"},
    {"head_dim 257",                     1, KEEP, KEEP, KEEP, KEEP, 257,  KEEP, W_SPLIT,  0,
     CLATTN_ERROR_UNSUPPORTED, "1..256"},
    {"embed_dim 0",                      1, KEEP, 0,    KEEP, KEEP, KEEP, KEEP, W_SPLIT,  0,
     CLATTN_ERROR_INVALID_ARGUMENT, "embed_dim"},
    {"split form without v_proj",        2, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_NO_V,   0,
     CLATTN_ERROR_INVALID_ARGUMENT, "v_proj"},
    {"split form without k_bias",        2, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_NO_KB,  0,
     CLATTN_ERROR_INVALID_ARGUMENT, "k_bias"},
    {"split form without o_proj",        2, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_NO_O,   0,
     CLATTN_ERROR_INVALID_ARGUMENT, "o_proj"},
    {"packed without in_proj_bias",      2, KEEP, KEEP, KEEP, KEEP, KEEP, KEEP, W_NO_PB,  0,
     CLATTN_ERROR_INVALID_ARGUMENT, "in_proj_bias"},
    {"packed with kv_heads 2",           1, KEEP, KEEP, KEEP, 2,    KEEP, KEEP, W_PACKED, 0,
     CLATTN_ERROR_SHAPE_MISMATCH, "packed"},
    {"packed, head_dim 2 (H * D != E)",  1, KEEP, KEEP, KEEP, KEEP, 2,    KEEP, W_PACKED, 0,
     CLATTN_ERROR_SHAPE_MISMATCH, "packed"},
    {"packed with head_dim_v 3",         1, KEEP, KEEP, KEEP, KEEP, KEEP, 3,    W_PACKED, 0,
     CLATTN_ERROR_SHAPE_MISMATCH, "head_dim_v"},
    {"Hkv * D * E overflows",            1, KEEP, INT32_MAX, INT32_MAX, KEEP, 256, KEEP, W_SPLIT, 0,
     CLATTN_ERROR_OVERFLOW, "overflow"},
    /* E * E floats fit, the packed array's 3 E * E do not */
    {"packed 3 E^2 floats overflow",     1, KEEP, 1500000000, 1500000000 / 256, KEEP, 256, KEEP,
     W_PACKED, 0, CLATTN_ERROR_OVERFLOW, "in_proj_weight"},
    /* clang-format on */
};

static void run_refusals(clattn_context *ctx) {
    enum { E = 16, H = 4, N = E * E };
    static float ipw[3 * N], w[N], b[E], ok[N], ov[N], obk[E], obv[E];
    static float sk[N], sv[N], sbk[E], sbv[E];
    tu_fill_normal(ipw, 3 * N, 1.0f);
    tu_fill_normal(w, N, 1.0f);
    tu_fill_normal(b, E, 1.0f);
    clattn_mha_weights wv[W_COUNT] = {{0}};
    clattn_mha_weights *split = &wv[W_SPLIT], *packed = &wv[W_PACKED];
    split->q_proj = w, split->k_proj = w, split->v_proj = w, split->o_proj = w;
    split->q_bias = b, split->k_bias = b, split->v_bias = b;
    packed->in_proj_weight = ipw, packed->in_proj_bias = ipw, packed->o_proj = w;
    wv[W_NO_V] = *split, wv[W_NO_V].v_proj = NULL;
    wv[W_NO_KB] = *split, wv[W_NO_KB].k_bias = NULL;
    wv[W_NO_O] = *split, wv[W_NO_O].o_proj = NULL;
    wv[W_NO_PB] = *packed, wv[W_NO_PB].in_proj_bias = NULL;
    for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
        const bad *t = &bads[i];
        clattn_mha_layer_desc d;
        memset(&d, 0, sizeof d);
        d.struct_size = t->struct_size == KEEP ? sizeof d : (size_t)t->struct_size;
        d.embed_dim = t->E == KEEP ? E : t->E, d.heads = t->H == KEEP ? H : t->H;
        d.kv_heads = t->Hkv == KEEP ? 0 : t->Hkv, d.head_dim = t->D == KEEP ? 0 : t->D;
        d.head_dim_v = t->Dv == KEEP ? 0 : t->Dv, d.has_qkv_bias = 1;
        tu_fill_uniform(ok, N, -1, 1);
        tu_fill_uniform(ov, N, -1, 1);
        tu_fill_uniform(obk, E, -1, 1);
        tu_fill_uniform(obv, E, -1, 1);
        memcpy(sk, ok, sizeof ok), memcpy(sv, ov, sizeof ov);
        memcpy(sbk, obk, sizeof obk), memcpy(sbv, obv, sizeof obv);
        clattn_status st =
            clattn_mha_to_gqa(t->nulls & N_CTX ? NULL : ctx, t->nulls & N_DESC ? NULL : &d,
                              t->weights == W_NONE ? NULL : &wv[t->weights], t->G,
                              t->nulls & N_K ? NULL : ok, ov, t->nulls & N_KB ? NULL : obk, obv);
        const char *m = t->nulls & N_CTX ? "" : clattn_context_last_error(ctx);
        const int untouched = !memcmp(sk, ok, sizeof ok) && !memcmp(sv, ov, sizeof ov) &&
                              !memcmp(sbk, obk, sizeof obk) && !memcmp(sbv, obv, sizeof obv);
        TU_CHECK(st == t->want && (!t->msg || (m && strstr(m, t->msg))) && untouched,
                 "refused: %s: %s (want %s), untouched %d: %s", t->name, clattn_status_string(st),
                 clattn_status_string(t->want), untouched, m ? m : "(no message)");
    }
}

int main(void) {
    clattn_context *ctx = tu_context();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_split(ctx, &cases[i]);
    run_packed(ctx, 24, 4, 1);
    run_packed(ctx, 32, 8, 0);
    run_refusals(ctx);
    clattn_context_destroy(ctx);
    return tu_finish();
}
