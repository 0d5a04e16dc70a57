/* flash_cpu.cl: FlashAttention-2 and FlashAttention(-1) forward kernels shaped for CPUs, i.e.
 * for OpenCL devices whose local memory is emulated in global memory (PoCL). Both algorithms
 * share the tile step below; they differ only in where the running state (O, l, m) lives:
 *   flash2_cpu  one launch; each work-group loops over every K/V block for its query rows and
 *               keeps O un-normalised in private memory, rescaling once at the end.
 *   flash1_cpu  one launch per K/V block (the host's outer loop, as in the first paper); each
 *               work-group handles one query block and carries O (normalised, in `out`), l and
 *               m (in a scratch buffer) through global memory between launches.
 *
 * Why this shape (measured on PoCL, see src/sdpa/cpu_tiles.c): one work-item per work-group acts
 * as a thread. The BR query rows of a work-group sit in the lanes of VW-wide vectors, so the
 * scores are computed as S^T = K Q^T and the output as O^T += V^T P^T with broadcast-FMA loops
 * register-blocked over keys (JB) and value dims (EB); the online softmax is lane-wise and
 * needs no horizontal reduction. No barriers, no __local. fma() rather than mad(): PoCL turns
 * only the former into FMA instructions. The small constant loops (over JB, EB, NV) carry
 * `#pragma unroll`: without it PoCL left them as loops over stack memory (about 20% slower).
 *
 * Rows: for GQA/MQA the `group` query heads sharing one kv head are stacked into the rows of a
 * work-group, row r = query i * group + head-in-group g, so K/V are read once per group and a
 * decode step (Sq = 1) still fills the lanes. Causal block skipping works on the query range.
 *
 * Options (all have defaults so the file builds alone):
 *   BR     query rows per work-group, a multiple of VW (the launcher uses 8, 16, 24, 32 or 64)
 *   VW     lanes per vector: 16 (float16, AVX-512) or 8 (float8)
 *   DCAP   capacity for the q/k head dim (the actual head_dim <= DCAP is an argument)
 *   DVCAP  capacity for the v head dim, a multiple of EB (head_dim_v is an argument)
 *   BC     capacity for the keys per block (the actual block_kv, a multiple of JB, is an arg)
 *   JB, EB register blocking over keys (scores) and value dims (output); default from BR/VW
 *
 * Arguments: CLATTN_SDPA_PARAMS of cl/kernel_iface.h, as every attention kernel; flash1_cpu
 * keeps m and l in `scratch` and handles the keys from kv_start on. The kernels index rows,
 * keys and heads with 32-bit ints (the launcher checks the sizes; element offsets are 64-bit).
 * Masking goes through common.cl's clattn_row_keys: each lane's visible-key limit is set up
 * once per work-group and compared vector-wise in the tile step.
 */
#ifndef BR
#define BR 16
#endif
#ifndef DCAP
#define DCAP 64
#endif
#ifndef DVCAP
#define DVCAP DCAP
#endif
#ifndef BC
#define BC 128
#endif

#ifndef VW
#define VW 8
#endif
#if VW == 16
typedef float16 vec;
typedef int16 ivec;
#define convert_vec convert_float16
#else
typedef float8 vec;
typedef int8 ivec;
#define convert_vec convert_float8
#endif
#define NV (BR / VW)

#ifndef JB
#if NV >= 4
#define JB 4
#else
#define JB 8
#endif
#endif
#ifndef EB
#if NV >= 4
#define EB 4
#else
#define EB 8
#endif
#endif

/* The score options this build shapes scores with (a subset of the call's flags, chosen by the
 * launcher): compiled in only when used, so plain attention keeps the loop it had before the
 * options existed (measured: testing them at run time in the score loop cost 14-18%). */
#define SCORE_SOFTCAP 1
#define SCORE_ALIBI   2
#define SCORE_WINDOW  4
#ifndef SCORE_OPTS
#define SCORE_OPTS 0
#endif

