/* ring_internal.h: what the files of the ring (sequence-parallel attention, clattn_seqpar.h)
 * share: the cut of a sequence into chunks, strided copies of a run of sequence rows between
 * device buffers and host memory, and one rank's ring over a transport, which the public entry
 * points (ring_api.c: a caller's transport; ring_devices.c: threads over several contexts) run. */
#ifndef CLATTN_RING_INTERNAL_H
#define CLATTN_RING_INTERNAL_H

#include "core/internal.h"

/* The chunks of one rank's slice of a sequence (clattn_ring_chunks). */
typedef struct {
    int n;                    /* 1 or 2 */
    int64_t start[2], len[2]; /* global first position and length of each */
    int64_t total;            /* len[0] + len[1]: the slice's length */
} clattn_ring_slice;

/* clattn_ring_chunks without the messages: 0, or 1 when the arguments are bad. */
int clattn__ring_slice(clattn_ring_layout layout, int ranks, int rank, int64_t seq,
                       clattn_ring_slice *out);

/* One side of a strided copy of the rows [seq0, seq0 + len) of a [B, H, S, row] tensor: a device
 * buffer (mem) or host memory (host, when mem is NULL), its first byte at `offset`, and its
 * batch, head and sequence strides in bytes (a row's bytes are contiguous). */
typedef struct {
    cl_mem mem;
    void *host;
    int64_t offset;
    int64_t st[3];
} clattn_ring_view;

/* Copies B x H x len rows of row_bytes each from src to dst on ctx's queue (device to device,
 * device to host or host to device; not host to host) with OpenCL's rectangle copies: one per
 * batch entry when the strides allow, else one per (batch, head). A copy that reads into host
 * memory blocks until done; the others are enqueued, and *event (if not NULL) receives the last
 * one's event (the queue is in order: it completes after all of them). */
clattn_status clattn__ring_copy(clattn_context *ctx, const clattn_ring_view *src,
                                const clattn_ring_view *dst, int64_t B, int64_t H, int64_t len,
                                int64_t row_bytes, cl_event *event);

/* One rank's ring attention: clattn_ring_sdpa_transport after its NULL checks (transport is
 * valid, ctx may be NULL: the rank still takes part in the agreements and fails). */
clattn_status clattn__ring_rank(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                const clattn_ring_desc *ring, const clattn_ring_transport *tr,
                                cl_mem q, cl_mem k, cl_mem v, cl_mem out, cl_mem lse);

#endif /* CLATTN_RING_INTERNAL_H */
