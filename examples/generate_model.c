/* generate_model.c: the model of generate_model.h on one clattn context: weights drawn on the
 * host and copied to the device once, the per-token work enqueued on the context's in-order
 * queue (so the calls need no events), one wait at the end of each run. */
#include "generate_model.h"
#include "generate_kernels.h"

#include <clblast_c.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    clattn_mha_layer *attn;
    clattn_kv_cache *cache;
    cl_mem norm1, norm2; /* RMSNorm gains [E] */
    cl_mem w1, w2;       /* the MLP: [F, E] and [E, F], nn.Linear's [out, in] */
} gen_layer;

enum { K_EMBED, K_NORM, K_ADD, K_GELU, K_LINEAR, K_ARGMAX, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"embed", "rmsnorm",     "add_to",
                                                  "gelu",  "linear_rows", "argmax"};

struct gen_model {
    gen_config c;
    clattn_context *ctx;
    cl_context cl;
    cl_command_queue q;
    cl_program prog;
    cl_kernel k[K_COUNT];
    gen_layer *layer;
    cl_mem emb, lm, norm_f; /* [V, E], [V, E], [E] */
    cl_mem ids, tok;        /* int [capacity], int [1] */
    cl_mem x, h, a, u;      /* the residual stream, normed, attention out [cap, E]; MLP [cap, F] */
    cl_mem logits;          /* [V] */
    double attn_ms;         /* the last run's time in the attention forwards (profile) */
};

/* ---- Random weights (xorshift64*, seeded) ---- */
static uint64_t rng_state;
static float uniform(float a) { /* in [-a, a) */
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    const uint64_t r = rng_state * 0x2545F4914F6CDD1Dull;
    return a * (2.0f * (float)(r >> 40) / 16777216.0f - 1.0f);
}
/* n floats of variance 1 / fan_in (nn.Linear's scale), or 1 + U(-0.1, 0.1) for a norm's gain
 * (fan_in 0). */
static float *draw(int64_t n, int64_t fan_in) {
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) return NULL;
    const float a = fan_in ? sqrtf(3.0f / (float)fan_in) : 0.1f;
    for (int64_t i = 0; i < n; i++) p[i] = (fan_in ? 0.0f : 1.0f) + uniform(a);
    return p;
}

static int cl_failed(cl_int err, const char *what) {
    if (err == CL_SUCCESS) return 0;
    fprintf(stderr, "generate: %s failed (OpenCL error %d)\n", what, err);
    return 1;
}
static int clattn_failed(clattn_context *ctx, clattn_status st, const char *what) {
    if (st == CLATTN_SUCCESS) return 0;
    fprintf(stderr, "generate: %s: %s: %s\n", what, clattn_status_string(st),
            clattn_context_last_error(ctx));
    return 1;
}

/* A device buffer of `bytes`, copied from host when not NULL. */
static int buffer(gen_model *m, size_t bytes, const void *host, cl_mem *out) {
    cl_int err;
    *out = clCreateBuffer(m->cl, CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                          (void *)host, &err);
    return cl_failed(err, "clCreateBuffer");
}
/* A device copy of n random weights (see draw). */
static int weights(gen_model *m, int64_t n, int64_t fan_in, cl_mem *out) {
    float *p = draw(n, fan_in);
    if (!p) {
        fprintf(stderr, "generate: out of host memory for %lld weights\n", (long long)n);
        return 1;
    }
    int rc = buffer(m, (size_t)n * sizeof(float), p, out);
    free(p);
    return rc;
}

