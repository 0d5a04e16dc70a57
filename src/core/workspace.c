/* workspace.c: device scratch buffers a context keeps between calls. The float32 staging copies
 * of src/sdpa/staging.c are made on every call that runs on them; a fresh buffer costs more than
 * the conversion into it (PoCL hands out new host pages, which the widening pass then faults in
 * and the OS zeroes: at B=1, H=8, N=4096, d=64, f16 attention on copies of K/V took 0.98 of the
 * float32 time with a fresh buffer per call and 0.997 with buffers kept, interleaved runs).
 *
 * Why reuse is safe: a buffer is taken out of the workspace for the whole of one call and put
 * back after the call has enqueued its last use of it. On an in-order queue every later command
 * runs after those uses, whichever thread enqueues it; a call that finds no free buffer large
 * enough allocates its own. A context on an out-of-order queue keeps nothing (its calls order
 * their commands by events, which a later call's use would not wait for). */
#include "core/internal.h"

#include <pthread.h>
#include <stdlib.h>

#define SLOTS 4 /* the most staging copies one call makes: q, k, v, out */

struct clattn_workspace {
    pthread_mutex_t lock;
    int keep; /* 0 on an out-of-order queue: every buffer is released when given back */
    cl_mem mem[SLOTS];
    int64_t bytes[SLOTS];
};

clattn_status clattn__workspace_create(clattn_context *ctx) {
    cl_command_queue_properties props = 0;
    cl_int err = clGetCommandQueueInfo(ctx->queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL);
    if (err != CL_SUCCESS)
        return clattn__cl_fail(ctx, err, "clGetCommandQueueInfo(CL_QUEUE_PROPERTIES) failed");
    struct clattn_workspace *w = calloc(1, sizeof *w);
    if (!w || pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w);
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "workspace: out of host memory");
    }
    w->keep = !(props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE);
    ctx->workspace = w;
    return CLATTN_SUCCESS;
}

int64_t clattn__workspace_trim(clattn_context *ctx) {
    struct clattn_workspace *w = ctx->workspace;
    if (!w) return 0;
    int64_t freed = 0;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < SLOTS; i++) {
        if (!w->mem[i]) continue;
        clReleaseMemObject(w->mem[i]);
        freed += w->bytes[i];
        w->mem[i] = NULL;
        w->bytes[i] = 0;
    }
    pthread_mutex_unlock(&w->lock);
    return freed;
}

void clattn__workspace_destroy(clattn_context *ctx) {
    if (!ctx->workspace) return;
    clattn__workspace_trim(ctx);
    pthread_mutex_destroy(&ctx->workspace->lock);
    free(ctx->workspace);
    ctx->workspace = NULL;
}

clattn_status clattn__workspace_take(clattn_context *ctx, int64_t bytes, const char *what,
                                     cl_mem *out) {
    *out = NULL;
    struct clattn_workspace *w = ctx->workspace;
    if (w && bytes > 0) {
        /* The smallest kept buffer that holds `bytes`, so large ones stay for large requests. */
        pthread_mutex_lock(&w->lock);
        int best = -1;
        for (int i = 0; i < SLOTS; i++)
            if (w->mem[i] && w->bytes[i] >= bytes && (best < 0 || w->bytes[i] < w->bytes[best]))
                best = i;
        if (best >= 0) {
            *out = w->mem[best];
            w->mem[best] = NULL;
            w->bytes[best] = 0;
        }
        pthread_mutex_unlock(&w->lock);
        if (*out) return CLATTN_SUCCESS;
    }
    return clattn__alloc(ctx, bytes, CL_MEM_READ_WRITE, NULL, what, out);
}

void clattn__workspace_give(clattn_context *ctx, cl_mem *mem) {
    if (!*mem) return;
    struct clattn_workspace *w = ctx->workspace;
    size_t size = 0;
    if (w && w->keep &&
        clGetMemObjectInfo(*mem, CL_MEM_SIZE, sizeof size, &size, NULL) == CL_SUCCESS) {
        /* Into an empty slot, else in place of the smallest kept buffer if this one is larger:
         * the workspace converges on the largest copies the application's calls make. */
        pthread_mutex_lock(&w->lock);
        int slot = -1;
        for (int i = 0; i < SLOTS && slot < 0; i++)
            if (!w->mem[i]) slot = i;
        if (slot < 0)
            for (int i = 0; i < SLOTS; i++)
                if (w->bytes[i] < (int64_t)size && (slot < 0 || w->bytes[i] < w->bytes[slot]))
                    slot = i;
        cl_mem drop = *mem;
        if (slot >= 0) {
            drop = w->mem[slot];
            w->mem[slot] = *mem;
            w->bytes[slot] = (int64_t)size;
        }
        pthread_mutex_unlock(&w->lock);
        if (drop) clReleaseMemObject(drop);
    } else {
        clReleaseMemObject(*mem);
    }
    *mem = NULL;
}
