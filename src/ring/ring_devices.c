/* ring_devices.c: clattn_ring_sdpa_devices, the ring over several contexts of one process: one
 * thread per rank runs the same ring as every other transport (ring_rank.c), over an in-process
 * transport: a rank posts its host slice in its mailbox, its successor copies it out, and the
 * sender reuses the slice once it has been taken. Rank 0 runs on the calling thread. */
#include "ring/ring_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_AGREE 4 /* values one max_all carries (the ring agrees on at most 3) */

typedef struct {
    const void *data;
    size_t bytes;
    int64_t posted, taken; /* the exchange number last posted, and last taken by the successor */
} mailbox;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ranks;
    int abort; /* a rank could not start: every wait gives up */
    mailbox *box;
    int64_t acc[MAX_AGREE], result[MAX_AGREE]; /* max_all: accumulating, and the last result */
    int arrived;
    int64_t round;
} shared;

/* One rank: its transport, its part of the call and its outcome. */
typedef struct {
    shared *sh;
    clattn_ring_transport tr;
    int64_t exchange; /* exchanges started */
    void *recv;
    size_t recv_bytes;
    clattn_context *ctx;
    const clattn_sdpa_desc *desc;
    clattn_ring_desc ring;
    const clattn_ring_desc *ring_arg;
    cl_mem q, k, v, out, lse;
    clattn_status status;
    char *message; /* the rank's last error, copied on its own thread */
    pthread_t thread;
    int started;
} rank_run;

static int start(void *user, const void *send, size_t send_bytes, void *recv, size_t recv_bytes) {
    rank_run *me = user;
    shared *sh = me->sh;
    pthread_mutex_lock(&sh->mu);
    mailbox *b = &sh->box[me->tr.rank];
    b->data = send;
    b->bytes = send_bytes;
    b->posted = ++me->exchange;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
    me->recv = recv;
    me->recv_bytes = recv_bytes;
    return 0;
}

static int wait_exchange(void *user) {
    rank_run *me = user;
    shared *sh = me->sh;
    mailbox *prev = &sh->box[(me->tr.rank + sh->ranks - 1) % sh->ranks];
    mailbox *mine = &sh->box[me->tr.rank];
    pthread_mutex_lock(&sh->mu);
    while (prev->posted < me->exchange && !sh->abort) pthread_cond_wait(&sh->cv, &sh->mu);
    int bad = sh->abort ? 1 : prev->bytes != me->recv_bytes ? 2 : 0;
    pthread_mutex_unlock(&sh->mu);
    /* The predecessor leaves its slice alone until it has been taken. */
    if (!bad) memcpy(me->recv, prev->data, me->recv_bytes);
    pthread_mutex_lock(&sh->mu);
    prev->taken = me->exchange;
    pthread_cond_broadcast(&sh->cv);
    while (mine->taken < me->exchange && !sh->abort) pthread_cond_wait(&sh->cv, &sh->mu);
    if (sh->abort) bad = 1;
    pthread_mutex_unlock(&sh->mu);
    return bad;
}

static int max_all(void *user, int64_t *values, int n) {
    rank_run *me = user;
    shared *sh = me->sh;
    if (n < 1 || n > MAX_AGREE) return 3;
    pthread_mutex_lock(&sh->mu);
    for (int i = 0; i < n; i++)
        sh->acc[i] = sh->arrived == 0 || values[i] > sh->acc[i] ? values[i] : sh->acc[i];
    const int64_t round = sh->round;
    if (++sh->arrived == sh->ranks) {
        /* result stays until every rank of this round has read it: none can finish the next
         * round before all (this one's readers included) have arrived at it. */
        memcpy(sh->result, sh->acc, sizeof sh->acc);
        sh->arrived = 0;
        sh->round++;
        pthread_cond_broadcast(&sh->cv);
    }
    while (sh->round == round && !sh->abort) pthread_cond_wait(&sh->cv, &sh->mu);
    const int bad = sh->round == round;
    if (!bad) memcpy(values, sh->result, (size_t)n * sizeof *values);
    pthread_mutex_unlock(&sh->mu);
    return bad;
}

