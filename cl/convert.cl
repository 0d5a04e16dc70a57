/* convert.cl: storage-type conversion between a caller's narrow tensor and a float32 copy, for
 * the paths that run on float32 copies (src/sdpa/staging.c): the naive path's CLBlast SGEMMs
 * need float32 operands and a float32 result, and flash1 carries its running output through
 * global memory, where a half or bfloat16 copy would round it once per K/V block. `widen` copies a
 * strided [B, H, S, dim] tensor of CV_DTYPE into a contiguous float32 one; `narrow` copies a
 * contiguous float32 tensor into a strided one of CV_DTYPE, rounding to nearest even
 * (kernel_iface.h's rules, the same as store_o). One work-item per row of dim elements, global
 * size (S, H, B), so a row's offsets are computed once (per element, the 64-bit divisions that
 * split a flat index cost more than the conversion). */

#ifndef CV_DTYPE
#define CV_DTYPE CLATTN_STORAGE_F32
#endif
#define CV_T CLATTN_ST_T(CV_DTYPE)

inline void cv_store(__global CV_T *p, long i, float x) {
#if CV_DTYPE == CLATTN_STORAGE_F16
    vstore_half_rte(x, (size_t)i, p);
#elif CV_DTYPE == CLATTN_STORAGE_BF16
    p[i] = clattn_bf16_store(x);
#else
    p[i] = x;
#endif
}

/* Offsets of this work-item's row: in the strided tensor, and in the contiguous one. */
inline long cv_strided_row(long sb, long sh, long ss) {
    return (long)get_global_id(2) * sb + (long)get_global_id(1) * sh + (long)get_global_id(0) * ss;
}
inline long cv_dense_row(long dim) {
    const long row = ((long)get_global_id(2) * (long)get_global_size(1) + (long)get_global_id(1)) *
                         (long)get_global_size(0) +
                     (long)get_global_id(0);
    return row * dim;
}

__kernel void widen(__global const CV_T *restrict src, __global float *restrict dst, long dim,
                    long sb, long sh, long ss) {
    __global const CV_T *s = src + cv_strided_row(sb, sh, ss);
    __global float *d = dst + cv_dense_row(dim);
    long c = 0;
    for (; c + 8 <= dim; c += 8) vstore8(CLATTN_LD8(CV_DTYPE)(s, c), 0, d + c);
    for (; c < dim; c++) d[c] = CLATTN_LD(CV_DTYPE)(s, c);
}

__kernel void narrow(__global const float *restrict src, __global CV_T *restrict dst, long dim,
                     long sb, long sh, long ss) {
    __global const float *s = src + cv_dense_row(dim);
    __global CV_T *d = dst + cv_strided_row(sb, sh, ss);
    for (long c = 0; c < dim; c++) cv_store(d, c, s[c]);
}