/* 2^x lane-wise from common.cl: the softcap's (PoCL's vector tanh made softcap cost a third of
 * the attention) and the online softmax's. For the softmax, against PoCL's exp2 (about 22
 * instructions a vector against common.cl's 15), B=1, H=8, N=2048, interleaved on the AVX-512
 * host: 1.039x at d=64 (where exp2 is 10% of the call), 1.030x at d=128, 1.044x causal at d=64. */
#if VW == 16
CLATTN_DEFINE_VEXP(float16, convert_int16)
#define clattn_exp2_vec        clattn_exp2_float16
#define clattn_exp2_nonpos_vec clattn_exp2_nonpos_float16
#else
#define clattn_exp2_vec        clattn_exp2_float8
#define clattn_exp2_nonpos_vec clattn_exp2_nonpos_float8
#endif

#if (BR % VW) != 0 || (DVCAP % EB) != 0 || (BC % JB) != 0
#error "BR must be a multiple of VW, DVCAP of EB and BC of JB"
#endif

/* Everything a work-group needs to know about its problem and its rows. */
typedef struct {
    int d, dv, sq, skv, hq, group, flags;
    int rows;     /* valid rows in this work-group (<= BR) */
    int kv_begin; /* keys before this are hidden from every row */
    int kv_end;   /* keys from here on are hidden from every row */
    int lo_max;   /* keys before this need the per-element test against lo (window) */
    int hi_min;   /* keys from here on need the per-element test against lim */
    float cap;    /* softcap * log2(e) */
    long row_q[BR], row_o[BR], row_m[BR], row_l[BR]; /* per-row element offsets */
    ivec lim[NV]; /* each lane's visible keys end here (common.cl's clattn_row_keys) */
#if SCORE_OPTS & SCORE_WINDOW
    ivec lo[NV]; /* ... and start here */
#endif
#if SCORE_OPTS & SCORE_ALIBI
    ivec pos[NV];  /* each lane's key position i' */
    vec slope[NV]; /* each lane's ALiBi slope in base 2 (its head's) */
#endif
} tile_info;

/* Fills the per-row offsets for rows r0 .. r0+BR-1 of (batch b, kv head hk). Rows past the end
 * repeat the last valid one so loads stay in bounds; their results are never stored. */
static inline void tile_setup(tile_info *t, int r0, int b, int hk, int d, int dv, int sq, int skv,
                              int hq, int group, int flags, clattn_mask_rule rule,
                              __global const float *restrict alibi, long alibi_sb, long q_sb,
                              long q_sh, long q_ss, long o_sb, long o_sh, long o_ss, long m_sb,
                              long m_sh, long m_ss) {
    t->d = d;
    t->dv = dv;
    t->sq = sq;
    t->skv = skv;
    t->hq = hq;
    t->group = group;
    t->flags = flags;
    int nrows = sq * group;
    t->rows = min(BR, nrows - r0);
    t->cap = rule.cap;
    /* Row ranges grow with the query index: the first and last rows bound the block, and say
     * where rows start to differ. */
    const clattn_key_range first = clattn_row_keys(rule, r0 / group);
    const clattn_key_range last = clattn_row_keys(rule, (r0 + t->rows - 1) / group);
    t->kv_begin = (int)first.lo;
    t->kv_end = (int)last.hi;
    t->lo_max = (int)last.lo;
    t->hi_min = (int)first.hi;
    for (int r = 0; r < BR; r++) {
        int rr = r0 + min(r, t->rows - 1);
        int i = rr / group;
        int h = hk * group + rr % group;
        t->row_q[r] = b * q_sb + h * q_sh + i * q_ss;
        t->row_o[r] = b * o_sb + h * o_sh + i * o_ss;
        t->row_m[r] = b * m_sb + h * m_sh + i * m_ss;
        t->row_l[r] = ((long)b * hq + h) * sq + i;
        const clattn_key_range keys = clattn_row_keys(rule, i);
        ((int *)t->lim)[r] = (int)keys.hi;
#if SCORE_OPTS & SCORE_WINDOW
        ((int *)t->lo)[r] = (int)keys.lo;
#endif
#if SCORE_OPTS & SCORE_ALIBI
        ((int *)t->pos)[r] = (int)clattn_row_pos(rule, i);
        ((float *)t->slope)[r] = clattn_alibi_slope(alibi, flags, alibi_sb, b, h);
#endif
    }
}

