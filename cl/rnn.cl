/* rnn.cl: the recurrence of GRU and LSTM layers (PyTorch's gate orders r, z, n and i, f, g, o),
 * both directions in one launch, after the input projections x W_ih^T of every step were
 * computed into gi by one GEMM (RNN_GI_BLOCKED=0) or by rnn_input below (CPU devices,
 * RNN_GI_BLOCKED=1). Built once per cell and gi layout: -DRNN_LSTM=0|1 -DRNN_GI_BLOCKED=0|1.
 *
 * Work-item (dir, jb) owns hidden units j0 = RNN_U jb .. j0 + RNN_U - 1 of direction dir for
 * every batch row (RNN_U = CLATTN_RNN_UNITS: 8 for the GRU, 4 for the LSTM): it streams its
 * block of W_hh (packed on the host as [H][G][RNN_U], contiguous) once per step and multiplies
 * it with RNN_BB batch rows at a time, RNN_V x RNN_BB float8 accumulators in
 * registers (the reason for the packing: one W_hh read per step serves all rows, where one
 * work-item per row would re-read it B times). The gate arithmetic follows in the same
 * work-item, so a step is one pass. Two drivers share that block:
 *   rnn_step: one launch per step, work-items (jb, dir); the host chains the launches.
 *   rnn_persistent: one launch for all T steps, one work-group per direction whose work-items
 *     are the blocks, a work-group barrier between steps (the only barrier OpenCL guarantees).
 * The state ping-pongs between h_a (read at even steps) and h_b, since every work-item reads the
 * whole previous state. Rows past their length keep their state (so it ends as h_n) and write 0
 * at position s; the backward direction handles position len - 1 - s. */

/* rnn_mac's and rnn_pass's `#pragma unroll` loops run to a parameter n that is a constant only
 * once they are inlined into rnn_block (callgrind shows the 6- and 4-row loops unrolled on PoCL);
 * their out-of-line bodies cannot be unrolled, and clang says so in the build log (PoCL prints
 * "4 warnings generated." on stderr, which the oclgrind tests treat as a finding). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

#ifndef RNN_LSTM /* the defaults a plain build (clattn selftest) gets */
#define RNN_LSTM 0
#endif
#ifndef RNN_GI_BLOCKED
#define RNN_GI_BLOCKED 0
#endif
#ifndef RNN_PREFETCH /* the host sets 1 on CPU runtimes that compile to the host (PoCL) */
#define RNN_PREFETCH 0
#endif

/* Software prefetch of the next block's W_hh (common.cl's clattn_prefetch_line).
 * A step streams all of W_hh (4 MB per direction for the LSTM at H = 512), more than the cache
 * keeps between steps on the 2-core EPYC, so each block's first pass used to wait on memory:
 * with every block reading the same 32 KB instead, the LSTM's recurrence took 64 ms, not 88.
 * Prefetching block jb + 1 into L2 during block jb's first pass took the recurrence from a median
 * of 83-117 ms to 73-77 ms over four alternated rounds (B = 32, T = 50, 512 -> 512,
 * bidirectional), and the whole LSTM encoder (clattn bench-rnn, six alternated rounds) from 141
 * to 130 ms. Prefetching in every pass, into L1, two blocks ahead or spread over the first four
 * passes did no better. The GRU's 3 MB measured the same either way. */
#if RNN_PREFETCH
#define RNN_PREFETCH_LINE(p) clattn_prefetch_line(p)
#else
#define RNN_PREFETCH_LINE(p) ((void)(p))
#endif

/* Rows per pass: RNN_V x RNN_BB float8 accumulators, RNN_V weight vectors and a broadcast
 * within AVX2's 16 registers; the more accumulators, the better the 5-cycle FMA latency hides
 * (8 chains reach about 1.6 of the 2 FMAs a cycle, 10-12 all). The GRU's 8 units are 3 vectors,
 * so 4 rows (12 accumulators). The LSTM's 8 units were 4 vectors, 2 rows, and 3 rows spilled;
 * with 4 units its 4 gates fill 2 vectors and 6 rows give 12 accumulators. Measured (2-core AVX2
 * EPYC, PoCL 3.1, B = 32, T = 50, 512 -> 512, bidirectional, interleaved processes): the LSTM
 * went from a median of 182 ms (8 units, 2 rows, PoCL's exp) to 155 ms with 4 units, 6 rows,
 * blocked gi and the gates paired into float8 sigmoids (6 rows against 4: about 6%); the GRU
 * from 113 to 100 ms. A polynomial exp2 in place of PoCL's exp alone measured no faster; PoCL's
 * tanh was the cost, and the gates now take all three from cl/common.cl. */
