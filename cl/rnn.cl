/* rnn.cl: the recurrence of GRU and LSTM layers (PyTorch's gate orders r, z, n and i, f, g, o),
 * both directions in one launch, after the input projections x W_ih^T of every step were
 * computed by one GEMM into gi. Built once per cell: -DRNN_LSTM=0 or 1.
 *
 * Work-item (dir, jb) owns hidden units j0 = 8 jb .. j0 + 7 of direction dir for every batch
 * row: it streams its block of W_hh (packed on the host as [H][G][8], contiguous) once per step
 * and multiplies it with RNN_BB batch rows at a time, G x RNN_BB float8 accumulators in
 * registers (the reason for the packing: one W_hh read per step serves all rows, where one
 * work-item per row would re-read it B times). The gate arithmetic follows in the same
 * work-item, so a step is one pass. Two drivers share that block:
 *   rnn_step: one launch per step, work-items (jb, dir); the host chains the launches.
 *   rnn_persistent: one launch for all T steps, one work-group per direction whose work-items
 *     are the blocks, a work-group barrier between steps (the only barrier OpenCL guarantees).
 * The state ping-pongs between h_a (read at even steps) and h_b, since every work-item reads the
 * whole previous state. Rows past their length keep their state (so it ends as h_n) and write 0
 * at position s; the backward direction handles position len - 1 - s. */

/* Rows per pass: G x RNN_BB float8 accumulators, G weight vectors and a broadcast within AVX2's
 * 16 registers. The LSTM at 3 rows (17 registers, one spilled) took 1.45x the CPU time of 2 rows
 * (one PoCL thread, B = 32, T = 50, H = 512); the GRU at 3 rows 1.15x that of 4. */
#if RNN_LSTM
#define RNN_G  4
#define RNN_BB 2
#else
#define RNN_G  3
#define RNN_BB 4
#endif

inline float8 rnn_sigmoid(float8 x) {
    return 1.0f / (1.0f + exp(-x));
}

/* Writes the lanes of v that are hidden units (< H) to p[0..]. */
inline void rnn_store_lanes(float8 v, __global float *p, int j0, int H) {
    if (j0 + 8 <= H) {
        vstore8(v, 0, p);
        return;
    }
    float t[8];
    vstore8(v, 0, t);
    for (int l = 0; j0 + l < H; l++) p[l] = t[l];
}

/* acc[g][i] += sum over k < K of w[k][g][0..7] * xr[i][k]: the one inner loop of the input
 * projection and the recurrence. w is a packed block [K][G][8]; each of the RNN_BB rows is
 * broadcast once per k against the G weight vectors. */
inline void rnn_mac(__global const float *w, __global const float **xr, int K,
                    float8 acc[RNN_G][RNN_BB]) {
    for (int k = 0; k < K; k++) {
        float8 wg[RNN_G];
#pragma unroll
        for (int g = 0; g < RNN_G; g++) wg[g] = vload8(g, w + (long)k * (RNN_G * 8));
#pragma unroll
        for (int i = 0; i < RNN_BB; i++) {
            const float8 hv = (float8)(xr[i][k]);
#pragma unroll
            for (int g = 0; g < RNN_G; g++) acc[g][i] = fma(wg[g], hv, acc[g][i]);
        }
    }
}

