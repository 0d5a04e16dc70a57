/* ring_mpi.c: clattn_ring_sdpa (include/clattn_ring.h), the ring of clattn_seqpar.h over MPI:
 * the transport's three callbacks as non-blocking point-to-point messages and an MPI_Allreduce.
 * The only file of the clattn_mpi library; it uses clattn's public API alone. */
#include "clattn_ring.h"

#include <limits.h>
#include <stdlib.h>
#include <time.h>

/* An MPI count is an int: larger slices go as several messages of this many bytes. */
#define PIECE ((size_t)1 << 30)

typedef struct {
    MPI_Comm comm;
    int rank, ranks;
    MPI_Request *req; /* the exchange in flight */
    int nreq, cap;
} mpi_link;

static int add_requests(mpi_link *m, int more) {
    if (m->nreq + more <= m->cap) return 0;
    const int cap = m->nreq + more;
    MPI_Request *r = realloc(m->req, (size_t)cap * sizeof *r);
    if (!r) return 1;
    m->req = r;
    m->cap = cap;
    return 0;
}

/* Cancels and frees whatever is in flight, after a failure: the ring frees its buffers next. */
static int drop(mpi_link *m, int rc) {
    for (int i = 0; i < m->nreq; i++)
        if (m->req[i] != MPI_REQUEST_NULL) {
            MPI_Cancel(&m->req[i]);
            MPI_Request_free(&m->req[i]);
        }
    m->nreq = 0;
    return rc != 0 ? rc : -1;
}

static int start(void *user, const void *send, size_t send_bytes, void *recv, size_t recv_bytes) {
    mpi_link *m = user;
    const int next = (m->rank + 1) % m->ranks, prev = (m->rank + m->ranks - 1) % m->ranks;
    const size_t ns = (send_bytes + PIECE - 1) / PIECE, nr = (recv_bytes + PIECE - 1) / PIECE;
    m->nreq = 0;
    if (ns + nr > INT_MAX || add_requests(m, (int)(ns + nr))) return -1;
    /* Receives first, so a message finds its buffer posted; piece i has tag i. */
    for (size_t i = 0; i < nr + ns; i++) {
        const int rx = i < nr;
        const size_t at = (rx ? i : i - nr) * PIECE, total = rx ? recv_bytes : send_bytes;
        const int n = (int)(total - at < PIECE ? total - at : PIECE), tag = (int)(rx ? i : i - nr);
        const int rc =
            rx ? MPI_Irecv((char *)recv + at, n, MPI_BYTE, prev, tag, m->comm, &m->req[m->nreq])
               : MPI_Isend((const char *)send + at, n, MPI_BYTE, next, tag, m->comm,
                           &m->req[m->nreq]);
        if (rc != MPI_SUCCESS) return drop(m, rc);
        m->nreq++;
    }
    return 0;
}

/* Polls rather than blocking in MPI_Waitall: an MPI without a progress thread moves a large
 * message only inside its calls, and a blocked MPI_Waitall spins on a core that the device (a
 * CPU device above all) may need. The pause grows from 10 us to 1 ms: short against a ring step,
 * and few wake-ups while a long exchange runs. */
static int wait_exchange(void *user) {
    mpi_link *m = user;
    for (long pause_ns = 10000;; pause_ns = pause_ns < 1000000 ? 2 * pause_ns : pause_ns) {
        int done = 0;
        const int rc = MPI_Testall(m->nreq, m->req, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return drop(m, rc);
        if (done) break;
        const struct timespec pause = {0, pause_ns};
        nanosleep(&pause, NULL);
    }
    m->nreq = 0;
    return 0;
}

static int max_all(void *user, int64_t *values, int n) {
    mpi_link *m = user;
    return MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_INT64_T, MPI_MAX, m->comm);
}

clattn_status clattn_ring_sdpa(clattn_context *ctx, const clattn_sdpa_desc *desc,
                               const clattn_ring_desc *ring, MPI_Comm comm, cl_mem q, cl_mem k,
                               cl_mem v, cl_mem out, cl_mem lse) {
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (!up || down || comm == MPI_COMM_NULL) return CLATTN_ERROR_INVALID_ARGUMENT;
    mpi_link m = {MPI_COMM_NULL, 0, 0, NULL, 0, 0};
    if (MPI_Comm_dup(comm, &m.comm) != MPI_SUCCESS) return CLATTN_ERROR_TRANSPORT;
    MPI_Comm_set_errhandler(m.comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m.comm, &m.rank);
    MPI_Comm_size(m.comm, &m.ranks);
    const clattn_ring_transport t = {m.rank, m.ranks, &m, start, wait_exchange, max_all};
    const clattn_status st = clattn_ring_sdpa_transport(ctx, desc, ring, &t, q, k, v, out, lse);
    free(m.req); /* nothing is in flight: each callback leaves nothing behind when it fails */
    MPI_Comm_free(&m.comm);
    return st;
}