/* 8 x 8 transpose: in[i] holds row i (8 consecutive columns), out[c] column c of the 8 rows.
 * Three rounds of two-input shuffles (24, which LLVM lowers to unpack and shuffle instructions)
 * instead of 64 scalar moves: as scalar loops the Q^T load and the output store below each cost
 * 6% of a causal N=256 call (B=1, H=8, d=64; 2.3 us per work-group in all on AVX-512 PoCL). */
static inline void transpose8(const float8 in[8], float8 out[8]) {
    float8 a[8], b[8];
#pragma unroll
    for (int i = 0; i < 8; i += 2) { /* pairs of rows interleaved: (r0c0 r1c0 r0c1 r1c1 | c4 c5) */
        a[i] = (float8)(in[i].s0, in[i + 1].s0, in[i].s1, in[i + 1].s1, in[i].s4, in[i + 1].s4,
                        in[i].s5, in[i + 1].s5);
        a[i + 1] = (float8)(in[i].s2, in[i + 1].s2, in[i].s3, in[i + 1].s3, in[i].s6, in[i + 1].s6,
                            in[i].s7, in[i + 1].s7);
    }
#pragma unroll
    for (int i = 0; i < 8; i += 4) { /* quads: 4 rows of columns c and c + 4 */
        b[i] = (float8)(a[i].s01, a[i + 2].s01, a[i].s45, a[i + 2].s45);
        b[i + 1] = (float8)(a[i].s23, a[i + 2].s23, a[i].s67, a[i + 2].s67);
        b[i + 2] = (float8)(a[i + 1].s01, a[i + 3].s01, a[i + 1].s45, a[i + 3].s45);
        b[i + 3] = (float8)(a[i + 1].s23, a[i + 3].s23, a[i + 1].s67, a[i + 3].s67);
    }
#pragma unroll
    for (int c = 0; c < 4; c++) { /* halves of rows 0-3 and 4-7 */
        out[c] = (float8)(b[c].lo, b[c + 4].lo);
        out[c + 4] = (float8)(b[c].hi, b[c + 4].hi);
    }
}

/* Q^T into private memory, pre-multiplied by scale * log2(e) so the softmax can use exp2: blocks
 * of 8 rows x 8 columns transposed in registers, the columns past the last multiple of 8 one by
 * one. */
static inline void load_qT(const tile_info *t, __global const Q_T *restrict q, float scale_log2,
                           vec qT[DCAP][NV]) {
    float *qs = (float *)qT;
    const int d8 = t->d & ~7;
    for (int r0 = 0; r0 < BR; r0 += 8) {
        float *dst = qs + (r0 / VW) * VW + r0 % VW; /* lane r0 of column 0 */
        for (int c0 = 0; c0 < d8; c0 += 8) {
            float8 rows[8], cols[8];
#pragma unroll
            for (int i = 0; i < 8; i++) rows[i] = load8_q(q + t->row_q[r0 + i], c0);
            transpose8(rows, cols);
#pragma unroll
            for (int c = 0; c < 8; c++) vstore8(cols[c] * scale_log2, 0, dst + (c0 + c) * NV * VW);
        }
        for (int i = 0; i < 8; i++)
            for (int c = d8; c < t->d; c++)
                dst[c * NV * VW + i] = load_q(q + t->row_q[r0 + i], c) * scale_log2;
    }
}

