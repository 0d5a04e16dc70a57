/* common.cl: helpers every kernel family shares; the host prepends this file to each family
 * (with #line markers), so nothing here may define a __kernel. */
#ifndef CLATTN_COMMON_CL
#define CLATTN_COMMON_CL

/* log2(e): scores are pre-multiplied by scale * log2(e) so softmax uses exp2. */
#define CLATTN_LOG2E 1.4426950408889634f
/* ln(2): turns a base-2 log-sum-exp back into a natural one. */
#define CLATTN_LN2 0.6931471805599453f

/* exp2 of a running-max difference where the max may still be -inf (nothing seen yet): the
 * correction factor is then 0, not NaN. */
inline float clattn_exp2_diff(float a, float b) {
    return (b == -INFINITY) ? 0.0f : exp2(a - b);
}

/* Ceiling division for tile counts. */
inline int clattn_cdiv(int a, int b) {
    return (a + b - 1) / b;
}

#endif
