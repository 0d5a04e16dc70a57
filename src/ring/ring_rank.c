/* ring_rank.c: one rank's ring attention (clattn_seqpar.h), whatever carries the slices.
 *
 * The rank holds its query chunks (1 or 2, ring_layout.c) and, at step s, the K/V slice of rank
 * (r - s) mod R (one or two key chunks). Every (query chunk, key chunk) pair the mask does not
 * hide entirely is one call of clattn_sdpa on packed chunk buffers, top-left aligned with
 * position_offset = (query chunk start) - (key chunk start) + the problem's own shift, so causal,
 * the window and ALiBi see global positions; its output and lse merge into the query chunk's
 * running result with clattn_lse_combine. While the device attends to one slice, the transport
 * passes the host copy of that slice on and receives the next (double-buffered: two host
 * slices, two sets of device chunk buffers).
 *
 * Failure handling is what keeps R processes from hanging: everything that can be refused is
 * checked, planned and allocated before the first agreement (max_all of a status key and a
 * fingerprint of the problem), and a failure after it keeps the rank in the exchange until the
 * final agreement. */
#include "ring/ring_internal.h"
#include "sdpa/sdpa_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    clattn_context *ctx; /* may be NULL: the rank fails but still agrees */
    const clattn_ring_transport *tr;
    int R, r;
    clattn_sdpa_desc d;      /* the caller's descriptor, full size */
    clattn_ring_desc ring;   /* the caller's ring descriptor, full size */
    clattn_sdpa_problem g;   /* the whole problem, validated */
    clattn_sdpa_problem loc; /* this rank's slices, with the caller's strides */
    clattn_ring_slice qs;    /* this rank's query chunks */
    clattn_ring_slice *ks;   /* [R]: every rank's key chunks */
    int64_t eq, ekv, eo;     /* bytes of a q, k/v and out element */
    int64_t *wire;           /* [R]: bytes of rank i's K/V slice on the wire */
    cl_mem qbuf[2];
    cl_mem kbuf[2][2], vbuf[2][2]; /* [set][chunk]: a slice's key chunks, packed */
    cl_mem acc_out[2], acc_lse[2]; /* [query chunk]: the running merge, float32 */
    int acc_parts[2];
    cl_mem t_out, t_lse;   /* one piece's result */
    cl_mem pb_out, pb_lse; /* the two parts a merge reads: the running result, the new piece */
    cl_mem narrow;         /* a query chunk's out in a 16-bit out_dtype */
    unsigned char *host[2];
    cl_event upload[2]; /* the last write from host[i] to the device */
    clattn_ring_stats st;
} ring_state;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- The pieces: (query chunk, key chunk) pairs ---- */

/* Whether the mask leaves any key of [ka, ka + lk) to any query of [qa, qa + lq). Rows at global
 * positions p0 .. p1 see, together, the keys p0 - left .. p1 + right (an interval: each row's
 * range is, and consecutive rows' ranges touch), causal capping right at 0. */
static int piece_visible(const clattn_sdpa_problem *g, int64_t qa, int64_t lq, int64_t ka,
                         int64_t lk) {
    const int64_t p0 = qa + g->diag, p1 = qa + lq - 1 + g->diag;
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    if (g->causal) hi = p1;
    if (g->window && g->window_right >= 0 && p1 + g->window_right < hi) hi = p1 + g->window_right;
    if (g->window && g->window_left >= 0) lo = p0 - g->window_left;
    return lo < ka + lk && hi >= ka;
}

/* The one-device descriptor of a piece: packed chunk buffers, float32 out (the merge's input),
 * top-left with the chunks' global positions folded into position_offset. */