#define RNN_G (RNN_LSTM ? 4 : 3)
#ifndef RNN_BB /* -DRNN_BB=n overrides it, for measuring */
#define RNN_BB (RNN_LSTM ? 6 : 4)
#endif
#define RNN_TAIL_BB (RNN_LSTM ? 4 : RNN_BB) /* the last rows' passes: rnn_tail_rows */
#if RNN_LSTM && (RNN_BB % 2 || RNN_TAIL_BB % 2)
#error "the LSTM's passes take tanh(c) two rows at a time: RNN_BB must be even"
#endif
#define RNN_U CLATTN_RNN_UNITS(RNN_LSTM)
#if RNN_U != (RNN_LSTM ? 4 : 8)
#error "rnn_block's gate math assumes 4 units per LSTM block and 8 per GRU block"
#endif
#define RNN_V (RNN_G * RNN_U / 8) /* float8 weight vectors per k */
#if RNN_U == 8
typedef float8 rnn_unit; /* one gate's values for the block's units */
#define RNN_LOAD(p)     vload8(0, p)
#define RNN_STORE(v, p) vstore8(v, 0, p)
#else
typedef float4 rnn_unit;
#define RNN_LOAD(p)     vload4(0, p)
#define RNN_STORE(v, p) vstore4(v, 0, p)
#endif

/* Writes the lanes of v that are hidden units (< H) to p[0..]. */
inline void rnn_store_lanes(rnn_unit v, __global float *p, int j0, int H) {
    if (j0 + RNN_U <= H) {
        RNN_STORE(v, p);
        return;
    }
    float t[RNN_U];
    RNN_STORE(v, t);
    for (int l = 0; j0 + l < H; l++) p[l] = t[l];
}

/* acc[v][i] += sum over k < K of w[k][v][0..7] * xr[i][k] for rows i < n: the one inner loop
 * of the input projection and the recurrence. w is a packed block [K][G][units] =
 * [K][RNN_V][8]; each row is broadcast once per k against the RNN_V weight vectors. n is a
 * constant at every call (RNN_BB, or RNN_TAIL_BB for the last rows), so once inlined the loops
 * unroll and acc stays in registers. If pf is not null, the cache line of pf at each k (the same
 * offset as w's, in the next block) is prefetched. */
__attribute__((always_inline)) inline void rnn_mac(__global const float *w,
                                                   __global const float **xr, int K,
                                                   float8 acc[RNN_V][RNN_BB], const int n,
                                                   __global const float *pf) {
    for (int k = 0; k < K; k++) {
        if (pf) RNN_PREFETCH_LINE(pf + (long)k * (RNN_V * 8));
        float8 wv[RNN_V];
#pragma unroll
        for (int v = 0; v < RNN_V; v++) wv[v] = vload8(v, w + (long)k * (RNN_V * 8));
#pragma unroll
        for (int i = 0; i < n; i++) {
            const float8 hv = (float8)(xr[i][k]);
#pragma unroll
            for (int v = 0; v < RNN_V; v++) acc[v][i] = fma(wv[v], hv, acc[v][i]);
        }
    }
}

/* The gate pre-activations x W_ih^T of row b, step t, direction dir, for block jb, as RNN_V
 * float8 vectors in the accumulators' [G][RNN_U] order. rnn_input writes gi blocked,
 * [T][ndir][Hp / RNN_U][B][G][RNN_U] (RNN_GI_BLOCKED=1): a step's pre-activations for a block are
 * one contiguous run the prefetcher follows. The GEMM's [B][T][ndir][G][Hp] (RNN_GI_BLOCKED=0)
 * gives 16-byte pieces 800 KB apart at B=32, T=50, H=512, mostly cache misses: leaving the loads
 * out altogether took about 15% off the LSTM's recurrence. */
