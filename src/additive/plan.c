/* plan.c (additive): chooses the shape and tiles of the fused additive-attention step kernel
 * from the device's local memory and work-group limits (see plan.h for the rules).
 *
 * Why these numbers. Only the CPU/GPU choice is measured; no GPU was available, so the GPU
 * shape's sizes are reasoned from the device-profile table, not tuned:
 *   work-group 256 cap  fills a GPU compute unit with one row of B*Tq rows; larger groups only
 *                       lengthen the reductions.
 *   lanes 16            A is typically 256..1024, so 16 lanes give >= 16 tanh per lane between
 *                       reductions and 16 positions per pass at wg 256.
 *   block_t <= 1024     past that the weight tile only saves a barrier per 1024 positions.
 *   CPU shape           one row per work-item, float8 vectors, no barriers. Measured on PoCL
 *                       (2-core EPYC, B=32 Dk=1024 Ds=512 A=512, bench/additive_bench.py, medians
 *                       of 20, three runs): the GPU shape forced there is 3-12x slower at T=50
 *                       (11.5-32 vs 2.1-7.9 ms per step) and 4-20x slower at T=500 (105-166 vs
 *                       8-25 ms): emulated local memory and barriers cost more than they share.
 *                       Hence AUTO follows CL_DEVICE_LOCAL_MEM_TYPE.
 */
#include "additive/plan.h"

#include <stdio.h>

static int64_t pow2_floor(int64_t x) {
    int64_t p = 1;
    while (p * 2 <= x) p *= 2;
    return p;
}

static int is_pow2(int64_t x) {
    return x > 0 && (x & (x - 1)) == 0;
}

int64_t clattn__additive_local_bytes(int64_t wg, int64_t block_t, int stage_query, int64_t A) {
    return 4 * (wg + block_t + (stage_query ? 2 * A : 0));
}

static clattn_status unsupported(char *why, size_t why_len, const char *fmt, long long a,
                                 long long b) {
    snprintf(why, why_len, fmt, a, b);
    return CLATTN_ERROR_UNSUPPORTED;
}

clattn_status clattn__additive_dispatch(const clattn_device_caps *caps, int64_t A,
                                        const clattn_additive_desc *desc,
                                        clattn_additive_plan *plan, char *why, size_t why_len) {
    clattn_flavour fl = desc->flavour;
    if (fl == CLATTN_FLAVOUR_AUTO)
        fl = caps->local_mem_type == CLATTN_LOCAL_MEM_LOCAL ? CLATTN_FLAVOUR_GPU
                                                            : CLATTN_FLAVOUR_CPU;
    plan->flavour = fl;
    plan->stage_query = 0;
    if (fl == CLATTN_FLAVOUR_CPU) {
        plan->block_t = 1, plan->lanes = 1, plan->work_group = 1, plan->local_mem_bytes = 0;
        return CLATTN_SUCCESS;
    }
    const int64_t mem = caps->local_mem_bytes / 4; /* floats */
    const int64_t max_wg = caps->max_work_group_size < 1 ? 1 : caps->max_work_group_size;
    int64_t wg = desc->work_group;
    if (wg) {
        if (!is_pow2(wg) || wg > max_wg)
            return unsupported(why, why_len,
                               "additive: work_group %lld must be a power of two <= the device's "
                               "max work-group size %lld",
                               (long long)wg, (long long)max_wg);
    } else {
        wg = pow2_floor(max_wg < 256 ? max_wg : 256);
        while (wg > 1 && wg + 64 > mem) wg /= 2;
    }
    int64_t bt = desc->block_t;
    if (bt && (bt < 1 || bt > 1 << 20))
        return unsupported(why, why_len, "additive: block_t %lld out of range 1..%lld",
                           (long long)bt, 1ll << 20);
    int64_t room = mem - wg;
    int stage = 2 * A + (bt ? bt : 64) <= room;
    if (stage) room -= 2 * A;
    if (bt) {
        if (bt > room)
            return unsupported(why, why_len,
                               "additive: block_t %lld does not fit in the device's local memory "
                               "(%lld floats left after the reduction scratch)",
                               (long long)bt, (long long)room);
    } else {
        if (room < 1)
            return unsupported(why, why_len,
                               "additive: %lld bytes of local memory cannot hold a work-group of "
                               "%lld items plus one tile position",
                               (long long)caps->local_mem_bytes, (long long)wg);
        bt = pow2_floor(room < 1024 ? room : 1024);
    }
    plan->work_group = wg;
    plan->lanes = wg < 16 ? wg : 16;
    plan->block_t = bt;
    plan->stage_query = stage;
    plan->local_mem_bytes = clattn__additive_local_bytes(wg, bt, stage, A);
    return CLATTN_SUCCESS;
}

void clattn__additive_options(const clattn_additive_plan *plan, char *buf, size_t len) {
    if (plan->flavour == CLATTN_FLAVOUR_CPU)
        snprintf(buf, len, "-DADDITIVE_CPU");
    else
        snprintf(buf, len, "-DWG=%lld -DLANES=%lld -DBLOCK_T=%lld -DSTAGE_Q=%d",
                 (long long)plan->work_group, (long long)plan->lanes, (long long)plan->block_t,
                 plan->stage_query);
}
