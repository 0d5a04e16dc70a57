/* test_workspace.c: the scratch buffers a context keeps between calls (src/core/workspace.c), as
 * the float32 copies of float16 K/V that CPU-flavour flash2 runs on (sdpa/staging.c) use them.
 * Every call's output is checked against the float64 reference on the f16-rounded inputs, with
 * the output poisoned first. Checked: a staged call keeps exactly its K and V copies
 * (clattn_context_trim returns their bytes, then 0); repeated calls reuse them rather than keep
 * more; a smaller problem runs correctly on the larger kept buffers; four threads calling at once
 * all get correct results and leave at most the workspace's four buffers; a context on an
 * out-of-order queue keeps nothing. */
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { B = 1, HQ = 4, HKV = 2, D = 64, SQ = 203, SKV = 113, SKV_SMALL = 59, THREADS = 4 };

typedef struct {
    int64_t skv;
    uint16_t *k, *v; /* float16 */
    float *q;
    double *rout; /* reference output */
} problem;

/* Random q (float32) and k, v (float16); the reference runs on the rounded k, v. */
static void make_problem(problem *p, int64_t skv) {
    const int64_t nq = (int64_t)B * HQ * SQ * D, nkv = (int64_t)B * HKV * skv * D;
    p->skv = skv;
    p->q = tu_alloc_floats(nq);
    p->k = tu_alloc_zeroed(sizeof(uint16_t) * (size_t)nkv);
    p->v = tu_alloc_zeroed(sizeof(uint16_t) * (size_t)nkv);
    p->rout = tu_alloc_zeroed(sizeof(double) * (size_t)nq);
    float *kf = tu_alloc_floats(nkv), *vf = tu_alloc_floats(nkv);
    tu_fill_normal(p->q, nq, 1.0f);
    tu_fill_normal(kf, nkv, 1.0f);
    tu_fill_normal(vf, nkv, 1.0f);
    for (int64_t i = 0; i < nkv; i++) {
        p->k[i] = tu_f2h(kf[i]), kf[i] = tu_h2f(p->k[i]);
        p->v[i] = tu_f2h(vf[i]), vf[i] = tu_h2f(p->v[i]);
    }
    sdpa_ref_problem r;
    memset(&r, 0, sizeof r);
    r.B = B, r.Hq = HQ, r.Hkv = HKV, r.Sq = SQ, r.Skv = skv, r.D = r.Dv = D;
    r.scale = 1.0 / sqrt(D);
    r.q = p->q, r.k = kf, r.v = vf;
    r.window_left = r.window_right = -1;
    sdpa_ref_contiguous(HQ, SQ, D, r.q_st);
    sdpa_ref_contiguous(HKV, skv, D, r.k_st);
    sdpa_ref_contiguous(HKV, skv, D, r.v_st);
    if (sdpa_ref(&r, p->rout, NULL)) {
        printf("FAIL: reference allocation\n");
        exit(1);
    }
    free(kf), free(vf);
}

static void free_problem(problem *p) {
    free(p->q), free(p->k), free(p->v), free(p->rout);
}

static clattn_sdpa_desc desc_of(const problem *p) {
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = B, d.heads = HQ, d.kv_heads = HKV, d.seq_q = SQ, d.seq_kv = p->skv, d.head_dim = D;
    d.kv_dtype = CLATTN_DTYPE_F16;
    d.algo = CLATTN_ALGO_FLASH2;
    d.flavour = CLATTN_FLAVOUR_CPU;
    return d;
}

/* Float32 copies of K and V: what one staged call of p takes from the workspace. */
static int64_t copies_bytes(const problem *p) {
    return 2 * 4 * (int64_t)B * HKV * p->skv * D;
}

/* One call, checked element by element; 1 when it matched. */
static int run(clattn_context *ctx, const problem *p) {
    const int64_t n = (int64_t)B * HQ * SQ * D;
    float *out = tu_alloc_floats(n);
    tu_poison(out, n);
    const clattn_sdpa_desc d = desc_of(p);
    const clattn_status st = clattn_sdpa_host(ctx, &d, p->q, p->k, p->v, NULL, out, NULL);
    const int ok = st == CLATTN_SUCCESS && tu_compare("out", out, p->rout, n, 2e-5, 2e-4);
    if (st != CLATTN_SUCCESS)
        printf("      %s: %s\n", clattn_status_string(st), clattn_context_last_error(ctx));
    free(out);
    return ok;
}