inline float8 rnn_gi(__global const float *gi, int B, int T, int Hp, int ndir, int b, int t,
                     int dir, int jb, int v) {
#if RNN_GI_BLOCKED
    return vload8(v, gi + ((((long)t * ndir + dir) * (Hp / RNN_U) + jb) * B + b) * (RNN_V * 8));
#else
    __global const float *gx = gi + (((long)b * T + t) * ndir + dir) * (RNN_G * Hp) + jb * RNN_U;
#if RNN_U == 8
    return vload8(0, gx + (long)v * Hp);
#else
    return (float8)(vload4(0, gx + (long)(2 * v) * Hp), vload4(0, gx + (long)(2 * v + 1) * Hp));
#endif
#endif
}

/* Rows b0 .. b0 + n - 1 (n a constant: RNN_BB or RNN_TAIL_BB) of step s, block jb, direction
 * dir: the recurrent product, then the gates; rows past B repeat row B - 1 and store nothing.
 * pf: as rnn_mac's. */
__attribute__((always_inline)) inline void
rnn_pass(__global const float *gi, __global const float *w, __global const float *bd,
         __global const float *bias_hn, __global const int *lengths, __global const float *h_prev,
         __global float *h_next, __global const float *c_prev, __global float *c_next,
         __global float *out, int B, int T, int H, int ndir, int s, int dir, int jb, int b0,
         const int n, __global const float *pf) {
    const int Hp = (H + 7) & ~7, j0 = jb * RNN_U;
    const long od = (long)ndir * H;
    float8 acc[RNN_V][RNN_BB];
    __global const float *hr[RNN_BB];
#pragma unroll
    for (int i = 0; i < n; i++) {
        hr[i] = h_prev + ((long)dir * B + min(b0 + i, B - 1)) * Hp;
#pragma unroll
        for (int v = 0; v < RNN_V; v++) acc[v][i] = 0.0f;
    }
    rnn_mac(w, hr, H, acc, n, pf);
#if RNN_LSTM
    /* The LSTM's gates for all n rows first, one phase at a time (pre-activations, the sigmoids,
     * the cell, tanh(c) two rows per float8): rows are independent, so one row's exponentials
     * and divisions overlap another's, where row by row each waited on its own chain (sigmoids,
     * then tanh of their result). Rows past B repeat row B - 1, and rows past their length read
     * a step in range: both are computed and dropped below. The recurrence took a median of 67
     * ms against 70 (eight alternated rounds, B = 32, T = 50, 512 -> 512; better in seven), its
     * work outside the product (timed with the product cut to one k) 12-14 ms against 14-16. A
     * shorter polynomial (Estrin's scheme) on top measured the same. */
    float8 g0[RNN_BB], g1[RNN_BB];
    float4 cn[RNN_BB], th[RNN_BB];
#pragma unroll
    for (int i = 0; i < n; i++) {
        const int b = min(b0 + i, B - 1), len = lengths[b];
        const int t = clamp(dir == 0 ? s : len - 1 - s, 0, T - 1);
        /* Gates i and f share vector 0, g and o vector 1, so two float8 sigmoids do all four,
         * g's lanes taken at 2x for tanh(x) = 2 sigmoid(2x) - 1. */
        g0[i] = acc[0][i] + rnn_gi(gi, B, T, Hp, ndir, b, t, dir, jb, 0) + vload8(0, bd);
        g1[i] = (acc[1][i] + rnn_gi(gi, B, T, Hp, ndir, b, t, dir, jb, 1) + vload8(1, bd)) *
                (float8)(2.0f, 2.0f, 2.0f, 2.0f, 1.0f, 1.0f, 1.0f, 1.0f);
    }
#pragma unroll
    for (int i = 0; i < n; i++) {
        g0[i] = clattn_sigmoid_float8(g0[i]);
        g1[i] = clattn_sigmoid_float8(g1[i]);
    }
#pragma unroll
    for (int i = 0; i < n; i++) {
        const long so = ((long)dir * B + min(b0 + i, B - 1)) * Hp + j0;
        cn[i] = g0[i].hi * vload4(0, c_prev + so) + g0[i].lo * (2.0f * g1[i].lo - 1.0f);
    }
#pragma unroll
    for (int i = 0; i < n; i += 2) {
        const float8 tc = clattn_tanh_float8((float8)(cn[i], cn[i + 1]));
        th[i] = tc.lo;
        th[i + 1] = tc.hi;
    }
#endif
#pragma unroll
    for (int i = 0; i < n; i++) {
        const int b = b0 + i;
        if (b >= B) break;
        const long so = ((long)dir * B + b) * Hp + j0;
        const rnn_unit hp = RNN_LOAD(h_prev + so);
        const int len = lengths[b];
        if (s >= len) { /* padding: keep the state, output 0 */
            RNN_STORE(hp, h_next + so);
#if RNN_LSTM
            RNN_STORE(RNN_LOAD(c_prev + so), c_next + so);
#endif
            rnn_store_lanes((rnn_unit)0.0f, out + ((long)b * T + s) * od + (long)dir * H + j0, j0,
                            H);
            continue;
        }
        const int t = dir == 0 ? s : len - 1 - s;
#if RNN_LSTM
        vstore4(cn[i], 0, c_next + so);
        const float4 h = g1[i].hi * th[i];
#else
        float8 a[RNN_V]; /* pre-activations: input part, bias, recurrent part */
#pragma unroll
        for (int v = 0; v < RNN_V; v++)
            a[v] = rnn_gi(gi, B, T, Hp, ndir, b, t, dir, jb, v) + vload8(v, bd);
        const float8 r = clattn_sigmoid_float8(a[0] + acc[0][i]),
                     z = clattn_sigmoid_float8(a[1] + acc[1][i]);
        const float8 n_ =
            clattn_tanh_float8(a[2] + r * (acc[2][i] + vload8(0, bias_hn + (long)dir * Hp + j0)));
        const float8 h = (1.0f - z) * n_ + z * hp;
#endif
        RNN_STORE(h, h_next + so);
        rnn_store_lanes(h, out + ((long)b * T + t) * od + (long)dir * H + j0, j0, H);
    }
}

