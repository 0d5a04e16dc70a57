/* convert.cl: storage-type conversion for the paths whose arithmetic cannot read narrow storage
 * directly: the naive path's CLBlast SGEMMs need float32 operands and a float32 result, and
 * flash1 carries its running output through global memory, where a half or bfloat16 copy would
 * round it once per K/V block. `widen` copies a strided [B, H, S, dim] tensor of CV_DTYPE into a
 * contiguous float32 one; `narrow` copies a contiguous float32 tensor into a strided one of
 * CV_DTYPE, rounding to nearest even (kernel_iface.h's rules, the same as store_o). One
 * work-item per element: global size (dim, B * H * S). */

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

/* The element offset in the strided tensor of element c of contiguous row `row`. */
inline long cv_offset(long row, long c, long heads, long seq, long sb, long sh, long ss) {
    const long i = row % seq, bh = row / seq;
    return (bh / heads) * sb + (bh % heads) * sh + i * ss + c;
}

__kernel void widen(__global const CV_T *restrict src, __global float *restrict dst, long heads,
                    long seq, long sb, long sh, long ss) {
    const long c = get_global_id(0), row = get_global_id(1), dim = get_global_size(0);
    dst[row * dim + c] = CLATTN_LD(CV_DTYPE)(src, cv_offset(row, c, heads, seq, sb, sh, ss));
}

__kernel void narrow(__global const float *restrict src, __global CV_T *restrict dst, long heads,
                     long seq, long sb, long sh, long ss) {
    const long c = get_global_id(0), row = get_global_id(1), dim = get_global_size(0);
    cv_store(dst, cv_offset(row, c, heads, seq, sb, sh, ss), src[row * dim + c]);
}