/* Narrow keys and values (float16, bfloat16) are widened once per K/V block into private float
 * tiles, eight elements at a time (kernel_iface.h's load8_kv: one vcvtph2ps where the compiler
 * targets F16C), and the unchanged loops below read the tiles, broadcasting from private memory
 * as float32's broadcast from global. Each element is widened once per work-group either way;
 * what the tile removes is the conversion and the lane-broadcast shuffles from inside the FMA
 * loops. Measured f16 / f32 speed (`clattn bench`, B=1, H=8, d=64, N=4096, plain and causal,
 * interleaved runs on the 2-core AVX2 machine at load 1-5, where two identical float32 builds
 * differ by up to 5%): widening inside the loops eight at a time 0.76-0.87 (with F16C
 * 0.81-0.93); these tiles 0.92-1.04, median about 0.99; converting all of K and V to float32
 * in a separate pass before the float32 kernel 0.95-1.01 there. On the AVX-512 host, timed call
 * by call, the tiles gave 0.905 at N=4096 and the pass (its buffers kept between calls) 0.997,
 * so the launcher now stages K/V where at least 8 query blocks share them (plan_cpu.h's
 * clattn__cpu_stage_kv) and these tiles serve the rest. KV_TILE 1 builds the tile for float32 too
 * (0.96-1.02 against reading global memory directly in one run: not used). kv_row is where a key's
 * or value's row is read from: a tile row, or the row in global memory. */
#ifndef KV_TILE
#define KV_TILE (KV_DTYPE != CLATTN_STORAGE_F32)
#endif
#if KV_TILE
typedef const float *kv_row;
#define KV_ROW(tile, pitch, g, ss, j) ((tile) + (j) * (pitch))
#define KV_AT(r, c)                   ((r)[c])
/* Rows [0, nb) of src (n elements each, rows ss apart) into dst, rows `pitch` floats apart. */
static inline void kv_widen(__global const KV_T *restrict src, long ss, int nb, int n,
                            float *restrict dst, int pitch) {
    for (int j = 0; j < nb; j++) {
        __global const KV_T *r = src + (long)j * ss;
        float *o = dst + j * pitch;
        int c = 0;
        for (; c + 8 <= n; c += 8) vstore8(load8_kv(r, c), 0, o + c);
        for (; c < n; c++) o[c] = load_kv(r, c);
    }
}
#else
typedef __global const KV_T *kv_row;
#define KV_ROW(tile, pitch, g, ss, j) ((g) + (long)(j) * (ss))
#define KV_AT(r, c)                   load_kv(r, c)
#endif

/* The larger of a and b, defined for infinities (OpenCL's max() is not) and one instruction
 * where fmax()'s NaN rules cost several on a loop-carried chain. */
static inline vec vmax(vec a, vec b) {
    return select(a, b, a < b);
}

/* One K/V block [j0, j0 + nb) of the online softmax: S^T, masking, the lane-wise running max
 * and sum (m, l, in the log2 domain), and O^T = alpha * O^T + V^T P^T. */