/* One attention layer: MHA weights, pooled to kv_heads groups when fewer, and its cache. */
static int make_attention(gen_model *m, gen_layer *l) {
    const gen_config *c = &m->c;
    const int64_t E = c->embed, HD = c->heads * c->head_dim, GD = c->kv_heads * c->head_dim;
    clattn_mha_layer_desc d;
    clattn_mha_layer_desc_init(&d, sizeof d);
    d.embed_dim = E, d.heads = c->heads, d.head_dim = c->head_dim, d.rope_theta = c->rope_theta;
    clattn_mha_weights w = {0};
    float *wq = draw(HD * E, E), *wk = draw(HD * E, E), *wv = draw(HD * E, E);
    float *wo = draw(E * HD, HD), *pk = malloc((size_t)(GD * E) * sizeof(float));
    float *pv = malloc((size_t)(GD * E) * sizeof(float));
    int rc = 1;
    if (!wq || !wk || !wv || !wo || !pk || !pv) {
        fprintf(stderr, "generate: out of host memory for the attention weights\n");
        goto done;
    }
    w.q_proj = wq, w.k_proj = wk, w.v_proj = wv, w.o_proj = wo;
    if (c->kv_heads != c->heads) {
        if (clattn_failed(m->ctx,
                          clattn_mha_to_gqa(m->ctx, &d, &w, c->kv_heads, pk, pv, NULL, NULL),
                          "clattn_mha_to_gqa"))
            goto done;
        w.k_proj = pk, w.v_proj = pv, d.kv_heads = c->kv_heads;
    }
    if (clattn_failed(m->ctx, clattn_mha_layer_create(m->ctx, &d, &w, &l->attn),
                      "clattn_mha_layer_create"))
        goto done;
    clattn_kv_cache_desc cd;
    clattn_kv_cache_desc_init(&cd, sizeof cd);
    cd.slots = 1, cd.kv_heads = c->kv_heads, cd.capacity = c->capacity;
    cd.head_dim = c->head_dim, cd.dtype = c->cache_dtype, cd.page_size = c->page_size;
    if (clattn_failed(m->ctx, clattn_kv_cache_create(m->ctx, &cd, &l->cache),
                      "clattn_kv_cache_create"))
        goto done;
    rc = 0;
done:
    free(wq), free(wk), free(wv), free(wo), free(pk), free(pv);
    return rc;
}

