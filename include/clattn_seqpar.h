/* clattn_seqpar.h: sequence-parallel attention. One attention problem whose sequence is split
 * across ranks (devices, processes, machines): each rank holds a slice of q, k and v; the K/V
 * slices travel round a ring while every rank attends its queries to the slice it holds, and the
 * partial results merge exactly through their log-sum-exp (clattn_combine.h): ring attention
 * (Liu et al. 2023, the merge of FlashAttention-2's blocks). This header is the part without
 * MPI, in the core library: how the sequence is cut, the ring over any transport (three
 * callbacks), and the ring over several contexts of one process (a workstation with several
 * GPUs). clattn_ring.h (the optional clattn_mpi library) runs the same ring over an MPI
 * communicator. Self-contained (includes clattn_sdpa.h); clattn.h includes it. Descriptors and
 * output structs follow the struct rule at the top of clattn_core.h.
 */
#ifndef CLATTN_SEQPAR_H
#define CLATTN_SEQPAR_H

#include "clattn_sdpa.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a sequence of S positions is cut among R ranks. It is cut into C chunks, chunk c holding
 * positions c * S / C .. (c + 1) * S / C - 1 (floor division: lengths differ by at most one), and
 * a rank's slice is its chunks one after the other:
 *  - ZIGZAG (the init value): C = 2R, rank r holds chunks r and 2R - 1 - r. Under a causal mask
 *    every rank then has the same work (an early chunk paired with a late one), so no rank waits
 *    on another: the balanced layout for causal attention.
 *  - CONTIGUOUS: C = R, rank r holds chunk r. Under a causal mask the last rank does about twice
 *    the average work and the others wait for it. */
typedef enum { CLATTN_RING_ZIGZAG = 0, CLATTN_RING_CONTIGUOUS = 1 } clattn_ring_layout;

/* The chunks rank `rank` of `ranks` holds of a sequence of `seq` positions: *count (1 or 2)
 * chunks, chunk n being positions start[n] .. start[n] + len[n] - 1, stored in that order in the
 * rank's slice. CLATTN_ERROR_INVALID_ARGUMENT (nothing written) for a bad layout, rank or ranks,
 * or seq shorter than the number of chunks (one would be empty). */
CLATTN_API clattn_status clattn_ring_chunks(clattn_ring_layout layout, int ranks, int rank,
                                            int64_t seq, int64_t start[2], int64_t len[2],
                                            int *count);

/* Host-memory helpers for whoever cuts a whole tensor into the ranks' slices and puts the results
 * back (the CLI's scatter and gather, examples/ring_attention.c). A tensor is [B, H, S, row]
 * contiguous, with rows of row_bytes bytes (D elements of q, k and v, Dv of out, 1 float of lse);
 * rank `rank`'s slice is [B, H, S_r, row], its chunks' rows in order (clattn_ring_chunks).
 * scatter copies the rank's rows of `whole` into `slice`; gather copies `slice` back into its
 * rows of `whole`. CLATTN_ERROR_INVALID_ARGUMENT (nothing copied) as clattn_ring_chunks refuses,
 * or for NULL arrays or sizes below 1; CLATTN_ERROR_OVERFLOW when B x H x S x row_bytes does not
 * fit int64. */
CLATTN_API clattn_status clattn_ring_scatter_host(clattn_ring_layout layout, int ranks, int rank,
                                                  int64_t B, int64_t H, int64_t S,
                                                  int64_t row_bytes, const void *whole,
                                                  void *slice);
CLATTN_API clattn_status clattn_ring_gather_host(clattn_ring_layout layout, int ranks, int rank,
                                                 int64_t B, int64_t H, int64_t S, int64_t row_bytes,
                                                 const void *slice, void *whole);

/* What one rank measured of a ring call. An output struct: see the rule in clattn_core.h. */
typedef struct {
    int rank, ranks;
    int64_t steps;                      /* ring steps: one per K/V slice (= ranks) */
    int64_t pieces_computed;            /* (query chunk, key chunk) attentions run ... */
    int64_t pieces_skipped;             /* ... and skipped because the mask hides every key */
    int64_t bytes_sent, bytes_received; /* K/V bytes this rank sent on and received */
    double seconds;                     /* the whole call, validation to the last result */
    double exchange_wait_seconds;       /* blocked in the transport's wait */
    double compute_wait_seconds;        /* blocked waiting for the device to finish */
} clattn_ring_stats;
#define CLATTN_RING_STATS_MIN_SIZE offsetof(clattn_ring_stats, seconds)

/* How the ring runs. May be NULL in the calls below: the init values. */
typedef struct {
    size_t struct_size; /* set by clattn_ring_desc_init: the caller's sizeof */
    clattn_ring_layout layout;
    /* 0 (the init value): each step's exchange of the next K/V slice runs while the device
     * attends to the present one (double-buffered). 1: the exchange starts only once the step's
     * attention has finished, so the two are timed alone (stats' wait times): for measuring how
     * much of the exchange the overlap hides (`clattn ring-bench`). Results are the same. */
    int serial;
    clattn_ring_stats *stats; /* NULL, or where this rank's measurements go */
    size_t stats_size;        /* the caller's sizeof *stats */
} clattn_ring_desc;
#define CLATTN_RING_DESC_MIN_SIZE offsetof(clattn_ring_desc, serial)