static inline void tile_step(const tile_info *t, int j0, int nb, __global const KV_T *restrict k,
                             __global const KV_T *restrict vv, __global const M_T *restrict mask,
                             long k_ss, long v_ss, const vec qT[DCAP][NV], vec oT[DVCAP][NV],
                             vec m[NV], vec l[NV], vec s[BC][NV]) {
    const int d = t->d, dv = t->dv;
    const int nbr = (nb + JB - 1) / JB * JB;
    /* Some row's visible keys start or end inside the block: test keys one by one. */
    const int limited = j0 < t->lo_max || j0 + nb > t->hi_min;
    const int has_mask = t->flags & CLATTN_KF_MASK;
#if SCORE_OPTS & SCORE_SOFTCAP
    /* cap tanh(x / cap) as 2 cap / (1 + 2^(x k)) - cap with k = -2 log2(e) / cap (x and cap are in
     * the log2 domain): one exponential and one division per score. Through common.cl's tanh
     * (a division by cap first, two more multiplies) softcap cost 13-15% over plain attention
     * at N=4096 on AVX-512, 9-11% this way (interleaved runs). +-inf give +-cap, NaN stays. */
    const float sc_k = -2.0f * CLATTN_LOG2E / t->cap, sc_two = 2.0f * t->cap;
#endif
    __global const KV_T *kg = k + (long)j0 * k_ss, *vg = vv + (long)j0 * v_ss;
#if KV_TILE
    float kt[BC * DCAP], vt[BC * DVCAP];
    kv_widen(kg, k_ss, nb, d, kt, DCAP);
    kv_widen(vg, v_ss, nb, dv, vt, DVCAP);
#endif
    /* Block max, two partial maxima per vector so the max is not one long dependency chain. */
    vec mx[2][NV];
#pragma unroll
    for (int w = 0; w < NV; w++) mx[0][w] = mx[1][w] = m[w];
    /* S^T = K Q^T, JB keys x NV row vectors at a time. Keys past the block repeat the last one
     * and are set to -inf; the key-range test and the max are fused into the store. */
    for (int jj = 0; jj < nbr; jj += JB) {
        kv_row kr[JB];
#pragma unroll
        for (int u = 0; u < JB; u++) kr[u] = KV_ROW(kt, DCAP, kg, k_ss, min(jj + u, nb - 1));
        vec acc[JB][NV];
#pragma unroll
        for (int u = 0; u < JB; u++)
#pragma unroll
            for (int w = 0; w < NV; w++) acc[u][w] = (vec)(0.0f);
        for (int c = 0; c < d; c++) {
            vec qc[NV];
#pragma unroll
            for (int w = 0; w < NV; w++) qc[w] = qT[c][w];
#pragma unroll
            for (int u = 0; u < JB; u++) {
                vec kb = (vec)(KV_AT(kr[u], c));
#pragma unroll
                for (int w = 0; w < NV; w++) acc[u][w] = fma(kb, qc[w], acc[u][w]);
            }
        }
#pragma unroll
        for (int u = 0; u < JB; u++) {
            const int j = jj + u;
#pragma unroll
            for (int w = 0; w < NV; w++) {
                vec x = acc[u][w];
                /* The score shaping of common.cl's clattn_score, lane-wise and in its order. */
#if SCORE_OPTS & SCORE_SOFTCAP
                x = sc_two / (1.0f + clattn_exp2_vec(x * sc_k)) - t->cap;
#endif
#if SCORE_OPTS & SCORE_ALIBI
                x -= t->slope[w] * fabs(convert_vec(t->pos[w] - (ivec)(j0 + j)));
#endif
                x = j < nb ? x : (vec)(-INFINITY);
                if (limited)
                    x = select(x, (vec)(-INFINITY),
                               ((ivec)(j0 + j) >= t->lim[w])
#if SCORE_OPTS & SCORE_WINDOW
                                   | ((ivec)(j0 + j) < t->lo[w])
#endif
                    );
                s[j][w] = x;
                mx[u % 2][w] = vmax(mx[u % 2][w], x);
            }
        }
    }
    /* The additive mask (a per-lane gather: rows are lanes) and its max, only when present. */
    if (has_mask) {
        for (int r = 0; r < BR; r++) {
            __global const M_T *mr = mask + t->row_m[r] + j0;
            float *sr = (float *)s + (r / VW) * VW + r % VW;
            for (int j = 0; j < nb; j++)
                sr[j * NV * VW] = fma(load_m(mr, j), CLATTN_LOG2E, sr[j * NV * VW]);
        }
#pragma unroll
        for (int w = 0; w < NV; w++) {
            vec a = m[w], b = m[w];
            for (int j = 0; j + 1 < nb; j += 2) {
                a = vmax(a, s[j][w]);
                b = vmax(b, s[j + 1][w]);
            }
            mx[0][w] = (nb & 1) ? vmax(a, s[nb - 1][w]) : a;
            mx[1][w] = b;
        }
    }
    /* Online softmax, lane by lane. A row that has seen only -inf keeps m = -inf; its exps are
     * taken against 0 so they give 0, not NaN. */
    vec alpha[NV], msafe[NV];
#pragma unroll
    for (int w = 0; w < NV; w++) {
        vec mw = vmax(mx[0][w], mx[1][w]);
        msafe[w] = select(mw, (vec)(0.0f), mw == (vec)(-INFINITY));
        alpha[w] = clattn_exp2_nonpos_vec(m[w] - msafe[w]);
        m[w] = mw;
    }
#pragma unroll
    for (int w = 0; w < NV; w++) {
        vec sum = (vec)(0.0f);
        for (int j = 0; j < nb; j++) {
            vec p = clattn_exp2_nonpos_vec(s[j][w] - msafe[w]);
            s[j][w] = p;
            sum += p;
        }
        l[w] = fma(l[w], alpha[w], sum);
    }
    /* O^T = alpha O^T + V^T P^T, EB value dims x NV row vectors at a time. Dims past dv repeat
     * the last column; they are never stored. */
    const int dvr = (dv + EB - 1) / EB * EB;
    for (int e0 = 0; e0 < dvr; e0 += EB) {
        int col[EB];
#pragma unroll
        for (int u = 0; u < EB; u++) col[u] = min(e0 + u, dv - 1);
        vec acc[EB][NV];
#pragma unroll
        for (int u = 0; u < EB; u++)
#pragma unroll
            for (int w = 0; w < NV; w++) acc[u][w] = oT[e0 + u][w] * alpha[w];
        for (int j = 0; j < nb; j++) {
            kv_row vr = KV_ROW(vt, DVCAP, vg, v_ss, j);
            vec p[NV];
#pragma unroll
            for (int w = 0; w < NV; w++) p[w] = s[j][w];
#pragma unroll
            for (int u = 0; u < EB; u++) {
                vec vbc = (vec)(KV_AT(vr, col[u]));
#pragma unroll
                for (int w = 0; w < NV; w++) acc[u][w] = fma(vbc, p[w], acc[u][w]);
            }
        }
#pragma unroll
        for (int u = 0; u < EB; u++)
#pragma unroll
            for (int w = 0; w < NV; w++) oT[e0 + u][w] = acc[u][w];
    }
}