static int build_kernels(gen_model *m) {
    const char *src = gen_kernels_source;
    cl_int err;
    m->prog = clCreateProgramWithSource(m->cl, 1, &src, NULL, &err);
    if (cl_failed(err, "clCreateProgramWithSource")) return 1;
    cl_device_id dev;
    if (cl_failed(clGetContextInfo(m->cl, CL_CONTEXT_DEVICES, sizeof dev, &dev, NULL),
                  "clGetContextInfo"))
        return 1;
    err = clBuildProgram(m->prog, 1, &dev, "", NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[4096] = "";
        clGetProgramBuildInfo(m->prog, dev, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        fprintf(stderr, "generate: building the example's kernels failed (%d):\n%s\n", err, log);
        return 1;
    }
    for (int i = 0; i < K_COUNT; i++) {
        m->k[i] = clCreateKernel(m->prog, kernel_names[i], &err);
        if (cl_failed(err, kernel_names[i])) return 1;
    }
    return 0;
}

int gen_model_create(clattn_context *ctx, const gen_config *c, gen_model **out) {
    *out = NULL;
    gen_model *m = calloc(1, sizeof *m);
    if (!m || !(m->layer = calloc((size_t)c->layers, sizeof *m->layer))) {
        free(m);
        fprintf(stderr, "generate: out of host memory\n");
        return 1;
    }
    m->c = *c, m->ctx = ctx;
    m->cl = clattn_context_cl_context(ctx), m->q = clattn_context_queue(ctx);
    rng_state = c->seed * 0x9E3779B97F4A7C15ull + 1;
    const int64_t E = c->embed, F = c->ffn, V = c->vocab, S = c->capacity;
    const size_t f = sizeof(float);
    int rc = build_kernels(m) || weights(m, V * E, 1, &m->emb); /* embeddings of variance 1 */
    for (int64_t i = 0; i < c->layers && !rc; i++) {
        gen_layer *l = &m->layer[i];
        rc = weights(m, E, 0, &l->norm1) || make_attention(m, l) || weights(m, E, 0, &l->norm2) ||
             weights(m, F * E, E, &l->w1) || weights(m, E * F, F, &l->w2);
    }
    rc = rc || weights(m, E, 0, &m->norm_f) || weights(m, V * E, E, &m->lm) ||
         buffer(m, (size_t)S * sizeof(int32_t), NULL, &m->ids) ||
         buffer(m, sizeof(int32_t), NULL, &m->tok) || buffer(m, (size_t)(S * E) * f, NULL, &m->x) ||
         buffer(m, (size_t)(S * E) * f, NULL, &m->h) ||
         buffer(m, (size_t)(S * E) * f, NULL, &m->a) ||
         buffer(m, (size_t)(S * F) * f, NULL, &m->u) || buffer(m, (size_t)V * f, NULL, &m->logits);
    if (rc) {
        gen_model_destroy(m);
        return 1;
    }
    *out = m;
    return 0;
}

void gen_model_destroy(gen_model *m) {
    if (!m) return;
    if (m->q) clFinish(m->q);
    for (int64_t i = 0; m->layer && i < m->c.layers; i++) {
        gen_layer *l = &m->layer[i];
        clattn_mha_layer_destroy(l->attn);
        clattn_kv_cache_destroy(l->cache);
        cl_mem mems[] = {l->norm1, l->norm2, l->w1, l->w2};
        for (size_t j = 0; j < sizeof mems / sizeof *mems; j++)
            if (mems[j]) clReleaseMemObject(mems[j]);
    }
    cl_mem mems[] = {m->emb, m->lm, m->norm_f, m->ids, m->tok, m->x, m->h, m->a, m->u, m->logits};
    for (size_t j = 0; j < sizeof mems / sizeof *mems; j++)
        if (mems[j]) clReleaseMemObject(mems[j]);
    for (int i = 0; i < K_COUNT; i++)
        if (m->k[i]) clReleaseKernel(m->k[i]);
    if (m->prog) clReleaseProgram(m->prog);
    free(m->layer);
    free(m);
}

/* ---- One run of the stack ---- */

/* Sets kernel k's arguments from (size, pointer) pairs and launches it over `dims` sizes. */
static int launch(gen_model *m, int k, cl_uint dims, const size_t *global, int nargs, ...) {
    va_list ap;
    va_start(ap, nargs);
    cl_int err = CL_SUCCESS;
    for (int i = 0; i < nargs && err == CL_SUCCESS; i++) {
        const size_t size = va_arg(ap, size_t);
        const void *value = va_arg(ap, const void *);
        err = clSetKernelArg(m->k[k], (cl_uint)i, size, value);
    }
    va_end(ap);
    if (err == CL_SUCCESS)
        err = clEnqueueNDRangeKernel(m->q, m->k[k], dims, NULL, global, NULL, 0, NULL, NULL);
    return cl_failed(err, kernel_names[k]);
}

/* out[0..rows) = RMSNorm(x[row0 .. row0 + rows)) * gain */
static int rmsnorm(gen_model *m, int row0, int64_t rows, cl_mem gain, cl_mem out) {
    const size_t g[1] = {(size_t)rows};
    const cl_int E = (cl_int)m->c.embed;
    const float eps = 1e-5f;
    return launch(m, K_NORM, 1, g, 6, sizeof(cl_mem), &m->x, sizeof(cl_int), &row0, sizeof(cl_mem),
                  &gain, sizeof(cl_mem), &out, sizeof(cl_int), &E, sizeof(float), &eps);
}

/* Rows up to which linear() streams the weights with linear_rows rather than CLBlast. */
#define GEN_ROWS_MAX 4

/* y[M, N] = x[M, K] W[N, K]^T + beta y (nn.Linear; beta 0 or 1). A decode step's few rows go to
 * linear_rows; a prefill's many to CLBlast, stated column-major as y^T = W x^T, the form in which
 * clattn's own GEMMs run. On a CPU device CLBlast runs them with the parameters clattn gave it
 * for the device when the context was made (src/core/blas.c); with CLBlast's own, this prefill
 * took about 3x as long. */
static int linear(gen_model *m, cl_mem x, cl_mem w, cl_mem y, int64_t M, int64_t N, int64_t K,
                  float beta) {
    if (M <= GEN_ROWS_MAX) {
        const size_t g[2] = {(size_t)N, (size_t)M};
        const cl_int Ki = (cl_int)K, Ni = (cl_int)N, acc = beta != 0.0f;
        return launch(m, K_LINEAR, 2, g, 6, sizeof(cl_mem), &x, sizeof(cl_mem), &w, sizeof(cl_mem),
                      &y, sizeof(cl_int), &Ki, sizeof(cl_int), &Ni, sizeof(cl_int), &acc);
    }
    CLBlastStatusCode s = CLBlastSgemm(
        CLBlastLayoutColMajor, CLBlastTransposeYes, CLBlastTransposeNo, (size_t)N, (size_t)M,
        (size_t)K, 1.0f, w, 0, (size_t)K, x, 0, (size_t)K, beta, y, 0, (size_t)N, &m->q, NULL);
    if (s == CLBlastSuccess) return 0;
    fprintf(stderr, "generate: CLBlastSgemm %lldx%lldx%lld failed (%d)\n", (long long)M,
            (long long)N, (long long)K, (int)s);
    return 1;
}

double gen_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

double gen_model_attention_ms(const gen_model *m) {
    return m->attn_ms;
}

/* One layer's attention, h -> a; with profile set, timed between two waits. */
static int attention(gen_model *m, gen_layer *l, const clattn_mha_forward_desc *fd) {
    const double t0 = m->c.profile && clFinish(m->q) == CL_SUCCESS ? gen_now_ms() : 0.0;
    if (clattn_failed(m->ctx, clattn_mha_layer_forward(l->attn, fd, m->h, m->a, 0, NULL, NULL),
                      "clattn_mha_layer_forward"))
        return 1;
    if (m->c.profile && !cl_failed(clFinish(m->q), "clFinish")) m->attn_ms += gen_now_ms() - t0;
    return 0;
}

int gen_model_run(gen_model *m, const int32_t *tokens, int64_t n, int use_cache, int32_t *next,
                  float *logits) {
    const gen_config *c = &m->c;
    const int64_t E = c->embed, F = c->ffn;
    if (n < 1 || n > c->capacity) {
        fprintf(stderr, "generate: a run of %lld tokens (1..%lld)\n", (long long)n,
                (long long)c->capacity);
        return 1;
    }
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab) {
            fprintf(stderr, "generate: token %d outside the vocabulary\n", tokens[i]);
            return 1;
        }
    if (cl_failed(clEnqueueWriteBuffer(m->q, m->ids, CL_TRUE, 0, (size_t)n * sizeof(int32_t),
                                       tokens, 0, NULL, NULL),
                  "writing the tokens"))
        return 1;
    const cl_int Ei = (cl_int)E;
    const size_t g_embed[2] = {(size_t)E, (size_t)n}, g_x[1] = {(size_t)(n * E)};
    const size_t g_u[1] = {(size_t)(n * F)}, one[1] = {1};
    if (launch(m, K_EMBED, 2, g_embed, 4, sizeof(cl_mem), &m->ids, sizeof(cl_mem), &m->emb,
               sizeof(cl_mem), &m->x, sizeof(cl_int), &Ei))
        return 1;
    m->attn_ms = 0.0;
    const int32_t slot = 0;
    clattn_mha_forward_desc fd;
    clattn_mha_forward_desc_init(&fd, sizeof fd);
    fd.batch = 1, fd.seq = n, fd.causal = 1;
    if (use_cache) fd.slots = &slot;
    for (int64_t i = 0; i < c->layers; i++) {
        gen_layer *l = &m->layer[i];
        fd.cache = use_cache ? l->cache : NULL;
        if (rmsnorm(m, 0, n, l->norm1, m->h) || attention(m, l, &fd) ||
            launch(m, K_ADD, 1, g_x, 2, sizeof(cl_mem), &m->x, sizeof(cl_mem), &m->a) ||
            rmsnorm(m, 0, n, l->norm2, m->h) || linear(m, m->h, l->w1, m->u, n, F, E, 0.0f) ||
            launch(m, K_GELU, 1, g_u, 1, sizeof(cl_mem), &m->u) ||
            linear(m, m->u, l->w2, m->x, n, E, F, 1.0f)) /* x += W2 GELU(..) */
            return 1;
    }
    /* Only the last token's logits choose the next one. */
    const cl_int V = (cl_int)c->vocab;
    if (rmsnorm(m, (int)(n - 1), 1, m->norm_f, m->h) ||
        linear(m, m->h, m->lm, m->logits, 1, c->vocab, E, 0.0f) ||
        launch(m, K_ARGMAX, 1, one, 3, sizeof(cl_mem), &m->logits, sizeof(cl_int), &V,
               sizeof(cl_mem), &m->tok))
        return 1;
    if (logits &&
        cl_failed(clEnqueueReadBuffer(m->q, m->logits, CL_FALSE, 0,
                                      (size_t)c->vocab * sizeof(float), logits, 0, NULL, NULL),
                  "reading the logits"))
        return 1;
    return cl_failed(
        clEnqueueReadBuffer(m->q, m->tok, CL_TRUE, 0, sizeof(int32_t), next, 0, NULL, NULL),
        "reading the next token");
}

int gen_model_sizes(gen_model *m, gen_sizes *s) {
    const gen_config *c = &m->c;
    memset(s, 0, sizeof *s);
    for (int64_t i = 0; i < c->layers; i++) {
        clattn_kv_cache_info info;
        if (clattn_failed(m->ctx, clattn_kv_cache_get_info(m->layer[i].cache, &info, sizeof info),
                          "clattn_kv_cache_get_info"))
            return 1;
        if (i == 0) s->cache_bytes_layer = info.device_bytes, s->cache_tokens = info.tokens;
        s->cache_bytes_total += info.device_bytes;
    }
    const int64_t E = c->embed, HD = c->heads * c->head_dim, GD = c->kv_heads * c->head_dim;
    const int64_t attn = (HD + 2 * GD) * E + E * HD, per_layer = attn + 2 * E * c->ffn + 2 * E;
    s->weight_bytes = (int64_t)sizeof(float) * (c->layers * per_layer + E + c->vocab * E + E);
    s->attn_weight_bytes = (int64_t)sizeof(float) * c->layers * attn;
    return 0;
}
