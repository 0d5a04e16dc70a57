/* layer.cl: the attention layer's own small kernels (src/layer/forward.c), around the GEMMs and
 * the attention calls it makes:
 *   layer_rows         adds a bias to every row of a [B * seq, ld] float32 matrix and zeroes the
 *                      rows of padding tokens (seq index >= lens[b]), in place: the q/k/v
 *                      projection after its GEMM (so padding keys hold zeros, never what the
 *                      caller left in x's padding rows) and the output y;
 *   layer_causal_mask  the additive causal mask of a ragged prefill over a KV cache, where each
 *                      sequence's new tokens start at its own cached length (the kernels' causal
 *                      alignment is against each sequence's total length, which is right only
 *                      when every sequence fills seq).
 * One work-item per element; the float32 data needs no storage-type options. */

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
