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

/* Loaded machine, B=1 H=8, GFLOP/s per core of CPU time: the block_q x block_kv grid by D, and
 * the decode-like Sq=16 and flash1 rows. */
extern const clattn_cpu_tile_run clattn__cpu_tile_runs[];
extern const size_t clattn__cpu_tile_runs_count;
/* Idle machine, wall-clock GFLOP/s: block_q 32 against 64 where K and V of a head do and do not
 * stream from memory. */
extern const clattn_cpu_tile_run clattn__cpu_long_runs[];
extern const size_t clattn__cpu_long_runs_count;

/* block_q rule: the first row whose [sq_min, sq_max] holds Sq, and that is not streaming_only
 * or finds K and V streaming, gives block_q. */
typedef struct {
    int64_t sq_min, sq_max;
    int streaming_only;
    int64_t block_q;
} clattn_cpu_block_q_rule;

typedef struct {
    clattn_algo algo;
    int64_t block_kv;
} clattn_cpu_block_kv_rule;

typedef struct {
    /* K and V of one kv head (4 * (D + Dv) bytes a key) at or above this many bytes stream from
     * memory rather than cache */
    int64_t kv_stream_bytes;
    const clattn_cpu_block_q_rule *block_q;
    size_t n_block_q;
    const clattn_cpu_block_kv_rule *block_kv; /* the first row serves any algo not listed */
    size_t n_block_kv;
} clattn_cpu_tile_policy;

extern const clattn_cpu_tile_policy clattn__cpu_tile_policy;

#endif /* CLATTN_CPU_TILES_H */
