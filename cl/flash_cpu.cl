/* flash_cpu.cl: FlashAttention-2 and FlashAttention(-1) forward kernels shaped for CPUs, i.e.
 * for OpenCL devices whose local memory is emulated in global memory (PoCL). Both algorithms
 * share the tile step below; they differ only in where the running state (O, l, m) lives:
 *   flash2_cpu  one launch; each work-group loops over every K/V block for its query rows and
 *               keeps O un-normalised in private memory, rescaling once at the end.
 *   flash1_cpu  one launch per K/V block (the host's outer loop, as in the first paper); each
 *               work-group handles one query block and carries O (normalised, in `out`), l and
 *               m (in a scratch buffer) through global memory between launches.
 *
 * Why this shape (measured on PoCL, see src/dispatch_cpu.c): one work-item per work-group acts
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
 *   BR     query rows per work-group, a multiple of VW (the launcher uses 8, 16, 32 or 64)
 *   VW     lanes per vector: 16 (float16, AVX-512) or 8 (float8)
 *   DPAD   capacity for the q/k head dim (the actual d <= DPAD is an argument)
 *   DVPAD  capacity for the v head dim, a multiple of EB (the actual dv is an argument)
 *   BCMAX  capacity for the keys per block (the actual block_kv, a multiple of JB, is an arg)
 *   JB, EB register blocking over keys (scores) and value dims (output); default from BR/VW
 *
 * Arguments (both kernels): q, k, v, mask (may be NULL), out, lse (may be NULL), int d, dv, sq,
 * skv, hq, group, float scale*log2(e), int flags (1 causal, 2 mask, 4 lse), int block_kv, then
 * long strides (batch, head, seq) of q, k, v, out and mask; flash1_cpu adds the m/l scratch
 * buffer and int j0, the first key of its block.
 */
#ifndef BR
#define BR 16
#endif
#ifndef DPAD
#define DPAD 64
#endif
#ifndef DVPAD
#define DVPAD DPAD
#endif
#ifndef BCMAX
#define BCMAX 128
#endif
#ifndef CLATTN_LOG2E
#define CLATTN_LOG2E 1.4426950408889634f
#endif
#ifndef CLATTN_LN2
#define CLATTN_LN2 0.6931471805599453f
#endif

#ifndef VW
#define VW 8
#endif
#if VW == 16
typedef float16 vec;
typedef int16 ivec;
#else
typedef float8 vec;
typedef int8 ivec;
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

#if (BR % VW) != 0 || (DVPAD % EB) != 0 || (BCMAX % JB) != 0
#error "BR must be a multiple of VW, DVPAD of EB and BCMAX of JB"
#endif

/* Flag bits of the `flags` argument. */
#define F_CAUSAL 1
#define F_MASK   2
#define F_LSE    4

/* Everything a work-group needs to know about its problem and its rows. */
typedef struct {
    int d, dv, sq, skv, hq, group, flags;
    int off;    /* skv - sq: query i sees keys j <= i + off when causal */
    int rows;   /* valid rows in this work-group (<= BR) */
    int i_min;  /* smallest query index among the rows */
    int kv_end; /* keys beyond this are masked for every row (causal) */
    int diag;   /* keys above this need the per-element causal test */
    long row_q[BR], row_o[BR], row_m[BR], row_l[BR]; /* per-row element offsets */
    ivec qi[NV]; /* query index of each lane, for the causal test */
} tile_info;

/* Fills the per-row offsets for rows r0 .. r0+BR-1 of (batch b, kv head hk). Rows past the end
 * repeat the last valid one so loads stay in bounds; their results are never stored. */
static inline void tile_setup(tile_info *t, int r0, int b, int hk, int d, int dv, int sq, int skv,
                              int hq, int group, int flags, long q_sb, long q_sh, long q_ss,
                              long o_sb, long o_sh, long o_ss, long m_sb, long m_sh, long m_ss) {
    t->d = d;
    t->dv = dv;
    t->sq = sq;
    t->skv = skv;
    t->hq = hq;
    t->group = group;
    t->flags = flags;
    t->off = skv - sq;
    int nrows = sq * group;
    t->rows = min(BR, nrows - r0);
    int i_max = (r0 + t->rows - 1) / group;
    t->i_min = r0 / group;
    t->kv_end = skv;
    t->diag = skv;
    if (flags & F_CAUSAL) {
        t->kv_end = clamp(i_max + t->off + 1, 0, skv);
        t->diag = clamp(t->i_min + t->off + 1, 0, skv);
    }
    for (int r = 0; r < BR; r++) {
        int rr = r0 + min(r, t->rows - 1);
        int i = rr / group;
        int h = hk * group + rr % group;
        t->row_q[r] = b * q_sb + h * q_sh + i * q_ss;
        t->row_o[r] = b * o_sb + h * o_sh + i * o_ss;
        t->row_m[r] = b * m_sb + h * m_sh + i * m_ss;
        t->row_l[r] = ((long)b * hq + h) * sq + i;
        ((int *)t->qi)[r] = i;
    }
}

