/* kv_cache.cl: the copies of the KV cache (src/kvcache/) in and out of its page pools
 * ([num_pages, heads, page_size, dim] of KV_T, one pool for K and one for V):
 *   kv_append  new float32 K or V rows onto their pages, converted to the storage type with
 *              round-to-nearest-even (kernel_iface.h's CLATTN_STORE, as store_o), K rows
 *              optionally rotated (RoPE, cl/common.cl's angle and pairing) at their positions
 *              in the sequence as they are stored;
 *   kv_gather  the pages of the attended sequences into a contiguous [B, heads, Skv, dim] scratch,
 *              zero past each sequence's length, for the prefill kernels (which read plain
 *              strides; the decode kernels read the pages in place).
 * Both find rows with clattn_kv_row (cl/common.cl; the family is built with -DKV_PAGED) through a
 * block table made for the call: its row b lists the pages of sequence b, pps entries long.
 * One work-item per element. */

/* 16-bit storage is copied as its bits (half is a storage-only type without cl_khr_fp16). */
#if KV_DTYPE == CLATTN_STORAGE_F32
#define KV_BITS_T uint
#else
#define KV_BITS_T ushort
#endif

/* meta: [n] the first new row of each sequence (its length before), [n] its count of new rows,
 * then its block table [n, pps]. src: float [n, heads, T, dim] by strides (sb, sh, ss).
 * rope_half > 0: the leading 2 rope_half dims are rotated, pair i by rope_turns[i] (2^-64 turns
 * per position) at the row's position meta[i] + t; each item computes its own element of the
 * pair (the pair's angle twice: the copy is bound by memory, not by sincos). 0: stored as given.
 * Global size (dim, T, n * heads); rows past a sequence's count do nothing. */
__kernel void kv_append(__global const float *restrict src, __global KV_T *restrict pool,
                        __global const int *restrict meta, long n, long heads, long sb, long sh,
                        long ss, long page_stride, long page_size, long pps,
                        __global const ulong *restrict rope_turns, int rope_half, int rope_gptj) {
    const long c = get_global_id(0), t = get_global_id(1), ih = get_global_id(2);
    const long dim = get_global_size(0), i = ih / heads, h = ih % heads;
    if (t >= meta[n + i]) return;
    const long row = clattn_kv_row(i, h, meta[i] + t, page_stride, page_size * dim, dim,
                                   CLATTN_KF_PAGED, meta + 2 * n, page_size, pps);
    const __global float *x = src + i * sb + h * sh + t * ss;
    float y = x[c];
    if (c < 2 * rope_half) {
        const int pair = rope_gptj ? (int)c / 2 : (int)c % rope_half;
        const int2 e = clattn_rope_pair(pair, rope_half, rope_gptj);
        const float2 r = clattn_rope_rotate(
            x[e.x], x[e.y], clattn_rope_cos_sin(rope_turns[pair], meta[i] + (int)t));
        y = c == e.x ? r.x : r.y;
    }
    CLATTN_STORE(KV_DTYPE)(pool, row + c, y);
}

/* meta: the block table [B, pps] of the attended sequences, then their lengths [B].
 * Global size (dim, Skv, B * heads); dst is contiguous. */
__kernel void kv_gather(__global const KV_BITS_T *restrict pool, __global KV_BITS_T *restrict dst,
                        __global const int *restrict meta, long batch, long heads, long page_stride,
                        long page_size, long pps) {
    const long c = get_global_id(0), j = get_global_id(1), bh = get_global_id(2);
    const long dim = get_global_size(0), seq = get_global_size(1), b = bh / heads;
    const long at = (bh * seq + j) * dim + c;
    if (j >= meta[batch * pps + b]) {
        dst[at] = 0; /* the prefill kernels may weigh a key past the length by 0: never NaN */
        return;
    }
    dst[at] = pool[clattn_kv_row(b, bh % heads, j, page_stride, page_size * dim, dim,
                                 CLATTN_KF_PAGED, meta, page_size, pps) +
                   c];
}
