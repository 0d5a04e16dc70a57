/* plan_cpu.h: tile choice for the CPU-flavour FlashAttention kernels (cl/flash_cpu.cl), for
 * devices whose local memory is emulated in global memory (PoCL). Pure functions, no OpenCL
 * calls, so the dispatcher and its tests use them without a device. The launcher is
 * src/sdpa/launch_flash_cpu.c. */
#ifndef CLATTN_DISPATCH_CPU_H
#define CLATTN_DISPATCH_CPU_H

#include "sdpa/sdpa_internal.h"

/* Largest block_kv the kernels are compiled for (the BC capacity of the private score tile). */
#define CLATTN_CPU_MAX_BLOCK_KV 128

/* block_q for a problem whose K/V storage is narrow (float16, bfloat16): the policy's
 * narrow_kv_block_q where it exceeds the f32 choice `block_q` and rows (Sq * group) fill it. */
int64_t clattn__cpu_narrow_kv_block_q(int preferred_vector_width_float, int64_t rows,
                                      int64_t block_q);

/* Whether p's query rows see different key ranges (a causal mask or a window), for the tile
 * policy's rules by keys (clattn_cpu_rule_keys). Per-sequence lengths do not count: every row of an
 * entry sees its keys. */
static inline int clattn__sdpa_key_ranges(const clattn_sdpa_problem *p) {
    return p->causal || p->window;
}

/* The measured-best (block_q, block_kv) for algo (CLATTN_ALGO_FLASH1 or _FLASH2) on a problem of
 * head dims D, Dv and lengths Sq, Skv, whose rows see different key ranges (a causal mask or a
 * window: key_ranges nonzero) or all the same keys, on a device preferring
 * `preferred_vector_width_float`-wide floats: the policy of cpu_tiles.c for that lane width. */
void clattn__sdpa_cpu_tiles(clattn_algo algo, int preferred_vector_width_float, int64_t D,
                            int64_t Dv, int64_t Sq, int64_t Skv, int key_ranges, int64_t *block_q,
                            int64_t *block_kv);

/* Query blocks per kv head from which flash2 runs on float32 copies of narrow K/V (see
 * clattn__cpu_stage_kv), and the share of the device's global memory the copies may take. */
#define CLATTN_CPU_STAGE_KV_MIN_BLOCKS 8
#define CLATTN_CPU_STAGE_KV_MEM_SHARE  8 /* 1/8 */
/* 1 when flash2 of the CPU flavour should run on contiguous float32 copies of K and V, made by
 * one pass (cl/convert.cl's widen) before the kernel:
 *  - narrow (float16, bfloat16) K/V: the pass converts each element once, the kernel's tiles
 *    once per query block, so the copies pay from a few query blocks per kv head
 *    (CLATTN_CPU_STAGE_KV_MIN_BLOCKS of the float32 tile's block_q) on;
 *  - float32 K/V whose rows are not packed (a [B, S, H, D] layout, or the views of a packed
 *    q/k/v projection, as the attention layer's): every query block re-reads the kv head's keys
 *    and values, and keys a power of two of KiB apart share a few cache sets (padding the rows of
 *    a 24 KiB stride by 64 bytes took the strided kernel from 1.21x the contiguous one's time to
 *    1.01x at Sq = Skv = 512, and from 1.18x to 1.12x at 2048, where a page per key remains).
 *    How many query rows per kv head the copies need depends on the host: the tile policy of
 *    the device's lane width says (cpu_tiles.h's stage_f32_*, with the measurements in
 *    cpu_tiles.c).
 * Not for a paged cache's K/V, and not when the copies would take more than one allocation or
 * 1/CLATTN_CPU_STAGE_KV_MEM_SHARE of the global memory: reading in place needs no memory. Pure. */
int clattn__cpu_stage_kv(const clattn_device_caps *caps, const clattn_sdpa_problem *p);

/* 1 when the kernels accept a forced tile: block_q in {8, 16, 24, 32, 64} (24: three 8-lane
 * vectors, the 8-lane policy's block), block_kv a multiple of 8
 * from 8 to CLATTN_CPU_MAX_BLOCK_KV, and D, Dv in 1..256. A block of 0 means "not forced" and is
 * accepted (the caller fills it from clattn__sdpa_cpu_tiles). */
int clattn__sdpa_cpu_valid_tiles(clattn_algo algo, int64_t D, int64_t Dv, int64_t block_q,
                                 int64_t block_kv);

/* The next accepted block_q below block_q (the launcher's fallback when a tile does not build or
 * launch for lack of resources), 0 below the smallest. */
int64_t clattn__cpu_smaller_block_q(int64_t block_q);

/* The NDRange the CPU kernels run: (ceil(Sq * group / block_q), B * Hkv), one work-item per
 * work-group. The `group` query heads sharing a kv head are stacked into a work-group's rows. */
void clattn__sdpa_cpu_global_size(const clattn_sdpa_problem *p, int64_t block_q,
                                  int64_t global_size[2]);

/* Head-dim capacity the kernels are compiled for (DCAP / DVCAP): d rounded up to 16, 32, 64,
 * 128 or 256, so one build serves every d of a bucket. */
int64_t clattn__cpu_dim_cap(int64_t d);

/* Vector lanes the kernels hold query rows in (VW): 16 where the device prefers 16-wide floats
 * (AVX-512) and block_q allows it, else 8. */
int64_t clattn__cpu_vector_width(int preferred_vector_width_float, int64_t block_q);

/* Keys (JB) and value dims (EB) the kernels' loops are register-blocked over, the same for both:
 * the largest power of two, at most 8, that keeps JB x block_q / VW accumulators within the
 * policy's budget (16 of AVX-512's 32 vector registers; 12 of AVX2's 16, which with block_q 24
 * leaves 3 for the query vectors and 1 for the broadcast: cpu_tiles.c). */
int64_t clattn__cpu_reg_block(int preferred_vector_width_float, int64_t block_q);

#endif /* CLATTN_DISPATCH_CPU_H */
