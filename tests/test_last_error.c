/* test_last_error.c: clattn_context_last_error() is per thread and per context. Several threads
 * share two contexts and fail in a loop with messages only they produce (a distinct bad batch
 * size per thread and iteration, and a long failed-create selector) while the others fail too;
 * each thread must always read back exactly its own latest message for each context, and a
 * message must stay intact while other threads keep failing, until this thread fails again on
 * that context. Run under AddressSanitizer it also shows no message is freed early or leaked. */
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 6, ROUNDS = 400 };

typedef struct {
    clattn_context *a, *b;
    pthread_barrier_t *start;
    int id;
    int bad; /* messages that were not this thread's own */
    char first_bad[512];
} worker;

static void note_bad(worker *w, const char *what, const char *got) {
    if (w->bad++ == 0)
        snprintf(w->first_bad, sizeof w->first_bad, "thread %d, %s: \"%.400s\"", w->id, what, got);
}

/* A plan request refused with a message naming `batch`. */
static void fail_with_batch(clattn_context *ctx, int64_t batch) {
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = batch, d.heads = d.kv_heads = 1, d.seq_q = d.seq_kv = 4, d.head_dim = 8;
    clattn_sdpa_plan plan;
    clattn_sdpa_plan_get(ctx, &d, &plan, sizeof plan);
}

static void *run(void *arg) {
    worker *w = arg;
    char want_a[64], want_b[64], selector[3000];
    pthread_barrier_wait(w->start);
    for (int r = 0; r < ROUNDS; r++) {
        const int64_t va = -(int64_t)(1000000 * (w->id + 1) + r);
        const int64_t vb = -(int64_t)(1000000 * (w->id + 1) + 500000 + r);
        snprintf(want_a, sizeof want_a, "batch is %lld;", (long long)va);
        snprintf(want_b, sizeof want_b, "batch is %lld;", (long long)vb);
        fail_with_batch(w->a, va);
        fail_with_batch(w->b, vb);
        const char *ma = clattn_context_last_error(w->a);
        const char *mb = clattn_context_last_error(w->b);
        if (!strstr(ma, want_a)) note_bad(w, "context a", ma);
        if (!strstr(mb, want_b)) note_bad(w, "context b", mb);
        /* A successful call does not touch the message; other threads' failures neither. */
        clattn_device_caps caps;
        clattn_context_caps(w->a, &caps, sizeof caps);
        for (int y = 0; y < 3; y++) sched_yield();
        if (clattn_context_last_error(w->a) != ma || !strstr(ma, want_a))
            note_bad(w, "context a after yielding", ma);
        /* Long messages: a failed create with a selector of a few kilobytes. */
        if (r % 50 == 0) {
            memset(selector, 'a' + w->id, sizeof selector - 8);
            snprintf(selector + sizeof selector - 8, 8, "-%03d", r);
            clattn_context *none = NULL;
            clattn_context_create(selector, &none);
            clattn_context_destroy(none);
            const char *mc = clattn_context_create_error();
            if (!strstr(mc, selector)) note_bad(w, "create", mc);
        }
    }
    return NULL;
}

int main(void) {
    tu_seed();
    clattn_context *a = tu_context(), *b = tu_context();
    TU_CHECK(clattn_context_last_error(a)[0] == '\0', "a new context has no message");
    fail_with_batch(a, -5);
    TU_CHECK(strstr(clattn_context_last_error(a), "batch is -5;") != NULL &&
                 clattn_context_last_error(b)[0] == '\0',
             "a failure on one context leaves the other's message alone");

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){a, b, &start, i, 0, ""};
        if (pthread_create(&t[i], NULL, run, &w[i]) != 0) {
            printf("FAIL: pthread_create\n");
            return 1;
        }
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++)
        TU_CHECK(w[i].bad == 0, "thread %d read only its own messages (%d wrong%s%s)", i, w[i].bad,
                 w[i].bad ? "; first: " : "", w[i].first_bad);
    TU_CHECK(strstr(clattn_context_last_error(a), "batch is -5;") != NULL &&
                 clattn_context_last_error(b)[0] == '\0',
             "the main thread's messages survive the other threads' failures: \"%s\"",
             clattn_context_last_error(a));
    clattn_context_destroy(a);
    clattn_context_destroy(b);
    return tu_finish();
}
