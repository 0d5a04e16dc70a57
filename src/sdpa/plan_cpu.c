/* dispatch_cpu.c: tile choice for the CPU-flavour FlashAttention kernels (cl/flash_cpu.cl). Pure
 * functions of the problem's shape: see dispatch_cpu.h. */
#include "sdpa/plan_cpu.h"

/* Why these tiles. Measured on this project's PoCL 3.1 device (2-core AMD EPYC, AVX-512, so the
 * kernels use 16-wide lanes for block_q >= 16), flash2 through clattn_sdpa, B=1, H=8, N=2048,
 * medians of 5 runs. The machine is shared, so the figure is FLOPs per second of the process's
 * CPU time (4*B*H*N*N*D / cpu-seconds: "per core"), which other load does not distort the way
 * wall-clock rates are; an idle machine gives about twice it in wall-clock GFLOP/s.
 *
 *   GFLOP/s per core       block_kv:   16     32     64    128
 *   D=64  block_q=8                    74     83     86     86
 *   D=64  block_q=16                  152    156    162    161
 *   D=64  block_q=32                  195    198    202    204
 *   D=64  block_q=64                  199    205    205    207
 *   D=128 block_q=16                  145    160    168    147
 *   D=128 block_q=32                  171    166    175    178
 *   D=128 block_q=64                  169    175    183    183
 *   D=256 block_q=16                    -    135    155    160
 *   D=256 block_q=32                    -    196    199    199
 *   D=256 block_q=64                    -    189    201    197
 *   D=64 causal, block_q=32 / 64        -    168/165 172/172 162/173
 *   Sq=16, Skv=4096, D=64 causal: block_q 8 / 16 / 32 = 34 / 86 / 57 (block_kv 64)
 *   flash1, D=64: 32x32 45, 32x64 66, 32x128 86, 64x128 106 (each launch re-reads Q and O)
 *
 * Long sequences, one head, wall-clock GFLOP/s on the idle machine, block_kv 64, block_q 32/64:
 *   N=32768 D=64 231/293, N=32768 D=128 197/359, N=65536 D=64 223/278, causal 192/244;
 *   while N=16384 with 8 heads gives 384/388 and N=2048 causal 381/374.
 *
 * So block_q = 32 once a work-group's rows fill two 16-wide vectors (64 is within 1-5%, within
 * the noise, and wastes more lanes and causal work on short or ragged sequences), and 64 once K
 * and V of one head exceed 16 MiB: each work-group streams all of them, and 64 rows halve that
 * traffic per FLOP. Fewer query rows than 32 get the smallest block that holds them, since idle
 * lanes cost as much as busy ones (Sq = 16: 16 beats 32 by 1.5x). block_kv = 64 for flash2
 * (flat from 32 to 128); flash1 takes the largest block, 128, because every outer step (one
 * launch) re-reads Q and reads and writes O, m and l. */

int64_t clattn__cpu_dim_cap(int64_t d) {
    if (d <= 16) return 16;
    if (d <= 32) return 32;
    if (d <= 64) return 64;
    if (d <= 128) return 128;
    return 256;
}

int64_t clattn__cpu_vector_width(int preferred_vector_width_float, int64_t block_q) {
    return (preferred_vector_width_float >= 16 && block_q % 16 == 0) ? 16 : 8;
}

/* K and V of one kv head above this many bytes stream from memory rather than cache. */
#define CPU_KV_STREAM_BYTES (16 << 20)

void clattn__sdpa_cpu_tiles(clattn_algo algo, int64_t D, int64_t Dv, int64_t Sq, int64_t Skv,
                            int64_t *block_q, int64_t *block_kv) {
    const int64_t kv_row_bytes = 4 * ((D > 0 ? D : 1) + (Dv > 0 ? Dv : 1));
    const int streaming = Skv >= CPU_KV_STREAM_BYTES / kv_row_bytes;
    *block_q = Sq <= 8 ? 8 : Sq <= 16 ? 16 : (streaming && Sq >= 64) ? 64 : 32;
    *block_kv = algo == CLATTN_ALGO_FLASH1 ? CLATTN_CPU_MAX_BLOCK_KV : 64;
}

int clattn__sdpa_cpu_valid_tiles(clattn_algo algo, int64_t D, int64_t Dv, int64_t block_q,
                                 int64_t block_kv) {
    if (algo != CLATTN_ALGO_FLASH1 && algo != CLATTN_ALGO_FLASH2) return 0;
    if (D < 1 || D > 256 || Dv < 1 || Dv > 256) return 0;
    if (block_q != 0 && block_q != 8 && block_q != 16 && block_q != 32 && block_q != 64) return 0;
    if (block_kv != 0 && (block_kv < 8 || block_kv > CLATTN_CPU_MAX_BLOCK_KV || block_kv % 8 != 0))
        return 0;
    return 1;
}

int64_t clattn__sdpa_cpu_flash1_scratch_bytes(const clattn_sdpa_problem *p, int64_t block_q) {
    (void)block_q;
    const int64_t f[4] = {2 * CLATTN_ACC_BYTES, p->B, p->Hq, p->Sq};
    int64_t bytes;
    return clattn__prod64(f, 4, &bytes) ? INT64_MAX : bytes; /* INT64_MAX: cannot be allocated */
}

void clattn__sdpa_cpu_global_size(const clattn_sdpa_problem *p, int64_t block_q,
                                  int64_t global_size[2]) {
    global_size[0] = (p->Sq * p->group + block_q - 1) / block_q;
    global_size[1] = p->B * p->Hkv;
}