/* How many of the last rows go in passes of RNN_TAIL_BB rather than RNN_BB, so few rows are
 * computed only to be dropped: with 6-row passes and 4-row tails, B = 32 is 4 x 6 + 2 x 4 (no
 * waste) where 6 x 6 dropped 4 rows, 11% of the product. Every power of two from 4 up leaves 2
 * or 4 over 6. */
inline int rnn_tail_rows(int B) {
    if (RNN_TAIL_BB == RNN_BB) return 0;
    const int r = B % RNN_BB;
    const int tail = r == 1 ? 7 : r == 2 ? 8 : r == 3 || r == 4 ? r : 0;
    return min(tail, B);
}

/* One step s of block jb of direction dir, all batch rows. */
inline void rnn_block(__global const float *gi, __global const float *w_hh,
                      __global const float *bias, __global const float *bias_hn,
                      __global const int *lengths, __global const float *h_prev,
                      __global float *h_next, __global const float *c_prev, __global float *c_next,
                      __global float *out, int B, int T, int H, int ndir, int s, int dir, int jb) {
    const int Hp = (H + 7) & ~7, nb = Hp / RNN_U, main_rows = B - rnn_tail_rows(B);
    __global const float *w = w_hh + ((long)dir * nb + jb) * H * (RNN_V * 8);
    __global const float *bd = bias + ((long)dir * nb + jb) * (RNN_V * 8);
    /* The first pass prefetches the next block of this direction (RNN_PREFETCH_LINE). */
    __global const float *next = RNN_PREFETCH && jb + 1 < nb ? w + (long)H * (RNN_V * 8) : 0;
    int b0 = 0;
    for (; b0 < main_rows; b0 += RNN_BB)
        rnn_pass(gi, w, bd, bias_hn, lengths, h_prev, h_next, c_prev, c_next, out, B, T, H, ndir, s,
                 dir, jb, b0, RNN_BB, b0 == 0 ? next : 0);
    for (; b0 < B; b0 += RNN_TAIL_BB)
        rnn_pass(gi, w, bd, bias_hn, lengths, h_prev, h_next, c_prev, c_next, out, B, T, H, ndir, s,
                 dir, jb, b0, RNN_TAIL_BB, b0 == 0 ? next : 0);
}

