/* test_ring_mpi.c: ring attention over MPI (clattn_ring_sdpa, include/clattn_ring.h), run by
 * CTest under mpirun with 1, 2, 3 and 4 ranks on one machine, each rank on its own PoCL context.
 * Every rank draws the same fresh inputs (rank 0's seed), computes one-device attention on the
 * full tensors and checks its own slice of the ring's result against it, every element of out
 * and lse, outputs poisoned: every case of tests/ring_kit.c (plain, causal on the balanced and
 * contiguous layouts, GQA and MQA, Sq != Skv, window + ALiBi + softcap, 16-bit storage, strided
 * slices; no sequence a multiple of the chunks), and the serial mode. Refusals: a buffer too small
 * on the last rank, or one rank's descriptor differing from the others', make every rank return
 * an error before anything is exchanged, with nothing written (no rank hangs: CTest's timeout and
 * an alarm here would end a hung run). The ranks' tallies are summed: each exits 0 only when no
 * rank failed. */
#include "clattn_ring.h"
#include "ring_kit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rank, ranks;

/* Runs the ring on this rank's part of p (its device buffers poisoned) and checks the result;
 * `mess` != 0 spoils this rank's part (1: out 4 bytes short, 2: a different scale). Returns the
 * status; with a failure, checks that out and lse were not written. */
static clattn_status run(clattn_context *ctx, const ring_problem *p, const clattn_ring_desc *rd,
                         int mess, const char *label) {
    ring_local l;
    if (ring_local_make(p, ranks, rank, &l)) MPI_Abort(MPI_COMM_WORLD, 1);
    if (mess == 2) l.d.scale = 0.5f;
    const size_t ob = l.out_bytes - (mess == 1 ? 4 : 0);
    unsigned char *poison = malloc(ob + l.lse_bytes), *got = malloc(ob + l.lse_bytes);
    if (!poison || !got) MPI_Abort(MPI_COMM_WORLD, 1);
    memset(poison, 0xff, ob); /* NaN in every storage type */
    tu_poison((float *)(poison + ob), (int64_t)l.lse_bytes / 4);
    cl_context cl = clattn_context_cl_context(ctx);
    cl_int err = CL_SUCCESS;
    const cl_mem_flags f = CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR;
    cl_mem q = clCreateBuffer(cl, f, l.q_bytes, l.q, &err);
    cl_mem k = clCreateBuffer(cl, f, l.k_bytes, l.k, &err);
    cl_mem v = clCreateBuffer(cl, f, l.v_bytes, l.v, &err);
    cl_mem out = clCreateBuffer(cl, f, ob, poison, &err);
    cl_mem lse = clCreateBuffer(cl, f, l.lse_bytes, poison + ob, &err);
    if (!q || !k || !v || !out || !lse) MPI_Abort(MPI_COMM_WORLD, 1);
    clattn_status st = clattn_ring_sdpa(ctx, &l.d, rd, MPI_COMM_WORLD, q, k, v, out, lse);
    cl_command_queue qu = clattn_context_queue(ctx);
    clEnqueueReadBuffer(qu, out, CL_TRUE, 0, ob, got, 0, NULL, NULL);
    clEnqueueReadBuffer(qu, lse, CL_TRUE, 0, l.lse_bytes, got + ob, 0, NULL, NULL);
    if (st == CLATTN_SUCCESS)
        ring_check(p, ranks, rank, &l, got, (const float *)(got + ob), label);
    else
        TU_CHECK(memcmp(got, poison, ob + l.lse_bytes) == 0,
                 "%s: rank %d of %d: out and lse untouched", label, rank, ranks);
    clReleaseMemObject(q);
    clReleaseMemObject(k);
    clReleaseMemObject(v);
    clReleaseMemObject(out);
    clReleaseMemObject(lse);
    free(poison);
    free(got);
    ring_local_free(&l);
    return st;
}

static void cases(clattn_context *ctx) {
    for (int i = 0; i < ring_case_count; i++) {
        ring_problem p;
        if (ring_problem_make(ctx, &ring_cases[i], &p)) MPI_Abort(MPI_COMM_WORLD, 1);
        for (int serial = 0; serial < (i == 1 ? 2 : 1); serial++) {
            clattn_ring_desc rd;
            clattn_ring_desc_init(&rd, sizeof rd);
            rd.layout = ring_cases[i].layout;
            rd.serial = serial;
            char label[256];
            snprintf(label, sizeof label, "%d ranks%s: %s", ranks, serial ? ", serial" : "",
                     ring_cases[i].name);
            clattn_status st = run(ctx, &p, &rd, 0, label);
            TU_CHECK(st == CLATTN_SUCCESS, "%s: rank %d: %s %s", label, rank,
                     clattn_status_string(st), st ? clattn_context_last_error(ctx) : "");
        }
        ring_problem_free(&p);
    }
}

static void refusals(clattn_context *ctx) {
    ring_problem p;
    if (ring_problem_make(ctx, &ring_cases[1], &p)) MPI_Abort(MPI_COMM_WORLD, 1);
    /* The last rank's out is 4 bytes short. */
    const int last = ranks - 1;
    char want[64];
    snprintf(want, sizeof want, "rank %d of %d failed", last, ranks);
    clattn_status st = run(ctx, &p, NULL, rank == last ? 1 : 0, "last rank's out too small");
    const char *msg = clattn_context_last_error(ctx);
    TU_CHECK(st == CLATTN_ERROR_BUFFER_TOO_SMALL &&
                 strstr(msg, rank == last ? "out: buffer holds" : want) != NULL,
             "rank %d of %d: the last rank's bad buffer fails every rank: %s \"%s\"", rank, ranks,
             clattn_status_string(st), msg);
    /* Rank 0 alone passes another scale: the ranks disagree on the problem. */
    if (ranks > 1) {
        st = run(ctx, &p, NULL, rank == 0 ? 2 : 0, "rank 0's scale differs");
        msg = clattn_context_last_error(ctx);
        TU_CHECK(st == CLATTN_ERROR_SHAPE_MISMATCH && strstr(msg, "disagree") != NULL,
                 "rank %d of %d: a rank's different descriptor fails every rank: %s \"%s\"", rank,
                 ranks, clattn_status_string(st), msg);
    }
    ring_problem_free(&p);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    alarm(600); /* a hung ring ends the process (and mpirun the job) even without CTest */
    /* Every rank draws the same inputs: rank 0's seed. */
    unsigned long long seed = rank == 0 ? (unsigned long long)tu_seed() : 0;
    MPI_Bcast(&seed, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (rank != 0) {
        char s[32];
        snprintf(s, sizeof s, "%llu", seed);
        setenv("CLATTN_TEST_SEED", s, 1);
        tu_seed();
    }
    clattn_context *ctx = tu_context();
    cases(ctx);
    refusals(ctx);
    /* MPI_COMM_NULL is refused at once. */
    clattn_status st =
        clattn_ring_sdpa(ctx, NULL, NULL, MPI_COMM_NULL, NULL, NULL, NULL, NULL, NULL);
    TU_CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT, "MPI_COMM_NULL refused");
    clattn_context_destroy(ctx);
    int mine[2] = {tu_passed, tu_failed}, all[2];
    MPI_Allreduce(mine, all, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("all %d ranks: %d passed, %d failed\n", ranks, all[0], all[1]);
    MPI_Finalize();
    return all[1] == 0 && all[0] > 0 ? tu_finish() : (tu_finish(), 1);
}