/* One step s of block jb of direction dir, all batch rows. */
inline void rnn_block(__global const float *gi, __global const float *w_hh,
                      __global const float *bias, __global const float *bias_hn,
                      __global const int *lengths, __global const float *h_prev,
                      __global float *h_next, __global const float *c_prev, __global float *c_next,
                      __global float *out, int B, int T, int H, int ndir, int s, int dir, int jb) {
    const int Hp = (H + 7) & ~7, j0 = jb * 8;
    const long od = (long)ndir * H;
    __global const float *w = w_hh + ((long)dir * (Hp / 8) + jb) * H * (RNN_G * 8);
    __global const float *bd = bias + (long)dir * RNN_G * Hp + j0;
    for (int b0 = 0; b0 < B; b0 += RNN_BB) {
        float8 acc[RNN_G][RNN_BB];
        __global const float *hr[RNN_BB];
#pragma unroll
        for (int i = 0; i < RNN_BB; i++) {
            hr[i] = h_prev + ((long)dir * B + min(b0 + i, B - 1)) * Hp;
#pragma unroll
            for (int g = 0; g < RNN_G; g++) acc[g][i] = 0.0f;
        }
        rnn_mac(w, hr, H, acc);
#pragma unroll
        for (int i = 0; i < RNN_BB; i++) {
            const int b = b0 + i;
            if (b >= B) break;
            const long so = ((long)dir * B + b) * Hp + j0;
            const float8 hp = vload8(0, h_prev + so);
            const int len = lengths[b];
            if (s >= len) { /* padding: keep the state, output 0 */
                vstore8(hp, 0, h_next + so);
#if RNN_LSTM
                vstore8(vload8(0, c_prev + so), 0, c_next + so);
#endif
                rnn_store_lanes((float8)0.0f, out + ((long)b * T + s) * od + (long)dir * H + j0, j0,
                                H);
                continue;
            }
            const int t = dir == 0 ? s : len - 1 - s;
            __global const float *gx = gi + (((long)b * T + t) * ndir + dir) * (RNN_G * Hp) + j0;
            float8 a[RNN_G];
#pragma unroll
            for (int g = 0; g < RNN_G; g++)
                a[g] = vload8(0, gx + (long)g * Hp) + vload8(0, bd + (long)g * Hp);
#if RNN_LSTM
            const float8 ig = rnn_sigmoid(a[0] + acc[0][i]), fg = rnn_sigmoid(a[1] + acc[1][i]);
            const float8 gg = tanh(a[2] + acc[2][i]), og = rnn_sigmoid(a[3] + acc[3][i]);
            const float8 c = fg * vload8(0, c_prev + so) + ig * gg;
            vstore8(c, 0, c_next + so);
            const float8 h = og * tanh(c);
#else
            const float8 r = rnn_sigmoid(a[0] + acc[0][i]), z = rnn_sigmoid(a[1] + acc[1][i]);
            const float8 n =
                tanh(a[2] + r * (acc[2][i] + vload8(0, bias_hn + (long)dir * Hp + j0)));
            const float8 h = (1.0f - z) * n + z * hp;
#endif
            vstore8(h, 0, h_next + so);
            rnn_store_lanes(h, out + ((long)b * T + t) * od + (long)dir * H + j0, j0, H);
        }
    }
}

#define RNN_PARAMS                                                                                 \
    __global const float *gi, __global const float *w_hh, __global const float *bias,              \
        __global const float *bias_hn, __global const int *lengths, __global float *h_a,           \
        __global float *h_b, __global float *c_a, __global float *c_b, __global float *out, int B, \
        int T, int H, int ndir, int s

/* Global size (Hp / 8, ndir). */
__kernel void rnn_step(RNN_PARAMS) {
    const int odd = s & 1;
    rnn_block(gi, w_hh, bias, bias_hn, lengths, odd ? h_b : h_a, odd ? h_a : h_b, odd ? c_b : c_a,
              odd ? c_a : c_b, out, B, T, H, ndir, s, (int)get_global_id(1), (int)get_global_id(0));
}

/* Global size (Hp / 8 * ndir), local size Hp / 8: work-group dir; `s` is ignored. Every step
 * reads the state all work-items of the group wrote at the step before: the barrier orders it. */
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

/* The input projections on CPU devices (where it outruns the GEMM library): gi[r, dir, g, j] =
 * sum_k x[r, k] w_ih[dir][g * H + j][k] for rows r < rows, w_ih packed as w_hh is ([ndir][Hp / 8]
 * [din][G][8]). Global size (Hp / 8, ndir, ceil(rows / CLATTN_RNN_INPUT_ROWS)): a work-item streams
 * its weight block once per RNN_BB rows of its CLATTN_RNN_INPUT_ROWS. Padding units get 0 (their
 * weights are 0). */
__kernel void rnn_input(__global const float *x, __global const float *w_ih, __global float *gi,
                        int rows, int din, int H, int ndir) {
    const int jb = (int)get_global_id(0), dir = (int)get_global_id(1);
    const int r0 = (int)get_global_id(2) * CLATTN_RNN_INPUT_ROWS,
              r1 = min(r0 + CLATTN_RNN_INPUT_ROWS, rows);
    const int Hp = (H + 7) & ~7;
    __global const float *w = w_ih + ((long)dir * (Hp / 8) + jb) * din * (RNN_G * 8);
    for (int b0 = r0; b0 < r1; b0 += RNN_BB) {
        float8 acc[RNN_G][RNN_BB];
        __global const float *xr[RNN_BB];
#pragma unroll
        for (int i = 0; i < RNN_BB; i++) {
            xr[i] = x + (long)min(b0 + i, r1 - 1) * din;
#pragma unroll
            for (int g = 0; g < RNN_G; g++) acc[g][i] = 0.0f;
        }
        rnn_mac(w, xr, din, acc);
#pragma unroll
        for (int i = 0; i < RNN_BB; i++) {
            if (b0 + i >= r1) break;
            __global float *o = gi + ((long)(b0 + i) * ndir + dir) * (RNN_G * Hp) + jb * 8;
#pragma unroll
            for (int g = 0; g < RNN_G; g++) vstore8(acc[g][i], 0, o + (long)g * Hp);
        }
    }
}
