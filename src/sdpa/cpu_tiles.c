/* cpu_tiles.c: the CPU-flavour kernels' (cl/flash_cpu.cl) tile measurements and the tile policy
 * drawn from them, as data (types in cpu_tiles.h). clattn__sdpa_cpu_tiles reads the policy;
 * tests/test_tuning_tables.c checks it against the measurements. */
#include "sdpa/cpu_tiles.h"

#include "sdpa/plan_cpu.h"

#include <stdint.h>

#define F1 CLATTN_ALGO_FLASH1
#define F2 CLATTN_ALGO_FLASH2

/* Method. This project's PoCL 3.1 device (2-core AMD EPYC, AVX-512, so the kernels use 16-wide
 * lanes for block_q >= 16), through clattn_sdpa, B=1, H=8, N=2048 unless a row says otherwise,
 * medians of 5 runs. The machine is shared, so the figure is FLOPs per second of the process's
 * CPU time (4*B*H*N*N*D / cpu-seconds: "per core"), which other load does not distort the way
 * wall-clock rates are; an idle machine gives about twice it in wall-clock GFLOP/s. D=256 has no
 * block_kv 16 figure. flash1 is slower at every tile because each outer step (one launch)
 * re-reads Q and reads and writes O, m and l. */
const clattn_cpu_tile_run clattn__cpu_tile_runs[] = {
    /* clang-format off */
    /* algo D  causal heads Sq   Skv  block_q block_kv GFLOP/s per core */
    {F2,  64, 0, 8, 2048, 2048,  8,  16,  74}, {F2,  64, 0, 8, 2048, 2048,  8,  32,  83},
    {F2,  64, 0, 8, 2048, 2048,  8,  64,  86}, {F2,  64, 0, 8, 2048, 2048,  8, 128,  86},
    {F2,  64, 0, 8, 2048, 2048, 16,  16, 152}, {F2,  64, 0, 8, 2048, 2048, 16,  32, 156},
    {F2,  64, 0, 8, 2048, 2048, 16,  64, 162}, {F2,  64, 0, 8, 2048, 2048, 16, 128, 161},
    {F2,  64, 0, 8, 2048, 2048, 32,  16, 195}, {F2,  64, 0, 8, 2048, 2048, 32,  32, 198},
    {F2,  64, 0, 8, 2048, 2048, 32,  64, 202}, {F2,  64, 0, 8, 2048, 2048, 32, 128, 204},
    {F2,  64, 0, 8, 2048, 2048, 64,  16, 199}, {F2,  64, 0, 8, 2048, 2048, 64,  32, 205},
    {F2,  64, 0, 8, 2048, 2048, 64,  64, 205}, {F2,  64, 0, 8, 2048, 2048, 64, 128, 207},
    {F2, 128, 0, 8, 2048, 2048, 16,  16, 145}, {F2, 128, 0, 8, 2048, 2048, 16,  32, 160},
    {F2, 128, 0, 8, 2048, 2048, 16,  64, 168}, {F2, 128, 0, 8, 2048, 2048, 16, 128, 147},
    {F2, 128, 0, 8, 2048, 2048, 32,  16, 171}, {F2, 128, 0, 8, 2048, 2048, 32,  32, 166},
    {F2, 128, 0, 8, 2048, 2048, 32,  64, 175}, {F2, 128, 0, 8, 2048, 2048, 32, 128, 178},
    {F2, 128, 0, 8, 2048, 2048, 64,  16, 169}, {F2, 128, 0, 8, 2048, 2048, 64,  32, 175},
    {F2, 128, 0, 8, 2048, 2048, 64,  64, 183}, {F2, 128, 0, 8, 2048, 2048, 64, 128, 183},
    {F2, 256, 0, 8, 2048, 2048, 16,  32, 135}, {F2, 256, 0, 8, 2048, 2048, 16,  64, 155},
    {F2, 256, 0, 8, 2048, 2048, 16, 128, 160},
    {F2, 256, 0, 8, 2048, 2048, 32,  32, 196}, {F2, 256, 0, 8, 2048, 2048, 32,  64, 199},
    {F2, 256, 0, 8, 2048, 2048, 32, 128, 199},
    {F2, 256, 0, 8, 2048, 2048, 64,  32, 189}, {F2, 256, 0, 8, 2048, 2048, 64,  64, 201},
    {F2, 256, 0, 8, 2048, 2048, 64, 128, 197},
    {F2,  64, 1, 8, 2048, 2048, 32,  32, 168}, {F2,  64, 1, 8, 2048, 2048, 64,  32, 165},
    {F2,  64, 1, 8, 2048, 2048, 32,  64, 172}, {F2,  64, 1, 8, 2048, 2048, 64,  64, 172},
    {F2,  64, 1, 8, 2048, 2048, 32, 128, 162}, {F2,  64, 1, 8, 2048, 2048, 64, 128, 173},
    /* few query rows: idle lanes cost as much as busy ones */
    {F2,  64, 1, 8,   16, 4096,  8,  64,  34}, {F2,  64, 1, 8,   16, 4096, 16,  64,  86},
    {F2,  64, 1, 8,   16, 4096, 32,  64,  57},
    {F1,  64, 0, 8, 2048, 2048, 32,  32,  45}, {F1,  64, 0, 8, 2048, 2048, 32,  64,  66},
    {F1,  64, 0, 8, 2048, 2048, 32, 128,  86}, {F1,  64, 0, 8, 2048, 2048, 64, 128, 106},
    /* clang-format on */
};
const size_t clattn__cpu_tile_runs_count =
    sizeof clattn__cpu_tile_runs / sizeof *clattn__cpu_tile_runs;