static clattn_sdpa_desc piece_desc(const ring_state *s, int64_t qa, int64_t lq, int64_t ka,
                                   int64_t lk) {
    clattn_sdpa_desc p = s->d;
    p.seq_q = lq;
    p.seq_kv = lk;
    memset(p.q_strides, 0, sizeof p.q_strides);
    memset(p.k_strides, 0, sizeof p.k_strides);
    memset(p.v_strides, 0, sizeof p.v_strides);
    memset(p.out_strides, 0, sizeof p.out_strides);
    p.causal_align = CLATTN_CAUSAL_TOP_LEFT;
    p.position_offset = qa - ka + s->g.diag;
    p.out_dtype = CLATTN_DTYPE_F32;
    return p;
}

static clattn_lse_combine_desc merge_desc(const ring_state *s, int64_t lq, int parts,
                                          clattn_dtype out_dtype) {
    clattn_lse_combine_desc c;
    clattn_lse_combine_desc_init(&c, sizeof c);
    c.parts = parts;
    c.batch = s->g.B;
    c.heads = s->g.Hq;
    c.seq = lq;
    c.head_dim_v = s->g.Dv;
    c.out_dtype = out_dtype;
    return c;
}

/* ---- Validation and set-up, before the first agreement ---- */

static clattn_status check_descs(ring_state *s, const clattn_sdpa_desc *desc,
                                 const clattn_ring_desc *ring) {
    clattn_context *ctx = s->ctx;
    clattn_status st = clattn__sdpa_desc_in(ctx, desc, &s->d);
    if (st != CLATTN_SUCCESS) return st;
    clattn_ring_desc_init(&s->ring, sizeof s->ring);
    if (ring && (st = clattn__struct_in(ctx, "clattn_ring_desc", ring, CLATTN_RING_DESC_MIN_SIZE,
                                        &s->ring, sizeof s->ring)))
        return st;
    if (s->ring.layout != CLATTN_RING_ZIGZAG && s->ring.layout != CLATTN_RING_CONTIGUOUS)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "ring: layout %d is neither CLATTN_RING_ZIGZAG nor _CONTIGUOUS",
                            (int)s->ring.layout);
    if (s->ring.stats &&
        (st = clattn__struct_out_check(ctx, "clattn_ring_stats", s->ring.stats, s->ring.stats_size,
                                       CLATTN_RING_STATS_MIN_SIZE)))
        return st;
    cl_command_queue_properties props = 0;
    cl_int err = clGetCommandQueueInfo(ctx->queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL);
    if (err != CL_SUCCESS)
        return clattn__cl_fail(ctx, err, "ring: clGetCommandQueueInfo(CL_QUEUE_PROPERTIES) failed");
    if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)
        return clattn__fail(ctx, CLATTN_ERROR_UNSUPPORTED,
                            "ring: the context's queue is out of order; the ring orders its "
                            "copies and attention by an in-order queue");
    if (s->d.has_mask || s->d.kv_lens)
        return clattn__fail(ctx, CLATTN_ERROR_UNSUPPORTED,
                            "ring: an additive mask and kv_lens have no ring form; mask by "
                            "position (causal, window, ALiBi)");
    return CLATTN_SUCCESS;
}

/* Validates the whole problem, this rank's slices and its buffers, and plans every piece it will
 * attend to. */
