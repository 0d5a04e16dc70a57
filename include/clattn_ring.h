/* clattn_ring.h: ring attention over MPI, in the optional clattn_mpi library (built when CMake
 * finds MPI: CLATTN_WITH_MPI; link clattn_mpi, or clattn::clattn_mpi from the CMake package). The
 * core library never depends on MPI: this is clattn_seqpar.h's ring with an MPI transport. Each
 * process (rank) attends its slice of the queries to every slice of the keys and values, which
 * travel round the ring of the communicator's ranks as non-blocking point-to-point messages,
 * overlapped with the attention on the slice already present. Self-contained (includes mpi.h and
 * clattn_seqpar.h); clattn.h does not include it.
 */
#ifndef CLATTN_RING_H
#define CLATTN_RING_H

#include <mpi.h>

#include "clattn_seqpar.h"

#ifdef __cplusplus
extern "C" {
#endif

/* clattn_ring_sdpa_transport over `comm` (an intracommunicator; rank i of it is ring rank i):
 * every rank of comm calls it, with its own context and slices, as the ring's rules say
 * (clattn_seqpar.h: the layout, what desc means, agreement before the exchange). MPI must be
 * initialised; calls on one communicator must not overlap in time from several threads. The ring
 * works on a duplicate of comm with errors returned rather than fatal, so its messages never mix
 * with the caller's and a failed MPI call is CLATTN_ERROR_TRANSPORT. The slices travel through
 * host memory (OpenCL buffers are not MPI buffers), as MPI_BYTE messages of at most 1 GiB.
 * Without MPI initialised, or with MPI_COMM_NULL, it is CLATTN_ERROR_INVALID_ARGUMENT, and when
 * MPI_Comm_dup fails CLATTN_ERROR_TRANSPORT, both before the ring starts and without a message on
 * ctx (and on no other rank: comm must be valid on every rank). */
CLATTN_API clattn_status clattn_ring_sdpa(clattn_context *ctx, const clattn_sdpa_desc *desc,
                                          const clattn_ring_desc *ring, MPI_Comm comm, cl_mem q,
                                          cl_mem k, cl_mem v, cl_mem out, cl_mem lse);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_RING_H */
