/* test_additive.c: additive (Bahdanau) attention against the float64 reference
 * (tests/ref/additive_ref.c): every kernel shape (CPU, GPU on PoCL's caps, GPU with forced small
 * tiles, GPU chosen by the dispatcher under CLATTN_LOCAL_MEM_TYPE/BYTES overrides), odd shapes
 * (T = 1, T not a multiple of any tile, T in the thousands, A larger than a work-group), lengths
 * including 1 and T, one and several decoder steps, the one-shot call equal to precompute-then-
 * step, the dispatcher over device profiles, and rejected bad inputs leaving outputs untouched.
 * The key projection runs as on each device: layer_linear over W_h in panels on the CPU contexts
 * (16 and 8 lanes), CLBlast under the local-memory override. Kernel builds are kept few: nine
 * programs in all (counted in a fresh CLATTN_CACHE_DIR; PoCL compiles take seconds). */
#include "testutil.h"
#include "additive_ref.h"
#include "additive/plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t B, T, Tq, Dk, Ds, A;
} shape;

/* Fresh random inputs for one shape; lengths include 1 and T when B allows. */
typedef struct {
    shape s;
    float *keys, *query, *w_h, *w_s, *v, *bias;
    int32_t *len32;
    int64_t *len64;
} problem;

static problem make_problem(shape s, int with_bias, int with_lengths) {
    problem p = {.s = s};
    p.keys = tu_alloc_floats(s.B * s.T * s.Dk);
    p.query = tu_alloc_floats(s.B * s.Tq * s.Ds);
    p.w_h = tu_alloc_floats(s.A * s.Dk);
    p.w_s = tu_alloc_floats(s.A * s.Ds);
    p.v = tu_alloc_floats(s.A);
    tu_fill_uniform(p.keys, s.B * s.T * s.Dk, -1.0f, 1.0f);
    tu_fill_uniform(p.query, s.B * s.Tq * s.Ds, -1.0f, 1.0f);
    /* Projections of O(1) so tanh is neither linear nor saturated everywhere. */
    tu_fill_normal(p.w_h, s.A * s.Dk, 1.5f / (float)sqrt((double)s.Dk));
    tu_fill_normal(p.w_s, s.A * s.Ds, 1.5f / (float)sqrt((double)s.Ds));
    tu_fill_normal(p.v, s.A, 3.0f / (float)sqrt((double)s.A));
    if (with_bias) {
        p.bias = tu_alloc_floats(s.A);
        tu_fill_uniform(p.bias, s.A, -0.5f, 0.5f);
    }
    if (with_lengths) {
        p.len32 = malloc((size_t)s.B * sizeof(int32_t));
        p.len64 = malloc((size_t)s.B * sizeof(int64_t));
        for (int64_t b = 0; b < s.B; b++) {
            int64_t l = 1 + (int64_t)(tu_uniform() * (double)s.T);
            if (b == 0) l = 1;
            if (b == 1) l = s.T;
            if (l > s.T) l = s.T;
            p.len32[b] = (int32_t)l, p.len64[b] = l;
        }
    }
    return p;
}

static void free_problem(problem *p) {
    free(p->keys), free(p->query), free(p->w_h), free(p->w_s), free(p->v), free(p->bias);
    free(p->len32), free(p->len64);
}

static const char *desc_name(const clattn_additive_desc *d) {
    static char buf[160];
    snprintf(buf, sizeof buf,
             "B=%lld T=%lld Tq=%lld Dk=%lld Ds=%lld A=%lld flavour=%d wg=%lld bt=%lld",
             (long long)d->batch, (long long)d->seq, (long long)d->steps, (long long)d->key_dim,
             (long long)d->query_dim, (long long)d->attn_dim, (int)d->flavour,
             (long long)d->work_group, (long long)d->block_t);
    return buf;
}

static clattn_additive_desc make_desc(shape s, clattn_flavour fl, int64_t wg, int64_t bt) {
    clattn_additive_desc d;
    clattn_additive_desc_init(&d, sizeof d);
    d.batch = s.B, d.seq = s.T, d.steps = s.Tq, d.key_dim = s.Dk, d.query_dim = s.Ds;
    d.attn_dim = s.A, d.flavour = fl, d.work_group = wg, d.block_t = bt;
    return d;
}

