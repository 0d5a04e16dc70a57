/* rope_table.c: the RoPE settings' check and the frequency table, shared by clattn_rope and the
 * KV cache's rotating append. The kernels take each frequency as a 64-bit fraction of a turn so
 * that they can reduce the angle mod 2 pi exactly in integers (cl/common.cl says why); the
 * fraction is made here, in double-double, from the frequency in double. */
#include "rope/rope_internal.h"

#include <math.h>

/* 1 / (2 pi) as a double pair hi + lo (hi the nearest double, lo the rest): hi alone would be
 * off by 2^-54 relative, which at p = 2^31 turns into 2^-25 turn (2e-7 rad) of angle. */
#define INV_2PI_HI 0x1.45f306dc9c883p-3
#define INV_2PI_LO (-0x1.6b01ec5417056p-57)

/* x mod 1 turn as a 64-bit fraction, for x in [-0.5, 1) turns scaled exactly by 2^64. */
static uint64_t fraction64(double x) {
    double y = ldexp(x, 64);      /* exact: a power of two */
    if (y >= 0x1p63) y -= 0x1p64; /* exact (Sterbenz); now in [-2^63, 2^63), int64's range */
    return (uint64_t)(int64_t)y;
}

/* f / (2 pi) mod 1 as a 64-bit fraction. f / (2 pi) = hi + lo with hi = f * INV_2PI_HI rounded
 * and lo its rounding error (fma) plus f * INV_2PI_LO: about 106 bits. Each part reduced mod 1
 * exactly (x - floor(x), x - nearbyint(x) are exact in binary floating point), then added in
 * wrapping uint64 arithmetic. */
static uint64_t turns_per_position(double f) {
    const double hi = f * INV_2PI_HI;
    const double lo = fma(f, INV_2PI_HI, -hi) + f * INV_2PI_LO;
    return fraction64(hi - floor(hi)) + fraction64(lo - nearbyint(lo));
}

clattn_status clattn__rope_table(clattn_context *ctx, const char *what, int64_t head_dim,
                                 int64_t rotary_dim, clattn_rope_style style, double theta,
                                 double position_scale, clattn_rope_table *t) {
    const int64_t R = rotary_dim ? rotary_dim : head_dim;
    if (head_dim < 2 || head_dim > CLATTN_ROPE_MAX_DIM || head_dim % 2 || R < 2 || R > head_dim ||
        R % 2)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: head_dim %lld and rotary_dim %lld: head_dim must be even, 2..%d, "
                            "and rotary_dim even, 2..head_dim (or 0: all of it)",
                            what, (long long)head_dim, (long long)rotary_dim, CLATTN_ROPE_MAX_DIM);
    if ((int)style != CLATTN_ROPE_NEOX && (int)style != CLATTN_ROPE_GPTJ)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: style is %d; it must be CLATTN_ROPE_NEOX or CLATTN_ROPE_GPTJ",
                            what, (int)style);
    if (!isfinite(theta) || theta <= 0.0 || !isfinite(position_scale) || position_scale <= 0.0)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: theta %g and position_scale %g must be finite and > 0", what,
                            theta, position_scale);
    t->half = (int)(R / 2);
    t->gptj = style == CLATTN_ROPE_GPTJ;
    for (int i = 0; i < t->half; i++) {
        const double f = position_scale * pow(theta, -2.0 * i / (double)R);
        if (!isfinite(f))
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "%s: the frequency of pair %d, position_scale * theta^(-2 * %d / "
                                "%lld), overflows (theta %g, position_scale %g)",
                                what, i, i, (long long)R, theta, position_scale);
        t->turns[i] = turns_per_position(f);
    }
    return CLATTN_SUCCESS;
}

clattn_status clattn__rope_upload(clattn_context *ctx, const clattn_rope_table *t, cl_mem *out) {
    return clattn__upload(ctx, t->turns, (int64_t)t->half * (int64_t)sizeof t->turns[0],
                          "rope frequency table", out);
}