typedef struct {
    clattn_context *ctx;
    const problem *p;
    pthread_barrier_t *start;
    int ok;
} worker;

static void *thread_main(void *arg) {
    worker *w = arg;
    pthread_barrier_wait(w->start);
    w->ok = 1;
    for (int c = 0; c < 3; c++) w->ok &= run(w->ctx, w->p);
    return NULL;
}

/* A context on an out-of-order queue of the same device: correct results, nothing kept. */
static void out_of_order(clattn_context *base, const problem *p) {
    cl_int err = CL_SUCCESS;
    cl_device_id dev = NULL;
    clGetCommandQueueInfo(clattn_context_queue(base), CL_QUEUE_DEVICE, sizeof dev, &dev, NULL);
    cl_command_queue q = clCreateCommandQueue(clattn_context_cl_context(base), dev,
                                              CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
    if (err != CL_SUCCESS || !q) {
        printf("skip: the device has no out-of-order queues (%d)\n", (int)err);
        return;
    }
    clattn_context *ctx = NULL;
    const clattn_status st = clattn_context_create_from_queue(q, &ctx);
    if (TU_CHECK(st == CLATTN_SUCCESS, "a context on an out-of-order queue")) {
        const int ok = run(ctx, p) && run(ctx, p);
        const int64_t kept = clattn_context_trim(ctx);
        TU_CHECK(ok && kept == 0,
                 "out-of-order queue: two staged calls match the reference and keep nothing "
                 "(%lld bytes)",
                 (long long)kept);
        clattn_context_destroy(ctx);
    }
    clReleaseCommandQueue(q);
}

int main(void) {
    clattn_context *ctx = tu_context();
    problem big, small;
    make_problem(&big, SKV);
    make_problem(&small, SKV_SMALL);
    TU_CHECK(clattn_context_trim(NULL) == 0 && clattn_context_trim(ctx) == 0,
             "trim: NULL and a new context hold nothing");

    /* The plan stages K and V: 2 x 203 rows per kv head are several query blocks. */
    clattn_sdpa_plan plan;
    const clattn_sdpa_desc d = desc_of(&big);
    clattn_status st = clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan);
    TU_CHECK(st == CLATTN_SUCCESS && plan.scratch_bytes == copies_bytes(&big),
             "f16 K/V, 406 rows per kv head: flash2 (CPU) plans float32 copies of K and V (%lld "
             "bytes, want %lld)",
             (long long)plan.scratch_bytes, (long long)copies_bytes(&big));

    TU_CHECK(run(ctx, &big), "first staged call matches the reference");
    int64_t kept = clattn_context_trim(ctx);
    TU_CHECK(kept == copies_bytes(&big) && clattn_context_trim(ctx) == 0,
             "the call kept its K and V copies (%lld bytes), and trim released them",
             (long long)kept);

    int ok = 1;
    for (int c = 0; c < 3; c++) ok &= run(ctx, &big);
    kept = clattn_context_trim(ctx);
    TU_CHECK(ok && kept == copies_bytes(&big),
             "three more calls match and reuse one set of copies (%lld bytes kept)",
             (long long)kept);

    ok = run(ctx, &big) && run(ctx, &small) && run(ctx, &small);
    kept = clattn_context_trim(ctx);
    TU_CHECK(ok && kept == copies_bytes(&big),
             "a smaller problem (Skv %d) runs on the larger kept buffers (%lld bytes kept)",
             SKV_SMALL, (long long)kept);

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    worker w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ctx, i % 2 ? &small : &big, &start, 0};
        pthread_create(&th[i], NULL, thread_main, &w[i]);
    }
    ok = 1;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ok &= w[i].ok;
    }
    pthread_barrier_destroy(&start);
    kept = clattn_context_trim(ctx);
    TU_CHECK(ok && kept > 0 && kept <= 4 * copies_bytes(&big) / 2,
             "%d threads x 3 staged calls on one context all match; %lld bytes kept (at most the "
             "workspace's 4 buffers)",
             THREADS, (long long)kept);

    out_of_order(ctx, &big);
    /* Kept buffers are released with the context (valgrind and ASan runs check the rest). */
    ok = run(ctx, &big);
    clattn_context_destroy(ctx);
    TU_CHECK(ok, "a context destroyed while holding kept buffers");
    free_problem(&big), free_problem(&small);
    return tu_finish();
}