#define RNN_PARAMS                                                                                 \
    __global const float *gi, __global const float *w_hh, __global const float *bias,              \
        __global const float *bias_hn, __global const int *lengths, __global float *h_a,           \
        __global float *h_b, __global float *c_a, __global float *c_b, __global float *out, int B, \
        int T, int H, int ndir, int s

/* Global size (Hp / RNN_U, ndir). */
__kernel void rnn_step(RNN_PARAMS) {
    const int odd = s & 1;
    rnn_block(gi, w_hh, bias, bias_hn, lengths, odd ? h_b : h_a, odd ? h_a : h_b, odd ? c_b : c_a,
              odd ? c_a : c_b, out, B, T, H, ndir, s, (int)get_global_id(1), (int)get_global_id(0));
}

/* Global size (Hp / RNN_U * ndir), local size Hp / RNN_U: work-group dir; `s` is ignored. Every
 * step reads the state all work-items of the group wrote at the step before: the barrier orders it.
 */
__kernel void rnn_persistent(RNN_PARAMS) {
    (void)s;
    const int dir = (int)get_group_id(0), jb = (int)get_local_id(0);
    for (int t = 0; t < T; t++) {
        const int odd = t & 1;
        rnn_block(gi, w_hh, bias, bias_hn, lengths, odd ? h_b : h_a, odd ? h_a : h_b,
                  odd ? c_b : c_a, odd ? c_a : c_b, out, B, T, H, ndir, t, dir, jb);
        barrier(CLK_GLOBAL_MEM_FENCE);
    }
}

#if RNN_GI_BLOCKED
/* The input projections on CPU devices (where it outruns the GEMM library): for every row
 * r = b T + t of x ([B, T, din]), gi[t][dir][jb][b] = the block's [G][RNN_U] sums over k of
 * x[r, k] w_ih[dir][g H + j][k], w_ih packed as w_hh is ([ndir][Hp / RNN_U][din][G][RNN_U]).
 * Global size (Hp / RNN_U, ndir, ceil(B T / CLATTN_RNN_INPUT_ROWS)): a work-item streams its
 * weight block once per RNN_BB rows of its CLATTN_RNN_INPUT_ROWS. Padding units get 0 (their
 * weights are 0). Only built with the blocked layout, the one it writes. */
__kernel void rnn_input(__global const float *x, __global const float *w_ih, __global float *gi,
                        int B, int T, int din, int H, int ndir) {
    const int jb = (int)get_global_id(0), dir = (int)get_global_id(1), rows = B * T;
    const int r0 = (int)get_global_id(2) * CLATTN_RNN_INPUT_ROWS,
              r1 = min(r0 + CLATTN_RNN_INPUT_ROWS, rows);
    const int Hp = (H + 7) & ~7;
    __global const float *w = w_ih + ((long)dir * (Hp / RNN_U) + jb) * din * (RNN_V * 8);
    for (int b0 = r0; b0 < r1; b0 += RNN_BB) {
        float8 acc[RNN_V][RNN_BB];
        __global const float *xr[RNN_BB];
#pragma unroll
        for (int i = 0; i < RNN_BB; i++) {
            xr[i] = x + (long)min(b0 + i, r1 - 1) * din;
#pragma unroll
            for (int v = 0; v < RNN_V; v++) acc[v][i] = 0.0f;
        }
        rnn_mac(w, xr, din, acc, RNN_BB, 0);
#pragma unroll
        for (int i = 0; i < RNN_BB; i++) {
            const int r = b0 + i, b = r / T, t = r - b * T;
            if (r >= r1) break;
            __global float *o =
                gi + ((((long)t * ndir + dir) * (Hp / RNN_U) + jb) * B + b) * (RNN_V * 8);
#pragma unroll
            for (int v = 0; v < RNN_V; v++) vstore8(acc[v][i], v, o);
        }
    }
}
#endif
