/* common.cl: helpers every kernel family shares; the host prepends kernel_iface.h and then this
 * file to each family (with #line markers), so nothing here may define a __kernel. Above all
 * the one mask component every attention kernel calls (after FlashAttention-2's: causal, and
 * later window and kv lengths, are all "which keys may row i see"). */
#ifndef CLATTN_COMMON_CL
#define CLATTN_COMMON_CL

/* log2(e): scores are pre-multiplied by scale * log2(e) so softmax uses exp2. */
#define CLATTN_LOG2E 1.4426950408889634f
/* ln(2): turns a base-2 log-sum-exp back into a natural one. */
#define CLATTN_LN2 0.6931471805599453f

/* NaN semantics (the rule in include/clattn_sdpa.h): a NaN score makes its row's output and
 * log-sum-exp NaN, as IEEE arithmetic and PyTorch give, and is never mistaken for a masked key.
 * The running maxima use fmax/compares, which drop NaN, so NaN travels through the
 * exponentials instead: exp2(NaN - m) is NaN, so the row's sum l becomes NaN, and the final
 * 1/l and log-sum-exp below keep it. Only a row whose every key was removed (l == 0 exactly)
 * gives 0 and -inf. */

/* Asks for the cache line holding p ahead of its use, for the CPU kernels (decode_cpu's next K/V
 * rows, the recurrence's next W_hh block): prefetcht1 on x86, where AMD fills L1 for every hint.
 * A no-op where the kernel compiler lacks the builtin. oclgrind's compiler has it but its
 * interpreter cannot run it, so a kernel that oclgrind runs calls this only under a host-set
 * option (cl/rnn.cl: RNN_PREFETCH); decode_cpu never runs there. */
inline void clattn_prefetch_line(const __global void *p) {
#if defined(__has_builtin)
#if __has_builtin(__builtin_prefetch)
    __builtin_prefetch(p, 0, 2);
#endif
#endif
}

/* exp2 of a running-max difference where the max may still be -inf (nothing but masked keys
 * or NaN seen yet): 0 for a masked key, NaN for a NaN score, never the NaN of -inf - -inf. */
inline float clattn_exp2_diff(float a, float b) {
    return (b == -INFINITY) ? (isnan(a) ? a : 0.0f) : exp2(a - b);
}

/* 2^x, e^x, the logistic sigmoid and tanh on float4, float8 and float16 vectors, for the CPU
 * kernels' transcendental-bound loops: the recurrent gates (cl/rnn.cl), the additive scores
 * (cl/additive.cl) and the softcap (cl/flash_cpu.cl). PoCL's vector tanh takes about 80 cycles
 * a float4: it was two thirds of the LSTM's gate math (10 of its recurrence's 85 ms at B = 32,
 * T = 50, H = 512), and the additive step ran 1.3-1.5x faster at T = 500 without it. Here 2^x = 2^n
 * 2^f, n = rint(x) (adding and subtracting 1.5 2^23 rounds to nearest: PoCL's rint is a library
 * call), 2^f on |f| <= 1/2 by its Taylor polynomial to degree 6 (coefficients ln2^k / k!;
 * truncation under 1.3e-7 relative, about float's rounding). x is clamped to +-127 first: 2^127 is
 * finite (never inf, so no inf / inf), and below -126.5 the exponent field is 0, so the result is
 * exactly 0. The clamp is two compare-and-selects, which let a NaN through (its comparisons are
 * false) to make the result NaN; clamp() keeps fmin/fmax's NaN rules, and with an isnan() select
 * after it cost four more instructions a vector (softcap at N=4096: 0.909-0.918 of plain
 * attention against 0.902-0.904, interleaved). clattn_exp2_nonpos leaves out the upper clamp for
 * arguments that cannot exceed 127, such as the online softmax's x - max <= 0 (flash_cpu.cl,
 * where one select less a vector shows). tanh(x) = 2 sigmoid(2x) - 1: an absolute error of a
 * few 1e-8 near 0, which is what gates and score sums consume. float16 is instantiated where it is
 * used (flash_cpu.cl with 16 lanes): on AVX2 PoCL its mere definition draws ABI warnings into every
 * build log. */
