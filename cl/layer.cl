/* layer.cl: the attention layer's own small kernels (src/layer/forward.c), around the GEMMs and
 * the attention calls it makes:
 *   layer_linear       y = x W for the few rows of a decode step on CPU devices (the
 *                      projections' other GEMMs and GEMVs are CLBlast's);
 *   layer_rows         adds a bias to every row of a [B * seq, ld] float32 matrix and zeroes the
 *                      rows of padding tokens (seq index >= lens[b]), in place: the q/k/v
 *                      projection after its GEMM (so padding keys hold zeros, never what the
 *                      caller left in x's padding rows) and the output y;
 *   layer_causal_mask  the additive causal mask of a ragged prefill over a KV cache, where each
 *                      sequence's new tokens start at its own cached length (the kernels' causal
 *                      alignment is against each sequence's total length, which is right only
 *                      when every sequence fills seq).
 * layer_rows and layer_causal_mask take one work-item per element; the float32 data needs no
 * storage-type options. */

/* layer_linear's rows (1, 2, 4 or 8) and columns (16, 32 or 64) per work-item, chosen by the host
 * (src/layer/forward.c): fewer columns for more rows keep the accumulators in registers. */
#ifndef LINEAR_ROWS
#define LINEAR_ROWS 1
#endif
#ifndef LINEAR_COLS
#define LINEAR_COLS 64
#endif
#define LINEAR_NQ    (LINEAR_COLS / 16) /* float16 vectors per row */
#define LINEAR_AHEAD 16                 /* rows of w prefetched ahead */

/* y [m, n] = x [m, k] w [k, n] (all row-major: w is a layer's transposed weights) for m <=
 * LINEAR_ROWS, on CPU devices (PoCL): the projections of a decode step, which are a stream over
 * the weights. Work-item c owns columns LINEAR_COLS c .. of every row and walks k, reading each
 * row of w once, up to 256 contiguous bytes per work-item, and asking for the run 16 rows ahead
 * (the rows are n floats apart, farther than the hardware prefetchers follow). Measured on the
 * 2-core AVX-512 PoCL machine, one clattn_mha_layer_forward_host call of E = 2048, 32 heads (64
 * MiB of weights), B sequences of one token, medians of 25: B = 1 3.9 ms (17 GB/s) against
 * 14.9-18.0 with CLBlast's GEMV; B = 2-8 2.9-5.9 ms against 10.9-12.3 with its GEMM. Through
 * examples/generate (4 such layers, B = 1), the layers' time per token: at context 1024, 69-73 ms
 * with CLBlast against 36-41 with 16 columns a work-item and no prefetch; at context 128, 35-40
 * with 16 columns, 22-26 with 64, 15-19 with 64 and the prefetch 16 rows ahead (4 rows ahead:
 * 20-21; 32 or 64: no better than 16). Rows past m repeat row m - 1 (computed, not stored). Global
 * size ceil(n / LINEAR_COLS). */
__kernel void layer_linear(__global const float *restrict x, __global const float *restrict w,
                           __global float *restrict y, int m, int k, int n) {
    const int c0 = (int)get_global_id(0) * LINEAR_COLS;
    if (c0 >= n) return;
    if (c0 + LINEAR_COLS > n) { /* the last columns, past the last whole run */
        for (int c = c0; c < n; c++)
            for (int r = 0; r < m; r++) {
                float s = 0.0f;
                for (int i = 0; i < k; i++) s = fma(x[(long)r * k + i], w[(long)i * n + c], s);
                y[(long)r * n + c] = s;
            }
        return;
    }
    __global const float *xr[LINEAR_ROWS];
    float16 acc[LINEAR_ROWS][LINEAR_NQ];
#pragma unroll
    for (int r = 0; r < LINEAR_ROWS; r++) {
        xr[r] = x + (long)min(r, m - 1) * k;
#pragma unroll
        for (int q = 0; q < LINEAR_NQ; q++) acc[r][q] = (float16)(0.0f);
    }
    __global const float *wc = w + c0;
    for (int i = 0; i < k; i++) {
        __global const float *ahead = wc + (long)min(i + LINEAR_AHEAD, k - 1) * n;
        float16 wv[LINEAR_NQ];
#pragma unroll
        for (int q = 0; q < LINEAR_NQ; q++) {
            clattn_prefetch_line(ahead + 16 * q);
            wv[q] = vload16(q, wc + (long)i * n);
        }
#pragma unroll
        for (int r = 0; r < LINEAR_ROWS; r++) {
            const float16 xb = (float16)(xr[r][i]);
#pragma unroll
            for (int q = 0; q < LINEAR_NQ; q++) acc[r][q] = fma(xb, wv[q], acc[r][q]);
        }
    }
#pragma unroll
    for (int r = 0; r < LINEAR_ROWS; r++)
        if (r < m)
#pragma unroll
            for (int q = 0; q < LINEAR_NQ; q++) vstore16(acc[r][q], q, y + (long)r * n + c0);
}

/* x [B * seq, ld]: columns 0..global_size(0)-1 of each row; global size (columns, B * seq). */
__kernel void layer_rows(__global float *restrict x, __global const float *restrict bias,
                         __global const int *restrict lens, long ld, long seq, int has_bias,
                         int has_lens) {
    const long c = get_global_id(0), r = get_global_id(1);
    __global float *p = x + r * ld + c;
    if (has_lens && r % seq >= lens[r / seq])
        *p = 0.0f;
    else if (has_bias)
        *p += bias[c];
}

/* mask [B, seq, skv]: new token i of sequence b sits at key first[b] + i and sees the keys up to
 * it. Global size (skv, seq, B). */
__kernel void layer_causal_mask(__global float *restrict mask, __global const int *restrict first,
                                long skv) {
    const long j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
    const long seq = get_global_size(1);
    mask[(b * seq + i) * skv + j] = j <= first[b] + i ? 0.0f : -INFINITY;
}
