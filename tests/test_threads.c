/* test_threads.c: one context used from several threads at once, as include/clattn.h promises:
 * each thread runs attention calls of its own (different shapes, algorithms and GQA groupings,
 * the same few kernel builds) and checks every element against the float64 reference; the
 * threads start together on a barrier so their first calls also race for the program cache and
 * for CLBlast's caches. Also: a context wrapped around an application's queue gives back every
 * reference it took on the application's cl_context, CLBlast's included. */
#include "sdpa_ref.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

enum { THREADS = 4, CALLS = 3 };

typedef struct {
    clattn_context *ctx;
    pthread_barrier_t *start;
    int id;
    int failures, checked;
    float *inputs; /* filled by the main thread: the generator is not thread-safe */
} worker;

static const int64_t seqs[THREADS][2] = {{59, 59}, {113, 203}, {1, 1023}, {203, 113}};
static const clattn_algo algos[CALLS] = {CLATTN_ALGO_FLASH2, CLATTN_ALGO_FLASH1, CLATTN_ALGO_NAIVE};
enum { B = 2, HQ = 4, D = 64 };

static int64_t input_floats(int id) {
    return (int64_t)B * HQ * D * (seqs[id][0] + 2 * seqs[id][1]);
}

static void *run(void *arg) {
    worker *w = arg;
    const int64_t sq = seqs[w->id][0], skv = seqs[w->id][1];
    const int64_t hkv = w->id % 2 ? 1 : 2; /* MQA and GQA */
    float *q = w->inputs, *k = q + B * HQ * sq * D, *v = k + B * HQ * skv * D;
    const int64_t n_out = B * HQ * sq * D;
    float *out = tu_alloc_floats(n_out), *lse = tu_alloc_floats(B * HQ * sq);
    double *rout = malloc(sizeof(double) * (size_t)n_out);
    double *rlse = malloc(sizeof(double) * (size_t)(B * HQ * sq));
    sdpa_ref_problem p = {
        B,   HQ,  hkv, sq, skv, D, D, 1.0 / sqrt(D), w->id % 2, q, k,    v, NULL, {0},
        {0}, {0}, {0}, 0,  0,   0, 0, 0.0,           NULL,      0, NULL, 0};
    sdpa_ref_contiguous(HQ, sq, D, p.q_st);
    sdpa_ref_contiguous(hkv, skv, D, p.k_st);
    sdpa_ref_contiguous(hkv, skv, D, p.v_st);
    int ref_ok = rout && rlse && sdpa_ref(&p, rout, rlse) == 0;
    pthread_barrier_wait(w->start);
    for (int c = 0; c < CALLS && ref_ok; c++) {
        clattn_sdpa_desc d;
        clattn_sdpa_desc_init(&d, sizeof d);
        d.batch = B, d.heads = HQ, d.kv_heads = hkv, d.seq_q = sq, d.seq_kv = skv;
        d.head_dim = D, d.causal = w->id % 2, d.algo = algos[c];
        tu_poison(out, n_out);
        tu_poison(lse, B * HQ * sq);
        clattn_status st = clattn_sdpa_host(w->ctx, &d, q, k, v, NULL, out, lse);
        int ok = st == CLATTN_SUCCESS && tu_compare("out", out, rout, n_out, 2e-5, 2e-4) &&
                 tu_compare("lse", lse, rlse, B * HQ * sq, 2e-5, 2e-5);
        w->checked++;
        if (!ok) w->failures++;
    }
    if (!ref_ok) w->failures++;
    free(out), free(lse), free(rout), free(rlse);
    return NULL;
}

/* Runs one naive (CLBlast) attention through a clattn context made from the application's own
 * queue, destroys it, and compares the application's context reference count before and after. */
static void test_references(void) {
    cl_platform_id plat;
    cl_device_id dev;
    cl_int err = clGetPlatformIDs(1, &plat, NULL);
    if (err == CL_SUCCESS) err = clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, NULL);
    cl_context app = err == CL_SUCCESS ? clCreateContext(NULL, 1, &dev, NULL, NULL, &err) : NULL;
    cl_command_queue q = app ? clCreateCommandQueue(app, dev, 0, &err) : NULL;
    if (!TU_CHECK(q != NULL, "application context and queue")) return;
    cl_uint before = 0, after = 0;
    clGetContextInfo(app, CL_CONTEXT_REFERENCE_COUNT, sizeof before, &before, NULL);
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create_from_queue(q, &ctx);
    enum { S = 37, DD = 16 };
    float *x = tu_alloc_floats(3 * S * DD), *out = tu_alloc_floats(S * DD);
    tu_fill_normal(x, 3 * S * DD, 1.0f);
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = d.heads = d.kv_heads = 1, d.seq_q = d.seq_kv = S, d.head_dim = DD;
    d.algo = CLATTN_ALGO_NAIVE;
    if (st == CLATTN_SUCCESS)
        st = clattn_sdpa_host(ctx, &d, x, x + S * DD, x + 2 * S * DD, NULL, out, NULL);
    clattn_context_destroy(ctx);
    clGetContextInfo(app, CL_CONTEXT_REFERENCE_COUNT, sizeof after, &after, NULL);
    TU_CHECK(st == CLATTN_SUCCESS && after == before,
             "after a naive (CLBlast) call and destroy, the application's context has its %u "
             "references back (now %u)",
             before, after);
    free(x), free(out);
    clReleaseCommandQueue(q);
    clReleaseContext(app);
}

int main(void) {
    clattn_context *ctx = tu_context();
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ctx, &start, i, 0, 0, tu_alloc_floats(input_floats(i))};
        tu_fill_normal(w[i].inputs, input_floats(i), 1.0f);
    }
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, run, &w[i]);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        TU_CHECK(w[i].failures == 0 && w[i].checked == CALLS,
                 "thread %d (Sq=%lld, Skv=%lld, %s): %d of %d calls correct", i,
                 (long long)seqs[i][0], (long long)seqs[i][1], i % 2 ? "MQA causal" : "GQA",
                 w[i].checked - w[i].failures, CALLS);
        free(w[i].inputs);
    }
    pthread_barrier_destroy(&start);
    clattn_context_destroy(ctx);
    test_references();
    return tu_finish();
}