#define CLATTN_DEFINE_VEXP(T, CONVERT_INT)                                                         \
    inline T clattn_exp2_nonpos_##T(T x) {                                                         \
        const T y = select(x, (T)(-127.0f), x < -127.0f);                                          \
        const T n = (y + 12582912.0f) - 12582912.0f; /* rint(y): 12582912 = 1.5 2^23 */            \
        const T f = y - n;                                                                         \
        T p = (T)1.540353039e-4f;                                                                  \
        p = fma(p, f, (T)1.333355815e-3f);                                                         \
        p = fma(p, f, (T)9.618129108e-3f);                                                         \
        p = fma(p, f, (T)5.550410866e-2f);                                                         \
        p = fma(p, f, (T)2.402265070e-1f);                                                         \
        p = fma(p, f, (T)6.931471806e-1f);                                                         \
        p = fma(p, f, (T)1.0f);                                                                    \
        p *= as_##T((CONVERT_INT(n) + 127) << 23); /* 2^n built in the exponent field */           \
        return p;                                                                                  \
    }                                                                                              \
    inline T clattn_exp2_##T(T x) {                                                                \
        return clattn_exp2_nonpos_##T(select(x, (T)(127.0f), x > 127.0f));                         \
    }                                                                                              \
    inline T clattn_exp_##T(T x) {                                                                 \
        return clattn_exp2_##T(x * CLATTN_LOG2E);                                                  \
    }                                                                                              \
    inline T clattn_sigmoid_##T(T x) {                                                             \
        return 1.0f / (1.0f + clattn_exp_##T(-x));                                                 \
    }                                                                                              \
    inline T clattn_tanh_##T(T x) {                                                                \
        return 2.0f / (1.0f + clattn_exp_##T(-2.0f * x)) - 1.0f;                                   \
    }
CLATTN_DEFINE_VEXP(float4, convert_int4)
CLATTN_DEFINE_VEXP(float8, convert_int8)

/* Ceiling division for tile counts. */
inline int clattn_cdiv(int a, int b) {
    return (a + b - 1) / b;
}

/* The mask rule of one call, built once per work-group from the kernel arguments: which keys a
 * query row may see and how its scores are shaped. Query i sits at key position i' = i + diag
 * (bottom-right alignment: diag = Skv - Sq; top-left: 0; plus the descriptor's position_offset,
 * which the host folds in). Causal keeps keys j <= i'; the window
 * keeps i' - left <= j <= i' + right (a side of -1 is open); causal is the window (open, 0), so
 * both together take the narrower (FlashAttention-2's one mask component). */
typedef struct {
    long seq_kv, diag, left, right;
    int flags;
    float cap; /* softcap * log2(e); used only with CLATTN_KF_SOFTCAP */
} clattn_mask_rule;

/* len is the entry's own number of keys (kv_lens[b] with per-sequence lengths, else seq_kv):
 * it has only its first len keys, and bottom-right alignment is against its own length (query i
 * sits at i + len - Sq). No memory is read here: oclgrind's LLVM cannot run the noalias scope
 * markers that inlining a struct-returning function with a load leaves behind. */
inline clattn_mask_rule clattn_mask_rule_make(long seq_kv, int flags, long diag, long left,
                                              long right, float cap, long len) {
    clattn_mask_rule r;
    r.seq_kv = len;
    r.diag = (flags & CLATTN_KF_TOP_LEFT) ? diag : diag - (seq_kv - len);
    r.flags = flags;
    r.left = left;
    r.right = right;
    r.cap = cap;
    return r;
}

/* The position i' of query row i among the keys (the rule's alignment, per-sequence length and
 * position offset): the one place every kernel takes it from, for ALiBi as for the key range. */
inline long clattn_row_pos(clattn_mask_rule r, long i) {
    return i + r.diag;
}

/* The keys [lo, hi) that query row i may see; empty (lo == hi) when the rule removes them all.
 * Both ends grow with i, so a block of rows sees at most [lo of its first row, hi of its last)
 * and every row of it at least [lo of its last, hi of its first): kernels skip whole K/V blocks
 * with that and test single keys only where rows differ. */