static clattn_status check_problem(ring_state *s, cl_mem q, cl_mem k, cl_mem v, cl_mem out,
                                   cl_mem lse) {
    clattn_context *ctx = s->ctx;
    clattn_sdpa_desc whole = s->d;
    memset(whole.q_strides, 0, sizeof whole.q_strides);
    memset(whole.k_strides, 0, sizeof whole.k_strides);
    memset(whole.v_strides, 0, sizeof whole.v_strides);
    memset(whole.out_strides, 0, sizeof whole.out_strides);
    clattn_sdpa_spans spans;
    clattn_status st = clattn__sdpa_validate(ctx, &whole, lse != NULL, &s->g, &spans);
    if (st != CLATTN_SUCCESS) return st;
    if (!(s->ks = calloc((size_t)s->R, sizeof *s->ks)) ||
        !(s->wire = calloc((size_t)s->R, sizeof *s->wire)))
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "ring: out of host memory");
    const int chunks = s->ring.layout == CLATTN_RING_ZIGZAG ? 2 * s->R : s->R;
    if (clattn__ring_slice(s->ring.layout, s->R, s->r, s->g.Sq, &s->qs))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "ring: seq_q %lld is shorter than the %d chunks of the layout",
                            (long long)s->g.Sq, chunks);
    s->eq = clattn__storage_bytes(s->g.q_dtype);
    s->ekv = clattn__storage_bytes(s->g.kv_dtype);
    s->eo = clattn__storage_bytes(s->g.o_dtype);
    for (int i = 0; i < s->R; i++) {
        if (clattn__ring_slice(s->ring.layout, s->R, i, s->g.Skv, &s->ks[i]))
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "ring: seq_kv %lld is shorter than the %d chunks of the layout",
                                (long long)s->g.Skv, chunks);
        /* Sizes fit: the whole K and V were checked above. */
        s->wire[i] = s->g.B * s->g.Hkv * s->ks[i].total * (s->g.D + s->g.Dv) * s->ekv;
    }
    /* This rank's slices, by the caller's strides: the buffers must hold them. */
    clattn_sdpa_desc mine = s->d;
    mine.seq_q = s->qs.total;
    mine.seq_kv = s->ks[s->r].total;
    mine.causal = 0;
    mine.window = 0;
    mine.alibi_slopes = NULL;
    mine.position_offset = 0;
    if ((st = clattn__sdpa_validate(ctx, &mine, lse != NULL, &s->loc, &spans)) ||
        (st = clattn__sdpa_check_io(ctx, &s->loc, &spans, q, k, v, NULL, out, lse)))
        return st;
    /* Every piece's plan (validation, tiles), so a piece can no longer be refused mid-ring. */
    for (int i = 0; i < s->R; i++)
        for (int a = 0; a < s->qs.n; a++)
            for (int b = 0; b < s->ks[i].n; b++) {
                const int64_t qa = s->qs.start[a], lq = s->qs.len[a];
                const int64_t ka = s->ks[i].start[b], lk = s->ks[i].len[b];
                if (!piece_visible(&s->g, qa, lq, ka, lk)) continue;
                const clattn_sdpa_desc pd = piece_desc(s, qa, lq, ka, lk);
                clattn_sdpa_plan plan;
                if ((st = clattn_sdpa_plan_get(ctx, &pd, &plan, sizeof plan))) return st;
            }
    return CLATTN_SUCCESS;
}

