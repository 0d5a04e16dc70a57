/* rope_ref.h: CPU reference of rotary position embeddings (include/clattn_rope.h) for the tests:
 * the header's formula taken literally, one angle p * position_scale * theta^(-2 i / R) at a
 * time in long double (at least float64; 80-bit on x86, so the reference's own angle error at
 * p near 2^31 stays far below float32's), cos and sin of it, the pair turned. Self-contained:
 * it does not include clattn.h. */
#ifndef CLATTN_ROPE_REF_H
#define CLATTN_ROPE_REF_H

#include <stdint.h>

/* One row x [D] (float, as stored) at position pos into out [D]: pairs (i, i + R / 2) when
 * gptj is 0, (2 i, 2 i + 1) when it is 1, for i < R / 2; dims past R copied. */
void rope_ref_row(int64_t D, int64_t R, int gptj, double theta, double position_scale, int32_t pos,
                  const float *x, double *out);

#endif
