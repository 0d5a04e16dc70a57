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
static const clattn_cpu_tile_run avx512_tile_runs[] = {
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

/* Method: `bench/cpu_tiles.py --interleave` on this project's later AVX-512 host (2-core AMD EPYC,
 * pthread-skylake-avx512, 117 GFLOP/s of FMA per core) with the kernels of 2026-12-01 (transposed
 * Q load and output store, common.cl's 2^x in the softmax): every tile of a problem in one
 * `interleave` process, call by call in rotating order (8 rounds at N=2048 up to 40 at N=256),
 * wall-clock GFLOP/s of the median call, B=1, H=8; the rows are the medians of three such
 * processes a problem (`--passes 3`, 2026-12-01 11:09-11:11 UTC, load 1.3-1.9). Interleaved
 * because this host's speed drifts by 10-20% over seconds. Plain attention gains from 64 query
 * rows (four 16-lane vectors: four broadcasts per sixteen FMAs instead of eight, and four
 * independent softmax chains): A/B against 32 alone, 1.006 at N=256, 1.059 at 512, 1.050 at
 * 1024, 1.047 at 2048 and 1.037 at 4096 (d=64), 1.042 and 1.038 at N=1024 and 2048 (d=128). Causal
 * does not (0.986 at N=1024, 1.027 at 2048, 1.003 at 4096; 64 is the slowest at N <= 1024 here):
 * its diagonal blocks compute more masked scores the more rows they hold, and up to N=1024 16 rows
 * beat 32 (below: 1.006-1.045; in separate 16-against-32 runs of 32-60 rounds 1.020-1.076, d=64 and
 * 128 at N=256, 512 and 1024), while at N=2048 16 and 32 are level. */
static const clattn_cpu_tile_run avx512_interleaved_runs[] = {
    /* clang-format off */
    /* algo D  causal heads Sq   Skv  block_q block_kv wall-clock GFLOP/s */
    {F2,  64, 0, 8, 2048, 2048,  8,  32,  138}, {F2,  64, 0, 8, 2048, 2048,  8,  64,  137},
    {F2,  64, 0, 8, 2048, 2048,  8, 128,  140}, {F2,  64, 0, 8, 2048, 2048, 16,  32,  193},
    {F2,  64, 0, 8, 2048, 2048, 16,  64,  189}, {F2,  64, 0, 8, 2048, 2048, 16, 128,  197},
    {F2,  64, 0, 8, 2048, 2048, 32,  32,  193}, {F2,  64, 0, 8, 2048, 2048, 32,  64,  195},
    {F2,  64, 0, 8, 2048, 2048, 32, 128,  196}, {F2,  64, 0, 8, 2048, 2048, 64,  32,  197},
    {F2,  64, 0, 8, 2048, 2048, 64,  64,  200}, {F2,  64, 0, 8, 2048, 2048, 64, 128,  199},
    {F2,  64, 1, 8, 2048, 2048,  8,  32,  136}, {F2,  64, 1, 8, 2048, 2048,  8,  64,  141},
    {F2,  64, 1, 8, 2048, 2048,  8, 128,  144}, {F2,  64, 1, 8, 2048, 2048, 16,  32,  186},
    {F2,  64, 1, 8, 2048, 2048, 16,  64,  190}, {F2,  64, 1, 8, 2048, 2048, 16, 128,  191},
    {F2,  64, 1, 8, 2048, 2048, 32,  32,  189}, {F2,  64, 1, 8, 2048, 2048, 32,  64,  190},
    {F2,  64, 1, 8, 2048, 2048, 32, 128,  190}, {F2,  64, 1, 8, 2048, 2048, 64,  32,  188},
    {F2,  64, 1, 8, 2048, 2048, 64,  64,  189}, {F2,  64, 1, 8, 2048, 2048, 64, 128,  187},
    {F2, 128, 0, 8, 2048, 2048,  8,  32,  128}, {F2, 128, 0, 8, 2048, 2048,  8,  64,  133},
    {F2, 128, 0, 8, 2048, 2048,  8, 128,  147}, {F2, 128, 0, 8, 2048, 2048, 16,  32,  198},
    {F2, 128, 0, 8, 2048, 2048, 16,  64,  200}, {F2, 128, 0, 8, 2048, 2048, 16, 128,  202},
    {F2, 128, 0, 8, 2048, 2048, 32,  32,  195}, {F2, 128, 0, 8, 2048, 2048, 32,  64,  202},
    {F2, 128, 0, 8, 2048, 2048, 32, 128,  201}, {F2, 128, 0, 8, 2048, 2048, 64,  32,  198},
    {F2, 128, 0, 8, 2048, 2048, 64,  64,  203}, {F2, 128, 0, 8, 2048, 2048, 64, 128,  201},
    {F2, 128, 1, 8, 2048, 2048,  8,  32,  134}, {F2, 128, 1, 8, 2048, 2048,  8,  64,  133},
    {F2, 128, 1, 8, 2048, 2048,  8, 128,  143}, {F2, 128, 1, 8, 2048, 2048, 16,  32,  191},
    {F2, 128, 1, 8, 2048, 2048, 16,  64,  194}, {F2, 128, 1, 8, 2048, 2048, 16, 128,  197},
    {F2, 128, 1, 8, 2048, 2048, 32,  32,  187}, {F2, 128, 1, 8, 2048, 2048, 32,  64,  191},
    {F2, 128, 1, 8, 2048, 2048, 32, 128,  199}, {F2, 128, 1, 8, 2048, 2048, 64,  32,  191},
    {F2, 128, 1, 8, 2048, 2048, 64,  64,  197}, {F2, 128, 1, 8, 2048, 2048, 64, 128,  197},
    {F2,  64, 0, 8,  256,  256,  8,  64,  132}, {F2,  64, 0, 8,  256,  256, 16,  64,  166},
    {F2,  64, 0, 8,  256,  256, 32,  64,  165}, {F2,  64, 0, 8,  256,  256, 64,  64,  169},
    {F2,  64, 0, 8,  512,  512,  8,  64,  143}, {F2,  64, 0, 8,  512,  512, 16,  64,  182},
    {F2,  64, 0, 8,  512,  512, 32,  64,  184}, {F2,  64, 0, 8,  512,  512, 64,  64,  187},
    {F2,  64, 0, 8, 1024, 1024,  8,  64,  147}, {F2,  64, 0, 8, 1024, 1024, 16,  64,  193},
    {F2,  64, 0, 8, 1024, 1024, 32,  64,  193}, {F2,  64, 0, 8, 1024, 1024, 64,  64,  194},
    {F2,  64, 1, 8,  256,  256,  8,  64,   98}, {F2,  64, 1, 8,  256,  256, 16,  64,  117},
    {F2,  64, 1, 8,  256,  256, 32,  64,  112}, {F2,  64, 1, 8,  256,  256, 64,  64,  111},
    {F2,  64, 1, 8,  512,  512,  8,  64,  132}, {F2,  64, 1, 8,  512,  512, 16,  64,  166},
    {F2,  64, 1, 8,  512,  512, 32,  64,  162}, {F2,  64, 1, 8,  512,  512, 64,  64,  157},
    {F2,  64, 1, 8, 1024, 1024,  8,  64,  138}, {F2,  64, 1, 8, 1024, 1024, 16,  64,  176},
    {F2,  64, 1, 8, 1024, 1024, 32,  64,  175}, {F2,  64, 1, 8, 1024, 1024, 64,  64,  173},
    {F2, 128, 0, 8,  256,  256,  8,  64,  133}, {F2, 128, 0, 8,  256,  256, 16,  64,  168},
    {F2, 128, 0, 8,  256,  256, 32,  64,  168}, {F2, 128, 0, 8,  256,  256, 64,  64,  171},
    {F2, 128, 0, 8,  512,  512,  8,  64,  146}, {F2, 128, 0, 8,  512,  512, 16,  64,  190},
    {F2, 128, 0, 8,  512,  512, 32,  64,  186}, {F2, 128, 0, 8,  512,  512, 64,  64,  190},
    {F2, 128, 0, 8, 1024, 1024,  8,  64,  143}, {F2, 128, 0, 8, 1024, 1024, 16,  64,  202},
    {F2, 128, 0, 8, 1024, 1024, 32,  64,  203}, {F2, 128, 0, 8, 1024, 1024, 64,  64,  203},
    {F2, 128, 1, 8,  256,  256,  8,  64,   95}, {F2, 128, 1, 8,  256,  256, 16,  64,  114},
    {F2, 128, 1, 8,  256,  256, 32,  64,  112}, {F2, 128, 1, 8,  256,  256, 64,  64,  106},
    {F2, 128, 1, 8,  512,  512,  8,  64,  122}, {F2, 128, 1, 8,  512,  512, 16,  64,  163},
    {F2, 128, 1, 8,  512,  512, 32,  64,  158}, {F2, 128, 1, 8,  512,  512, 64,  64,  153},
    {F2, 128, 1, 8, 1024, 1024,  8,  64,  140}, {F2, 128, 1, 8, 1024, 1024, 16,  64,  189},
    {F2, 128, 1, 8, 1024, 1024, 32,  64,  185}, {F2, 128, 1, 8, 1024, 1024, 64,  64,  182},
    /* clang-format on */
};

/* Method: same device and harness as the first table, flash2 with block_kv 64, but on the idle
 * machine and in wall-clock GFLOP/s. Once K and V of a head pass 16 MiB (N=32768 at D=64) every
 * work-group streams them from memory, and 64 query rows halve that traffic per FLOP; below that
 * (the two 8-head rows) 32 and 64 are within 2%. */
static const clattn_cpu_tile_run avx512_long_runs[] = {
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

/* Method: `bench/cpu_tiles.py --interleave build/interleave --passes 3` on this project's PoCL 3.1
 * device on an AVX2 host (2-core AMD EPYC, pthread-haswell, 8 lanes, 16 vector registers),
 * 2026-12-02, load 0.8-2.0: every tile of a problem in one process, call by call in rotating
 * order, each tile's median over three such processes, wall-clock GFLOP/s, with the register
 * blocking of clattn__cpu_reg_block. block_q 24 (three 8-lane row vectors times 4 keys: 12
 * accumulators, the 3 query vectors and the broadcast fill AVX2's 16 registers, as the score and
 * P V loops' disassembly shows, no spills) is the best tile or within 4% of it on every problem;
 * 16 (two vectors times 4 keys: 8 accumulators, too few in this host's slow state: steady.md)
 * was 0.81-0.97 of it at block_kv 64. block_kv 32, 64 and 128 at block_q 24 came within 1.5% of
 * each other when timed again with 16 rounds (this table's single pass put 128 up to 7% ahead:
 * hence the policy's noise of 10%). An earlier table, from separate processes at load 6-8 before
 * block_q 24 existed, chose 16. */
static const clattn_cpu_tile_run avx2_tile_runs[] = {
    /* clang-format off */
    /* algo D  causal heads Sq   Skv  block_q block_kv GFLOP/s (wall, interleaved) */
    {F2,  64, 0, 8, 2048, 2048,  8,  32,   72}, {F2,  64, 0, 8, 2048, 2048,  8,  64,   77},
    {F2,  64, 0, 8, 2048, 2048,  8, 128,   76}, {F2,  64, 0, 8, 2048, 2048, 16,  32,   98},
    {F2,  64, 0, 8, 2048, 2048, 16,  64,   92}, {F2,  64, 0, 8, 2048, 2048, 16, 128,   95},
    {F2,  64, 0, 8, 2048, 2048, 24,  32,  106}, {F2,  64, 0, 8, 2048, 2048, 24,  64,  108},
    {F2,  64, 0, 8, 2048, 2048, 24, 128,  110}, {F2,  64, 0, 8, 2048, 2048, 32,  32,   90},
    {F2,  64, 0, 8, 2048, 2048, 32,  64,   93}, {F2,  64, 0, 8, 2048, 2048, 32, 128,   92},
    {F2,  64, 0, 8, 2048, 2048, 64,  32,  101}, {F2,  64, 0, 8, 2048, 2048, 64,  64,  103},
    {F2,  64, 0, 8, 2048, 2048, 64, 128,   82}, {F2,  64, 1, 8, 2048, 2048,  8,  32,   75},
    {F2,  64, 1, 8, 2048, 2048,  8,  64,   79}, {F2,  64, 1, 8, 2048, 2048,  8, 128,   83},
    {F2,  64, 1, 8, 2048, 2048, 16,  32,   95}, {F2,  64, 1, 8, 2048, 2048, 16,  64,  110},
    {F2,  64, 1, 8, 2048, 2048, 16, 128,  106}, {F2,  64, 1, 8, 2048, 2048, 24,  32,  111},
    {F2,  64, 1, 8, 2048, 2048, 24,  64,  113}, {F2,  64, 1, 8, 2048, 2048, 24, 128,  118},
    {F2,  64, 1, 8, 2048, 2048, 32,  32,  106}, {F2,  64, 1, 8, 2048, 2048, 32,  64,  114},
    {F2,  64, 1, 8, 2048, 2048, 32, 128,  110}, {F2,  64, 1, 8, 2048, 2048, 64,  32,  108},
    {F2,  64, 1, 8, 2048, 2048, 64,  64,  106}, {F2,  64, 1, 8, 2048, 2048, 64, 128,   89},
    {F2, 128, 0, 8, 2048, 2048,  8,  32,   77}, {F2, 128, 0, 8, 2048, 2048,  8,  64,   81},
    {F2, 128, 0, 8, 2048, 2048,  8, 128,   85}, {F2, 128, 0, 8, 2048, 2048, 16,  32,  103},
    {F2, 128, 0, 8, 2048, 2048, 16,  64,   97}, {F2, 128, 0, 8, 2048, 2048, 16, 128,   96},
    {F2, 128, 0, 8, 2048, 2048, 24,  32,  114}, {F2, 128, 0, 8, 2048, 2048, 24,  64,  117},
    {F2, 128, 0, 8, 2048, 2048, 24, 128,  114}, {F2, 128, 0, 8, 2048, 2048, 32,  32,  110},
    {F2, 128, 0, 8, 2048, 2048, 32,  64,  110}, {F2, 128, 0, 8, 2048, 2048, 32, 128,  109},
    {F2, 128, 0, 8, 2048, 2048, 64,  32,  108}, {F2, 128, 0, 8, 2048, 2048, 64,  64,  100},
    {F2, 128, 0, 8, 2048, 2048, 64, 128,   91}, {F2, 128, 1, 8, 2048, 2048,  8,  32,   83},
    {F2, 128, 1, 8, 2048, 2048,  8,  64,   78}, {F2, 128, 1, 8, 2048, 2048,  8, 128,   79},
    {F2, 128, 1, 8, 2048, 2048, 16,  32,   94}, {F2, 128, 1, 8, 2048, 2048, 16,  64,   92},
    {F2, 128, 1, 8, 2048, 2048, 16, 128,   97}, {F2, 128, 1, 8, 2048, 2048, 24,  32,  111},
    {F2, 128, 1, 8, 2048, 2048, 24,  64,  114}, {F2, 128, 1, 8, 2048, 2048, 24, 128,  122},
    {F2, 128, 1, 8, 2048, 2048, 32,  32,  102}, {F2, 128, 1, 8, 2048, 2048, 32,  64,   99},
    {F2, 128, 1, 8, 2048, 2048, 32, 128,  100}, {F2, 128, 1, 8, 2048, 2048, 64,  32,   97},
    {F2, 128, 1, 8, 2048, 2048, 64,  64,   96}, {F2, 128, 1, 8, 2048, 2048, 64, 128,   91},
    {F2,  64, 0, 8,  256,  256,  8,  64,   67}, {F2,  64, 0, 8,  256,  256, 16,  64,   78},
    {F2,  64, 0, 8,  256,  256, 24,  64,   86}, {F2,  64, 0, 8,  256,  256, 32,  64,   81},
    {F2,  64, 0, 8,  256,  256, 64,  64,   89}, {F2,  64, 0, 8,  512,  512,  8,  64,   71},
    {F2,  64, 0, 8,  512,  512, 16,  64,   89}, {F2,  64, 0, 8,  512,  512, 24,  64,  100},
    {F2,  64, 0, 8,  512,  512, 32,  64,   84}, {F2,  64, 0, 8,  512,  512, 64,  64,   88},
    {F2,  64, 0, 8, 1024, 1024,  8,  64,   72}, {F2,  64, 0, 8, 1024, 1024, 16,  64,   92},
    {F2,  64, 0, 8, 1024, 1024, 24,  64,  105}, {F2,  64, 0, 8, 1024, 1024, 32,  64,   92},
    {F2,  64, 0, 8, 1024, 1024, 64,  64,   98}, {F2,  64, 1, 8,  256,  256,  8,  64,   58},
    {F2,  64, 1, 8,  256,  256, 16,  64,   67}, {F2,  64, 1, 8,  256,  256, 24,  64,   69},
    {F2,  64, 1, 8,  256,  256, 32,  64,   64}, {F2,  64, 1, 8,  256,  256, 64,  64,   63},
    {F2,  64, 1, 8,  512,  512,  8,  64,   76}, {F2,  64, 1, 8,  512,  512, 16,  64,   87},
    {F2,  64, 1, 8,  512,  512, 24,  64,   91}, {F2,  64, 1, 8,  512,  512, 32,  64,   78},
    {F2,  64, 1, 8,  512,  512, 64,  64,   81}, {F2,  64, 1, 8, 1024, 1024,  8,  64,   68},
    {F2,  64, 1, 8, 1024, 1024, 16,  64,   85}, {F2,  64, 1, 8, 1024, 1024, 24,  64,   98},
    {F2,  64, 1, 8, 1024, 1024, 32,  64,   86}, {F2,  64, 1, 8, 1024, 1024, 64,  64,   92},
    {F2, 128, 0, 8,  256,  256,  8,  64,   67}, {F2, 128, 0, 8,  256,  256, 16,  64,   79},
    {F2, 128, 0, 8,  256,  256, 24,  64,   88}, {F2, 128, 0, 8,  256,  256, 32,  64,   79},
    {F2, 128, 0, 8,  256,  256, 64,  64,   79}, {F2, 128, 0, 8,  512,  512,  8,  64,   70},
    {F2, 128, 0, 8,  512,  512, 16,  64,   85}, {F2, 128, 0, 8,  512,  512, 24,  64,   99},
    {F2, 128, 0, 8,  512,  512, 32,  64,   88}, {F2, 128, 0, 8,  512,  512, 64,  64,   88},
    {F2, 128, 0, 8, 1024, 1024,  8,  64,   80}, {F2, 128, 0, 8, 1024, 1024, 16,  64,  103},
    {F2, 128, 0, 8, 1024, 1024, 24,  64,  124}, {F2, 128, 0, 8, 1024, 1024, 32,  64,  104},
    {F2, 128, 0, 8, 1024, 1024, 64,  64,  102}, {F2, 128, 1, 8,  256,  256,  8,  64,   58},
    {F2, 128, 1, 8,  256,  256, 16,  64,   66}, {F2, 128, 1, 8,  256,  256, 24,  64,   72},
    {F2, 128, 1, 8,  256,  256, 32,  64,   66}, {F2, 128, 1, 8,  256,  256, 64,  64,   58},
    {F2, 128, 1, 8,  512,  512,  8,  64,   64}, {F2, 128, 1, 8,  512,  512, 16,  64,   77},
    {F2, 128, 1, 8,  512,  512, 24,  64,   83}, {F2, 128, 1, 8,  512,  512, 32,  64,   76},
    {F2, 128, 1, 8,  512,  512, 64,  64,   71}, {F2, 128, 1, 8, 1024, 1024,  8,  64,   74},
    {F2, 128, 1, 8, 1024, 1024, 16,  64,   89}, {F2, 128, 1, 8, 1024, 1024, 24,  64,  106},
    {F2, 128, 1, 8, 1024, 1024, 32,  64,   92}, {F2, 128, 1, 8, 1024, 1024, 64,  64,   83},
    /* clang-format on */
};

/* The policy. block_q = 32 once a work-group's rows fill two 16-wide vectors, 64 from 256 rows on
 * where every row sees the same keys (the interleaved runs: 4-6% over 32 from N=512 on), 16 up to
 * 1024 rows and 1024 keys where rows see different key ranges (causal, window: the diagonal
 * blocks waste less; 1-5% over 32 in the interleaved runs; with more keys most blocks are whole
 * and 16 rows read K and V twice as often: 0.953 and 0.961 of 32 at d=64 for Sq=256, Skv=2048
 * and Sq=1024, Skv=4096, causal, alternating `clattn bench` processes), and 64 once K and V
 * stream (the long runs). A window of 128 keys, 16 against 32: 1.13-1.15 at d=64, N=1024; 1.03
 * at d=128, N=512. Fewer query rows than 32 get the smallest block that holds them (Sq = 16: 16
 * beats 32 by 1.5x). block_kv = 64 for flash2 (flat from 32 to 128); flash1 takes the largest block
 * the kernels hold, because every outer step is one launch. */
static const clattn_cpu_block_q_rule avx512_block_q[] = {
    /* clang-format off */
    /* sq_min     sq_max     skv_max    streaming_only keys                   block_q */
    {INT64_MIN,  8,         INT64_MAX, 0,              CLATTN_CPU_ANY_KEYS,    8},
    {9,          16,        INT64_MAX, 0,              CLATTN_CPU_ANY_KEYS,   16},
    {64,         INT64_MAX, INT64_MAX, 1,              CLATTN_CPU_ANY_KEYS,   64},
    {256,        INT64_MAX, INT64_MAX, 0,              CLATTN_CPU_SAME_KEYS,  64},
    {17,         1024,      1024,      0,              CLATTN_CPU_KEY_RANGES, 16},
    {17,         INT64_MAX, INT64_MAX, 0,              CLATTN_CPU_ANY_KEYS,   32},
    /* clang-format on */
};

static const clattn_cpu_block_kv_rule block_kv_rules[] = {
    {CLATTN_ALGO_FLASH2, 64},
    {CLATTN_ALGO_FLASH1, CLATTN_CPU_MAX_BLOCK_KV},
};

#define COUNT(a) (sizeof(a) / sizeof *(a))

static const clattn_cpu_tile_table avx512_tables[] = {
    {"AVX-512 tile runs", avx512_tile_runs, COUNT(avx512_tile_runs)},
    {"AVX-512 long runs", avx512_long_runs, COUNT(avx512_long_runs)},
    {"AVX-512 interleaved runs", avx512_interleaved_runs, COUNT(avx512_interleaved_runs)},
};

/* The AVX2 policy: block_q 24 from 17 query rows up (the measurements above, plain and causal
 * alike), the smallest block that holds fewer rows; no streaming rule (the long-sequence runs
 * were not repeated on AVX2). */
static const clattn_cpu_block_q_rule avx2_block_q[] = {
    /* clang-format off */
    /* sq_min     sq_max     skv_max    streaming_only keys                 block_q */
    {INT64_MIN,  8,         INT64_MAX, 0,              CLATTN_CPU_ANY_KEYS,  8},
    {9,          16,        INT64_MAX, 0,              CLATTN_CPU_ANY_KEYS, 16},
    {17,         INT64_MAX, INT64_MAX, 0,              CLATTN_CPU_ANY_KEYS, 24},
    /* clang-format on */
};

static const clattn_cpu_tile_table avx2_tables[] = {
    {"AVX2 tile runs", avx2_tile_runs, COUNT(avx2_tile_runs)},
};

const clattn_cpu_tile_policy clattn__cpu_tile_policies[] = {
    {
        .lanes = 16,
        .host = "2-core AMD EPYC, AVX-512 (PoCL 3.1 pthread-skylake-avx512)",
        .accumulators = 16,
        .tables = avx512_tables,
        .n_tables = COUNT(avx512_tables),
        .noise = 0.05,
        .kv_stream_bytes = 16 << 20,
        .block_q = avx512_block_q,
        .n_block_q = COUNT(avx512_block_q),
        .block_kv = block_kv_rules,
        .n_block_kv = COUNT(block_kv_rules),
        /* Strided float32 K/V (plan_cpu.h's clattn__cpu_stage_kv says why copies pay), measured
         * on this host (B=1, causal unless said, the copies and the kernel on them against the
         * kernel on the strided K/V, call by call in one process): keys 24 KiB apart (32 heads
         * of 64 in a packed q/k/v row) 1.18x at Sq = Skv = 2048, 1.25-1.31x at 1024, 1.08x at
         * 512 causal and 0.97x plain, 0.96x at 256; 2 KiB apart (8 heads of 64, [B, S, H, D])
         * 1.06-1.10x at 2048, 1.01x at 1024, 0.83-1.03x at 512 and 256; 3 KiB 1.03x at 2048,
         * 0.96x at 1024; 4 KiB (8 of 128) 1.09x plain at 2048, 1.02-1.05x at 1024, 0.94x at
         * 512; 8-16 KiB 1.10-1.20x at 1024. bench/layout_bench.py (the README's "Strided K/V on
         * CPU devices") confirmed 8-24 KiB at 1024 and everything at 2048, and saw no gain at
         * 1024 with keys 4 or 6 KiB apart. */
        .stage_f32_rows = 2048,
        .stage_f32_wide_rows = 1024,
        .stage_f32_wide_stride = 8192,
    },
    {
        .lanes = 8,
        .host = "2-core AMD EPYC, AVX2 (PoCL 3.1 pthread-haswell)",
        .accumulators = 12,
        .tables = avx2_tables,
        .n_tables = COUNT(avx2_tables),
        .noise = 0.10,
        .kv_stream_bytes = 16 << 20,
        .block_q = avx2_block_q,
        .n_block_q = COUNT(avx2_block_q),
        .block_kv = block_kv_rules,
        .n_block_kv = COUNT(block_kv_rules),
        /* Sq = 96 and 160 against 4096 keys, B=1, H=8, d=64, f16 K/V (too few rows for float32
         * copies), `interleave`, 30 rounds, 2026-12-02: block_q 16 0.87 and 0.92 of 24, 32 0.92
         * and 0.91, 64 0.66 and 0.85. So 24, as float32 K/V: it raises only a GQA problem whose
         * few query positions (Sq <= 16) stack into 24 rows or more. (Before block_q 24: 32 was
         * 0.97-0.98 of the f32 rate at N=4096, 16 0.82-0.85.) */
        .narrow_kv_block_q = 24,
        /* Strided float32 K/V (as the 16-lane policy): on this host the strided kernel costs
         * more, and the copies pay from fewer rows. bench/layout_bench.py,
         * 2026-12-02, 15 rounds, the strided layouts' time over contiguous K/V in the same
         * process (H x D, bshd and qkv, plain and causal; two runs of a build copying every
         * strided K/V, three of the 16-lane rule: bench/results/layout_bench_avx2.csv): at 1024
         * query rows, 8 x 64 (keys 2 and 6 KiB apart) 1.04-1.09 copied against 1.13-1.36 in
         * place, 8 x 128 bshd (4 KiB) 1.03-1.13 against 1.14-1.23; at 512, 32 x 64 (8 and 24
         * KiB) 1.07-1.18 against 1.24-1.45, 32 x 128 (16 and 48 KiB) 1.07-1.13 against
         * 1.09-1.30, but 8 x 64 1.04-1.10 against 1.09-1.26 and 8 x 128 (4 and 12 KiB)
         * 1.08-1.15 against 1.08-1.17, within this host's noise (one build and point differed
         * by up to 0.14 between runs); at 256 the copies lost (8 x 64 causal 1.26-1.31 against
         * 0.96-1.09). A build that never copies cost 1.14-1.52 at 2048, against 1.02-1.09. */
        .stage_f32_rows = 1024,
        .stage_f32_wide_rows = 512,
        .stage_f32_wide_stride = 8192,
    },
};
const size_t clattn__cpu_tile_policies_count = COUNT(clattn__cpu_tile_policies);

const clattn_cpu_tile_policy *clattn__cpu_tile_policy_for(int preferred_vector_width_float) {
    for (size_t i = 0; i < clattn__cpu_tile_policies_count; i++)
        if (preferred_vector_width_float >= clattn__cpu_tile_policies[i].lanes)
            return &clattn__cpu_tile_policies[i];
    return &clattn__cpu_tile_policies[clattn__cpu_tile_policies_count - 1];
}

#undef COUNT
#undef F1
#undef F2