static clattn_status alloc_buffers(ring_state *s) {
    clattn_context *ctx = s->ctx;
    const clattn_sdpa_problem *g = &s->g;
    int64_t max_lk = 0, max_wire = 0;
    for (int i = 0; i < s->R; i++) {
        for (int b = 0; b < s->ks[i].n; b++)
            if (s->ks[i].len[b] > max_lk) max_lk = s->ks[i].len[b];
        if (s->wire[i] > max_wire) max_wire = s->wire[i];
    }
    const int64_t max_lq = s->qs.len[0] > s->qs.len[1] ? s->qs.len[0] : s->qs.len[1];
    const int64_t rows = g->B * g->Hq * max_lq, f = CLATTN_ACC_BYTES;
    clattn_status st = CLATTN_SUCCESS;
    for (int a = 0; a < s->qs.n && !st; a++) {
        const int64_t r = g->B * g->Hq * s->qs.len[a];
        if (!(st = clattn__alloc(ctx, r * g->D * s->eq, CL_MEM_READ_WRITE, NULL, "ring q chunk",
                                 &s->qbuf[a])) &&
            !(st = clattn__alloc(ctx, r * g->Dv * f, CL_MEM_READ_WRITE, NULL, "ring result",
                                 &s->acc_out[a])))
            st = clattn__alloc(ctx, r * f, CL_MEM_READ_WRITE, NULL, "ring lse", &s->acc_lse[a]);
    }
    for (int set = 0; set < 2 && !st; set++)
        for (int b = 0; b < 2 && !st; b++) {
            const int64_t n = g->B * g->Hkv * max_lk * s->ekv;
            if (!(st = clattn__alloc(ctx, n * g->D, CL_MEM_READ_WRITE, NULL, "ring k chunk",
                                     &s->kbuf[set][b])))
                st = clattn__alloc(ctx, n * g->Dv, CL_MEM_READ_WRITE, NULL, "ring v chunk",
                                   &s->vbuf[set][b]);
        }
    if (!st)
        st = clattn__alloc(ctx, rows * g->Dv * f, CL_MEM_READ_WRITE, NULL, "ring piece", &s->t_out);
    if (!st) st = clattn__alloc(ctx, rows * f, CL_MEM_READ_WRITE, NULL, "ring lse", &s->t_lse);
    if (!st)
        st = clattn__alloc(ctx, 2 * rows * g->Dv * f, CL_MEM_READ_WRITE, NULL, "ring merge",
                           &s->pb_out);
    if (!st)
        st =
            clattn__alloc(ctx, 2 * rows * f, CL_MEM_READ_WRITE, NULL, "ring merge lse", &s->pb_lse);
    if (!st && g->o_dtype != CLATTN_DTYPE_F32)
        st = clattn__alloc(ctx, rows * g->Dv * s->eo, CL_MEM_READ_WRITE, NULL, "ring out",
                           &s->narrow);
    for (int i = 0; i < 2 && !st; i++)
        if (!(s->host[i] = malloc((size_t)(max_wire > 0 ? max_wire : 1))))
            st = clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                              "ring: cannot allocate %lld bytes of host memory for a K/V slice",
                              (long long)max_wire);
    return st;
}

static void free_state(ring_state *s) {
    /* A ring that ended early (the transport failed) may still have writes from the host slices
     * in the queue: they finish before the slices are freed. */
    if (s->ctx && s->host[0]) clFinish(s->ctx->queue);
    for (int i = 0; i < 2; i++) {
        clattn__release_event(&s->upload[i]);
        clattn__release_mem(&s->qbuf[i]);
        clattn__release_mem(&s->acc_out[i]);
        clattn__release_mem(&s->acc_lse[i]);
        for (int b = 0; b < 2; b++) {
            clattn__release_mem(&s->kbuf[i][b]);
            clattn__release_mem(&s->vbuf[i][b]);
        }
        free(s->host[i]);
    }
    clattn__release_mem(&s->t_out);
    clattn__release_mem(&s->t_lse);
    clattn__release_mem(&s->pb_out);
    clattn__release_mem(&s->pb_lse);
    clattn__release_mem(&s->narrow);
    free(s->ks);
    free(s->wire);
}

/* ---- Agreement ---- */

/* What every rank must pass alike: not the strides, which describe each rank's own buffers, nor
 * algo, flavour and the tiles, which may suit each rank's device. */
static int64_t fingerprint(const ring_state *s) {
    const clattn_sdpa_desc *d = &s->d;
    uint32_t scale, cap;
    memcpy(&scale, &d->scale, sizeof scale);
    memcpy(&cap, &d->softcap, sizeof cap);
    const int64_t f[] = {s->R,
                         d->batch,
                         d->heads,
                         d->kv_heads,
                         d->seq_q,
                         d->seq_kv,
                         d->head_dim,
                         d->head_dim_v,
                         scale,
                         d->causal,
                         d->causal_align,
                         d->window,
                         d->window_left,
                         d->window_right,
                         cap,
                         d->alibi_slopes != 0,
                         d->alibi_batch,
                         d->q_dtype,
                         d->kv_dtype,
                         d->out_dtype,
                         d->position_offset,
                         s->ring.layout,
                         s->ring.serial};
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the bytes */
    const unsigned char *b = (const unsigned char *)f;
    for (size_t i = 0; i < sizeof f; i++) h = (h ^ b[i]) * 1099511628211ull;
    return (int64_t)(h >> 2); /* non-negative, and its negation fits */
}

