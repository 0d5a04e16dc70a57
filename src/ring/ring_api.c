/* ring_api.c: clattn_ring_sdpa_transport, ring attention over a caller's transport: checks the
 * transport itself (without one the ranks cannot even agree to fail) and runs this rank's ring
 * (ring_rank.c). */
#include "ring/ring_internal.h"

clattn_status clattn_ring_sdpa_transport(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                         const clattn_ring_desc *ring,
                                         const clattn_ring_transport *transport, cl_mem q, cl_mem k,
                                         cl_mem v, cl_mem out, cl_mem lse) {
    const clattn_ring_transport *t = transport;
    if (!t || !t->start || !t->wait || !t->max_all || t->ranks < 1 || t->rank < 0 ||
        t->rank >= t->ranks)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "ring: the transport is NULL, lacks a callback or has rank %d of %d",
                            t ? t->rank : -1, t ? t->ranks : -1);
    return clattn__ring_rank(ctx, desc, ring, t, q, k, v, out, lse);
}
