/* ring_attention.c: a long causal sequence split across MPI ranks (ring attention,
 * include/clattn_ring.h), checked against one-device attention.
 *
 *   mpirun -np 4 ./ring_attention [N]        (N: sequence length, default 8192)
 *
 * Every rank makes the same whole q, k and v (a fixed pseudo-random sequence: no files, no
 * scatter), keeps its zigzag slices (clattn_ring_scatter_host), attends on its own device with
 * clattn_ring_sdpa, and sends its slice of the output to rank 0, which puts them in place
 * (clattn_ring_gather_host), runs clattn_sdpa_host on the whole tensors and prints the largest
 * difference. Exits 0 when it is within float32 rounding. Uses only the public API. */
#include <clattn.h>
#include <clattn_ring.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 1, HQ = 8, HKV = 2, D = 64 };

static float *random_floats(size_t n, uint64_t seed) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; x && i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(seed >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    return x;
}

/* A device buffer on ctx holding `bytes` of host (NULL: uninitialised). */
static cl_mem buffer(clattn_context *ctx, size_t bytes, void *host) {
    cl_int err;
    return clCreateBuffer(clattn_context_cl_context(ctx),
                          CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0), bytes, host, &err);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    const int64_t N = argc > 1 ? atoll(argv[1]) : 8192;
    const clattn_ring_layout layout = CLATTN_RING_ZIGZAG;
    int64_t start[2], len[2];
    int nchunks;
    if (clattn_ring_chunks(layout, ranks, rank, N, start, len, &nchunks) != CLATTN_SUCCESS) {
        if (rank == 0) fprintf(stderr, "N = %lld is too short for %d ranks\n", (long long)N, ranks);
        MPI_Finalize();
        return 2;
    }
    const int64_t n = len[0] + len[1]; /* this rank's positions */

    /* The whole problem, made alike on every rank, and this rank's slices of it. */
    float *q = random_floats((size_t)(B * HQ * N * D), 1),
          *k = random_floats((size_t)(B * HKV * N * D), 2);
    float *v = random_floats((size_t)(B * HKV * N * D), 3);
    float *qs = malloc((size_t)(B * HQ * n * D) * 4), *ks = malloc((size_t)(B * HKV * n * D) * 4);
    float *vs = malloc((size_t)(B * HKV * n * D) * 4), *os = malloc((size_t)(B * HQ * n * D) * 4);
    if (!q || !k || !v || !qs || !ks || !vs || !os) MPI_Abort(MPI_COMM_WORLD, 1);
    clattn_ring_scatter_host(layout, ranks, rank, B, HQ, N, D * 4, q, qs);
    clattn_ring_scatter_host(layout, ranks, rank, B, HKV, N, D * 4, k, ks);
    clattn_ring_scatter_host(layout, ranks, rank, B, HKV, N, D * 4, v, vs);

    clattn_context *ctx = NULL;
    if (clattn_context_create(NULL, &ctx) != CLATTN_SUCCESS) {
        fprintf(stderr, "rank %d: no OpenCL device: %s\n", rank, clattn_context_create_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    clattn_sdpa_desc d; /* the whole problem; each rank's buffers hold its slices */
    clattn_sdpa_desc_init(&d, sizeof d);
    d.batch = B, d.heads = HQ, d.kv_heads = HKV, d.seq_q = d.seq_kv = N, d.head_dim = D;
    d.causal = 1;
    clattn_ring_stats stats;
    clattn_ring_desc rd;
    clattn_ring_desc_init(&rd, sizeof rd);
    rd.layout = layout;
    rd.stats = &stats;
    rd.stats_size = sizeof stats;
    cl_mem dq = buffer(ctx, (size_t)(B * HQ * n * D) * 4, qs);
    cl_mem dk = buffer(ctx, (size_t)(B * HKV * n * D) * 4, ks);
    cl_mem dv = buffer(ctx, (size_t)(B * HKV * n * D) * 4, vs);
    cl_mem dout = buffer(ctx, (size_t)(B * HQ * n * D) * 4, NULL);
    clattn_status st = clattn_ring_sdpa(ctx, &d, &rd, MPI_COMM_WORLD, dq, dk, dv, dout, NULL);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "rank %d: ring: %s: %s\n", rank, clattn_status_string(st),
                clattn_context_last_error(ctx));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    clEnqueueReadBuffer(clattn_context_queue(ctx), dout, CL_TRUE, 0, (size_t)(B * HQ * n * D) * 4,
                        os, 0, NULL, NULL);
    printf("rank %d: positions %lld..%lld and %lld..%lld, %.1f ms, %lld pieces (%lld skipped), "
           "sent %lld bytes\n",
           rank, (long long)start[0], (long long)(start[0] + len[0] - 1), (long long)start[1],
           (long long)(start[1] + len[1] - 1), 1e3 * stats.seconds,
           (long long)stats.pieces_computed, (long long)stats.pieces_skipped,
           (long long)stats.bytes_sent);

    /* Rank 0 gathers the slices into the whole output and compares with one device. */
    int ok = 1;
    if (rank != 0) {
        MPI_Send(os, (int)(B * HQ * n * D), MPI_FLOAT, 0, 0, MPI_COMM_WORLD);
    } else {
        float *out = malloc((size_t)(B * HQ * N * D) * 4),
              *ref = malloc((size_t)(B * HQ * N * D) * 4);
        float *part = malloc((size_t)(B * HQ * (N / ranks + 2) * D) * 4);
        if (!out || !ref || !part) MPI_Abort(MPI_COMM_WORLD, 1);
        for (int r = 0; r < ranks; r++) {
            int64_t s2[2], l2[2];
            int c2;
            clattn_ring_chunks(layout, ranks, r, N, s2, l2, &c2);
            if (r)
                MPI_Recv(part, (int)(B * HQ * (l2[0] + l2[1]) * D), MPI_FLOAT, r, 0, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
            clattn_ring_gather_host(layout, ranks, r, B, HQ, N, D * 4, r ? part : os, out);
        }
        st = clattn_sdpa_host(ctx, &d, q, k, v, NULL, ref, NULL);
        double worst = 0.0;
        for (int64_t i = 0; i < B * HQ * N * D; i++) worst = fmax(worst, fabs(out[i] - ref[i]));
        ok = st == CLATTN_SUCCESS && worst < 1e-4;
        printf("ring attention over %d ranks, N = %lld: largest difference from one device %.3g "
               "(%s)\n",
               ranks, (long long)N, worst, ok ? "ok" : "FAIL");
        free(out);
        free(ref);
        free(part);
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    clReleaseMemObject(dq);
    clReleaseMemObject(dk);
    clReleaseMemObject(dv);
    clReleaseMemObject(dout);
    clattn_context_destroy(ctx);
    free(q), free(k), free(v), free(qs), free(ks), free(vs), free(os);
    MPI_Finalize();
    return ok ? 0 : 1;
}
