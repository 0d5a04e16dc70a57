/* decode.cl: split-KV attention for few query rows (decode steps: Sq = 1, speculative and chunked
 * steps up to RCAP rows per kv head), after FlashDecoding. At decode time a step reads the whole
 * K/V cache and does little arithmetic per byte, so the work is cut along the keys into splits
 * (every compute unit gets some even at B = 1), and each work-group reads its K/V slice ONCE for
 * all the query rows of its GQA group (the Sq * group rows sharing one kv head): that is where
 * GQA and MQA save bandwidth. Each split writes a partial output, normalised, and its log-sum-exp
 * to `scratch`; the shared combine kernel (cl/lse_combine.cl, also behind clattn_lse_combine)
 * merges the splits exactly (the rescaling FlashAttention-2 uses between blocks). Rows r of a kv
 * head are stacked as in the CPU flash kernels: r = i * group + g.
 *
 *   decode_cpu   one work-item per (split, batch * kv head): the group's rows in registers, q
 *                and the accumulators as VW-wide vectors over the head dim, K/V rows read once
 *                per block of BK keys (no barriers, no __local: PoCL-shaped).
 *   decode_gpu   one work-group of WG items per (split, batch * kv head): q staged in __local,
 *                each item scores keys of a BK-key block for all rows, per-row max and sum in
 *                __local, then items own output columns and read V rows coalesced.
 *
 * Arguments: CLATTN_SDPA_PARAMS; block_kv is the split size in keys; scratch holds one record
 * of DVCAP + 1 floats per (split, query row): the partial output, then its lse (a layout that
 * does not depend on the number of splits, so splits past the keys cost nothing). Masking and
 * score shaping are common.cl's, so every option works here as in the prefill kernels. K/V rows
 * are found through CLATTN_SDPA_KV_ROW, so a paged KV cache is read in place, page by page. */

#ifndef RCAP
#define RCAP 4 /* query rows per kv head (Sq * group) the build holds: 1 ... 32 */
#endif
#ifndef DCAP
#define DCAP 64
#endif
#ifndef DVCAP
#define DVCAP DCAP
#endif
#ifndef BK
#define BK 32 /* keys per block inside a split */
#endif

/* The lines of `bytes` (a build constant, so the loop unrolls) from byte `from` of a K or V row,
 * toward the caches ahead of use (common.cl's clattn_prefetch_line): branch-free, since a
 * prefetch never faults even past a row's end. */
#define DECODE_PREFETCH_SPAN(row, from, bytes)                                                     \
    _Pragma("unroll") for (int o_ = 0; o_ < (bytes); o_ += 64)                                     \
        clattn_prefetch_line((const __global char *)(row) + (from) + o_)

/* Where row r of kv head (b, hk) lives: query i, head h. */
inline long decode_row_q(int r, long group) {
    return r / group;
}
inline long decode_row_h(int r, long hk, long group) {
    return hk * group + r % group;
}

/* The record of split s, query row `row` (of rows_total) in scratch: DVCAP outputs, then lse. */
inline __global float *decode_record(__global float *scratch, long s, long row, long rows_total) {
    return scratch + (s * rows_total + row) * (DVCAP + 1);
}

#ifndef VW
#define VW 8
#endif
#if VW == 16
typedef float16 dvec;
#define dvload  vload16
#define dvstore vstore16
#else
typedef float8 dvec;
#define dvload  vload8
#define dvstore vstore8
#endif
#define NC  ((DCAP + VW - 1) / VW)  /* q/k vectors per row */
#define NCV ((DVCAP + VW - 1) / VW) /* v/acc vectors per row */

/* Chunk c (VW elements from c * VW) of a K or V row of n elements, widened to float32, zero
 * past n: whole vectors through kernel_iface.h's load8_kv (one load for float32, F16C's
 * vcvtph2ps for float16 where the kernel compiler targets it: half the CPU time of an f16 decode
 * step against integer widening; a shift for bfloat16); element by element only for a row's
 * tail. */
