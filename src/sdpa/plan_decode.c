/* plan_decode.c: the split-KV decode path's planner (cl/decode.cl), pure arithmetic on the device
 * caps and the problem, so tests/test_dispatch.c runs it over every device profile. It decides
 * whether the path applies (few query rows per kv head), how many splits the keys are cut into
 * and the per-flavour block sizes, and how much local and scratch memory that takes. */
#include "sdpa/plan.h"

#include <stdio.h>
#include <string.h>

/* Fewest keys a split is worth: below this the combine and the per-split setup dominate. CPU
 * work-items walk their split serially, so they want longer ones than GPU work-groups. */
#define DECODE_MIN_SPLIT_CPU 256
#define DECODE_MIN_SPLIT_GPU 64
/* Splits aim at this many work-groups per compute unit (latency hiding on GPUs, balance over
 * the worker threads on CPUs). */
#define DECODE_GROUPS_PER_CU 4
/* Keys per block inside a split: the CPU kernel's private score tile, the GPU kernel's __local
 * one. */
#define DECODE_BK_CPU 32
#define DECODE_BK_GPU 64
#define DECODE_WG     128
/* decode_cpu's softmax takes the block's scores 8 at a time (float8); a block that is not a
 * multiple of 8 would drop keys silently. */
_Static_assert(DECODE_BK_CPU % 8 == 0, "decode_cpu needs key blocks of a multiple of 8");

int64_t clattn__decode_rows_cap(int64_t rows) {
    int64_t cap = 1;
    while (cap < rows) cap *= 2;
    return cap <= CLATTN_DECODE_MAX_ROWS ? cap : -1;
}

int64_t clattn__decode_gpu_local_bytes(int64_t rcap, int64_t dcap, int64_t bk) {
    return CLATTN_ACC_BYTES * (rcap * dcap + rcap * bk + rcap);
}

int64_t clattn__decode_block(const clattn_device_caps *caps, clattn_flavour fl, int64_t rcap,
                             int64_t dcap) {
    if (fl != CLATTN_FLAVOUR_GPU) return DECODE_BK_CPU;
    int64_t bk = DECODE_BK_GPU;
    while (bk > 8 && clattn__decode_gpu_local_bytes(rcap, dcap, bk) > caps->local_mem_bytes)
        bk /= 2;
    return clattn__decode_gpu_local_bytes(rcap, dcap, bk) > caps->local_mem_bytes ? -1 : bk;
}

int64_t clattn__decode_work_group(const clattn_device_caps *caps) {
    int64_t wg = DECODE_WG;
    while (wg > 1 && wg > caps->max_work_group_size) wg /= 2;
    return wg;
}

int64_t clattn__decode_splits(int compute_units, int64_t B, int64_t Hkv, int64_t Skv, int gpu) {
    const int64_t groups = B * Hkv;
    const int64_t cu = compute_units > 0 ? compute_units : 1;
    int64_t want = (DECODE_GROUPS_PER_CU * cu + groups - 1) / groups;
    const int64_t min_split = gpu ? DECODE_MIN_SPLIT_GPU : DECODE_MIN_SPLIT_CPU;
    const int64_t most = (Skv + min_split - 1) / min_split;
    if (want > most) want = most;
    return want < 1 ? 1 : want;
}

clattn_status clattn__sdpa_decode_plan(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                                       clattn_flavour fl, int64_t forced_splits,
                                       clattn_sdpa_plan *plan, char *why, size_t why_len) {
    const int64_t rows = p->Sq * p->group, rcap = clattn__decode_rows_cap(rows);
    if (rcap < 0) {
        snprintf(why, why_len,
                 "decode: %lld query rows per kv head (Sq %lld x group %lld); the split-KV "
                 "kernels take at most %d: use flash2",
                 (long long)rows, (long long)p->Sq, (long long)p->group, CLATTN_DECODE_MAX_ROWS);
        return CLATTN_ERROR_UNSUPPORTED;
    }
    const int gpu = fl == CLATTN_FLAVOUR_GPU;
    const int64_t dcap = gpu ? clattn__gpu_dim_cap(p->D) : clattn__cpu_dim_cap(p->D);
    const int64_t dvcap = gpu ? clattn__gpu_dim_cap(p->Dv) : clattn__cpu_dim_cap(p->Dv);
    if (dcap < 0 || dvcap < 0) {
        snprintf(why, why_len, "decode: head dims %lld/%lld are not supported (1..256)",
                 (long long)p->D, (long long)p->Dv);
        return CLATTN_ERROR_UNSUPPORTED;
    }
    if (forced_splits > CLATTN_DECODE_MAX_SPLITS) {
        snprintf(why, why_len, "decode: %lld splits forced; at most %d are allowed",
                 (long long)forced_splits, CLATTN_DECODE_MAX_SPLITS);
        return CLATTN_ERROR_INVALID_ARGUMENT;
    }
    int64_t splits = forced_splits > 0
                         ? forced_splits
                         : clattn__decode_splits(caps->compute_units, p->B, p->Hkv, p->Skv, gpu);
    const int64_t split = (p->Skv + splits - 1) / splits; /* keys per split, >= 1 */
    /* Splits past the keys (forced more than Skv) stay in the plan: they see nothing and the
     * combine gives them weight 0. The combine derives the count from Skv and the split size. */
    splits = (p->Skv + split - 1) / split;
    if (forced_splits > splits) splits = forced_splits;
    memset(plan, 0, sizeof *plan);
    plan->algo = CLATTN_ALGO_DECODE;
    plan->flavour = fl;
    plan->block_q = rcap;
    plan->block_kv = split;
    plan->splits = splits;
    /* Per split, one accumulator row of dvcap + 1 floats per query row. */
    const int64_t scratch[5] = {CLATTN_ACC_BYTES, splits, p->B * p->Hq, p->Sq, dvcap + 1};
    if (clattn__prod64(scratch, 5, &plan->scratch_bytes)) {
        snprintf(why, why_len, "decode: the scratch of %lld splits x %lld rows overflows int64",
                 (long long)splits, (long long)(p->B * p->Hq * p->Sq));
        return CLATTN_ERROR_OVERFLOW;
    }
    const int64_t bk = clattn__decode_block(caps, fl, rcap, dcap);
    if (bk < 0) {
        snprintf(why, why_len,
                 "decode GPU kernel: %lld rows of head dim %lld need %lld bytes of local memory "
                 "even with 8-key blocks; the device has %lld",
                 (long long)rcap, (long long)dcap,
                 (long long)clattn__decode_gpu_local_bytes(rcap, dcap, 8),
                 (long long)caps->local_mem_bytes);
        return CLATTN_ERROR_UNSUPPORTED;
    }
    /* One work-item (CPU) or work-group (GPU) per split, batch and kv head. */
    const int64_t items[4] = {splits, p->B, p->Hkv, gpu ? clattn__decode_work_group(caps) : 1};
    if (clattn__prod64(items, 4, &plan->global_size[0])) {
        snprintf(why, why_len, "decode: %lld splits x %lld batches x %lld kv heads overflow int64",
                 (long long)splits, (long long)p->B, (long long)p->Hkv);
        return CLATTN_ERROR_OVERFLOW;
    }
    if (gpu) {
        const int64_t wg = items[3];
        plan->work_group = wg;
        plan->local_mem_bytes = clattn__decode_gpu_local_bytes(rcap, dcap, bk);
        plan->global_size[1] = 1;
    } else {
        plan->work_group = 1;
        plan->global_size[0] = splits;
        plan->global_size[1] = p->B * p->Hkv;
    }
    return CLATTN_SUCCESS;
}
