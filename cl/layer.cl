/* layer.cl: the attention layer's own small kernels (src/layer/forward.c), around the GEMMs and
 * the attention calls it makes:
 *   layer_linear       y = x W, the projections on CPU devices, over weights stored in
 *                      panels (on GPUs the projections are CLBlast's GEMMs and GEMVs): the
 *                      layer's, and the additive key projection (src/core/linear.c enqueues it);
 *   layer_linear_pack  an nn.Linear weight W [n, k] on the device into the panels of W^T, for a
 *                      product whose weights come with the call (the additive key projection);
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

/* layer_linear's shape, chosen by the host (src/core/linear.c): lanes per vector (16 or 8, the
 * device's preferred float width), vectors per panel row (LINEAR_NQ: 4 with 16 lanes, 2 with
 * 8), rows per work-item (LINEAR_ROWS) and panels per work-item (LINEAR_WP). A work-item keeps
 * ROWS x WP x NQ vectors of accumulators: 4 x 1 x 4 = 16 of AVX-512's 32 registers for a
 * product of 4 rows or more; on 8 lanes 6 x 1 x 2 = 12 of AVX2's 16 (with the 2 weight vectors
 * and the broadcast: 15), and for 1 or 2 rows (a decode step) 2 panels, two weight streams. */
#ifndef LINEAR_VW
#define LINEAR_VW 16
#endif
#ifndef LINEAR_ROWS
#define LINEAR_ROWS 1
#endif
#ifndef LINEAR_NQ
#define LINEAR_NQ 4 /* vectors per panel row */
#endif
#ifndef LINEAR_WP
#define LINEAR_WP 1 /* panels per work-item */
#endif
#define LINEAR_PANEL (LINEAR_NQ * LINEAR_VW) /* columns per panel: 64 or 16 */
#if LINEAR_VW == 16
#define lin_vec     float16
#define lin_load(p) vload16(0, p)
#define lin_store   vstore16
#else
#define lin_vec     float8
#define lin_load(p) vload8(0, p)
#define lin_store   vstore8
#endif

/* y [m, n] = x [m, k] W [k, n] on CPU devices (PoCL), for every m: the layer's projections,
 * prefill and decode alike. W is stored in panels (src/layer/create.c): panel p holds columns
 * p * LINEAR_PANEL .. of every row, [ceil(n / LINEAR_PANEL)][k][LINEAR_PANEL], zeros past column
 * n - 1, so a panel is one contiguous run the hardware prefetchers follow. Work-item (i, p)
 * computes rows i * LINEAR_ROWS .. of panels p * LINEAR_WP .., walking k: per k, NQ vector loads
 * of W per panel, LINEAR_ROWS broadcasts of x, ROWS x WP x NQ FMAs. Dimension 0 runs over the row
 * blocks, so consecutive work-items reuse panels from the cache. Measured on the 2-core AVX-512
 * PoCL machine (16 lanes, 4 rows), x [m, 2048] W [2048, 6144], medians of 15, alternated in one
 * run with CLBlast's GEMM on row-major [k, n] weights: m = 2048 196 GFLOP/s (CLBlast 49), 512
 * 194 (69), 64 160 (82), 16 103 (39); over other runs 193-199, 166-181 at 64, 92-111 at 16; m =
 * 1 1.4-2.5 ms from one process to the next (20-35 GB/s). The 8-lane shape is linear.c's. Rows
 * past m repeat row m - 1 and panels past the last repeat it (computed, not stored). Global size
 * (ceil(m / LINEAR_ROWS), ceil(ceil(n / LINEAR_PANEL) / LINEAR_WP)). */
__kernel void layer_linear(__global const float *restrict x, __global const float *restrict w,
                           __global float *restrict y, long m, long k, long n) {
    const long r0 = (long)get_global_id(0) * LINEAR_ROWS;
    const long p0 = (long)get_global_id(1) * LINEAR_WP, np = (n + LINEAR_PANEL - 1) / LINEAR_PANEL;
    __global const float *xr[LINEAR_ROWS], *wp[LINEAR_WP];
    lin_vec acc[LINEAR_ROWS][LINEAR_WP][LINEAR_NQ];
#pragma unroll
    for (int j = 0; j < LINEAR_WP; j++) wp[j] = w + min(p0 + j, np - 1) * LINEAR_PANEL * k;
#pragma unroll
    for (int r = 0; r < LINEAR_ROWS; r++) {
        xr[r] = x + min(r0 + r, m - 1) * k;
#pragma unroll
        for (int j = 0; j < LINEAR_WP; j++)
#pragma unroll
            for (int q = 0; q < LINEAR_NQ; q++) acc[r][j][q] = (lin_vec)(0.0f);
    }
    for (long i = 0; i < k; i++) {
        lin_vec wv[LINEAR_WP][LINEAR_NQ];
#pragma unroll
        for (int j = 0; j < LINEAR_WP; j++)
#pragma unroll
            for (int q = 0; q < LINEAR_NQ; q++)
                wv[j][q] = lin_load(wp[j] + i * LINEAR_PANEL + q * LINEAR_VW);
#pragma unroll
        for (int r = 0; r < LINEAR_ROWS; r++) {
            const lin_vec xb = (lin_vec)(xr[r][i]);
#pragma unroll
            for (int j = 0; j < LINEAR_WP; j++)
#pragma unroll
                for (int q = 0; q < LINEAR_NQ; q++) acc[r][j][q] = fma(xb, wv[j][q], acc[r][j][q]);
        }
    }
#pragma unroll
    for (int j = 0; j < LINEAR_WP; j++) {
        const long c0 = (p0 + j) * LINEAR_PANEL;
        const long cols = min((long)LINEAR_PANEL, n - c0); /* the last panel may be partial */
#pragma unroll
        for (int r = 0; r < LINEAR_ROWS; r++) {
            if (r0 + r >= m || cols <= 0) break;
            __global float *yr = y + (r0 + r) * n + c0;
            if (cols == LINEAR_PANEL) {
#pragma unroll
                for (int q = 0; q < LINEAR_NQ; q++) lin_store(acc[r][j][q], q, yr);
            } else {
                float tail[LINEAR_PANEL];
#pragma unroll
                for (int q = 0; q < LINEAR_NQ; q++) lin_store(acc[r][j][q], q, tail);
                for (long c = 0; c < cols; c++) yr[c] = tail[c];
            }
        }
    }
}

/* The panels layer_linear reads from a row-major nn.Linear weight w [n, k] (y = x w^T):
 * dst [ceil(n / LINEAR_PANEL)][k][LINEAR_PANEL] = w^T, zeros past column n - 1. One work-item
 * per element of dst, global size (LINEAR_PANEL, k, ceil(n / LINEAR_PANEL)): the writes are
 * contiguous, the reads k apart (a transpose; A x Dk elements against the product's m x A x Dk
 * multiply-adds). */
__kernel void layer_linear_pack(__global const float *restrict w, __global float *restrict dst,
                                long k, long n) {
    const long c = get_global_id(0), i = get_global_id(1), p = get_global_id(2);
    const long j = p * LINEAR_PANEL + c;
    dst[(p * k + i) * LINEAR_PANEL + c] = j < n ? w[j * k + i] : 0.0f;
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