/* Q^T into private memory, pre-multiplied by scale * log2(e) so the softmax can use exp2. */
static inline void load_qT(const tile_info *t, __global const float *restrict q, float sl2,
                           vec qT[DPAD][NV]) {
    float *qs = (float *)qT;
    for (int r = 0; r < BR; r++) {
        __global const float *src = q + t->row_q[r];
        int v = r / VW, lane = r % VW;
        for (int c = 0; c < t->d; c++) qs[(c * NV + v) * VW + lane] = src[c] * sl2;
    }
}

/* The larger of a and b, defined for infinities (OpenCL's max() is not) and one instruction
 * where fmax()'s NaN rules cost several on a loop-carried chain. */
static inline vec vmax(vec a, vec b) {
    return select(a, b, a < b);
}

/* One K/V block [j0, j0 + nb) of the online softmax: S^T, masking, the lane-wise running max
 * and sum (m, l, in the log2 domain), and O^T = alpha * O^T + V^T P^T. */
static inline void tile_step(const tile_info *t, int j0, int nb, __global const float *restrict k,
                             __global const float *restrict vv, __global const float *restrict mask,
                             long k_ss, long v_ss, const vec qT[DPAD][NV], vec oT[DVPAD][NV],
                             vec m[NV], vec l[NV], vec s[BCMAX][NV]) {
    const int d = t->d, dv = t->dv;
    const int nbr = (nb + JB - 1) / JB * JB;
    const int causal = (t->flags & F_CAUSAL) && j0 + nb > t->diag;
    const int has_mask = t->flags & F_MASK;
    /* Block max, two partial maxima per vector so the max is not one long dependency chain. */
    vec mx[2][NV];
#pragma unroll
    for (int w = 0; w < NV; w++) mx[0][w] = mx[1][w] = m[w];
    /* S^T = K Q^T, JB keys x NV row vectors at a time. Keys past the block repeat the last one
     * and are set to -inf; the causal test and the max are fused into the store. */
    for (int jj = 0; jj < nbr; jj += JB) {
        __global const float *kr[JB];
#pragma unroll
        for (int u = 0; u < JB; u++) kr[u] = k + (long)(j0 + min(jj + u, nb - 1)) * k_ss;
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
                vec kb = (vec)(kr[u][c]);
#pragma unroll
                for (int w = 0; w < NV; w++) acc[u][w] = fma(kb, qc[w], acc[u][w]);
            }
        }