typedef struct {
    long lo, hi;
} clattn_key_range;

inline clattn_key_range clattn_row_keys(clattn_mask_rule r, long i) {
    const long p = clattn_row_pos(r, i);
    long lo = 0, hi = r.seq_kv;
    if (r.flags & CLATTN_KF_CAUSAL) hi = min(hi, p + 1);
    if (r.flags & CLATTN_KF_WINDOW) {
        if (r.right >= 0) hi = min(hi, p + r.right + 1);
        if (r.left >= 0) lo = max(lo, p - r.left);
    }
    clattn_key_range k;
    k.hi = clamp(hi, 0L, r.seq_kv);
    k.lo = clamp(lo, 0L, k.hi);
    return k;
}

/* The ALiBi slope of head h of batch b in the base-2 domain (0 without ALiBi). */
inline float clattn_alibi_slope(const __global float *alibi, int flags, long alibi_sb, long b,
                                long h) {
    return (flags & CLATTN_KF_ALIBI) ? alibi[b * alibi_sb + h] * CLATTN_LOG2E : 0.0f;
}

/* The final base-2 score of key j for query row i whose visible keys are `keys`: s is
 * scale * log2(e) * q.k; then the softcap, the ALiBi bias -slope * |i' - j| (slope already in
 * base 2) and the additive mask row (mrow, NULL when none), in that order; -inf outside keys. */
inline float clattn_score(float s, long j, clattn_key_range keys, clattn_mask_rule r, long i,
                          float slope, const __global M_T *mrow) {
    if (j < keys.lo || j >= keys.hi) return -INFINITY;
    if (r.flags & CLATTN_KF_SOFTCAP) s = r.cap * tanh(s / r.cap);
    if (r.flags & CLATTN_KF_ALIBI) s -= slope * fabs((float)(clattn_row_pos(r, i) - j));
    return mrow ? fma(load_m(mrow, j), CLATTN_LOG2E, s) : s;
}

/* 1 / l for the final normalisation; 0 for a row that saw no key (its output is then 0), NaN
 * for a row whose sum is NaN. */
inline float clattn_inv_sum(float l) {
    return l > 0.0f ? 1.0f / l : (isnan(l) ? l : 0.0f);
}

/* The natural log-sum-exp of a row from its base-2 running max m and sum l: -inf when the row
 * saw no key, NaN when its sum is NaN. */
inline float clattn_lse(float m, float l) {
    return l > 0.0f ? (m + log2(l)) * CLATTN_LN2 : (isnan(l) ? l : -INFINITY);
}

/* The element offset of key row j of kv head hk of batch entry b in K or V with strides
 * (sb, sh, ss). A paged K/V (flags & CLATTN_KF_PAGED, in a build with -DKV_PAGED: a KV cache)
 * keeps the row on page table[b * pages_per_seq + j / page_size], at row j % page_size of it, and
 * sb is then the stride of a page. Any page size works (rows are found one by one); a sequence's
 * keys, page size and page count fit in int (the cache checks), so the arithmetic is 32-bit.
 * Builds without KV_PAGED compile to the plain stride arithmetic. */
inline long clattn_kv_row(long b, long hk, long j, long sb, long sh, long ss, int flags,
                          const __global int *table, long page_size, long pages_per_seq) {
#ifdef KV_PAGED
    if (flags & CLATTN_KF_PAGED) {
        /* A shift for power-of-two pages: the division was ~10% of a paged decode step. */
        const int ps = (int)page_size, shift = 31 - clz(ps);
        const int slot = (1 << shift) == ps ? (int)j >> shift : (int)j / ps;
        return (long)table[b * pages_per_seq + slot] * sb + hk * sh +
               (long)((int)j - slot * ps) * ss;
    }
#endif
    return b * sb + hk * sh + j * ss;
}

