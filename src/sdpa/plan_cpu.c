/* plan_cpu.c: tile choice for the CPU-flavour FlashAttention kernels (cl/flash_cpu.cl). Pure
 * functions of the problem's shape: see plan_cpu.h. The measured tiles and the policy drawn from
 * them are data in cpu_tiles.c. */
#include "sdpa/plan_cpu.h"

#include "sdpa/cpu_tiles.h"
#include "sdpa/staging.h"

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

int64_t clattn__cpu_reg_block(int preferred_vector_width_float, int64_t block_q) {
    const int64_t nv = block_q / clattn__cpu_vector_width(preferred_vector_width_float, block_q);
    const int64_t budget =
        clattn__cpu_tile_policy_for(preferred_vector_width_float)->accumulators / (nv > 0 ? nv : 1);
    /* A power of two, so that it divides every block_kv (multiples of 8) and head-dim bucket. */
    int64_t jb = 1;
    while (jb < 8 && jb * 2 <= budget) jb *= 2;
    return jb;
}

int64_t clattn__cpu_narrow_kv_block_q(int preferred_vector_width_float, int64_t rows,
                                      int64_t block_q) {
    const int64_t nq = clattn__cpu_tile_policy_for(preferred_vector_width_float)->narrow_kv_block_q;
    return nq > block_q && rows >= nq ? nq : block_q;
}

int clattn__cpu_stage_kv(const clattn_device_caps *caps, const clattn_sdpa_problem *p) {
    int64_t bq = 0, bkv = 0, rows = 0, largest = 0;
    if (p->page_size || clattn__mul64(p->Sq, p->group, &rows)) return 0;
    if (p->kv_dtype == CLATTN_DTYPE_F32) {
        if (p->k_st[2] <= p->D && p->v_st[2] <= p->Dv) return 0; /* packed rows: nothing to gain */
        const int64_t stride = p->k_st[2] > p->v_st[2] ? p->k_st[2] : p->v_st[2];
        const clattn_cpu_tile_policy *pol =
            clattn__cpu_tile_policy_for(caps->preferred_vector_width_float);
        if (rows < (stride * CLATTN_ACC_BYTES >= pol->stage_f32_wide_stride
                        ? pol->stage_f32_wide_rows
                        : pol->stage_f32_rows))
            return 0;
    } else {
        clattn__sdpa_cpu_tiles(CLATTN_ALGO_FLASH2, caps->preferred_vector_width_float, p->D, p->Dv,
                               p->Sq, p->Skv, clattn__sdpa_key_ranges(p), &bq, &bkv);
        if (rows < CLATTN_CPU_STAGE_KV_MIN_BLOCKS * bq) return 0;
    }
    /* The copies' sizes as staging.c makes them (INT64_MAX when they overflow). */
    const int64_t bytes =
        clattn__sdpa_staging_bytes(p, CLATTN_STAGE_KV | CLATTN_STAGE_F32, &largest);
    return largest <= caps->max_alloc_bytes &&
           bytes <= caps->global_mem_bytes / CLATTN_CPU_STAGE_KV_MEM_SHARE;
}

void clattn__sdpa_cpu_tiles(clattn_algo algo, int preferred_vector_width_float, int64_t D,
                            int64_t Dv, int64_t Sq, int64_t Skv, int key_ranges, int64_t *block_q,
                            int64_t *block_kv) {
    const clattn_cpu_tile_policy *pol = clattn__cpu_tile_policy_for(preferred_vector_width_float);
    const int64_t kv_row_bytes = 4 * ((D > 0 ? D : 1) + (Dv > 0 ? Dv : 1));
    const int streaming = Skv >= pol->kv_stream_bytes / kv_row_bytes;
    *block_q = 32; /* the rules cover every Sq; this only guards a broken table */
    for (size_t i = 0; i < pol->n_block_q; i++) {
        const clattn_cpu_block_q_rule *r = &pol->block_q[i];
        if (Sq >= r->sq_min && Sq <= r->sq_max && Skv <= r->skv_max &&
            (!r->streaming_only || streaming) &&
            (r->keys == CLATTN_CPU_ANY_KEYS ||
             r->keys == (key_ranges ? CLATTN_CPU_KEY_RANGES : CLATTN_CPU_SAME_KEYS))) {
            *block_q = r->block_q;
            break;
        }
    }
    *block_kv = pol->block_kv[0].block_kv;
    for (size_t i = 0; i < pol->n_block_kv; i++)
        if (pol->block_kv[i].algo == algo) *block_kv = pol->block_kv[i].block_kv;
}

/* The query blocks the kernels are launched with, ascending. */
static const int64_t cpu_block_qs[] = {8, 16, 24, 32, 64};
#define N_CPU_BLOCK_QS (sizeof cpu_block_qs / sizeof *cpu_block_qs)

int64_t clattn__cpu_smaller_block_q(int64_t block_q) {
    int64_t below = 0;
    for (size_t i = 0; i < N_CPU_BLOCK_QS && cpu_block_qs[i] < block_q; i++)
        below = cpu_block_qs[i];
    return below;
}

int clattn__sdpa_cpu_valid_tiles(clattn_algo algo, int64_t D, int64_t Dv, int64_t block_q,
                                 int64_t block_kv) {
    if (algo != CLATTN_ALGO_FLASH1 && algo != CLATTN_ALGO_FLASH2) return 0;
    if (D < 1 || D > 256 || Dv < 1 || Dv > 256) return 0;
    int known = block_q == 0;
    for (size_t i = 0; i < N_CPU_BLOCK_QS; i++) known |= block_q == cpu_block_qs[i];
    if (!known) return 0;
    if (block_kv != 0 && (block_kv < 8 || block_kv > CLATTN_CPU_MAX_BLOCK_KV || block_kv % 8 != 0))
        return 0;
    return 1;
}

void clattn__sdpa_cpu_global_size(const clattn_sdpa_problem *p, int64_t block_q,
                                  int64_t global_size[2]) {
    global_size[0] = (p->Sq * p->group + block_q - 1) / block_q;
    global_size[1] = p->B * p->Hkv;
}