inline dvec decode_chunk_full(const __global KV_T *row, int c) {
#if VW == 16
    return (float16)(load8_kv(row, c * VW), load8_kv(row, c * VW + 8));
#else
    return load8_kv(row, c * VW);
#endif
}
inline dvec decode_chunk(const __global KV_T *row, int c, int n) {
    if ((c + 1) * VW <= n) return decode_chunk_full(row, c);
    float tmp[VW];
    for (int e = 0; e < VW; e++) tmp[e] = c * VW + e < n ? load_kv(row, c * VW + e) : 0.0f;
    return dvload(0, tmp);
}

/* Pairwise sums of a and b in the order of x86's vhaddps (which the compiler emits for it):
 * a0+a1, a2+a3, b0+b1, b2+b3, then the same of the high halves. */
inline float8 decode_hadd(float8 a, float8 b) {
    return (float8)(a.s02, b.s02, a.s46, b.s46) + (float8)(a.s13, b.s13, a.s57, b.s57);
}

/* The horizontal sums of the score loop's 8 accumulators at once: lane i of the result is the
 * sum of x[i]'s lanes. A tree of pairwise sums (three levels, 8 vectors -> 4 -> 2 -> 1): PoCL
 * emits 6 vhaddps and 4 instructions to finish, where summing each vector alone took 8 x 8. The
 * score loop keeps exactly 8 accumulators (DECODE_ACCS, checked below). */