/* Method: same device and harness, flash2 with block_kv 64, but on the idle machine and in
 * wall-clock GFLOP/s. Once K and V of a head pass 16 MiB (N=32768 at D=64) every work-group
 * streams them from memory, and 64 query rows halve that traffic per FLOP; below that (the two
 * 8-head rows) 32 and 64 are within 2%. */
const clattn_cpu_tile_run clattn__cpu_long_runs[] = {
    /* clang-format off */
    /* algo D  causal heads Sq     Skv    block_q block_kv wall-clock GFLOP/s */
    {F2,  64, 0, 1, 32768, 32768, 32, 64, 231}, {F2,  64, 0, 1, 32768, 32768, 64, 64, 293},
    {F2, 128, 0, 1, 32768, 32768, 32, 64, 197}, {F2, 128, 0, 1, 32768, 32768, 64, 64, 359},
    {F2,  64, 0, 1, 65536, 65536, 32, 64, 223}, {F2,  64, 0, 1, 65536, 65536, 64, 64, 278},
    {F2,  64, 1, 1, 65536, 65536, 32, 64, 192}, {F2,  64, 1, 1, 65536, 65536, 64, 64, 244},
    {F2,  64, 0, 8, 16384, 16384, 32, 64, 384}, {F2,  64, 0, 8, 16384, 16384, 64, 64, 388},
    {F2,  64, 1, 8,  2048,  2048, 32, 64, 381}, {F2,  64, 1, 8,  2048,  2048, 64, 64, 374},
    /* clang-format on */
};
const size_t clattn__cpu_long_runs_count =
    sizeof clattn__cpu_long_runs / sizeof *clattn__cpu_long_runs;

#undef F1
#undef F2

/* The policy. block_q = 32 once a work-group's rows fill two 16-wide vectors (64 is within 1-5%,
 * the noise, and wastes more lanes and causal work on short or ragged sequences), and 64 once K
 * and V stream (the long runs). Fewer query rows than 32 get the smallest block that holds them
 * (Sq = 16: 16 beats 32 by 1.5x). block_kv = 64 for flash2 (flat from 32 to 128); flash1 takes
 * the largest block the kernels hold, because every outer step is one launch. */
static const clattn_cpu_block_q_rule block_q_rules[] = {
    /* clang-format off */
    /* sq_min     sq_max     streaming_only block_q */
    {INT64_MIN,  8,         0,              8},
    {9,          16,        0,             16},
    {64,         INT64_MAX, 1,             64},
    {17,         INT64_MAX, 0,             32},
    /* clang-format on */
};

static const clattn_cpu_block_kv_rule block_kv_rules[] = {
    {CLATTN_ALGO_FLASH2, 64},
    {CLATTN_ALGO_FLASH1, CLATTN_CPU_MAX_BLOCK_KV},
};

const clattn_cpu_tile_policy clattn__cpu_tile_policy = {
    .kv_stream_bytes = 16 << 20,
    .block_q = block_q_rules,
    .n_block_q = sizeof block_q_rules / sizeof *block_q_rules,
    .block_kv = block_kv_rules,
    .n_block_kv = sizeof block_kv_rules / sizeof *block_kv_rules,
};