/* ---- Rotary position embeddings (cl/rope.cl, and cl/kv_cache.cl's rotating append) ----
 * The angle of pair i at position p is p * f_i with f_i = position_scale * theta^(-2i/R). A
 * float32 product loses the angle at long contexts (p = 1e5, f = 1 leaves it good to ~1e-2 rad,
 * since float32 keeps 24 bits of a number near 1e5), and OpenCL C has no double on every device.
 * So the host gives each frequency as a 64-bit binary fraction of turns per position
 * (src/rope/rope_table.c: f_i / (2 pi), reduced mod 1, computed in double-double), and the
 * angle mod one turn is their product in ulong arithmetic, whose wrap-around is exactly the
 * reduction mod 2 pi: no rounding up to here for any int32 p (the fraction's own quantisation,
 * under 2^-63 turn per position, is under 2^-32 turn, 1.5e-9 rad, at p = 2^31). The nearest
 * quarter turn is taken off in integers too, so sin/cos see a float in [-pi/4, pi/4] that is
 * within about an ulp of the true angle, where two short polynomials give them to within an ulp:
 * the pair's cos and sin are as good as float32 gives for every position. */

/* 2 pi / 2^64 (one 2^-64 turn in radians) as a float pair hi + lo. */
#define CLATTN_ROPE_TURN_HI 0x1.921fb6p-62f
#define CLATTN_ROPE_TURN_LO -0x1.777a5cp-87f

/* (cos, sin) of a in [-pi/4, pi/4] (already reduced): Cephes' single-precision minimax
 * polynomials (S. Moshier) for that range; over every float in it, at most 0.73 ulp (sin) and
 * 0.88 ulp (cos) from the double values. Not the built-in sincos: PoCL's handles any argument
 * and took 85% of clattn_rope's time (303 ms against 43 ms in place on [1, 2048, 32, 128] f32,
 * 2-core AVX2, load ~4), for nothing here. */
inline float2 clattn_rope_sincos_quarter(float a) {
    const float z = a * a;
    const float s =
        fma(fma(fma(-1.9515295891e-4f, z, 8.3321608736e-3f), z, -1.6666654611e-1f) * z, a, a);
    const float c = fma(
        fma(fma(fma(2.443315711809948e-5f, z, -1.388731625493765e-3f), z, 4.166664568298827e-2f), z,
            -0.5f),
        z, 1.0f);
    return (float2)(c, s);
}

/* (cos, sin) of the angle of a pair at position pos; turns: its frequency in 2^-64 turns. */
inline float2 clattn_rope_cos_sin(ulong turns, int pos) {
    const ulong u = (ulong)(long)pos * turns;      /* the angle mod 1 turn, wrapping exactly */
    const ulong quarter = (u + (1UL << 61)) >> 62; /* the nearest quarter turn, 0..3 */
    const long r = (long)(u - (quarter << 62));    /* the rest, in [-1/8, 1/8) turn */
    const float rh = (float)r, rl = (float)(r - (long)rh); /* r = rh + rl to 2^-48 */
    const float a =
        fma(rh, CLATTN_ROPE_TURN_HI, fma(rl, CLATTN_ROPE_TURN_HI, rh * CLATTN_ROPE_TURN_LO));
    const float2 cs = clattn_rope_sincos_quarter(a);
    /* Adding quarter turns: (c, s) -> (-s, c) -> (-c, -s) -> (s, -c). */
    const float2 odd = (quarter & 1) ? (float2)(-cs.y, cs.x) : cs;
    return (quarter & 2) ? -odd : odd;
}

/* The element indices (x0, x1) of pair i of a head: (i, i + npairs) for GPT-NeoX, (2 i, 2 i + 1)
 * for GPT-J; npairs is rotary_dim / 2. */
inline int2 clattn_rope_pair(int i, int npairs, int gptj) {
    return gptj ? (int2)(2 * i, 2 * i + 1) : (int2)(i, i + npairs);
}

/* The pair (x0, x1) turned by the angle whose (cos, sin) is cs. */
inline float2 clattn_rope_rotate(float x0, float x1, float2 cs) {
    return (float2)(x0 * cs.x - x1 * cs.y, x0 * cs.y + x1 * cs.x);
}

#endif
