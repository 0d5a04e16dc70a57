/* additive_ref.h: float64 CPU reference of additive (Bahdanau) attention, for the tests, the
 * self-test and the CLI's checks. Shapes as in include/clattn_additive.h. */
#ifndef CLATTN_ADDITIVE_REF_H
#define CLATTN_ADDITIVE_REF_H

#include <stdint.h>

/* keys [B,T,Dk], query [B,Tq,Ds], w_h [A,Dk], w_s [A,Ds], v [A], bias [A] or NULL, lengths [B]
 * (int32 values, NULL: all T) -> context [B,Tq,Dk], weights [B,Tq,T] (may be NULL; masked
 * positions get 0). Returns 0, or -1 when out of memory. */
int ref_additive(int64_t B, int64_t T, int64_t Tq, int64_t Dk, int64_t Ds, int64_t A,
                 const float *keys, const float *query, const float *w_h, const float *w_s,
                 const float *v, const float *bias, const int32_t *lengths, double *context,
                 double *weights);

#endif