/* Fills `size` bytes (the caller's sizeof *desc) with the defaults and sets struct_size. */
CLATTN_API clattn_status clattn_ring_desc_init(clattn_ring_desc *desc, size_t size);

/* A transport moves K/V slices one rank along the ring and agrees on values among the ranks.
 * The ring calls the callbacks from the thread that called it, in the same order on every rank;
 * each returns 0 on success, and anything else fails the ring call with CLATTN_ERROR_TRANSPORT
 * (a callback that fails leaves no transfer in flight: the ring frees its buffers next).
 * clattn_ring.h's MPI transport and the multi-device form below are two of them; another (a
 * fabric library, shared memory between processes) needs only these. Frozen: this struct will
 * never change; a new need gets a new struct and new calls. */
typedef struct {
    int rank, ranks; /* this rank, and how many there are (>= 1) */
    void *user;      /* passed to every callback */
    /* Starts sending send_bytes from `send` to rank (rank + 1) % ranks and receiving recv_bytes
     * into `recv` from rank (rank + ranks - 1) % ranks, without waiting for either; both buffers
     * are host memory the ring keeps untouched until `wait` returns. */
    int (*start)(void *user, const void *send, size_t send_bytes, void *recv, size_t recv_bytes);
    /* Blocks until the exchange `start` began has completed both ways. */
    int (*wait)(void *user);
    /* Replaces values[0 .. n) by their element-wise maximum over all ranks (a collective every
     * rank calls; blocking). */
    int (*max_all)(void *user, int64_t *values, int n);
} clattn_ring_transport;

/* Ring attention over a transport: one rank's part of one attention problem; every rank calls it
 * with the same desc and ring (but for the strides, and the algorithm and tile choices, below)
 * and its own context and buffers.
 *
 * desc describes the whole problem as clattn_sdpa would take it on one device: seq_q and seq_kv
 * are the whole sequences' lengths, cut by ring->layout (clattn_ring_chunks); positions are
 * global, so causal (either alignment), the window, ALiBi, the softcap and position_offset mean
 * what they mean for one device, as do GQA, the scale and the storage types. The rank's buffers
 * hold its slices: q [B, Hq, Sq_r, D], k [B, Hkv, Skv_r, D], v [B, Hkv, Skv_r, Dv] and out
 * [B, Hq, Sq_r, Dv] by desc's strides (0: contiguous in the slice's own shape), lse [B, Hq, Sq_r]
 * (contiguous, or NULL), where Sq_r and Skv_r are the lengths of the rank's chunks of seq_q and
 * seq_kv; all on ctx's device. An additive mask and kv_lens are CLATTN_ERROR_UNSUPPORTED (mask by
 * position instead); algo, flavour and the tiles apply to each piece's attention.
 *
 * Every rank first validates its part (descriptor, buffers, the plan of each piece it will
 * attend to, its device memory) and the ranks agree through max_all: if any rank refuses, every
 * rank returns an error before anything is exchanged (the refusing rank its own status and
 * message; the others that status, with a message naming the rank), and when the ranks disagree
 * on desc or ring every rank returns CLATTN_ERROR_SHAPE_MISMATCH. A device
 * failure during the ring does not stop the exchange (the other ranks would wait for it): the
 * failing rank goes on forwarding slices and the ranks agree again at the end, so every rank
 * returns an error then. A call refused before the exchange has written nothing the caller owns;
 * one that fails later may have written part of out and lse. algo, flavour and the tiles may
 * differ between ranks (each suits its device); ring->serial may not.
 *
 * Synchronous: returns when out and lse are written (the ring waits for its work on ctx's queue,
 * and for everything enqueued there before the call). Causal pieces whose keys the mask hides
 * are skipped; with the ZIGZAG layout every rank has the same causal work. The K/V slices travel
 * through host memory (read from the device once, written to the device on each rank). */
CLATTN_API clattn_status clattn_ring_sdpa_transport(
    clattn_context *ctx, const clattn_sdpa_desc *desc, const clattn_ring_desc *ring,
    const clattn_ring_transport *transport, cl_mem q, cl_mem k, cl_mem v, cl_mem out, cl_mem lse);

/* The ring over `ranks` contexts of this process: rank i runs clattn_ring_sdpa_transport's part
 * on ctxs[i] with descs[i] (alike but for the strides of its buffers) and buffers q[i], k[i],
 * v[i], out[i] and lse[i] (lse may be NULL, or hold NULLs); one thread per rank, the slices
 * passing through host memory. The contexts may be of different devices, or several of one
 * device. ring->stats, if set, receives rank 0's measurements. Returns the lowest failing rank's
 * status; clattn_context_last_error(ctxs[i]) on the calling thread then holds rank i's message. */
CLATTN_API clattn_status clattn_ring_sdpa_devices(int ranks, clattn_context *const *ctxs,
                                                  const clattn_sdpa_desc *const *descs,
                                                  const clattn_ring_desc *ring, const cl_mem *q,
                                                  const cl_mem *k, const cl_mem *v,
                                                  const cl_mem *out, const cl_mem *lse);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_SEQPAR_H */