/* Writes rows' normalised outputs (and lse) from the lane state: whole groups of 8 rows by 8 x 8
 * transposes (as load_qT), the rest one element at a time. */
static inline void store_rows(const tile_info *t, __global O_T *restrict out,
                              __global float *restrict lse, const vec oT[DVCAP][NV],
                              const vec m[NV], const vec l[NV]) {
    float inv[BR];
    for (int r = 0; r < BR; r++) inv[r] = clattn_inv_sum(((const float *)l)[r]);
    const int dv8 = t->dv & ~7;
    for (int r0 = 0; r0 < t->rows; r0 += 8) {
        const float *src = (const float *)oT + (r0 / VW) * VW + r0 % VW; /* lane r0, column 0 */
        const int nr = min(8, t->rows - r0), c8 = nr == 8 ? dv8 : 0;
        for (int c0 = 0; c0 < c8; c0 += 8) {
            float8 cols[8], rows[8];
#pragma unroll
            for (int c = 0; c < 8; c++) cols[c] = vload8(0, src + (c0 + c) * NV * VW);
            transpose8(cols, rows);
#pragma unroll
            for (int i = 0; i < 8; i++) store8_o(out + t->row_o[r0 + i], c0, rows[i] * inv[r0 + i]);
        }
        for (int i = 0; i < nr; i++)
            for (int e = c8; e < t->dv; e++)
                store_o(out + t->row_o[r0 + i], e, src[e * NV * VW + i] * inv[r0 + i]);
    }
    if (t->flags & CLATTN_KF_LSE)
        for (int r = 0; r < t->rows; r++)
            lse[t->row_l[r]] = clattn_lse(((const float *)m)[r], ((const float *)l)[r]);
}

