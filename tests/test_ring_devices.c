/* test_ring_devices.c: ring attention over several contexts of one process
 * (clattn_ring_sdpa_devices, include/clattn_seqpar.h), with 1, 2, 3 and 4 contexts on the one
 * PoCL device standing for as many devices. Every case of tests/ring_kit.c (plain, causal on the
 * balanced and the contiguous layout, GQA and MQA, Sq != Skv, window + ALiBi + softcap, 16-bit
 * storage, strided slices; no sequence a multiple of the chunks) must equal one-device attention
 * on the full tensors, out and lse, every element of every rank, outputs poisoned; also a ring
 * whose ranks run different kernel flavours, the serial mode and the measurements, the chunks of
 * clattn_ring_chunks, the host scatter and gather, a failing transport, and refusals: a bad buffer
 * on one rank makes every rank fail before anything is exchanged, with nothing written. */
#include "ring_kit.h"

#include <stdlib.h>
#include <string.h>

#define MAXR 4

/* One rank's device buffers. */
typedef struct {
    cl_mem q, k, v, out, lse;
} bufs;

static cl_mem buffer(clattn_context *ctx, size_t bytes, const void *init) {
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(clattn_context_cl_context(ctx),
                              CL_MEM_READ_WRITE | (init ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                              (void *)init, &err);
    if (err != CL_SUCCESS || !m) {
        printf("FAIL: clCreateBuffer of %zu bytes: %d\n", bytes, err);
        exit(tu_finish());
    }
    return m;
}

static void *read_back(clattn_context *ctx, cl_mem m, size_t bytes) {
    void *h = malloc(bytes);
    if (!h || clEnqueueReadBuffer(clattn_context_queue(ctx), m, CL_TRUE, 0, bytes, h, 0, NULL,
                                  NULL) != CL_SUCCESS) {
        printf("FAIL: reading a result back\n");
        exit(tu_finish());
    }
    return h;
}

/* Runs p over ctxs[0 .. R) (buffers poisoned) and checks every rank; out_shrink makes rank
 * `bad`'s out buffer that many bytes short. Returns the call's status. */
static clattn_status ring_run(clattn_context **ctxs, int R, const ring_problem *p,
                              const clattn_ring_desc *rd, int bad, size_t out_shrink,
                              const char *label) {
    ring_local l[MAXR];
    bufs b[MAXR];
    const clattn_sdpa_desc *descs[MAXR];
    cl_mem q[MAXR], k[MAXR], v[MAXR], out[MAXR], lse[MAXR];
    void *poison[MAXR];
    for (int r = 0; r < R; r++) {
        if (ring_local_make(p, R, r, &l[r])) exit(tu_finish());
        descs[r] = &l[r].d;
        poison[r] = malloc(l[r].out_bytes + l[r].lse_bytes);
        memset(poison[r], 0xff, l[r].out_bytes); /* NaN in every storage type */
        tu_poison((float *)((char *)poison[r] + l[r].out_bytes), (int64_t)l[r].lse_bytes / 4);
        b[r].q = q[r] = buffer(ctxs[r], l[r].q_bytes, l[r].q);
        b[r].k = k[r] = buffer(ctxs[r], l[r].k_bytes, l[r].k);
        b[r].v = v[r] = buffer(ctxs[r], l[r].v_bytes, l[r].v);
        const size_t ob = l[r].out_bytes - (r == bad ? out_shrink : 0);
        b[r].out = out[r] = buffer(ctxs[r], ob, poison[r]);
        b[r].lse = lse[r] = buffer(ctxs[r], l[r].lse_bytes, (char *)poison[r] + l[r].out_bytes);
    }
    clattn_status st = clattn_ring_sdpa_devices(R, ctxs, descs, rd, q, k, v, out, lse);
    for (int r = 0; r < R; r++) {
        const size_t ob = l[r].out_bytes - (r == bad ? out_shrink : 0);
        void *o = read_back(ctxs[r], out[r], ob);
        float *ls = read_back(ctxs[r], lse[r], l[r].lse_bytes);
        if (st == CLATTN_SUCCESS)
            ring_check(p, R, r, &l[r], o, ls, label);
        else
            TU_CHECK(memcmp(o, poison[r], ob) == 0 &&
                         memcmp(ls, (char *)poison[r] + l[r].out_bytes, l[r].lse_bytes) == 0,
                     "%s: rank %d: out and lse untouched", label, r);
        free(o);
        free(ls);
        free(poison[r]);
        clReleaseMemObject(b[r].q);
        clReleaseMemObject(b[r].k);
        clReleaseMemObject(b[r].v);
        clReleaseMemObject(b[r].out);
        clReleaseMemObject(b[r].lse);
        ring_local_free(&l[r]);
    }
    return st;
}

static void cases_over(clattn_context **ctxs, int R, const char *what) {
    for (int i = 0; i < ring_case_count; i++) {
        ring_problem p;
        if (ring_problem_make(ctxs[0], &ring_cases[i], &p)) exit(tu_finish());
        clattn_ring_desc rd;
        clattn_ring_desc_init(&rd, sizeof rd);
        rd.layout = ring_cases[i].layout;
        char label[256];
        snprintf(label, sizeof label, "%d %s: %s", R, what, ring_cases[i].name);
        clattn_status st = ring_run(ctxs, R, &p, &rd, -1, 0, label);
        TU_CHECK(st == CLATTN_SUCCESS, "%s: ring %s %s", label, clattn_status_string(st),
                 st ? clattn_context_last_error(ctxs[0]) : "");
        ring_problem_free(&p);
    }
}

/* The serial mode gives the same results, and the measurements add up: each rank sends every
 * slice but its successor's (which would go back to its owner) and computes or skips every
 * (query chunk, key chunk) pair. */
static void serial_and_stats(clattn_context **ctxs) {
    const int R = 3;
    const ring_case *c = &ring_cases[1]; /* causal GQA, zigzag */
    ring_problem p;
    if (ring_problem_make(ctxs[0], c, &p)) exit(tu_finish());
    clattn_ring_stats stats;
    memset(&stats, 0x5a, sizeof stats);
    clattn_ring_desc rd;
    clattn_ring_desc_init(&rd, sizeof rd);
    rd.serial = 1;
    rd.stats = &stats;
    rd.stats_size = sizeof stats;
    clattn_status st = ring_run(ctxs, R, &p, &rd, -1, 0, "3 contexts, serial");
    int64_t wire = 0;
    for (int r = 1; r < R; r++) { /* rank 0 sends the slices of ranks 0, R - 1, ..., 2 */
        int64_t start[2], len[2];
        int n;
        clattn_ring_chunks(c->layout, R, (0 - (r - 1) + R) % R, c->Skv, start, len, &n);
        wire += c->B * c->Hkv * (len[0] + len[1]) * (c->D + c->Dv) * 4;
    }
    TU_CHECK(st == CLATTN_SUCCESS && stats.rank == 0 && stats.ranks == R && stats.steps == R &&
                 stats.bytes_sent == wire && stats.bytes_received > 0 &&
                 stats.pieces_computed + stats.pieces_skipped == 2 * 2 * R &&
                 stats.pieces_skipped > 0 && stats.seconds > 0 &&
                 stats.seconds >= stats.exchange_wait_seconds,
             "serial ring: stats rank %d/%d, %lld steps, sent %lld (want %lld), %lld pieces + "
             "%lld skipped, %.4f s",
             stats.rank, stats.ranks, (long long)stats.steps, (long long)stats.bytes_sent,
             (long long)wire, (long long)stats.pieces_computed, (long long)stats.pieces_skipped,
             stats.seconds);
    ring_problem_free(&p);
}

/* Two ranks on different kernel flavours: CPU, and GPU with 32 KiB of local memory. */
static void mixed_flavours(clattn_context *cpu) {
    clattn_context *gpu = tu_gpu_context(32768);
    clattn_context *ctxs[2] = {cpu, gpu};
    for (int i = 1; i < 4; i += 2) {
        ring_problem p;
        if (ring_problem_make(cpu, &ring_cases[i], &p)) exit(tu_finish());
        clattn_ring_desc rd;
        clattn_ring_desc_init(&rd, sizeof rd);
        rd.layout = ring_cases[i].layout;
        char label[256];
        snprintf(label, sizeof label, "CPU + GPU flavour: %s", ring_cases[i].name);
        clattn_status st = ring_run(ctxs, 2, &p, &rd, -1, 0, label);
        TU_CHECK(st == CLATTN_SUCCESS, "%s: ring %s", label, clattn_status_string(st));
        ring_problem_free(&p);
    }
    clattn_context_destroy(gpu);
}

static void refusals(clattn_context **ctxs) {
    ring_problem p;
    if (ring_problem_make(ctxs[0], &ring_cases[0], &p)) exit(tu_finish());
    /* Rank 2 of 4's out is 4 bytes short: every rank fails, before any exchange. */
    clattn_status st = ring_run(ctxs, 4, &p, NULL, 2, 4, "rank 2's out too small");
    const char *m0 = clattn_context_last_error(ctxs[0]);
    const char *m2 = clattn_context_last_error(ctxs[2]);
    TU_CHECK(st == CLATTN_ERROR_BUFFER_TOO_SMALL && strstr(m0, "rank 2") && strstr(m2, "out"),
             "one rank's bad buffer fails every rank: %s / rank 0: \"%s\" / rank 2: \"%s\"",
             clattn_status_string(st), m0, m2);
    /* A mask has no ring form; a sequence shorter than the chunks is refused. */
    ring_local l;
    ring_local_make(&p, 1, 0, &l);
    clattn_sdpa_desc d = l.d;
    cl_mem q = buffer(ctxs[0], l.q_bytes, l.q), k = buffer(ctxs[0], l.k_bytes, l.k);
    cl_mem v = buffer(ctxs[0], l.v_bytes, l.v), o = buffer(ctxs[0], l.out_bytes, NULL);
    const clattn_sdpa_desc *dp = &d;
    d.has_mask = 1;
    st = clattn_ring_sdpa_devices(1, ctxs, &dp, NULL, &q, &k, &v, &o, NULL);
    TU_CHECK(st == CLATTN_ERROR_UNSUPPORTED, "a mask is refused: %s",
             clattn_context_last_error(ctxs[0]));
    d = l.d;
    d.seq_q = d.seq_kv = 1; /* 2 chunks of zigzag over 1 rank */
    st = clattn_ring_sdpa_devices(1, ctxs, &dp, NULL, &q, &k, &v, &o, NULL);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "a sequence shorter than the chunks: %s",
             clattn_context_last_error(ctxs[0]));
    st = clattn_ring_sdpa_devices(0, ctxs, &dp, NULL, &q, &k, &v, &o, NULL);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "0 ranks refused");
    clReleaseMemObject(q);
    clReleaseMemObject(k);
    clReleaseMemObject(v);
    clReleaseMemObject(o);
    ring_local_free(&l);
    ring_problem_free(&p);
}