/* Agrees on the ranks' statuses: every rank learns the lowest failing rank and its status. With
 * check_fp, also that every rank has the same fingerprint. Returns the status this rank returns
 * (its own failure first: its message is already set). */
static clattn_status agree(ring_state *s, clattn_status mine, int check_fp) {
    /* The key orders failures by rank, lowest first: (R - rank) << 8 | status. */
    int64_t v[3] = {mine ? ((int64_t)(s->R - s->r) << 8) | (int64_t)mine : 0, 0, 0};
    if (check_fp) {
        const int64_t f = mine ? 0 : fingerprint(s);
        v[1] = f;
        v[2] = -f;
    }
    if (s->tr->max_all(s->tr->user, v, check_fp ? 3 : 1) != 0)
        return mine ? mine
                    : clattn__fail(s->ctx, CLATTN_ERROR_TRANSPORT,
                                   "ring: the transport failed to agree on the ranks' status");
    if (mine) return mine;
    if (v[0] != 0) {
        const int rank = s->R - (int)(v[0] >> 8);
        const clattn_status theirs = (clattn_status)(v[0] & 255);
        return clattn__fail(s->ctx, theirs,
                            "ring: rank %d of %d failed (%s); its own message says why", rank, s->R,
                            clattn_status_string(theirs));
    }
    if (check_fp && v[1] != -v[2])
        return clattn__fail(s->ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                            "ring: the ranks disagree on the problem (shape, options, storage "
                            "types or ring layout differ between ranks)");
    return CLATTN_SUCCESS;
}

/* ---- The ring ---- */

/* Rows [seq0, seq0 + len) of a caller's tensor (its validated element strides) as a view. */
static clattn_ring_view user_view(cl_mem m, const int64_t *st, int64_t es, int64_t seq0) {
    clattn_ring_view v = {m, NULL, seq0 * st[2] * es, {st[0] * es, st[1] * es, st[2] * es}};
    return v;
}

/* A packed [B, H, len, row] tensor at `offset` bytes of a buffer or host block. */
static clattn_ring_view packed_view(cl_mem m, void *host, int64_t offset, int64_t H, int64_t len,
                                    int64_t row_bytes) {
    clattn_ring_view v = {m, host, offset, {H * len * row_bytes, len * row_bytes, row_bytes}};
    return v;
}

/* Copies this rank's own K/V slice into host slice 0, chunk by chunk (K then V of each). */
static clattn_status pack_own_slice(ring_state *s, cl_mem k, cl_mem v) {
    const clattn_sdpa_problem *g = &s->g, *l = &s->loc;
    const clattn_ring_slice *ks = &s->ks[s->r];
    int64_t at = 0, seq0 = 0;
    for (int b = 0; b < ks->n; b++) {
        const int64_t n = ks->len[b];
        const clattn_ring_view sk = user_view(k, l->k_st, s->ekv, seq0);
        const clattn_ring_view sv = user_view(v, l->v_st, s->ekv, seq0);
        const clattn_ring_view dk = packed_view(NULL, s->host[0], at, g->Hkv, n, g->D * s->ekv);
        at += g->B * g->Hkv * n * g->D * s->ekv;
        const clattn_ring_view dv = packed_view(NULL, s->host[0], at, g->Hkv, n, g->Dv * s->ekv);
        at += g->B * g->Hkv * n * g->Dv * s->ekv;
        clattn_status st;
        if ((st = clattn__ring_copy(s->ctx, &sk, &dk, g->B, g->Hkv, n, g->D * s->ekv, NULL)) ||
            (st = clattn__ring_copy(s->ctx, &sv, &dv, g->B, g->Hkv, n, g->Dv * s->ekv, NULL)))
            return st;
        seq0 += n;
    }
    return CLATTN_SUCCESS;
}