/* FlashAttention-2. Global size (ceil(Sq * group / BR), B * Hkv), local size (1, 1). */
__kernel void flash2_cpu(CLATTN_SDPA_PARAMS) {
    const int r0 = get_global_id(0) * BR;
    const int bh = get_global_id(1);
    const int hq = (int)heads, grp = (int)group, hkv = hq / grp;
    const int b = bh / hkv, hk = bh % hkv;
    tile_info t;
    const clattn_mask_rule rule = CLATTN_SDPA_MASK_RULE(b);
    tile_setup(&t, r0, b, hk, head_dim, head_dim_v, (int)seq_q, (int)seq_kv, hq, grp, flags, rule,
               alibi, alibi_sb, q_sb, q_sh, q_ss, o_sb, o_sh, o_ss, m_sb, m_sh, m_ss);
    vec qT[DCAP][NV], oT[DVCAP][NV], s[BC][NV], m[NV], l[NV];
#pragma unroll
    for (int w = 0; w < NV; w++) {
        m[w] = (vec)(-INFINITY);
        l[w] = (vec)(0.0f);
    }
    for (int e = 0; e < DVCAP; e++) {
#pragma unroll
        for (int w = 0; w < NV; w++) oT[e][w] = (vec)(0.0f);
    }
    if (t.kv_end > t.kv_begin) {
        load_qT(&t, q, scale_log2, qT);
        __global const KV_T *kb = k + b * k_sb + hk * k_sh;
        __global const KV_T *vb = v + b * v_sb + hk * v_sh;
        for (int j0 = t.kv_begin; j0 < t.kv_end; j0 += block_kv)
            tile_step(&t, j0, min(block_kv, t.kv_end - j0), kb, vb, mask, k_ss, v_ss, qT, oT, m, l,
                      s);
    }
    store_rows(&t, out, lse, oT, m, l);
}

/* FlashAttention (first paper), one outer step: the K/V block [kv_start, kv_start + block_kv).
 * scratch holds m (log2 domain) then l for every query row, [2][B * Hq * Sq]. Step 0
 * initialises the state instead of reading it. Global size (ceil(Sq * group / BR), B * Hkv),
 * local size (1, 1). */
__kernel void flash1_cpu(CLATTN_SDPA_PARAMS) {
    const int r0 = get_global_id(0) * BR;
    const int bh = get_global_id(1);
    const int hq = (int)heads, grp = (int)group, hkv = hq / grp;
    const int b = bh / hkv, hk = bh % hkv;
    const int j0 = (int)kv_start;
    tile_info t;
    const clattn_mask_rule rule = CLATTN_SDPA_MASK_RULE(b);
    tile_setup(&t, r0, b, hk, head_dim, head_dim_v, (int)seq_q, (int)seq_kv, hq, grp, flags, rule,
               alibi, alibi_sb, q_sb, q_sh, q_ss, o_sb, o_sh, o_ss, m_sb, m_sh, m_ss);
    const int first = j0 == 0;
    const int seen = j0 < t.kv_end && j0 + block_kv > t.kv_begin; /* some row sees a key */
    if (!seen && !first) return; /* this block is hidden from every row */
    const long nstate = batch * heads * seq_q;
    __global float *gm = scratch, *gl = scratch + nstate;
    vec qT[DCAP][NV], oT[DVCAP][NV], s[BC][NV], m[NV], l[NV];
    /* Load the carried state: O un-normalised (O * l), m, l. */
    for (int r = 0; r < BR; r++) {
        float mr = -INFINITY, lr = 0.0f;
        if (!first) {
            mr = gm[t.row_l[r]];
            lr = gl[t.row_l[r]];
        }
        ((float *)m)[r] = mr;
        ((float *)l)[r] = lr;
        float *dst = (float *)oT + (r / VW) * VW + r % VW;
        __global const O_T *src = out + t.row_o[r];
        for (int e = 0; e < DVCAP; e++)
            dst[e * NV * VW] = (!first && lr > 0.0f && e < t.dv) ? load_o(src, e) * lr : 0.0f;
    }
    if (seen) {
        load_qT(&t, q, scale_log2, qT);
        tile_step(&t, j0, min(block_kv, t.kv_end - j0), k + b * k_sb + hk * k_sh,
                  v + b * v_sb + hk * v_sh, mask, k_ss, v_ss, qT, oT, m, l, s);
    }
    /* Store the state normalised, as the paper keeps O. */
    store_rows(&t, out, lse, oT, m, l);
    for (int r = 0; r < t.rows; r++) {
        gm[t.row_l[r]] = ((float *)m)[r];
        gl[t.row_l[r]] = ((float *)l)[r];
    }
}