/* A transport standing for a ring of 2 of which only rank 0 runs: max_all agrees (values kept, or
 * fails with *user), start succeeds, wait fails. */
static int fake_start(void *user, const void *send, size_t sb, void *recv, size_t rb) {
    (void)user, (void)send, (void)sb, (void)recv, (void)rb;
    return 0;
}
static int fake_wait(void *user) {
    (void)user;
    return 7;
}
static int fake_max(void *user, int64_t *values, int n) {
    (void)values, (void)n;
    return *(const int *)user;
}

/* A failing transport ends the call with CLATTN_ERROR_TRANSPORT (no hang, nothing leaked), and a
 * transport that cannot be one is refused. */
static void transports(clattn_context *ctx) {
    ring_problem p;
    if (ring_problem_make(ctx, &ring_cases[1], &p)) exit(tu_finish());
    ring_local l;
    ring_local_make(&p, 2, 0, &l);
    cl_mem q = buffer(ctx, l.q_bytes, l.q), k = buffer(ctx, l.k_bytes, l.k);
    cl_mem v = buffer(ctx, l.v_bytes, l.v), o = buffer(ctx, l.out_bytes, NULL);
    int agree_rc = 0;
    clattn_ring_transport t = {0, 2, &agree_rc, fake_start, fake_wait, fake_max};
    clattn_status st = clattn_ring_sdpa_transport(ctx, &l.d, NULL, &t, q, k, v, o, NULL);
    TU_CHECK(st == CLATTN_ERROR_TRANSPORT && strstr(clattn_context_last_error(ctx), "step 0"),
             "the exchange fails: %s \"%s\"", clattn_status_string(st),
             clattn_context_last_error(ctx));
    agree_rc = 3;
    st = clattn_ring_sdpa_transport(ctx, &l.d, NULL, &t, q, k, v, o, NULL);
    TU_CHECK(st == CLATTN_ERROR_TRANSPORT && strstr(clattn_context_last_error(ctx), "agree"),
             "the agreement fails: %s \"%s\"", clattn_status_string(st),
             clattn_context_last_error(ctx));
    t.rank = 2;
    st = clattn_ring_sdpa_transport(ctx, &l.d, NULL, &t, q, k, v, o, NULL);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "rank 2 of 2 refused: %s",
             clattn_context_last_error(ctx));
    st = clattn_ring_sdpa_transport(ctx, &l.d, NULL, NULL, q, k, v, o, NULL);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "no transport refused");
    clReleaseMemObject(q);
    clReleaseMemObject(k);
    clReleaseMemObject(v);
    clReleaseMemObject(o);
    ring_local_free(&l);
    ring_problem_free(&p);
}