/* Precompute then step (with the weights, or without them through the scratch path), checked
 * element by element, then the one-shot call compared bit for bit with the stepped result. */
static void check_shape(clattn_context *ctx, shape s, clattn_flavour fl, int64_t wg, int64_t bt,
                        int with_bias, int with_lengths, int use_int64, int want_weights) {
    problem p = make_problem(s, with_bias, with_lengths);
    clattn_additive_desc d = make_desc(s, fl, wg, bt);
    d.lengths_type = use_int64 ? CLATTN_LENGTHS_INT64 : CLATTN_LENGTHS_INT32;
    const void *lengths = use_int64 ? (const void *)p.len64 : (const void *)p.len32;
    const int64_t nc = s.B * s.Tq * s.Dk, nw = s.B * s.Tq * s.T;
    double *rc = malloc((size_t)nc * sizeof(double)), *rw = malloc((size_t)nw * sizeof(double));
    float *c = tu_alloc_floats(nc), *w = tu_alloc_floats(nw);
    float *c1 = tu_alloc_floats(nc), *w1 = tu_alloc_floats(nw);
    tu_poison(c, nc), tu_poison(w, nw), tu_poison(c1, nc), tu_poison(w1, nw);
    ref_additive(s.B, s.T, s.Tq, s.Dk, s.Ds, s.A, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias,
                 p.len32, rc, rw);

    clattn_additive_keys *h = NULL;
    clattn_status st =
        clattn_additive_keys_create_host(ctx, &d, p.keys, p.w_h, p.w_s, p.v, p.bias, lengths, &h);
    if (st == CLATTN_SUCCESS)
        st = clattn_additive_step_host(ctx, h, s.Tq, p.query, c, want_weights ? w : NULL);
    const char *name = desc_name(&d);
    char tag[64];
    snprintf(tag, sizeof tag, "bias=%d lengths=%s weights=%d", with_bias,
             with_lengths ? (use_int64 ? "int64" : "int32") : "none", want_weights);
    if (!TU_CHECK(st == CLATTN_SUCCESS, "step %s %s: %s %s", name, tag, clattn_status_string(st),
                  st ? clattn_context_last_error(ctx) : ""))
        goto done;
    TU_CHECK(tu_compare("context", c, rc, nc, 2e-5, 2e-4), "context %s %s", name, tag);
    if (want_weights)
        TU_CHECK(tu_compare("weights", w, rw, nw, 2e-6, 2e-4), "weights %s %s", name, tag);

    st = clattn_additive_host(ctx, &d, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias, lengths, c1,
                              want_weights ? w1 : NULL);
    TU_CHECK(st == CLATTN_SUCCESS && memcmp(c, c1, (size_t)nc * 4) == 0 &&
                 (!want_weights || memcmp(w, w1, (size_t)nw * 4) == 0),
             "one-shot equals precompute-then-step %s %s", name, tag);
done:
    clattn_additive_keys_destroy(h);
    free(rc), free(rw), free(c), free(w), free(c1), free(w1);
    free_problem(&p);
}

/* One handle, several decoder steps with fresh queries each time (the handle is reused). */
static void check_repeated_steps(clattn_context *ctx, shape s, int steps) {
    problem p = make_problem(s, 1, 1);
    clattn_additive_desc d = make_desc(s, CLATTN_FLAVOUR_AUTO, 0, 0);
    clattn_additive_keys *h = NULL;
    clattn_status st =
        clattn_additive_keys_create_host(ctx, &d, p.keys, p.w_h, p.w_s, p.v, p.bias, p.len32, &h);
    TU_CHECK(st == CLATTN_SUCCESS, "repeated steps: create: %s", clattn_context_last_error(ctx));
    const int64_t nc = s.B * s.Tq * s.Dk, nw = s.B * s.Tq * s.T;
    double *rc = malloc((size_t)nc * sizeof(double)), *rw = malloc((size_t)nw * sizeof(double));
    float *c = tu_alloc_floats(nc), *w = tu_alloc_floats(nw);
    for (int i = 0; i < steps && st == CLATTN_SUCCESS; i++) {
        tu_fill_uniform(p.query, s.B * s.Tq * s.Ds, -1.0f, 1.0f);
        tu_poison(c, nc), tu_poison(w, nw);
        ref_additive(s.B, s.T, s.Tq, s.Dk, s.Ds, s.A, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias,
                     p.len32, rc, rw);
        st = clattn_additive_step_host(ctx, h, 0, p.query, c, w);
        TU_CHECK(st == CLATTN_SUCCESS && tu_compare("context", c, rc, nc, 2e-5, 2e-4) &&
                     tu_compare("weights", w, rw, nw, 2e-6, 2e-4),
                 "decoder step %d of %d on one handle (B=%lld T=%lld)", i + 1, steps,
                 (long long)s.B, (long long)s.T);
    }
    clattn_additive_keys_destroy(h);
    free(rc), free(rw), free(c), free(w);
    free_problem(&p);
}