/* Writes host slice `h` (rank `owner`'s K/V) into device set `set`; upload[h] records it. */
static clattn_status upload_slice(ring_state *s, int h, int set, int owner) {
    const clattn_sdpa_problem *g = &s->g;
    const clattn_ring_slice *ks = &s->ks[owner];
    int64_t at = 0;
    clattn__release_event(&s->upload[h]);
    for (int b = 0; b < ks->n; b++) {
        const int64_t nk = g->B * g->Hkv * ks->len[b] * g->D * s->ekv;
        const int64_t nv = g->B * g->Hkv * ks->len[b] * g->Dv * s->ekv;
        cl_event *ev = b == ks->n - 1 ? &s->upload[h] : NULL;
        cl_int err = clEnqueueWriteBuffer(s->ctx->queue, s->kbuf[set][b], CL_FALSE, 0, (size_t)nk,
                                          s->host[h] + at, 0, NULL, NULL);
        if (err == CL_SUCCESS)
            err = clEnqueueWriteBuffer(s->ctx->queue, s->vbuf[set][b], CL_FALSE, 0, (size_t)nv,
                                       s->host[h] + at + nk, 0, NULL, ev);
        if (err != CL_SUCCESS)
            return clattn__cl_fail(s->ctx, err, "ring: writing a K/V slice to the device failed");
        at += nk + nv;
    }
    return CLATTN_SUCCESS;
}

/* Enqueues a copy of `bytes` from src to dst at dst_offset. */
static clattn_status copy(ring_state *s, cl_mem src, cl_mem dst, int64_t dst_offset,
                          int64_t bytes) {
    cl_int err = clEnqueueCopyBuffer(s->ctx->queue, src, dst, 0, (size_t)dst_offset, (size_t)bytes,
                                     0, NULL, NULL);
    return err == CL_SUCCESS ? CLATTN_SUCCESS
                             : clattn__cl_fail(s->ctx, err, "ring: clEnqueueCopyBuffer failed");
}

/* Attends query chunk a to key chunk b of device set `set` (holding rank `owner`'s slice) and
 * merges the result into the chunk's running result. */
static clattn_status piece(ring_state *s, int a, int set, int owner, int b) {
    const clattn_sdpa_problem *g = &s->g;
    const int64_t qa = s->qs.start[a], lq = s->qs.len[a];
    const int64_t ka = s->ks[owner].start[b], lk = s->ks[owner].len[b];
    if (!piece_visible(g, qa, lq, ka, lk)) {
        s->st.pieces_skipped++;
        return CLATTN_SUCCESS;
    }
    s->st.pieces_computed++;
    const clattn_sdpa_desc pd = piece_desc(s, qa, lq, ka, lk);
    const int first = s->acc_parts[a] == 0;
    /* The first piece lands in the running result itself. */
    cl_mem o = first ? s->acc_out[a] : s->t_out, l = first ? s->acc_lse[a] : s->t_lse;
    clattn_status st = clattn_sdpa(s->ctx, &pd, s->qbuf[a], s->kbuf[set][b], s->vbuf[set][b], NULL,
                                   o, l, 0, NULL, NULL);
    s->acc_parts[a]++;
    if (st != CLATTN_SUCCESS || first) return st;
    /* Parts 0 and 1 of the merge: the running result and the new piece, then merged back. */
    const int64_t rows = g->B * g->Hq * lq, ob = rows * g->Dv * CLATTN_ACC_BYTES;
    const int64_t lb = rows * CLATTN_ACC_BYTES;
    const clattn_lse_combine_desc cd = merge_desc(s, lq, 2, CLATTN_DTYPE_F32);
    if ((st = copy(s, s->acc_out[a], s->pb_out, 0, ob)) ||
        (st = copy(s, s->t_out, s->pb_out, ob, ob)) ||
        (st = copy(s, s->acc_lse[a], s->pb_lse, 0, lb)) ||
        (st = copy(s, s->t_lse, s->pb_lse, lb, lb)))
        return st;
    return clattn_lse_combine(s->ctx, &cd, s->pb_out, s->pb_lse, s->acc_out[a], s->acc_lse[a], 0,
                              NULL, NULL);
}