/* The chunks cover the sequence once, in order within a rank, lengths differing by at most 1. */
static void chunks(void) {
    int ok = 1;
    for (int layout = 0; layout < 2; layout++)
        for (int R = 1; R <= 5; R++)
            for (int64_t S = 2 * R; S < 2 * R + 9; S++) {
                int64_t seen = 0, lo = S, hi = 0;
                char *hit = calloc((size_t)S, 1);
                for (int r = 0; r < R; r++) {
                    int64_t start[2], len[2];
                    int n = 0;
                    ok &= clattn_ring_chunks((clattn_ring_layout)layout, R, r, S, start, len, &n) ==
                              CLATTN_SUCCESS &&
                          n == (layout == CLATTN_RING_ZIGZAG ? 2 : 1);
                    for (int i = 0; i < n; i++) {
                        for (int64_t t = start[i]; t < start[i] + len[i]; t++) hit[t]++;
                        seen += len[i];
                        lo = len[i] < lo ? len[i] : lo;
                        hi = len[i] > hi ? len[i] : hi;
                    }
                    if (n == 2) ok &= start[0] < start[1];
                }
                for (int64_t t = 0; t < S; t++) ok &= hit[t] == 1;
                ok &= seen == S && hi - lo <= 1;
                free(hit);
            }
    int64_t start[2], len[2];
    int n;
    ok &= clattn_ring_chunks(CLATTN_RING_ZIGZAG, 2, 0, 3, start, len, &n) ==
              CLATTN_ERROR_INVALID_ARGUMENT &&
          clattn_ring_chunks(CLATTN_RING_ZIGZAG, 2, 2, 9, start, len, &n) ==
              CLATTN_ERROR_INVALID_ARGUMENT &&
          clattn_ring_chunks((clattn_ring_layout)7, 2, 0, 9, start, len, &n) ==
              CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_ring_chunks(CLATTN_RING_ZIGZAG, 2, 0, 10, start, len, &n);
    ok &= start[0] == 0 && len[0] == 2 && start[1] == 7 && len[1] == 3;
    TU_CHECK(ok, "clattn_ring_chunks: every position once, lengths within one, refusals");
}

