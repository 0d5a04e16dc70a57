/* plan.h: the SDPA dispatcher, pure functions from (device caps, problem, request) to a plan:
 * algorithm, kernel flavour, tiles, work-group size, local and scratch memory. No OpenCL calls, so
 * tests/test_dispatch.c runs it over every row of shared/device-profiles.csv without a device.
 * The GPU flavour's tile rules and local-memory functions live here; the CPU flavour's tiles come
 * from sdpa/plan_cpu.h. */
#ifndef CLATTN_DISPATCH_H
#define CLATTN_DISPATCH_H

#include "sdpa/plan_cpu.h"
#include "sdpa/sdpa_internal.h"

#include <stddef.h>

/* What the caller asked for; zeros mean "the dispatcher chooses". */
typedef struct {
    clattn_algo algo;
    clattn_flavour flavour;
    int64_t block_q, block_kv;
    int64_t splits; /* decode: forced number of KV splits; 0 chooses */
} clattn_sdpa_request;

/* ---- The split-KV decode path (plan_decode.c) ---- */
/* Most query rows per kv head (Sq * group) the decode kernels hold. */
#define CLATTN_DECODE_MAX_ROWS 32
/* Most splits a caller may force (clattn_sdpa_desc.decode_splits): far past any useful count
 * (the dispatcher picks a few per compute unit), and small enough that the scratch and launch
 * sizes, splits x rows x dims, cannot overflow for sizes that passed validation. */
#define CLATTN_DECODE_MAX_SPLITS (1 << 20)
/* The rows capacity a build holds for `rows` (a power of two), or -1 past the maximum. */
int64_t clattn__decode_rows_cap(int64_t rows);
/* Local memory of decode_gpu: q rows, the score block and one float per row. */
int64_t clattn__decode_gpu_local_bytes(int64_t rcap, int64_t dcap, int64_t bk);
/* Keys per block inside a split for the flavour (-1: nothing fits the local memory). */
int64_t clattn__decode_block(const clattn_device_caps *caps, clattn_flavour fl, int64_t rcap,
                             int64_t dcap);
/* Work-items of a decode_gpu work-group on this device. */
int64_t clattn__decode_work_group(const clattn_device_caps *caps);
/* How many splits the keys are cut into: enough work-groups for every compute unit, but no
 * split shorter than the flavour's minimum (64 keys on GPUs, 256 on CPUs). Pure; >= 1. */
int64_t clattn__decode_splits(int compute_units, int64_t B, int64_t Hkv, int64_t Skv, int gpu);
/* The decode plan for flavour fl (forced_splits 0: chosen). UNSUPPORTED with `why` when the
 * problem has too many rows per kv head or its tiles do not fit. */
clattn_status clattn__sdpa_decode_plan(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                                       clattn_flavour fl, int64_t forced_splits,
                                       clattn_sdpa_plan *plan, char *why, size_t why_len);

/* Head-dimension capacity the GPU kernels are compiled for: D rounded up to 32, 64, 128, 192 or
 * 256, so one build serves a bucket of head sizes (each distinct build is seconds on PoCL). */
int64_t clattn__gpu_dim_cap(int64_t d);

/* Local memory (bytes) one work-group of each GPU kernel family declares for tiles br x bc with
 * head-dim capacities dcap, dvcap. Mirrors the __local arrays of the kernels in
 * cl/flash_gpu.cl exactly; the tests hold the kernels' CL_KERNEL_LOCAL_MEM_SIZE against it. */
int64_t clattn__flash2_gpu_local_bytes(int64_t br, int64_t bc, int64_t dcap, int64_t dvcap);
int64_t clattn__flash1_gpu_local_bytes(int64_t br, int64_t bc, int64_t dcap, int64_t dvcap);

/* Device bytes of flash1's running max and sum (m and l, float, one each per query row; either
 * flavour) and of the naive path's score matrix S ([B, Hq, Sq, Skv] floats); INT64_MAX when the
 * size overflows. The plan's scratch_bytes adds the float32 staging copies (sdpa/staging.h). */
int64_t clattn__sdpa_flash1_state_bytes(const clattn_sdpa_problem *p);
int64_t clattn__sdpa_naive_scores_bytes(const clattn_sdpa_problem *p);

/* Work-items per query row in the GPU kernels for a block of br rows on a device allowing
 * max_wg items per group (a power of two <= 16, dividing the Dv capacity). */
int64_t clattn__gpu_threads_per_row(int64_t br, int64_t max_wg);

/* Work-items of the naive path's softmax kernel (one work-group per score row). */
int64_t clattn__softmax_work_group(const clattn_device_caps *caps);

/* The plan. On failure returns the status and writes a message naming the limit into `why`. */
clattn_status clattn__sdpa_dispatch(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                                    const clattn_sdpa_request *req, clattn_sdpa_plan *plan,
                                    char *why, size_t why_len);

/* The next smaller GPU tile after `plan`, used when a build or launch runs out of resources or
 * the built kernel allows fewer work-items (max_wg: its CL_KERNEL_WORK_GROUP_SIZE) or less local
 * memory than planned. Returns CLATTN_ERROR_UNSUPPORTED with `why` filled when there is none. */
clattn_status clattn__sdpa_gpu_shrink(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                                      const clattn_sdpa_plan *plan, int64_t max_wg,
                                      clattn_sdpa_plan *smaller, char *why, size_t why_len);

#endif
