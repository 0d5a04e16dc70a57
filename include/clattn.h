/* clattn.h: the one header a clattn user includes: the whole public C API of clattn, a portable
 * attention library on OpenCL. Each part is also a self-contained header of its own:
 *   clattn_core.h      version, status codes, devices, the context, cache counters, and the
 *                      binary-compatibility rule every struct follows
 *   clattn_sdpa.h      scaled dot-product attention
 *   clattn_combine.h   the exact merge of partial attentions through their log-sum-exp
 *   clattn_seqpar.h    sequence-parallel (ring) attention over a transport or several devices
 *                      (over MPI: clattn_ring.h, in the optional clattn_mpi library)
 *   clattn_kv_cache.h  a KV cache (contiguous or paged) for inference, and attention over it
 *   clattn_additive.h  additive (Bahdanau) attention
 *   clattn_rnn.h       the GRU: bidirectional encoder and decoder cell
 */
#ifndef CLATTN_H
#define CLATTN_H

#include "clattn_core.h"
#include "clattn_sdpa.h"
#include "clattn_combine.h"
#include "clattn_seqpar.h"
#include "clattn_kv_cache.h"
#include "clattn_rope.h"
#include "clattn_layer.h"
#include "clattn_additive.h"
#include "clattn_rnn.h"

#endif /* CLATTN_H */