inline float8 decode_hsum8(const dvec x[8]) {
    float8 y[8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#if VW == 16
        y[i] = x[i].lo + x[i].hi;
#else
        y[i] = x[i];
#endif
    const float8 g0 = decode_hadd(decode_hadd(y[0], y[1]), decode_hadd(y[2], y[3]));
    const float8 g1 = decode_hadd(decode_hadd(y[4], y[5]), decode_hadd(y[6], y[7]));
    return (float8)(g0.lo + g0.hi, g1.lo + g1.hi);
}

/* Register blocking of the CPU kernel: rows are taken RG at a time (a register group), and the
 * score loop keeps RG x KU dot products in flight (KU keys at once), the P V loop RG x CU output
 * vectors (CU chunks of the head dim over the block's keys): 8 vector accumulators either way.
 * One dot product per row and key, summed chunk by chunk into one register, is a chain of
 * dependent FMAs (NC of them, 4 cycles each): that chain, not memory, bounded the GQA step
 * before. Groups after the first read the block's K/V rows again, from L1. */
#define DECODE_ACCS 8
#if DECODE_ACCS != 8
#error "decode_hsum8 sums exactly 8 accumulators"
#endif
#define RG (RCAP < DECODE_ACCS ? RCAP : DECODE_ACCS)
#define KU (DECODE_ACCS / RG)
#define CU (DECODE_ACCS / RG < NCV ? DECODE_ACCS / RG : NCV)

/* The P V passes prefetch the next block's V in address order (the note in decode_cpu): pass p
 * takes steps p * nb ... p * nb + nb - 1, step t prefetching DECODE_PF_SPAN bytes (what one pass
 * reads of a row) at span t % DECODE_PF_STEPS of row t / DECODE_PF_STEPS. Powers of two (DVCAP,
 * VW and CU are), so a shift and a mask. A head dim below DVCAP takes fewer passes than the
 * steps a row has, so the last rows of its next block are left to the demand reads, and spans
 * past a row's end prefetch what follows it. */
#define DECODE_PF_SPAN  (CU * VW * (uint)sizeof(KV_T))
#define DECODE_PF_STEPS ((uint)(NCV / CU))
/* The score loop prefetches the next block's KU K rows in address order, DCAP's span of each:
 * DECODE_KF_LINES lines in all, DECODE_KF_LPC of them at every DECODE_KF_EVERY-th chunk of the
 * head dim (all powers of two), so that they are spread over the arithmetic as the V prefetches
 * are (the prefetch note in decode_cpu has the measurements). */
#define DECODE_KF_ROW   ((uint)((DCAP * sizeof(KV_T) + 63) / 64))
#define DECODE_KF_LINES ((uint)KU * DECODE_KF_ROW)
#define DECODE_KF_EVERY (DECODE_KF_LINES >= NC ? 1 : NC / DECODE_KF_LINES)
#define DECODE_KF_LPC   (DECODE_KF_LINES >= NC ? DECODE_KF_LINES / NC : 1)
/* Line t of the walk: row t / DECODE_KF_ROW of knext, at its line t % DECODE_KF_ROW. */
#define DECODE_KF_LINE(knext, t)                                                                   \
    clattn_prefetch_line((knext)[(t) / DECODE_KF_ROW] + (t) % DECODE_KF_ROW * 64)

/* Narrow K/V (float16, bfloat16) read by more than one register group (MQA's 32 rows: four)
 * is widened once per block into private float tiles, and the groups read the tiles: otherwise
 * every group widens every chunk again, and with 32 rows per key the conversions made the f16
 * step slower than the f32 one (18.3 against 10.8 ms, MQA 32/1, Skv=32768, D=128). One group
 * widens each chunk once anyway and reads the rows directly. dkv_row is where a block's K or V
 * row is read from; tile rows hold whole chunks, zero past the head dim. */
#if KV_DTYPE != CLATTN_STORAGE_F32 && RCAP > DECODE_ACCS
#define DECODE_TILE 1
typedef const float *dkv_row;
#define DKV_FULL(row, c)    dvload(c, row)
#define DKV_TAIL(row, c, n) dvload(c, row)
#else
#define DECODE_TILE         0
typedef const __global KV_T *dkv_row;
#define DKV_FULL(row, c)    decode_chunk_full(row, c)
#define DKV_TAIL(row, c, n) decode_chunk(row, c, n)
#endif

/* The two `#pragma unroll 2` loops below unroll on PoCL (x86); a compiler that cannot unroll
 * them (oclgrind's SPIR build) says so in its build log, which the tests treat as a finding. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

/* One chunk c of the head dim in the score loop of decode_cpu: kc[u] = `load` (of key u's row
 * kr[u]), d[r][u] += q[r0 + r] . kc[u] for the register group's rows. */
#define DECODE_QK_CHUNK(c, load)                                                                   \
    {                                                                                              \
        dvec kc[KU];                                                                               \
        _Pragma("unroll") for (int u = 0; u < KU; u++) kc[u] = load;                               \
        _Pragma("unroll") for (int r = 0; r < RG; r++)                                             \
            _Pragma("unroll") for (int u = 0; u < KU; u++) d[r][u] =                               \
                fma(qv[r0 + r][c], kc[u], d[r][u]);                                                \
    }

__kernel void decode_cpu(CLATTN_SDPA_PARAMS) {
    const long split = get_global_id(0);
    const long bh = get_global_id(1), hkv = heads / group;
    const long b = bh / hkv, hk = bh % hkv;
    const int rows = (int)(seq_q * group);
    const long rows_total = batch * heads * seq_q;
    const clattn_mask_rule rule = CLATTN_SDPA_MASK_RULE(b);

    dvec qv[RCAP][NC], acc[RCAP][NCV];
    float m[RCAP], l[RCAP], slope[RCAP];
    long qi[RCAP]; /* the query index of each row (rows past the group repeat the last) */
    clattn_key_range keys[RCAP];
    const __global M_T *mrow[RCAP];
    long lo = rule.seq_kv, hi = 0;         /* the keys any row of the group sees */
    long lo_all = 0, hi_all = rule.seq_kv; /* the keys every row sees (empty if lo_all >= hi_all) */
    for (int r = 0; r < RCAP; r++) {
        const int rr = min(r, rows - 1); /* never stored */
        const long i = decode_row_q(rr, group), h = decode_row_h(rr, hk, group);
        const __global Q_T *qp = q + b * q_sb + h * q_sh + i * q_ss;
        float tmp[NC * VW];
        for (int c = 0; c < NC * VW; c++) tmp[c] = c < head_dim ? load_q(qp, c) * scale_log2 : 0.0f;
        for (int c = 0; c < NC; c++) qv[r][c] = dvload(c, tmp);
        for (int c = 0; c < NCV; c++) acc[r][c] = (dvec)(0.0f);
        m[r] = -INFINITY;
        l[r] = 0.0f;
        qi[r] = i;
        keys[r] = clattn_row_keys(rule, i);
        slope[r] = clattn_alibi_slope(alibi, flags, alibi_sb, b, h);
        mrow[r] = (flags & CLATTN_KF_MASK) ? mask + b * m_sb + h * m_sh + i * m_ss : 0;
        lo = min(lo, keys[r].lo);
        hi = max(hi, keys[r].hi);
        lo_all = max(lo_all, keys[r].lo);
        hi_all = min(hi_all, keys[r].hi);
    }
    /* Scores that are the dot products themselves: no score options, and (per block) every row
     * sees every key of the block. The per-key tests of clattn_score were about a fifth of the
     * score loop's instructions. */
    const int plain = !(flags & (CLATTN_KF_MASK | CLATTN_KF_ALIBI | CLATTN_KF_SOFTCAP));
    /* The softcap's tanh, 8 keys at a time after the block's dot products (common.cl's vector
     * tanh; PoCL's scalar tanh inside clattn_score made a softcapped GQA step about 35% slower
     * than a plain one), then the rest of clattn_score's shaping key by key without it. */
    const int capped = (flags & CLATTN_KF_SOFTCAP) != 0;
    const int per_key = (flags & (CLATTN_KF_MASK | CLATTN_KF_ALIBI)) != 0;
    const float inv_cap = 1.0f / rule.cap;
    clattn_mask_rule rule_rest = rule;
    rule_rest.flags &= ~CLATTN_KF_SOFTCAP;
    /* This split's keys, cut to what the rows see. */
    const long j_begin = max(split * block_kv, lo), j_end = min((split + 1) * block_kv, hi);
    /* The vectors the head dims fill (the build's caps round them up: D 80 runs in DCAP 128). */
    const int nc = (head_dim + VW - 1) / VW, ncv = (head_dim_v + VW - 1) / VW;
    /* Chunks of K read whole: all of them from a tile (zero-padded). */
    const int ncf = DECODE_TILE ? nc : head_dim / VW;
    for (long j0 = j_begin; j0 < j_end; j0 += BK) {
        const int nb = (int)min((long)BK, j_end - j0);
        const int whole = plain && j0 >= lo_all && j0 + nb <= hi_all;
        float s[RCAP][BK];
        /* The block's V rows, found once (a paged cache looks each up in its block table). */
        dkv_row vrow[BK];
        const __global KV_T *vnext[BK];
        /* ... and its K rows (read from a tile instead where DECODE_TILE) and the next block's,
         * for the score loop's groups (rows past a short block repeat its last, the last block
         * prefetches its own rows, as vnext's): found here, a loop the compiler vectorises,
         * instead of KU multiplies and clamps per key group for each. */
        const __global KV_T *krow[BK], *knrow[BK];
        for (int jj = 0; jj < BK; jj++) {
            krow[jj] = CLATTN_SDPA_KV_ROW(k, b, hk, j0 + min(jj, nb - 1));
            knrow[jj] = j0 + BK < j_end ? CLATTN_SDPA_KV_ROW(k, b, hk, min(j0 + BK + jj, j_end - 1))
                                        : krow[jj];
        }
#if DECODE_TILE
        float kt[BK * NC * VW], vt[BK * NCV * VW + CU * VW]; /* a pass past ncv reads the pad */
        for (int jj = 0; jj < nb; jj++) {
            const __global KV_T *kg = krow[jj], *vg = CLATTN_SDPA_KV_ROW(v, b, hk, j0 + jj);
            for (int c = 0; c < nc; c++)
                dvstore(decode_chunk(kg, c, head_dim), c, kt + jj * NC * VW);
            for (int c = 0; c < ncv; c++)
                dvstore(decode_chunk(vg, c, head_dim_v), c, vt + jj * NCV * VW);
            vrow[jj] = vt + jj * NCV * VW;
        }
#define DECODE_VG(jj) CLATTN_SDPA_KV_ROW(v, b, hk, j0 + (jj))
#else
        for (int jj = 0; jj < nb; jj++) vrow[jj] = CLATTN_SDPA_KV_ROW(v, b, hk, j0 + jj);
#define DECODE_VG(jj) vrow[jj]
#endif
        /* The next block's V rows, for the prefetches in the P V passes; the last block
         * prefetches its own rows again (already cached: no branch in the passes). All BK
         * entries, rows past a short block repeating its last, so the passes need no clamp. */
        for (int jj = 0; jj < BK; jj++)
            vnext[jj] = j0 + BK < j_end ? CLATTN_SDPA_KV_ROW(v, b, hk, min(j0 + BK + jj, j_end - 1))
                                        : DECODE_VG(min(jj, nb - 1));
#undef DECODE_VG
        /* Prefetch. A block's K and V rows are read in passes the hardware prefetcher follows
         * poorly, so the next block's rows are prefetched while this one is computed: K rows in
         * the score loop, key by key, V rows spread over the P V passes. Spread out, the
         * prefetches keep memory busy through the arithmetic; issued as one burst per block
         * (an earlier version) they stalled it instead: on the 2-core AVX2 host, B=1 Hq=32
         * D=128 f32, GQA (Hkv=8, Skv=32768) read 8.3 -> 11-12 GB/s and MHA (Hkv=32,
         * Skv=4096) 8.5 -> 11 GB/s against a 15-17 GB/s read probe (clattn bench, old and new
         * kernels alternated). Two blocks ahead was slower.
         * Both walk the next block in address order. The V prefetch used to follow the passes'
         * own order, each pass's columns of every row (one line per 512-byte row: a stride),
         * and a stride is what this host's memory serves worst: a C model of these loops
         * (bench/prefetch_order.c) reads the passes at 5.7 GB/s on one core with prefetches in
         * their order, 9.5 with prefetches in address order: the prefetches alone decide it. In
         * address order the same GQA step read 12.5-13 against 10-11 GB/s, MHA 11.1 against 9.8 and
         * B=16 ragged 13.1 against 10.6 (medians of 3-6 alternated runs, probe 16-17 GB/s).
         * The K prefetch was a burst too: the next KU rows whole at the start of each key group
         * (64 lines for MHA's eight keys). Walked in address order inside the chunk loop, a few
         * lines per chunk, the same steps took 0.85-0.90 of the time for GQA and 0.75-0.81 for
         * MHA, MQA and f16 K/V unchanged (bench/interleave.c, 20-30 rounds per comparison, next
         * to an unchanged copy of the kernel at 0.98-1.04). Two variants lost: line p of every
         * next row at chunk p (no faster than the burst), and a chunk's lines issued back to back
         * by an unrolled loop (MHA 0.92 of the burst's time against 0.80 with the loop kept:
         * `nounroll` below). */
        /* S = Q K^T for the block, KU keys at a time (keys past the block repeat its last). */
        for (int jj = 0; jj < nb; jj += KU) {
            dkv_row kr[KU];
#pragma unroll
            for (int u = 0; u < KU; u++)
#if DECODE_TILE
                kr[u] = kt + min(jj + u, nb - 1) * NC * VW;
#else
                kr[u] = krow[jj + u];
#endif
            /* The same keys of the next block (the prefetch note above), prefetched in the chunk
             * loop; past the split's end, its last key again, so no test on the way. */
            const __global char *knext[KU];
#pragma unroll
            for (int u = 0; u < KU; u++) knext[u] = (const __global char *)knrow[jj + u];
            for (int r0 = 0; r0 < RCAP; r0 += RG) {
                dvec d[RG][KU];
#pragma unroll
                for (int r = 0; r < RG; r++)
#pragma unroll
                    for (int u = 0; u < KU; u++) d[r][u] = (dvec)(0.0f);
                        /* Whole chunks, then the tail chunk of a head dim that VW does not divide
                         * (a test per chunk in one loop cost 3 of its 19 instructions). */
#pragma unroll 2
                for (int c = 0; c < ncf; c++) {
                    if (r0 == 0 && c % DECODE_KF_EVERY == 0) /* the walk's next lines */
#pragma nounroll
                        for (uint i = 0; i < DECODE_KF_LPC; i++)
                            DECODE_KF_LINE(knext, (uint)c / DECODE_KF_EVERY * DECODE_KF_LPC + i);
                    DECODE_QK_CHUNK(c, DKV_FULL(kr[u], c))
                }
                if (ncf < nc) DECODE_QK_CHUNK(ncf, DKV_TAIL(kr[u], ncf, head_dim))
                /* a head dim below DCAP runs fewer chunks: the rest of the walk at once */
                if (r0 == 0 && ncf < NC)
                    for (uint t =
                             ((uint)ncf + DECODE_KF_EVERY - 1) / DECODE_KF_EVERY * DECODE_KF_LPC;
                         t < DECODE_KF_LINES; t++)
                        DECODE_KF_LINE(knext, t);
                float dot[DECODE_ACCS]; /* row r, key u at r * KU + u */
                vstore8(decode_hsum8(&d[0][0]), 0, dot);
#pragma unroll
                for (int u = 0; u < KU; u++) {
                    if (jj + u >= nb) break;
                    if (whole || capped) { /* a capped block is shaped below */
#pragma unroll
                        for (int r = 0; r < RG; r++) s[r0 + r][jj + u] = dot[r * KU + u];
                    } else {
#pragma unroll
                        for (int r = 0; r < RG; r++) {
                            const int rr = r0 + r;
                            s[rr][jj + u] = clattn_score(dot[r * KU + u], j0 + jj + u, keys[rr],
                                                         rule, qi[rr], slope[rr], mrow[rr]);
                        }
                    }
                }
            }
        }
        if (capped)
            for (int r = 0; r < RCAP; r++) {
                for (int jj = nb; jj < BK; jj++) s[r][jj] = 0.0f; /* set to -inf below */
                for (int t = 0; t < BK / 8; t++)
                    vstore8(rule.cap * clattn_tanh_float8(vload8(t, s[r]) * inv_cap), t, s[r]);
                /* the key ranges, ALiBi and the mask, unless every row sees every key as is */
                if (per_key || j0 < lo_all || j0 + nb > hi_all)
                    for (int jj = 0; jj < nb; jj++)
                        s[r][jj] = clattn_score(s[r][jj], j0 + jj, keys[r], rule_rest, qi[r],
                                                slope[r], mrow[r]);
            }
        /* Online softmax per row, 8 keys per vector (the block padded with masked keys): the
         * block's max, the rescale, probabilities in place. exp2 one key at a time cost as much
         * as the two products together. */
        float alpha[RCAP];
        for (int r = 0; r < RCAP; r++) {
            for (int jj = nb; jj < BK; jj++) s[r][jj] = -INFINITY;
            float8 mx8 = (float8)(m[r]);
            for (int t = 0; t < BK / 8; t++) mx8 = fmax(mx8, vload8(t, s[r]));
            const float4 mx4 = fmax(mx8.lo, mx8.hi);
            const float mx = fmax(fmax(mx4.x, mx4.y), fmax(mx4.z, mx4.w));
            alpha[r] = clattn_exp2_diff(m[r], mx);
            /* clattn_exp2_diff on 8 keys without a branch: while the max is still -inf every key
             * is -inf (exp2 gives 0) or NaN (kept), whatever it is taken against */
            const float ms = mx == -INFINITY ? 0.0f : mx;
            float8 sum8 = (float8)(0.0f);
            for (int t = 0; t < BK / 8; t++) {
                const float8 x = vload8(t, s[r]);
                const float8 p = exp2(x - ms);
                vstore8(p, t, s[r]);
                sum8 += p;
            }
            const float4 sum4 = sum8.lo + sum8.hi;
            l[r] = l[r] * alpha[r] + ((sum4.x + sum4.y) + (sum4.z + sum4.w));
            m[r] = mx;
        }
        /* O = alpha O + P V, CU chunks of the head dim at a time over the block's value rows:
         * the accumulators stay in registers for the whole block, and each pass reads whole
         * cache lines of the rows (the block's V rows stay in L1 between passes). */
        for (int c0 = 0; c0 < ncv; c0 += CU)
            for (int r0 = 0; r0 < RCAP; r0 += RG) {
                dvec a[RG][CU];
#pragma unroll
                for (int r = 0; r < RG; r++)
#pragma unroll
                    /* no test for chunks past ncv: they are within acc's NCV (powers of two,
                     * CU <= NCV), and stay 0, since the tail loads below read zeros there */
                    for (int u = 0; u < CU; u++) a[r][u] = acc[r0 + r][c0 + u] * alpha[r0 + r];
                /* Whole chunks: no tail test in the key loop (the compiler kept it there). */
                const int full = (c0 + CU) * VW <= head_dim_v;
                const uint pass_t0 = c0 / CU * nb; /* this pass's first prefetch step */
#pragma unroll 2
                for (int jj = 0; jj < nb; jj++) {
                    const dkv_row vr = vrow[jj];
                    /* step t of the next block's V in address order (see above) */
                    if (r0 == 0) {
                        const uint t = pass_t0 + jj; /* unsigned: / and % are a shift, a mask */
                        DECODE_PREFETCH_SPAN(vnext[t / DECODE_PF_STEPS],
                                             t % DECODE_PF_STEPS * DECODE_PF_SPAN, DECODE_PF_SPAN);
                    }
                    dvec vc[CU];
                    if (full) {
#pragma unroll
                        for (int u = 0; u < CU; u++) vc[u] = DKV_FULL(vr, c0 + u);
                    } else {
#pragma unroll
                        for (int u = 0; u < CU; u++) vc[u] = DKV_TAIL(vr, c0 + u, head_dim_v);
                    }
#pragma unroll
                    for (int r = 0; r < RG; r++)
#pragma unroll
                        for (int u = 0; u < CU; u++)
                            a[r][u] = fma((dvec)(s[r0 + r][jj]), vc[u], a[r][u]);
                }
#pragma unroll
                for (int r = 0; r < RG; r++)
#pragma unroll
                    for (int u = 0; u < CU; u++) acc[r0 + r][c0 + u] = a[r][u];
            }
    }
    for (int r = 0; r < rows && r < RCAP; r++) {
        const long i = decode_row_q(r, group), h = decode_row_h(r, hk, group);
        const long row = (b * heads + h) * seq_q + i;
        const float inv = clattn_inv_sum(l[r]);
        __global float *o = decode_record(scratch, split, row, rows_total);
        for (int c = 0; c < NCV; c++) {
            float tmp[VW];
#if VW == 16
            vstore16(acc[r][c] * inv, 0, tmp);
#else
            vstore8(acc[r][c] * inv, 0, tmp);
#endif
            for (int e = 0; e < VW && c * VW + e < DVCAP; e++) o[c * VW + e] = tmp[e];
        }
        o[DVCAP] = clattn_lse(m[r], l[r]);
    }
}

#ifndef WG
#define WG 128 /* work-items of a decode_gpu work-group */
#endif
#define DVL ((DVCAP + WG - 1) / WG) /* output columns per work-item */

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void decode_gpu(CLATTN_SDPA_PARAMS) {
    __local float Qs[RCAP * DCAP];
    __local float Ps[RCAP * BK];
    __local float alpha_s[RCAP];
    const int t = get_local_id(0);
    const long nbh = batch * (heads / group);
    const long split = get_group_id(0) / nbh;
    const long bh = get_group_id(0) % nbh, hkv = heads / group;
    const long b = bh / hkv, hk = bh % hkv;
    const int rows = (int)(seq_q * group);
    const long rows_total = batch * heads * seq_q;
    const clattn_mask_rule rule = CLATTN_SDPA_MASK_RULE(b);

    /* The group's rows: q scaled into __local; every item knows every row's key range. */
    long lo = rule.seq_kv, hi = 0;
    for (int r = 0; r < RCAP; r++) {
        const int rr = min(r, rows - 1);
        const clattn_key_range kr = clattn_row_keys(rule, decode_row_q(rr, group));
        lo = min(lo, kr.lo);
        hi = max(hi, kr.hi);
    }
    for (int x = t; x < RCAP * head_dim; x += WG) {
        const int r = x / head_dim, c = x - r * head_dim, rr = min(r, rows - 1);
        const long i = decode_row_q(rr, group), h = decode_row_h(rr, hk, group);
        Qs[r * DCAP + c] = load_q(q + b * q_sb + h * q_sh + i * q_ss, c) * scale_log2;
    }
    float m[RCAP], l[RCAP], acc[RCAP][DVL];
    for (int r = 0; r < RCAP; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
        for (int u = 0; u < DVL; u++) acc[r][u] = 0.0f;
    }
    const long j_begin = max(split * block_kv, lo), j_end = min((split + 1) * block_kv, hi);
    for (long j0 = j_begin; j0 < j_end; j0 += BK) {
        barrier(CLK_LOCAL_MEM_FENCE); /* Qs staged; the previous block's P read */
        /* Scores: item t takes keys j0 + t, j0 + t + WG ... for every row. */
        for (int jj = t; jj < BK; jj += WG) {
            const long j = j0 + jj;
            for (int r = 0; r < RCAP; r++) {
                const int rr = min(r, rows - 1);
                const long i = decode_row_q(rr, group), h = decode_row_h(rr, hk, group);
                float sc = -INFINITY;
                if (j < j_end) {
                    const __global KV_T *kr = CLATTN_SDPA_KV_ROW(k, b, hk, j);
                    float d = 0.0f;
                    for (int c = 0; c < head_dim; c++) d = fma(Qs[r * DCAP + c], load_kv(kr, c), d);
                    const __global M_T *mr =
                        (flags & CLATTN_KF_MASK) ? mask + b * m_sb + h * m_sh + i * m_ss : 0;
                    sc = clattn_score(d, j, clattn_row_keys(rule, i), rule, i,
                                      clattn_alibi_slope(alibi, flags, alibi_sb, b, h), mr);
                }
                Ps[r * BK + jj] = sc;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        /* Per row: the block's max, the rescale factor, probabilities in place. Every item
         * keeps its own copy of m and l (the same arithmetic on the same values). */
        for (int r = 0; r < RCAP; r++) {
            float mx = m[r];
            for (int jj = 0; jj < BK; jj++) mx = fmax(mx, Ps[r * BK + jj]);
            const float alpha = clattn_exp2_diff(m[r], mx);
            float sum = 0.0f;
            for (int jj = 0; jj < BK; jj++) sum += clattn_exp2_diff(Ps[r * BK + jj], mx);
            l[r] = l[r] * alpha + sum;
            if (t == 0) alpha_s[r] = mx; /* the new max, for the probabilities below */
            m[r] = mx;
            for (int u = 0; u < DVL; u++) acc[r][u] *= alpha;
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* every item has read the raw scores */
        for (int x = t; x < RCAP * BK; x += WG) Ps[x] = clattn_exp2_diff(Ps[x], alpha_s[x / BK]);
        barrier(CLK_LOCAL_MEM_FENCE);
        /* O += P V: item t owns columns t, t + WG ...; V rows are read across the items. */
        const int nb = (int)min((long)BK, j_end - j0);
        for (int jj = 0; jj < nb; jj++) {
            const __global KV_T *vr = CLATTN_SDPA_KV_ROW(v, b, hk, j0 + jj);
            for (int u = 0; u < DVL; u++) {
                const int c = t + u * WG;
                const float vc = c < head_dim_v ? load_kv(vr, c) : 0.0f;
                for (int r = 0; r < RCAP; r++) acc[r][u] = fma(Ps[r * BK + jj], vc, acc[r][u]);
            }
        }
    }
    for (int r = 0; r < rows && r < RCAP; r++) {
        const long i = decode_row_q(r, group), h = decode_row_h(r, hk, group);
        const long row = (b * heads + h) * seq_q + i;
        const float inv = clattn_inv_sum(l[r]);
        __global float *o = decode_record(scratch, split, row, rows_total);
        for (int u = 0; u < DVL; u++) {
            const int c = t + u * WG;
            if (c < DVCAP) o[c] = acc[r][u] * inv;
        }
        if (t == 0) o[DVCAP] = clattn_lse(m[r], l[r]);
    }
}
