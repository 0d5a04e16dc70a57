/* ring_cli.h: what the ring commands of `clattn` (ring-attention, ring-bench; built with the MPI
 * component only) share: starting and ending MPI, every rank's verdict on a step (so that no rank
 * waits for one that gave up), the rank's context (--device, or one device per rank on a node
 * with --device-per-rank), large point-to-point messages and the --layout names. */
#ifndef CLATTN_RING_CLI_H
#define CLATTN_RING_CLI_H

#include "clattn_ring.h"

#include <stddef.h>

/* MPI_Init (once) and this process's rank and the number of ranks. Returns 0, or 1 after a
 * message naming cmd. */
int ring_cli_start(const char *cmd, int *rank, int *ranks);
void ring_cli_end(void);
/* Every rank's rc (0 or not) reduced to the largest: each rank calls it at the same point, so a
 * rank that failed (and said why) takes the others with it. */
int ring_cli_agree(int rc);
/* The rank's context: --device's (cli_open_context), or with per_rank the node-local rank's
 * device among the GPUs (all devices when there is none), round robin. NULL after a message. */
clattn_context *ring_cli_context(const char *cmd, int per_rank);
/* Blocking point-to-point transfers of any size (as 1 GiB messages) on MPI_COMM_WORLD. 0 or 1. */
int ring_cli_send(const void *data, size_t bytes, int to);
int ring_cli_recv(void *data, size_t bytes, int from);
/* "zigzag" (NULL too) or "contiguous". Returns 0, or 2 after a usage error naming cmd. */
int ring_cli_layout(const char *cmd, const char *s, clattn_ring_layout *out);

#endif /* CLATTN_RING_CLI_H */