#pragma unroll
        for (int u = 0; u < JB; u++) {
            const int j = jj + u;
#pragma unroll
            for (int w = 0; w < NV; w++) {
                vec x = j < nb ? acc[u][w] : (vec)(-INFINITY);
                if (causal) x = select(x, (vec)(-INFINITY), (ivec)(j0 + j - t->off) > t->qi[w]);
                s[j][w] = x;
                mx[u % 2][w] = vmax(mx[u % 2][w], x);
            }
        }
    }
    /* The additive mask (a per-lane gather: rows are lanes) and its max, only when present. */
    if (has_mask) {
        for (int r = 0; r < BR; r++) {
            __global const float *mr = mask + t->row_m[r] + j0;
            float *sr = (float *)s + (r / VW) * VW + r % VW;
            for (int j = 0; j < nb; j++)
                sr[j * NV * VW] = fma(mr[j], CLATTN_LOG2E, sr[j * NV * VW]);
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
        alpha[w] = exp2(m[w] - msafe[w]);
        m[w] = mw;
    }
#pragma unroll
    for (int w = 0; w < NV; w++) {
        vec sum = (vec)(0.0f);
        for (int j = 0; j < nb; j++) {
            vec p = exp2(s[j][w] - msafe[w]);
            s[j][w] = p;
            sum += p;
        }
        l[w] = fma(l[w], alpha[w], sum);
    }
    /* O^T = alpha O^T + V^T P^T, EB value dims x NV row vectors at a time. Dims past dv repeat
     * the last column; they are never stored. */
    const int dvr = (dv + EB - 1) / EB * EB;
    __global const float *vb = vv + (long)j0 * v_ss;
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
            __global const float *vr = vb + (long)j * v_ss;
            vec p[NV];
#pragma unroll
            for (int w = 0; w < NV; w++) p[w] = s[j][w];
#pragma unroll
            for (int u = 0; u < EB; u++) {
                vec vbc = (vec)(vr[col[u]]);
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

/* The natural log-sum-exp of a lane from its log2-domain max and sum (-inf when l = 0). */
static inline float lane_lse(float m, float l) {
    return l > 0.0f ? (m + log2(l)) * CLATTN_LN2 : -INFINITY;
}

/* FlashAttention-2. Global size (ceil(Sq * group / BR), B * Hkv), local size (1, 1). */
__kernel void flash2_cpu(__global const float *restrict q, __global const float *restrict k,
                         __global const float *restrict v, __global const float *restrict mask,
                         __global float *restrict out, __global float *restrict lse, int d, int dv,
                         int sq, int skv, int hq, int group, float sl2, int flags, int bc,
                         long q_sb, long q_sh, long q_ss, long k_sb, long k_sh, long k_ss,
                         long v_sb, long v_sh, long v_ss, long o_sb, long o_sh, long o_ss,
                         long m_sb, long m_sh, long m_ss) {
    const int r0 = get_global_id(0) * BR;
    const int bh = get_global_id(1);
    const int hkv = hq / group;
    const int b = bh / hkv, hk = bh % hkv;
    tile_info t;
    tile_setup(&t, r0, b, hk, d, dv, sq, skv, hq, group, flags, q_sb, q_sh, q_ss, o_sb, o_sh, o_ss,
               m_sb, m_sh, m_ss);
    vec qT[DPAD][NV], oT[DVPAD][NV], s[BCMAX][NV], m[NV], l[NV];
#pragma unroll
    for (int w = 0; w < NV; w++) {
        m[w] = (vec)(-INFINITY);
        l[w] = (vec)(0.0f);
    }
    for (int e = 0; e < DVPAD; e++) {
#pragma unroll
        for (int w = 0; w < NV; w++) oT[e][w] = (vec)(0.0f);
    }
    if (t.kv_end > 0) {
        load_qT(&t, q, sl2, qT);
        __global const float *kb = k + b * k_sb + hk * k_sh;
        __global const float *vb = v + b * v_sb + hk * v_sh;
        for (int j0 = 0; j0 < t.kv_end; j0 += bc)
            tile_step(&t, j0, min(bc, t.kv_end - j0), kb, vb, mask, k_ss, v_ss, qT, oT, m, l, s);
    }
    for (int r = 0; r < t.rows; r++) {
        int w = r / VW, lane = r % VW;
        float lr = ((float *)l)[r];
        float inv = lr > 0.0f ? 1.0f / lr : 0.0f;
        __global float *dst = out + t.row_o[r];
        const float *src = (const float *)oT + w * VW + lane;
        for (int e = 0; e < dv; e++) dst[e] = src[e * NV * VW] * inv;
        if (flags & F_LSE) lse[t.row_l[r]] = lane_lse(((float *)m)[r], lr);
    }
}

/* FlashAttention (first paper), one outer step: the K/V block [j0, j0 + bc). ml holds m (log2
 * domain) then l for every query row, [2][B * Hq * Sq]. Step j0 = 0 initialises the state
 * instead of reading it. Global size (ceil(Sq * group / BR), B * Hkv), local size (1, 1). */
__kernel void flash1_cpu(__global const float *restrict q, __global const float *restrict k,
                         __global const float *restrict v, __global const float *restrict mask,
                         __global float *restrict out, __global float *restrict lse, int d, int dv,
                         int sq, int skv, int hq, int group, float sl2, int flags, int bc,
                         long q_sb, long q_sh, long q_ss, long k_sb, long k_sh, long k_ss,
                         long v_sb, long v_sh, long v_ss, long o_sb, long o_sh, long o_ss,
                         long m_sb, long m_sh, long m_ss, __global float *restrict ml, int j0) {
    const int r0 = get_global_id(0) * BR;
    const int bh = get_global_id(1);
    const int hkv = hq / group;
    const int b = bh / hkv, hk = bh % hkv;
    tile_info t;
    tile_setup(&t, r0, b, hk, d, dv, sq, skv, hq, group, flags, q_sb, q_sh, q_ss, o_sb, o_sh, o_ss,
               m_sb, m_sh, m_ss);
    const int first = j0 == 0;
    if (j0 >= t.kv_end && !first) return; /* causal: this block is masked for every row */
    const long nstate = (long)get_global_size(1) / hkv * hq * sq;
    __global float *gm = ml, *gl = ml + nstate;
    vec qT[DPAD][NV], oT[DVPAD][NV], s[BCMAX][NV], m[NV], l[NV];
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
        __global const float *src = out + t.row_o[r];
        for (int e = 0; e < DVPAD; e++)
            dst[e * NV * VW] = (!first && lr > 0.0f && e < dv) ? src[e] * lr : 0.0f;
    }
    if (j0 < t.kv_end) {
        load_qT(&t, q, sl2, qT);
        tile_step(&t, j0, min(bc, t.kv_end - j0), k + b * k_sb + hk * k_sh,
                  v + b * v_sb + hk * v_sh, mask, k_ss, v_ss, qT, oT, m, l, s);
    }
    /* Store the state normalised, as the paper keeps O. */
    for (int r = 0; r < t.rows; r++) {
        int w = r / VW, lane = r % VW;
        float lr = ((float *)l)[r], mr = ((float *)m)[r];
        float inv = lr > 0.0f ? 1.0f / lr : 0.0f;
        __global float *dst = out + t.row_o[r];
        const float *src = (const float *)oT + w * VW + lane;
        for (int e = 0; e < dv; e++) dst[e] = src[e * NV * VW] * inv;
        gm[t.row_l[r]] = mr;
        gl[t.row_l[r]] = lr;
        if (flags & F_LSE) lse[t.row_l[r]] = lane_lse(mr, lr);
    }
}