/* clattn_ring_scatter_host gives each rank its chunks' rows of every (batch, head), in order;
 * clattn_ring_gather_host puts every rank's slice back into the whole. */
static void scatter_gather(void) {
    enum { B = 2, H = 3, S = 23, W = 5, R = 3 };
    unsigned char whole[B * H * S * W], back[B * H * S * W], slice[B * H * S * W];
    for (int i = 0; i < B * H * S * W; i++) whole[i] = (unsigned char)(tu_uniform() * 256);
    memset(back, 0, sizeof back);
    int ok = 1;
    for (int layout = 0; layout < 2; layout++) {
        for (int r = 0; r < R; r++) {
            int64_t start[2], len[2];
            int n;
            clattn_ring_chunks((clattn_ring_layout)layout, R, r, S, start, len, &n);
            memset(slice, 0xee, sizeof slice);
            ok &= clattn_ring_scatter_host((clattn_ring_layout)layout, R, r, B, H, S, W, whole,
                                           slice) == CLATTN_SUCCESS;
            const int64_t sr = len[0] + (n > 1 ? len[1] : 0);
            for (int64_t bh = 0; bh < B * H; bh++)
                for (int64_t t = 0; t < sr; t++) {
                    const int64_t g = t < len[0] ? start[0] + t : start[1] + t - len[0];
                    ok &= memcmp(slice + (bh * sr + t) * W, whole + (bh * S + g) * W, W) == 0;
                }
            ok &= slice[B * H * sr * W] == 0xee; /* nothing past the slice */
            ok &= clattn_ring_gather_host((clattn_ring_layout)layout, R, r, B, H, S, W, slice,
                                          back) == CLATTN_SUCCESS;
        }
        ok &= memcmp(back, whole, sizeof whole) == 0;
        memset(back, 0, sizeof back);
    }
    ok &= clattn_ring_scatter_host(CLATTN_RING_ZIGZAG, R, 0, B, H, S, 0, whole, slice) ==
              CLATTN_ERROR_INVALID_ARGUMENT &&
          clattn_ring_scatter_host(CLATTN_RING_ZIGZAG, R, 0, B, H, S, W, NULL, slice) ==
              CLATTN_ERROR_INVALID_ARGUMENT &&
          clattn_ring_gather_host(CLATTN_RING_ZIGZAG, R, 3, B, H, S, W, slice, back) ==
              CLATTN_ERROR_INVALID_ARGUMENT &&
          clattn_ring_scatter_host(CLATTN_RING_ZIGZAG, R, 0, INT64_MAX / 2, H, S, W, whole,
                                   slice) == CLATTN_ERROR_OVERFLOW;
    TU_CHECK(ok, "host scatter and gather: each rank's rows in order, the whole back, refusals");
}

int main(void) {
    tu_seed();
    chunks();
    scatter_gather();
    clattn_context *ctxs[MAXR];
    for (int r = 0; r < MAXR; r++) ctxs[r] = tu_context();
    for (int R = 1; R <= MAXR; R++) cases_over(ctxs, R, "contexts");
    serial_and_stats(ctxs);
    mixed_flavours(ctxs[0]);
    refusals(ctxs);
    transports(ctxs[0]);
    for (int r = 0; r < MAXR; r++) clattn_context_destroy(ctxs[r]);
    return tu_finish();
}