/* Writes query chunk a's result into the caller's out and lse at the chunk's place in the slice
 * (a chunk no key reached: out 0, lse -inf). */
static clattn_status write_result(ring_state *s, int a, int64_t seq0, cl_mem out, cl_mem lse) {
    const clattn_sdpa_problem *g = &s->g;
    const int64_t lq = s->qs.len[a], rows = g->B * g->Hq * lq;
    clattn_status st = CLATTN_SUCCESS;
    if (s->acc_parts[a] == 0) {
        const float zero = 0.0f, ninf = -INFINITY;
        cl_int err = clEnqueueFillBuffer(s->ctx->queue, s->acc_out[a], &zero, sizeof zero, 0,
                                         (size_t)(rows * g->Dv * CLATTN_ACC_BYTES), 0, NULL, NULL);
        if (err == CL_SUCCESS)
            err = clEnqueueFillBuffer(s->ctx->queue, s->acc_lse[a], &ninf, sizeof ninf, 0,
                                      (size_t)(rows * CLATTN_ACC_BYTES), 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return clattn__cl_fail(s->ctx, err, "ring: clEnqueueFillBuffer failed");
    }
    cl_mem res = s->acc_out[a];
    if (s->narrow) { /* one part: the merge's rounding to the 16-bit out_dtype */
        const clattn_lse_combine_desc cd = merge_desc(s, lq, 1, s->d.out_dtype);
        if ((st = clattn_lse_combine(s->ctx, &cd, s->acc_out[a], s->acc_lse[a], s->narrow, NULL, 0,
                                     NULL, NULL)))
            return st;
        res = s->narrow;
    }
    const clattn_ring_view src = packed_view(res, NULL, 0, g->Hq, lq, g->Dv * s->eo);
    const clattn_ring_view dst = user_view(out, s->loc.o_st, s->eo, seq0);
    if ((st = clattn__ring_copy(s->ctx, &src, &dst, g->B, g->Hq, lq, g->Dv * s->eo, NULL)) || !lse)
        return st;
    /* lse [B, Hq, Sq_r] is a tensor of one-element rows. */
    const int64_t f = CLATTN_ACC_BYTES, sl = s->qs.total;
    const clattn_ring_view ls = packed_view(s->acc_lse[a], NULL, 0, g->Hq, lq, f);
    const clattn_ring_view ld = {lse, NULL, seq0 * f, {g->Hq * sl * f, sl * f, f}};
    return clattn__ring_copy(s->ctx, &ls, &ld, g->B, g->Hq, lq, f, NULL);
}

static clattn_status finish_device(ring_state *s) {
    const double t0 = now();
    cl_int err = clFinish(s->ctx->queue);
    s->st.compute_wait_seconds += now() - t0;
    return err == CL_SUCCESS ? CLATTN_SUCCESS
                             : clattn__cl_fail(s->ctx, err, "ring: waiting for the device failed");
}

/* The steps. After a device failure (dev) the rank attends to nothing more but goes on exchanging
 * (the other ranks wait for its slices); a transport failure ends the ring. */
static clattn_status run(ring_state *s, cl_mem q, cl_mem k, cl_mem v, cl_mem out, cl_mem lse) {
    const clattn_sdpa_problem *g = &s->g;
    clattn_status dev = CLATTN_SUCCESS;
    int64_t seq0 = 0;
    for (int a = 0; a < s->qs.n && !dev; a++) {
        const clattn_ring_view src = user_view(q, s->loc.q_st, s->eq, seq0);
        const clattn_ring_view dst =
            packed_view(s->qbuf[a], NULL, 0, g->Hq, s->qs.len[a], g->D * s->eq);
        dev = clattn__ring_copy(s->ctx, &src, &dst, g->B, g->Hq, s->qs.len[a], g->D * s->eq, NULL);
        seq0 += s->qs.len[a];
    }
    if (!dev) dev = pack_own_slice(s, k, v);
    if (!dev) dev = upload_slice(s, 0, 0, s->r);
    int cur = 0; /* host slice and device set of this step */
    for (int step = 0; step < s->R; step++) {
        const int owner = (s->r - step + s->R) % s->R, from = (owner - 1 + s->R) % s->R;
        const int last = step == s->R - 1;
        for (int a = 0; a < s->qs.n && !dev; a++)
            for (int b = 0; b < s->ks[owner].n && !dev; b++) dev = piece(s, a, cur, owner, b);
        /* Submitted now: an implementation may hold enqueued work until a flush, and the
         * exchange below must run while the device attends. */
        if (!dev) clFlush(s->ctx->queue);
        if (!dev && s->ring.serial) dev = finish_device(s);
        if (last) break;
        /* host[1 - cur] was last written to the device two steps ago: done before it is
         * overwritten by the receive (it precedes the previous step's pieces in the queue). */
        if (s->upload[1 - cur]) {
            const double t0 = now();
            clWaitForEvents(1, &s->upload[1 - cur]);
            s->st.compute_wait_seconds += now() - t0;
        }
        const double t0 = now();
        int bad = s->tr->start(s->tr->user, s->host[cur], (size_t)s->wire[owner], s->host[1 - cur],
                               (size_t)s->wire[from]);
        if (!bad) bad = s->tr->wait(s->tr->user);
        s->st.exchange_wait_seconds += now() - t0;
        if (bad)
            return clattn__fail(s->ctx, CLATTN_ERROR_TRANSPORT,
                                "ring: step %d: the transport failed to pass the K/V slices on "
                                "(error %d)",
                                step, bad);
        s->st.bytes_sent += s->wire[owner];
        s->st.bytes_received += s->wire[from];
        cur = 1 - cur;
        if (!dev) dev = upload_slice(s, cur, cur, from);
    }
    seq0 = 0;
    for (int a = 0; a < s->qs.n && !dev; a++) {
        dev = write_result(s, a, seq0, out, lse);
        seq0 += s->qs.len[a];
    }
    const clattn_status fin = finish_device(s);
    return dev ? dev : fin;
}

clattn_status clattn__ring_rank(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                const clattn_ring_desc *ring, const clattn_ring_transport *tr,
                                cl_mem q, cl_mem k, cl_mem v, cl_mem out, cl_mem lse) {
    const double t0 = now();
    ring_state *s = calloc(1, sizeof *s);
    if (!s) { /* still take part in the agreement, or the other ranks would wait for ever */
        int64_t key[3] = {((int64_t)(tr->ranks - tr->rank) << 8) | CLATTN_ERROR_OUT_OF_MEMORY, 0,
                          0};
        tr->max_all(tr->user, key, 3);
        return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "ring: out of host memory");
    }
    s->ctx = ctx;
    s->tr = tr;
    s->R = tr->ranks;
    s->r = tr->rank;
    clattn_status st = ctx ? CLATTN_SUCCESS : CLATTN_ERROR_INVALID_ARGUMENT;
    if (!st) st = check_descs(s, desc, ring);
    if (!st && (!q || !k || !v || !out))
        st = clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "q, k, v and out are required");
    if (!st) st = check_problem(s, q, k, v, out, lse);
    if (!st) st = alloc_buffers(s);
    st = agree(s, st, 1);
    if (!st) {
        st = run(s, q, k, v, out, lse);
        /* A transport failure cannot be agreed on (the transport is what failed). */
        if (st != CLATTN_ERROR_TRANSPORT) st = agree(s, st, 0);
    }
    if (s->ring.stats) {
        s->st.rank = s->r;
        s->st.ranks = s->R;
        s->st.steps = s->R;
        s->st.seconds = now() - t0;
        clattn__struct_out(s->ring.stats, s->ring.stats_size, &s->st, sizeof s->st);
    }
    free_state(s);
    free(s);
    return st;
}