static const shape shapes[] = {
    {2, 1, 1, 17, 13, 9},      /* T = 1 */
    {3, 59, 1, 64, 32, 300},   /* A larger than a 256-item work-group */
    {3, 113, 3, 33, 40, 48},   /* several steps in one call */
    {2, 203, 2, 1023, 24, 16}, /* odd Dk beyond the 32-column register block */
    {2, 2000, 1, 40, 24, 32},  /* T in the thousands, past every tile */
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

static void run_all_shapes(clattn_context *ctx, clattn_flavour fl, int64_t wg, int64_t bt) {
    for (int i = 0; i < NSHAPES; i++) {
        int variant = i % 4;
        check_shape(ctx, shapes[i], fl, wg, bt, variant != 1, 1, variant == 2, variant != 3);
    }
    check_shape(ctx, shapes[2], fl, wg, bt, 1, 0, 0, 1); /* no lengths */
}

/* Pure dispatcher checks over device profiles (figures from shared/device-profiles.csv). */
static void check_dispatcher(void) {
    static const struct {
        const char *name;
        int64_t local, max_wg;
        clattn_local_mem_type type;
    } prof[] = {{"pocl-cpu", 524288, 4096, CLATTN_LOCAL_MEM_GLOBAL},
                {"nvidia-h200", 49152, 1024, CLATTN_LOCAL_MEM_LOCAL},
                {"amd-mi300x", 65536, 256, CLATTN_LOCAL_MEM_LOCAL},
                {"qualcomm-adreno-750", 32768, 1024, CLATTN_LOCAL_MEM_LOCAL},
                {"apple-m1", 32768, 256, CLATTN_LOCAL_MEM_LOCAL},
                {"tiny-embedded", 16384, 256, CLATTN_LOCAL_MEM_LOCAL},
                {"override-2k", 2048, 1024, CLATTN_LOCAL_MEM_LOCAL}};
    static const int64_t As[] = {1, 48, 512, 1024, 5000};
    for (size_t i = 0; i < sizeof prof / sizeof prof[0]; i++)
        for (size_t j = 0; j < sizeof As / sizeof As[0]; j++) {
            clattn_device_caps caps;
            memset(&caps, 0, sizeof caps);
            caps.local_mem_bytes = caps.real_local_mem_bytes = prof[i].local;
            caps.max_work_group_size = prof[i].max_wg;
            caps.local_mem_type = prof[i].type;
            clattn_additive_desc d;
            clattn_additive_desc_init(&d, sizeof d);
            d.flavour = CLATTN_FLAVOUR_GPU;
            clattn_additive_plan pl;
            memset(&pl, 0, sizeof pl);
            char why[256];
            clattn_status st = clattn__additive_dispatch(&caps, As[j], &d, &pl, why, sizeof why);
            int ok = st == CLATTN_SUCCESS && pl.work_group >= 1 &&
                     pl.work_group <= prof[i].max_wg &&
                     (pl.work_group & (pl.work_group - 1)) == 0 && pl.lanes >= 1 &&
                     pl.work_group % pl.lanes == 0 && pl.block_t >= 1 &&
                     pl.local_mem_bytes <= prof[i].local &&
                     pl.local_mem_bytes == clattn__additive_local_bytes(pl.work_group, pl.block_t,
                                                                        pl.stage_query, As[j]);
            TU_CHECK(ok, "dispatch %s A=%lld: wg %lld lanes %lld block_t %lld stage %d local %lld",
                     prof[i].name, (long long)As[j], (long long)pl.work_group, (long long)pl.lanes,
                     (long long)pl.block_t, pl.stage_query, (long long)pl.local_mem_bytes);
        }
    /* Auto flavour follows the local memory type; forced tiles that cannot fit are refused. */
    clattn_device_caps caps;
    memset(&caps, 0, sizeof caps);
    caps.local_mem_bytes = 1024, caps.max_work_group_size = 256;
    caps.local_mem_type = CLATTN_LOCAL_MEM_GLOBAL;
    clattn_additive_desc d;
    clattn_additive_desc_init(&d, sizeof d);
    clattn_additive_plan pl;
    char why[256] = "";
    TU_CHECK(clattn__additive_dispatch(&caps, 64, &d, &pl, why, sizeof why) == CLATTN_SUCCESS &&
                 pl.flavour == CLATTN_FLAVOUR_CPU,
             "dispatch: global local memory picks the CPU shape");
    caps.local_mem_type = CLATTN_LOCAL_MEM_LOCAL;
    TU_CHECK(clattn__additive_dispatch(&caps, 64, &d, &pl, why, sizeof why) == CLATTN_SUCCESS &&
                 pl.flavour == CLATTN_FLAVOUR_GPU && pl.local_mem_bytes <= 1024,
             "dispatch: on-chip local memory picks the GPU shape, fitting in 1 KiB (wg %lld)",
             (long long)pl.work_group);
    d.block_t = 4096;
    TU_CHECK(clattn__additive_dispatch(&caps, 64, &d, &pl, why, sizeof why) ==
                     CLATTN_ERROR_UNSUPPORTED &&
                 strstr(why, "local memory"),
             "dispatch: a forced block_t beyond local memory is refused (%s)", why);
    d.block_t = 0, d.work_group = 48;
    TU_CHECK(clattn__additive_dispatch(&caps, 64, &d, &pl, why, sizeof why) ==
                 CLATTN_ERROR_UNSUPPORTED,
             "dispatch: a work-group that is not a power of two is refused");
    caps.local_mem_bytes = 4, d.work_group = 0;
    TU_CHECK(clattn__additive_dispatch(&caps, 64, &d, &pl, why, sizeof why) ==
                 CLATTN_ERROR_UNSUPPORTED,
             "dispatch: 4 bytes of local memory is refused (%s)", why);
}

/* Each bad call: the status, a message, and the caller's outputs untouched. */
static void check_rejections(clattn_context *ctx) {
    shape s = {3, 10, 1, 8, 6, 5};
    problem p = make_problem(s, 1, 1);
    clattn_additive_desc d = make_desc(s, CLATTN_FLAVOUR_AUTO, 0, 0);
    float c[3 * 8], w[3 * 10], c0[3 * 8], w0[3 * 10];
    tu_poison(c, 24), tu_poison(w, 30);
    memcpy(c0, c, sizeof c), memcpy(w0, w, sizeof w);
#define REJECT(call, want, what)                                                                   \
    do {                                                                                           \
        clattn_status st_ = (call);                                                                \
        TU_CHECK(st_ == (want) && clattn_context_last_error(ctx)[0] &&                             \
                     memcmp(c, c0, sizeof c) == 0 && memcmp(w, w0, sizeof w) == 0,                 \
                 "rejects %s: %s (%s)", what, clattn_status_string(st_),                           \
                 clattn_context_last_error(ctx));                                                  \
    } while (0)
    int32_t bad32[3] = {2, 0, 3};
    REJECT(clattn_additive_host(ctx, &d, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias, bad32, c, w),
           CLATTN_ERROR_INVALID_ARGUMENT, "length 0");
    bad32[1] = 11;
    REJECT(clattn_additive_host(ctx, &d, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias, bad32, c, w),
           CLATTN_ERROR_INVALID_ARGUMENT, "length T+1 (int32)");
    int64_t bad64[3] = {1, 10, -4};
    d.lengths_type = CLATTN_LENGTHS_INT64;
    REJECT(clattn_additive_host(ctx, &d, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias, bad64, c, w),
           CLATTN_ERROR_INVALID_ARGUMENT, "negative length (int64)");
    d.lengths_type = (clattn_lengths_type)7;
    REJECT(clattn_additive_host(ctx, &d, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias, p.len32, c, w),
           CLATTN_ERROR_INVALID_ARGUMENT, "an unknown lengths type");
    d = make_desc(s, CLATTN_FLAVOUR_AUTO, 0, 0);
    d.batch = 0;
    REJECT(clattn_additive_host(ctx, &d, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias, NULL, c, w),
           CLATTN_ERROR_INVALID_ARGUMENT, "batch 0");
    d = make_desc(s, CLATTN_FLAVOUR_AUTO, 0, 0);
    d.steps = -1;
    REJECT(clattn_additive_host(ctx, &d, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias, NULL, c, w),
           CLATTN_ERROR_INVALID_ARGUMENT, "steps -1");
    d = make_desc(s, CLATTN_FLAVOUR_AUTO, 0, 0);
    d.key_dim = (int64_t)1 << 40;
    REJECT(clattn_additive_host(ctx, &d, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias, NULL, c, w),
           CLATTN_ERROR_INVALID_ARGUMENT, "key_dim 2^40");
    d = make_desc(s, CLATTN_FLAVOUR_AUTO, 0, 0);
    REJECT(clattn_additive_host(ctx, &d, p.keys, p.query, NULL, p.w_s, p.v, p.bias, NULL, c, w),
           CLATTN_ERROR_INVALID_ARGUMENT, "a NULL w_h");
    d = make_desc(s, CLATTN_FLAVOUR_GPU, 0, (int64_t)1 << 20);
    REJECT(clattn_additive_host(ctx, &d, p.keys, p.query, p.w_h, p.w_s, p.v, p.bias, NULL, c, w),
           CLATTN_ERROR_UNSUPPORTED, "a forced tile beyond local memory");

    /* Device form: a W_h made for another key size (too small), and outputs aliasing inputs. */
    d = make_desc(s, CLATTN_FLAVOUR_AUTO, 0, 0);
    cl_context cl = clattn_context_cl_context(ctx);
    cl_int err;
    cl_mem keys = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                 (size_t)(s.B * s.T * s.Dk * 4), p.keys, &err);
    cl_mem wh = clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)(s.A * (s.Dk - 1) * 4), NULL, &err);
    cl_mem wh_ok = clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)(s.A * s.Dk * 4), NULL, &err);
    cl_mem ws = clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)(s.A * s.Ds * 4), NULL, &err);
    cl_mem v = clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)(s.A * 4), NULL, &err);
    cl_mem q = clCreateBuffer(cl, CL_MEM_READ_WRITE, (size_t)(s.B * s.Ds * 4), NULL, &err);
    cl_mem cm = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof c, c, &err);
    clattn_additive_keys *h = NULL;
    REJECT(clattn_additive_keys_create(ctx, &d, keys, wh, ws, v, NULL, NULL, 0, NULL, NULL, &h),
           CLATTN_ERROR_BUFFER_TOO_SMALL, "a W_h of the wrong size");
    TU_CHECK(h == NULL, "a failed create leaves the handle pointer NULL");
    REJECT(clattn_additive(ctx, &d, keys, q, wh_ok, ws, v, NULL, NULL, keys, NULL, 0, NULL, NULL),
           CLATTN_ERROR_INVALID_ARGUMENT, "context aliasing keys");
    REJECT(clattn_additive(ctx, &d, keys, q, wh_ok, ws, v, NULL, NULL, cm, q, 0, NULL, NULL),
           CLATTN_ERROR_BUFFER_TOO_SMALL, "weights buffer too small");
    float back[3 * 8];
    clEnqueueReadBuffer(clattn_context_queue(ctx), cm, CL_TRUE, 0, sizeof back, back, 0, NULL,
                        NULL);
    TU_CHECK(memcmp(back, c0, sizeof back) == 0, "rejected device calls leave the context buffer");
    clReleaseMemObject(keys), clReleaseMemObject(wh), clReleaseMemObject(wh_ok),
        clReleaseMemObject(ws);
    clReleaseMemObject(v), clReleaseMemObject(q), clReleaseMemObject(cm);
    clattn_additive_keys_destroy(NULL); /* accepted */
    free_problem(&p);
