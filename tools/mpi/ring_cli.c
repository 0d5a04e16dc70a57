/* ring_cli.c: the shared part of the ring commands (see ring_cli.h). */
#include "ring_cli.h"

#include "cli_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIECE ((size_t)1 << 30)

int ring_cli_start(const char *cmd, int *rank, int *ranks) {
    int up = 0;
    MPI_Initialized(&up);
    if (!up && MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        fprintf(stderr, "clattn %s: MPI_Init failed\n", cmd);
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, ranks);
    return 0;
}

void ring_cli_end(void) {
    int down = 0;
    MPI_Finalized(&down);
    if (!down) MPI_Finalize();
}

int ring_cli_agree(int rc) {
    int all = rc;
    MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return all;
}

clattn_context *ring_cli_context(const char *cmd, int per_rank) {
    if (!per_rank) return cli_open_context();
    MPI_Comm node;
    int local = 0;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_rank(node, &local);
        MPI_Comm_free(&node);
    }
    int count = 0;
    clattn_device_caps *caps = NULL;
    if (clattn_device_list(NULL, sizeof *caps, 0, &count) != CLATTN_SUCCESS || count < 1 ||
        !(caps = calloc((size_t)count, sizeof *caps)) ||
        clattn_device_list(caps, sizeof *caps, count, &count) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: no OpenCL device to give this rank\n", cmd);
        free(caps);
        return NULL;
    }
    int gpus = 0;
    for (int i = 0; i < count; i++) gpus += caps[i].type == CL_DEVICE_TYPE_GPU;
    int pick = local % (gpus ? gpus : count), at = 0;
    char sel[32] = "";
    for (int i = 0; i < count && !sel[0]; i++)
        if ((!gpus || caps[i].type == CL_DEVICE_TYPE_GPU) && at++ == pick)
            snprintf(sel, sizeof sel, "%d:%d", caps[i].platform_index, caps[i].device_index);
    free(caps);
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(sel, &ctx);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn %s: device %s: %s: %s\n", cmd, sel, clattn_status_string(st),
                clattn_context_create_error());
        return NULL;
    }
    return ctx;
}

int ring_cli_send(const void *data, size_t bytes, int to) {
    for (size_t at = 0; at < bytes; at += PIECE) {
        const size_t n = bytes - at < PIECE ? bytes - at : PIECE;
        if (MPI_Send((const char *)data + at, (int)n, MPI_BYTE, to, 0, MPI_COMM_WORLD)) return 1;
    }
    return 0;
}

int ring_cli_recv(void *data, size_t bytes, int from) {
    for (size_t at = 0; at < bytes; at += PIECE) {
        const size_t n = bytes - at < PIECE ? bytes - at : PIECE;
        if (MPI_Recv((char *)data + at, (int)n, MPI_BYTE, from, 0, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE))
            return 1;
    }
    return 0;
}

int ring_cli_layout(const char *cmd, const char *s, clattn_ring_layout *out) {
    if (!s || strcmp(s, "zigzag") == 0) {
        *out = CLATTN_RING_ZIGZAG;
    } else if (strcmp(s, "contiguous") == 0) {
        *out = CLATTN_RING_CONTIGUOUS;
    } else {
        fprintf(stderr, "clattn %s: --layout %s: expected zigzag or contiguous\n", cmd, s);
        return 2;
    }
    return 0;
}
