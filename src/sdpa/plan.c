/* plan.c: the SDPA planner (see plan.h). Pure arithmetic on the device caps and the
 * problem: which algorithm and kernel flavour, which tiles, how many work-items, how much local
 * and scratch memory. Kept free of OpenCL calls so it can be tested on device profiles.
 *
 * GPU-flavour tiles follow the FlashAttention rule, Bc = ceil(M / 4d) and Br = min(Bc, d) with M
 * the local memory in floats and d the (bucketed) head dimension, then are bounded by the
 * work-group limit and shrunk until the family's local-memory function fits. */
#include "sdpa/plan.h"
#include "sdpa/plan_cpu.h"
#include "sdpa/staging.h"

#include <stdarg.h>
#include <stdio.h>

/* Largest key block the GPU kernels are built for: larger tiles only add padding work on short
 * sequences and private/local pressure without more reuse. */
#define GPU_MAX_BLOCK_KV 128
/* Work-items a GPU work-group aims for: enough to hide latency on every profiled GPU without
 * exceeding the 256 that AMD and small Intel parts allow. */
#define GPU_TARGET_WG 256

static clattn_status failf(char *why, size_t len, clattn_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static clattn_status failf(char *why, size_t len, clattn_status st, const char *fmt, ...) {
    if (why && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return st;
}

static const char *algo_name(clattn_algo a) {
    switch (a) {
    case CLATTN_ALGO_NAIVE:
        return "naive";
    case CLATTN_ALGO_FLASH1:
        return "flash1";
    case CLATTN_ALGO_FLASH2:
        return "flash2";
    case CLATTN_ALGO_DECODE:
        return "decode";
    default:
        return "auto";
    }
}

int64_t clattn__gpu_dim_cap(int64_t d) {
    static const int64_t caps[] = {32, 64, 128, 192, 256};
    for (int i = 0; i < 5; i++)
        if (d <= caps[i]) return caps[i];
    return -1;
}

/* Q tile (Br x dcap), K tile (Bc x (dcap + 1): the odd row pitch keeps lanes that read different
 * keys in different local-memory banks), V tile (Bc x dvcap) and the score/probability tile
 * (Br x Bc). Both families stage the same tiles; they differ in where O, l and m live. */
static int64_t tile_floats(int64_t br, int64_t bc, int64_t dcap, int64_t dvcap) {
    return br * dcap + bc * (dcap + 1) + bc * dvcap + br * bc;
}

/* The tiles hold ACC_T (float) whatever the storage type. */
int64_t clattn__flash2_gpu_local_bytes(int64_t br, int64_t bc, int64_t dcap, int64_t dvcap) {
    return CLATTN_ACC_BYTES * tile_floats(br, bc, dcap, dvcap);
}

int64_t clattn__flash1_gpu_local_bytes(int64_t br, int64_t bc, int64_t dcap, int64_t dvcap) {
    return CLATTN_ACC_BYTES * tile_floats(br, bc, dcap, dvcap);
}

int64_t clattn__gpu_threads_per_row(int64_t br, int64_t max_wg) {
    int64_t limit = max_wg < GPU_TARGET_WG ? max_wg : GPU_TARGET_WG;
    int64_t tpr = 16;
    while (tpr > 1 && br * tpr > limit) tpr /= 2;
    return tpr;
}

int64_t clattn__softmax_work_group(const clattn_device_caps *caps) {
    int64_t wg = 1;
    while (wg * 2 <= GPU_TARGET_WG && wg * 2 <= caps->max_work_group_size) wg *= 2;
    return wg;
}

static int64_t cdiv(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/* Fills a GPU-flavour plan for tiles (br, bc); returns 0 if it fits the limits. */
static int gpu_fill(const clattn_device_caps *caps, int64_t max_wg, int64_t local_budget,
                    const clattn_sdpa_problem *p, clattn_algo algo, int64_t br, int64_t bc,
                    clattn_sdpa_plan *plan) {
    const int64_t dcap = clattn__gpu_dim_cap(p->D), dvcap = clattn__gpu_dim_cap(p->Dv);
    if (br < 1 || bc < 1 || br > max_wg) return 1;
    const int64_t tpr = clattn__gpu_threads_per_row(br, max_wg);
    if (bc > local_budget / CLATTN_ACC_BYTES) {
        /* A forced block_kv (unchecked from the caller) longer than the local memory holds in
         * floats cannot fit; refused before the tile products, which it could overflow. The
         * need is reported in double, saturated. */
        const double need =
            (double)CLATTN_ACC_BYTES * ((double)br * dcap + (double)bc * (dcap + 1 + dvcap + br));
        plan->block_q = br, plan->block_kv = bc, plan->work_group = br * tpr;
        plan->local_mem_bytes = need < 9.2e18 ? (int64_t)need : INT64_MAX;
        return 1;
    }
    plan->algo = algo;
    plan->flavour = CLATTN_FLAVOUR_GPU;
    plan->block_q = br;
    plan->block_kv = bc;
    plan->work_group = br * tpr;
    plan->local_mem_bytes = algo == CLATTN_ALGO_FLASH1
                                ? clattn__flash1_gpu_local_bytes(br, bc, dcap, dvcap)
                                : clattn__flash2_gpu_local_bytes(br, bc, dcap, dvcap);
    const int64_t nqb = cdiv(p->Sq, br), heads = p->B * p->Hq;
    if (algo == CLATTN_ALGO_FLASH1) {
        /* FlashAttention-1 walks K/V in its outer loop; to give a GPU enough work-groups the
         * query blocks of each head are split into chunks, each walking all of K/V once. */
        int64_t chunks =
            cdiv(4 * (int64_t)(caps->compute_units > 0 ? caps->compute_units : 1), heads);
        if (chunks > nqb) chunks = nqb;
        if (chunks < 1) chunks = 1;
        chunks = cdiv(nqb, cdiv(nqb, chunks));
        const int64_t items[3] = {chunks, heads, plan->work_group};
        if (clattn__prod64(items, 3, &plan->global_size[0])) return 1;
        plan->scratch_bytes = clattn__sdpa_flash1_state_bytes(p);
    } else {
        const int64_t items[3] = {nqb, heads, plan->work_group};
        if (clattn__prod64(items, 3, &plan->global_size[0])) return 1;
        plan->scratch_bytes = 0;
    }
    plan->global_size[1] = 1;
    return plan->local_mem_bytes > local_budget || plan->work_group > max_wg;
}

/* Next smaller tile: key block first (it sizes K, V and P), query block as Br = min(Br, Bc). */
static void shrink_tiles(int64_t *br, int64_t *bc) {
    if (*bc > 16)
        *bc -= 8;
    else
        *bc -= 1;
    if (*br > *bc) *br = *bc;
}

static clattn_status gpu_plan(const clattn_device_caps *caps, int64_t max_wg, int64_t budget,
                              const clattn_sdpa_problem *p, clattn_algo algo,
                              const clattn_sdpa_request *req, clattn_sdpa_plan *plan, char *why,
                              size_t len) {
    const int64_t dcap = clattn__gpu_dim_cap(p->D), dvcap = clattn__gpu_dim_cap(p->Dv);
    if (dcap < 0 || dvcap < 0)
        return failf(why, len, CLATTN_ERROR_UNSUPPORTED,
                     "head dims D=%lld, Dv=%lld: the GPU kernels support 1..256", (long long)p->D,
                     (long long)p->Dv);
    if (req->block_q > 0 || req->block_kv > 0) {
        int64_t bq = req->block_q, bkv = req->block_kv;
        if (bq <= 0 || bkv <= 0) { /* forced on one side only: the other as chosen */
            const clattn_sdpa_request free_req = {algo, CLATTN_FLAVOUR_GPU, 0, 0, 0};
            clattn_status st = gpu_plan(caps, max_wg, budget, p, algo, &free_req, plan, why, len);
            if (st != CLATTN_SUCCESS) return st;
            if (bq <= 0) bq = plan->block_q;
            if (bkv <= 0) bkv = plan->block_kv;
        }
        if (gpu_fill(caps, max_wg, budget, p, algo, bq, bkv, plan))
            return failf(why, len, CLATTN_ERROR_UNSUPPORTED,
                         "%s GPU tile %lldx%lld needs %lld bytes of local memory and %lld "
                         "work-items; the device allows %lld bytes and %lld work-items",
                         algo_name(algo), (long long)bq, (long long)bkv,
                         (long long)plan->local_mem_bytes, (long long)plan->work_group,
                         (long long)budget, (long long)max_wg);
        return CLATTN_SUCCESS;
    }
    const int64_t m = budget / CLATTN_ACC_BYTES, d = dcap > dvcap ? dcap : dvcap;
    int64_t bc = cdiv(m, 4 * d);
    if (bc > GPU_MAX_BLOCK_KV) bc = GPU_MAX_BLOCK_KV;
    if (bc > 16) bc -= bc % 8;
    int64_t br = bc < d ? bc : d;
    if (br > max_wg) br = max_wg;
    while (bc >= 1 && br >= 1) {
        if (!gpu_fill(caps, max_wg, budget, p, algo, br, bc, plan)) return CLATTN_SUCCESS;
        shrink_tiles(&br, &bc);
    }
    return failf(why, len, CLATTN_ERROR_UNSUPPORTED,
                 "%s GPU kernel: even a 1x1 tile with head dims D=%lld, Dv=%lld (built for "
                 "%lld/%lld) needs %lld bytes of local memory; the device has %lld",
                 algo_name(algo), (long long)p->D, (long long)p->Dv, (long long)dcap,
                 (long long)dvcap, (long long)clattn__flash2_gpu_local_bytes(1, 1, dcap, dvcap),
                 (long long)budget);
}

int64_t clattn__sdpa_flash1_state_bytes(const clattn_sdpa_problem *p) {
    const int64_t f[4] = {2 * CLATTN_ACC_BYTES, p->B, p->Hq, p->Sq};
    int64_t bytes;
    return clattn__prod64(f, 4, &bytes) ? INT64_MAX : bytes; /* INT64_MAX: cannot be allocated */
}

int64_t clattn__sdpa_naive_scores_bytes(const clattn_sdpa_problem *p) {
    const int64_t f[4] = {p->B * p->Hq, p->Sq, p->Skv, CLATTN_ACC_BYTES};
    int64_t bytes;
    return clattn__prod64(f, 4, &bytes) ? INT64_MAX : bytes;
}

static clattn_status naive_plan(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                                clattn_sdpa_plan *plan, char *why, size_t len) {
    const int64_t s_bytes = clattn__sdpa_naive_scores_bytes(p);
    if (s_bytes == INT64_MAX)
        return failf(why, len, CLATTN_ERROR_OVERFLOW,
                     "naive attention: the score matrix S of %lld x %lld x %lld floats "
                     "overflows int64",
                     (long long)(p->B * p->Hq), (long long)p->Sq, (long long)p->Skv);
    const int64_t limit = caps->max_alloc_bytes < caps->global_mem_bytes ? caps->max_alloc_bytes
                                                                         : caps->global_mem_bytes;
    if (s_bytes > limit)
        return failf(why, len, CLATTN_ERROR_OUT_OF_MEMORY,
                     "naive attention needs %lld bytes for S (B*Hq*Sq*Skv floats); the device "
                     "allows one allocation of %lld bytes (global memory %lld): use flash2",
                     (long long)s_bytes, (long long)caps->max_alloc_bytes,
                     (long long)caps->global_mem_bytes);
    const int64_t wg = clattn__softmax_work_group(caps);
    plan->algo = CLATTN_ALGO_NAIVE;
    plan->flavour =
        caps->local_mem_type == CLATTN_LOCAL_MEM_GLOBAL ? CLATTN_FLAVOUR_CPU : CLATTN_FLAVOUR_GPU;
    plan->block_q = plan->block_kv = 0;
    plan->work_group = wg;
    plan->local_mem_bytes = CLATTN_ACC_BYTES * wg; /* the softmax reduction scratch */
    plan->scratch_bytes = s_bytes;
    plan->global_size[0] = p->B * p->Hq * p->Sq * wg;
    plan->global_size[1] = 1;
    return CLATTN_SUCCESS;
}

static clattn_status cpu_plan(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                              clattn_algo algo, const clattn_sdpa_request *req,
                              clattn_sdpa_plan *plan, char *why, size_t len) {
    int64_t bq = req->block_q, bkv = req->block_kv, auto_q, auto_kv;
    if ((bq > 0 || bkv > 0) && !clattn__sdpa_cpu_valid_tiles(algo, p->D, p->Dv, bq, bkv))
        return failf(why, len, CLATTN_ERROR_UNSUPPORTED,
                     "%s CPU kernel has no tile block_q=%lld block_kv=%lld (0: the dispatcher's "
                     "choice); it takes block_q 8, 16, 24, 32 or 64 and block_kv a multiple of "
                     "8 up to %d",
                     algo_name(algo), (long long)bq, (long long)bkv, CLATTN_CPU_MAX_BLOCK_KV);
    clattn__sdpa_cpu_tiles(algo, caps->preferred_vector_width_float, p->D, p->Dv, p->Sq, p->Skv,
                           clattn__sdpa_key_ranges(p), &auto_q, &auto_kv);
    /* Narrow K/V widened in tiles weigh less with more rows per work-group; staged in float32
     * copies, they run the float32 tile. */
    if (p->kv_dtype != CLATTN_DTYPE_F32 &&
        !(algo == CLATTN_ALGO_FLASH2 && clattn__cpu_stage_kv(caps, p)))
        auto_q = clattn__cpu_narrow_kv_block_q(caps->preferred_vector_width_float, p->Sq * p->group,
                                               auto_q);
    if (bq <= 0) bq = auto_q; /* a tile forced on one side only keeps the other's choice */
    if (bkv <= 0) bkv = auto_kv;
    plan->algo = algo;
    plan->flavour = CLATTN_FLAVOUR_CPU;
    plan->block_q = bq;
    plan->block_kv = bkv;
    plan->work_group = 1;
    plan->local_mem_bytes = 0;
    plan->scratch_bytes = algo == CLATTN_ALGO_FLASH1 ? clattn__sdpa_flash1_state_bytes(p) : 0;
    clattn__sdpa_cpu_global_size(p, bq, plan->global_size);
    return CLATTN_SUCCESS;
}

/* Adds to plan->scratch_bytes the float32 copies its path makes of p's narrow tensors
 * (staging.h), or refuses with OUT_OF_MEMORY when a copy exceeds the device's largest allocation
 * or the scratch its global memory. */
static clattn_status add_staging(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                                 clattn_sdpa_plan *plan, char *why, size_t len) {
    int64_t largest = 0;
    const int64_t bytes =
        clattn__sdpa_staging_bytes(p, clattn__sdpa_stage_set(caps, p, plan), &largest);
    if (bytes == 0) return CLATTN_SUCCESS;
    const int64_t total =
        bytes > INT64_MAX - plan->scratch_bytes ? INT64_MAX : plan->scratch_bytes + bytes;
    if (largest > caps->max_alloc_bytes || total > caps->global_mem_bytes)
        return failf(why, len, CLATTN_ERROR_OUT_OF_MEMORY,
                     "%s attention runs on float32 copies of its float16/bfloat16 tensors: "
                     "%lld bytes (the largest copy %lld) besides %lld bytes of other scratch; the "
                     "device allows one allocation of %lld bytes and has %lld of global memory "
                     "(flash2 needs none)",
                     algo_name(plan->algo), (long long)bytes, (long long)largest,
                     (long long)plan->scratch_bytes, (long long)caps->max_alloc_bytes,
                     (long long)caps->global_mem_bytes);
    plan->scratch_bytes = total;
    return CLATTN_SUCCESS;
}

clattn_status clattn__sdpa_dispatch(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                                    const clattn_sdpa_request *req, clattn_sdpa_plan *plan,
                                    char *why, size_t why_len) {
    clattn_sdpa_plan out = {0};
    clattn_algo algo = req->algo;
    /* auto is always flash2. Measured with `clattn bench` (PoCL, 2 cores, B=1, H=8, d=64; see
     * bench/README.md), naive never wins, even where S is small:
     *     N      naive GFLOP/s   flash2 GFLOP/s (CPU flavour)
     *     512         7.3            151.7
     *     2048        8.4            267.4
     * (CLBlast's untuned SGEMM reaches 13 GFLOP/s at 2048^3 on this PoCL). No GPU was at hand
     * to measure; flash2 is the GPU choice by the FlashAttention-2 paper's own figures. */
    const int auto_algo = algo == CLATTN_ALGO_AUTO;
    if (auto_algo) algo = CLATTN_ALGO_FLASH2;
    if (algo != CLATTN_ALGO_NAIVE && algo != CLATTN_ALGO_FLASH1 && algo != CLATTN_ALGO_FLASH2 &&
        algo != CLATTN_ALGO_DECODE)
        return failf(why, why_len, CLATTN_ERROR_INVALID_ARGUMENT, "unknown algorithm %d",
                     (int)req->algo);
    clattn_flavour fl = req->flavour;
    if (fl == CLATTN_FLAVOUR_AUTO)
        fl = caps->local_mem_type == CLATTN_LOCAL_MEM_GLOBAL ? CLATTN_FLAVOUR_CPU
                                                             : CLATTN_FLAVOUR_GPU;
    if (fl != CLATTN_FLAVOUR_GPU && fl != CLATTN_FLAVOUR_CPU)
        return failf(why, why_len, CLATTN_ERROR_INVALID_ARGUMENT, "unknown kernel flavour %d",
                     (int)req->flavour);
    clattn_status st;
    /* Few query rows per kv head (a decode step): the prefill kernels parallelise over query
     * blocks and would leave most compute units idle, so AUTO takes the split-KV path when its
     * kernels hold the rows, unless tiles were forced for another algorithm. */
    if (auto_algo && req->block_q == 0 && req->block_kv == 0 &&
        clattn__decode_rows_cap(p->Sq * p->group) > 0 &&
        clattn__sdpa_decode_plan(caps, p, fl, req->splits, &out, why, why_len) == CLATTN_SUCCESS) {
        *plan = out;
        return CLATTN_SUCCESS;
    }
    if (algo == CLATTN_ALGO_DECODE && (req->block_q > 0 || req->block_kv > 0))
        return failf(why, why_len, CLATTN_ERROR_UNSUPPORTED,
                     "decode has no block_q/block_kv to force (its rows and splits follow the "
                     "problem); force the number of splits with decode_splits");
    if (algo == CLATTN_ALGO_DECODE)
        st = clattn__sdpa_decode_plan(caps, p, fl, req->splits, &out, why, why_len);
    else if (algo == CLATTN_ALGO_NAIVE)
        st = naive_plan(caps, p, &out, why, why_len);
    else if (fl == CLATTN_FLAVOUR_CPU)
        st = cpu_plan(caps, p, algo, req, &out, why, why_len);
    else
        st = gpu_plan(caps, caps->max_work_group_size, caps->local_mem_bytes, p, algo, req, &out,
                      why, why_len);
    if (st == CLATTN_SUCCESS) st = add_staging(caps, p, &out, why, why_len);
    if (st == CLATTN_SUCCESS) *plan = out;
    return st;
}

clattn_status clattn__sdpa_gpu_shrink(const clattn_device_caps *caps, const clattn_sdpa_problem *p,
                                      const clattn_sdpa_plan *plan, int64_t max_wg,
                                      clattn_sdpa_plan *smaller, char *why, size_t why_len) {
    const clattn_sdpa_request req = {plan->algo, CLATTN_FLAVOUR_GPU, 0, 0, 0};
    if (max_wg > caps->max_work_group_size) max_wg = caps->max_work_group_size;
    /* A work-item limit below the plan (the built kernel's CL_KERNEL_WORK_GROUP_SIZE) is met by
     * fewer rows per group; otherwise the resource that ran out is taken to be local memory. */
    int64_t budget = caps->local_mem_bytes;
    if (plan->work_group <= max_wg) budget = plan->local_mem_bytes - 1;
    clattn_sdpa_plan out = {0};
    clattn_status st = gpu_plan(caps, max_wg, budget, p, plan->algo, &req, &out, why, why_len);
    if (st != CLATTN_SUCCESS) return st;
    if (out.block_q == plan->block_q && out.block_kv == plan->block_kv &&
        out.work_group == plan->work_group)
        return failf(why, why_len, CLATTN_ERROR_UNSUPPORTED,
                     "%s GPU kernel: no tile smaller than %lldx%lld fits", algo_name(plan->algo),
                     (long long)plan->block_q, (long long)plan->block_kv);
    *smaller = out;
    return CLATTN_SUCCESS;
}
