/* ring_layout.c: how a sequence is cut among the ranks of a ring (clattn_ring_chunks), the host
 * copies between a whole tensor and a rank's slice, and the ring descriptor's defaults. */
#include "ring/ring_internal.h"

#include <stdint.h>
#include <string.h>

int clattn__ring_slice(clattn_ring_layout layout, int ranks, int rank, int64_t seq,
                       clattn_ring_slice *out) {
    if ((layout != CLATTN_RING_ZIGZAG && layout != CLATTN_RING_CONTIGUOUS) || ranks < 1 ||
        rank < 0 || rank >= ranks || ranks > (1 << 20))
        return 1;
    const int zigzag = layout == CLATTN_RING_ZIGZAG;
    const int64_t chunks = zigzag ? 2 * (int64_t)ranks : ranks;
    if (seq < chunks) return 1;
    /* c * seq / chunks cannot overflow: chunks <= 2^21 and a sequence is far below 2^42 long
     * (seq is a tensor dimension whose byte size fits int64); checked anyway. */
    if (seq > INT64_MAX / chunks) return 1;
    const int64_t c[2] = {rank, zigzag ? chunks - 1 - rank : -1};
    memset(out, 0, sizeof *out);
    out->n = zigzag ? 2 : 1;
    for (int i = 0; i < out->n; i++) {
        out->start[i] = c[i] * seq / chunks;
        out->len[i] = (c[i] + 1) * seq / chunks - out->start[i];
        out->total += out->len[i];
    }
    return 0;
}

clattn_status clattn_ring_chunks(clattn_ring_layout layout, int ranks, int rank, int64_t seq,
                                 int64_t start[2], int64_t len[2], int *count) {
    clattn_ring_slice s;
    if (!start || !len || !count || clattn__ring_slice(layout, ranks, rank, seq, &s))
        return CLATTN_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < 2; i++) {
        start[i] = i < s.n ? s.start[i] : 0;
        len[i] = i < s.n ? s.len[i] : 0;
    }
    *count = s.n;
    return CLATTN_SUCCESS;
}

/* Scatter (to_slice) or gather: the rank's rows, chunk by chunk, of every (batch, head). */
static clattn_status move_rows(clattn_ring_layout layout, int ranks, int rank, int64_t B, int64_t H,
                               int64_t S, int64_t row_bytes, const void *from, void *to,
                               int to_slice) {
    clattn_ring_slice s;
    if (!from || !to || B < 1 || H < 1 || row_bytes < 1 ||
        clattn__ring_slice(layout, ranks, rank, S, &s))
        return CLATTN_ERROR_INVALID_ARGUMENT;
    const int64_t dims[4] = {B, H, S, row_bytes};
    int64_t bytes;
    if (clattn__prod64(dims, 4, &bytes) || (uint64_t)bytes > SIZE_MAX) return CLATTN_ERROR_OVERFLOW;
    const unsigned char *src = from;
    unsigned char *dst = to;
    for (int64_t bh = 0; bh < B * H; bh++) {
        int64_t at = bh * s.total; /* the slice's row */
        for (int c = 0; c < s.n; c++) {
            const int64_t whole_row = bh * S + s.start[c];
            const size_t n = (size_t)(s.len[c] * row_bytes);
            const size_t w = (size_t)(whole_row * row_bytes), l = (size_t)(at * row_bytes);
            memcpy(dst + (to_slice ? l : w), src + (to_slice ? w : l), n);
            at += s.len[c];
        }
    }
    return CLATTN_SUCCESS;
}

clattn_status clattn_ring_scatter_host(clattn_ring_layout layout, int ranks, int rank, int64_t B,
                                       int64_t H, int64_t S, int64_t row_bytes, const void *whole,
                                       void *slice) {
    return move_rows(layout, ranks, rank, B, H, S, row_bytes, whole, slice, 1);
}

clattn_status clattn_ring_gather_host(clattn_ring_layout layout, int ranks, int rank, int64_t B,
                                      int64_t H, int64_t S, int64_t row_bytes, const void *slice,
                                      void *whole) {
    return move_rows(layout, ranks, rank, B, H, S, row_bytes, slice, whole, 0);
}

clattn_status clattn_ring_desc_init(clattn_ring_desc *desc, size_t size) {
    clattn_ring_desc d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.layout = CLATTN_RING_ZIGZAG;
    return clattn__desc_init(desc, size, CLATTN_RING_DESC_MIN_SIZE, &d, sizeof d);
}