#undef REJECT
}

int main(void) {
    tu_seed();
    check_dispatcher();
    clattn_context *ctx = tu_context();
    check_rejections(ctx);
    /* 1. The shape this device gets by default (CPU shape on PoCL). */
    run_all_shapes(ctx, CLATTN_FLAVOUR_AUTO, 0, 0);
    check_repeated_steps(ctx, shapes[2], 3);
    /* 1b. On CPU devices the key projection is layer_linear over W_h packed in panels (of 64
     * columns at 16 lanes, above); here at 8 lanes (an AVX2 host's panels of 16 columns), with
     * A = 300 (18 whole panels and a partial one) and A = 9 (one partial panel), with a bias. */
    setenv("CLATTN_VECTOR_WIDTH", "8", 1);
    clattn_context *lanes8 = tu_context();
    unsetenv("CLATTN_VECTOR_WIDTH");
    check_shape(lanes8, shapes[1], CLATTN_FLAVOUR_AUTO, 0, 0, 1, 1, 0, 1);
    check_shape(lanes8, shapes[0], CLATTN_FLAVOUR_AUTO, 0, 0, 1, 0, 0, 1);
    clattn_context_destroy(lanes8);
    /* 2. The GPU shape on the device's own caps, then with tiny forced tiles (block_t 16 and a
     * 32-item work-group: every T above is a partial tile, A = 300 > 32 lanes' reach). */
    run_all_shapes(ctx, CLATTN_FLAVOUR_GPU, 0, 0);
    run_all_shapes(ctx, CLATTN_FLAVOUR_GPU, 32, 16);
    clattn_context_destroy(ctx);

    /* 3. The GPU shape chosen by the dispatcher itself under overrides: 4 KiB of "on-chip" memory
     * stages W_s s and v for A = 48 but not for A = 1024 (caps are read at context creation). */
    setenv("CLATTN_LOCAL_MEM_TYPE", "local", 1);
    setenv("CLATTN_LOCAL_MEM_BYTES", "4096", 1);
    ctx = tu_context();
    clattn_additive_plan pl;
    clattn_additive_desc d = make_desc((shape){2, 37, 1, 24, 16, 48}, CLATTN_FLAVOUR_AUTO, 0, 0);
    clattn_status st = clattn_additive_plan_get(ctx, &d, &pl, sizeof pl);
    TU_CHECK(st == CLATTN_SUCCESS && pl.flavour == CLATTN_FLAVOUR_GPU && pl.stage_query &&
                 pl.local_mem_bytes <= 4096,
             "override: GPU shape staging W_s s (wg %lld, block_t %lld)", (long long)pl.work_group,
             (long long)pl.block_t);
    check_shape(ctx, (shape){2, 37, 1, 24, 16, 48}, CLATTN_FLAVOUR_AUTO, 0, 0, 1, 1, 0, 1);
    check_shape(ctx, (shape){3, 1500, 2, 20, 16, 48}, CLATTN_FLAVOUR_AUTO, 0, 0, 1, 1, 1, 1);
    d = make_desc((shape){2, 37, 1, 24, 16, 1024}, CLATTN_FLAVOUR_AUTO, 0, 0);
    st = clattn_additive_plan_get(ctx, &d, &pl, sizeof pl);
    TU_CHECK(st == CLATTN_SUCCESS && !pl.stage_query && pl.local_mem_bytes <= 4096,
             "override: GPU shape without staging for A = 1024 (wg %lld, block_t %lld)",
             (long long)pl.work_group, (long long)pl.block_t);
    check_shape(ctx, (shape){2, 300, 2, 24, 16, 1024}, CLATTN_FLAVOUR_AUTO, 0, 0, 0, 1, 0, 1);
    clattn_context_destroy(ctx);
    return tu_finish();
}
