/* rope_ref.c: the RoPE reference declared in rope_ref.h. */
#include "rope_ref.h"

#include <math.h>

void rope_ref_row(int64_t D, int64_t R, int gptj, double theta, double position_scale, int32_t pos,
                  const float *x, double *out) {
    for (int64_t e = 0; e < D; e++) out[e] = x[e];
    for (int64_t i = 0; i < R / 2; i++) {
        const int64_t a = gptj ? 2 * i : i, b = gptj ? 2 * i + 1 : i + R / 2;
        const long double angle = (long double)pos * (long double)position_scale *
                                  powl((long double)theta, -2.0L * (long double)i / (long double)R);
        const long double c = cosl(angle), s = sinl(angle);
        out[a] = (double)(x[a] * c - x[b] * s);
        out[b] = (double)(x[a] * s + x[b] * c);
    }
}