static void *rank_main(void *arg) {
    rank_run *me = arg;
    me->status = clattn__ring_rank(me->ctx, me->desc, me->ring_arg ? &me->ring : NULL, &me->tr,
                                   me->q, me->k, me->v, me->out, me->lse);
    if (me->status != CLATTN_SUCCESS && me->ctx && me->tr.rank != 0) {
        const char *msg = clattn_context_last_error(me->ctx);
        me->message = malloc(strlen(msg) + 1);
        if (me->message) memcpy(me->message, msg, strlen(msg) + 1);
    }
    return NULL;
}

clattn_status clattn_ring_sdpa_devices(int ranks, clattn_context *const *ctxs,
                                       const clattn_sdpa_desc *const *descs,
                                       const clattn_ring_desc *ring, const cl_mem *q,
                                       const cl_mem *k, const cl_mem *v, const cl_mem *out,
                                       const cl_mem *lse) {
    if (ranks < 1 || ranks > 4096 || !ctxs || !descs || !q || !k || !v || !out)
        return clattn__fail(ranks >= 1 && ctxs ? ctxs[0] : NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                            "ring (devices): ranks is %d (1..4096) or ctxs, descs, q, k, v or "
                            "out is NULL",
                            ranks);
    for (int i = 0; i < ranks; i++)
        if (!ctxs[i])
            return clattn__fail(ctxs[0], CLATTN_ERROR_INVALID_ARGUMENT,
                                "ring (devices): ctxs[%d] is NULL", i);
    /* Only rank 0 reports stats: one struct cannot take every rank's. */
    clattn_ring_desc ring0;
    if (ring) {
        clattn_ring_desc_init(&ring0, sizeof ring0);
        clattn_status st = clattn__struct_in(ctxs[0], "clattn_ring_desc", ring,
                                             CLATTN_RING_DESC_MIN_SIZE, &ring0, sizeof ring0);
        if (st != CLATTN_SUCCESS) return st;
    }
    shared sh;
    memset(&sh, 0, sizeof sh);
    rank_run *run = calloc((size_t)ranks, sizeof *run);
    sh.box = calloc((size_t)ranks, sizeof *sh.box);
    if (!run || !sh.box) {
        free(run);
        free(sh.box);
        return clattn__fail(ctxs[0], CLATTN_ERROR_OUT_OF_MEMORY, "ring (devices): out of memory");
    }
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cv, NULL);
    sh.ranks = ranks;
    for (int i = 0; i < ranks; i++) {
        rank_run *r = &run[i];
        r->sh = &sh;
        r->tr = (clattn_ring_transport){i, ranks, r, start, wait_exchange, max_all};
        r->ctx = ctxs[i];
        r->desc = descs[i];
        if (ring) {
            r->ring = ring0;
            if (i != 0) r->ring.stats = NULL;
            r->ring_arg = &r->ring;
        }
        r->q = q[i], r->k = k[i], r->v = v[i], r->out = out[i], r->lse = lse ? lse[i] : NULL;
    }
    clattn_status st = CLATTN_SUCCESS;
    for (int i = 1; i < ranks && !st; i++) {
        if (pthread_create(&run[i].thread, NULL, rank_main, &run[i]) == 0) {
            run[i].started = 1;
            continue;
        }
        pthread_mutex_lock(&sh.mu); /* the started ranks give up waiting for the others */
        sh.abort = 1;
        pthread_cond_broadcast(&sh.cv);
        pthread_mutex_unlock(&sh.mu);
        st = clattn__fail(ctxs[0], CLATTN_ERROR_OUT_OF_MEMORY,
                          "ring (devices): cannot start the thread of rank %d", i);
    }
    if (!st) rank_main(&run[0]);
    for (int i = 1; i < ranks; i++)
        if (run[i].started) pthread_join(run[i].thread, NULL);
    /* Each failed rank's message, on the calling thread for its context; the first failure's
     * status is the call's. */
    for (int i = 0; i < ranks && !st; i++)
        if (run[i].status != CLATTN_SUCCESS) st = run[i].status;
    for (int i = 1; i < ranks; i++) {
        if (run[i].status != CLATTN_SUCCESS && run[i].started)
            clattn__fail(ctxs[i], run[i].status, "%s",
                         run[i].message ? run[i].message : "ring: rank failed");
        free(run[i].message);
    }
    pthread_cond_destroy(&sh.cv);
    pthread_mutex_destroy(&sh.mu);
    free(sh.box);
    free(run);
    return st;
}
