/* cpu_tiles.h: the CPU-flavour tile tables as data: the measurements (cpu_tiles.c) and the policy
 * clattn__sdpa_cpu_tiles (plan_cpu.c) reads. tests/test_tuning_tables.c holds the policy against
 * the measurements. */
#ifndef CLATTN_CPU_TILES_H
#define CLATTN_CPU_TILES_H

#include "sdpa/sdpa_internal.h"

#include <stddef.h>

/* One measured run of a CPU-flavour kernel with a forced tile (method: see cpu_tiles.c). */
typedef struct {
    clattn_algo algo;
    int64_t D; /* D = Dv */
    int causal;
    int64_t heads, Sq, Skv; /* B = 1, Hq = Hkv = heads */
    int64_t block_q, block_kv;
    double gflops; /* per core (CPU time) in the tile table; wall-clock in the long table */
} clattn_cpu_tile_run;

/* One table of measured runs. */
typedef struct {
    const char *name;
    const clattn_cpu_tile_run *runs;
    size_t n;
} clattn_cpu_tile_table;

/* Which problems a block_q rule serves, by the keys their query rows see. The split exists because
 * a work-group's diagonal blocks compute masked scores in proportion to its rows, so where rows
 * see different key ranges (a causal mask or a window) smaller blocks waste less. */
typedef enum {
    CLATTN_CPU_ANY_KEYS = 0,  /* every problem */
    CLATTN_CPU_SAME_KEYS = 1, /* every row sees the same keys: no causal mask, no window */
    CLATTN_CPU_KEY_RANGES = 2 /* rows see different key ranges: a causal mask or a window */
} clattn_cpu_rule_keys;

/* block_q rule: the first row whose [sq_min, sq_max] holds Sq, whose skv_max Skv does not pass,
 * that is not streaming_only or finds K and V streaming, and whose `keys` is CLATTN_CPU_ANY_KEYS
 * or matches the problem, gives block_q. */
typedef struct {
    int64_t sq_min, sq_max;
    int64_t skv_max;
    int streaming_only;
    clattn_cpu_rule_keys keys;
    int64_t block_q;
} clattn_cpu_block_q_rule;

typedef struct {
    clattn_algo algo;
    int64_t block_kv;
} clattn_cpu_block_kv_rule;

/* The tile policy for devices of one preferred float vector width, with the measurements it was
 * drawn from. */
typedef struct {
    int lanes; /* serves devices whose preferred float vector width is this (16) or below it (8) */
    const char *host; /* the host its tables were measured on */
    /* Vector accumulators the register-blocked loops may keep live (clattn__cpu_reg_block); the
     * other registers hold the query vectors and the broadcast: 16 of AVX-512's 32, 12 of AVX2's
     * 16 (block_q 24: 3 query vectors and 1 broadcast besides). */
    int accumulators;
    const clattn_cpu_tile_table *tables;
    size_t n_tables;
    /* How far apart two runs of one tile came on the host while measuring: the policy's tile
     * must be within this fraction of the best measured tile (test_tuning_tables). */
    double noise;
    /* K and V of one kv head (4 * (D + Dv) bytes a key) at or above this many bytes stream from
     * memory rather than cache */
    int64_t kv_stream_bytes;
    const clattn_cpu_block_q_rule *block_q;
    size_t n_block_q;
    const clattn_cpu_block_kv_rule *block_kv; /* the first row serves any algo not listed */
    size_t n_block_kv;
    /* float16/bfloat16 K/V are widened into float tiles once per work-group and K/V block, so
     * the fewer rows a work-group has, the more the widening weighs: with narrow K/V the
     * block_q rules' choice is raised to this (0: not) where Sq * group fills it. */
    int64_t narrow_kv_block_q;
    /* float32 K/V whose rows are not packed (seq stride > dim) run from contiguous copies
     * (plan_cpu.h's clattn__cpu_stage_kv) from stage_f32_rows query rows per kv head, or from
     * stage_f32_wide_rows where keys lie at least stage_f32_wide_stride bytes apart. */
    int64_t stage_f32_rows, stage_f32_wide_rows, stage_f32_wide_stride;
} clattn_cpu_tile_policy;

/* Widest first; clattn__cpu_tile_policy_for picks the first whose lanes the device reaches. */
extern const clattn_cpu_tile_policy clattn__cpu_tile_policies[];
extern const size_t clattn__cpu_tile_policies_count;

const clattn_cpu_tile_policy *clattn__cpu_tile_policy_for(int preferred_vector_width_float);

#endif /* CLATTN_CPU_TILES_H */
