/* generate_kernels.h: the OpenCL C source of the small kernels around the attention layers in
 * examples/generate.c (token embedding, RMSNorm, residual add, GELU, a matrix-vector product
 * for decode steps, greedy argmax), as one C
 * string built with clCreateProgramWithSource. The GEMMs are CLBlast's and attention is clattn's.
 * They are written for clarity, not speed: next to the weight GEMMs they read E or F floats per
 * token, so one work-item per row (RMSNorm) or per element is enough. */
#ifndef GENERATE_KERNELS_H
#define GENERATE_KERNELS_H

static const char gen_kernels_source[] =
    /* x[t, :] = table[ids[t], :]; global (E, tokens) */
    "__kernel void embed(__global const int *ids, __global const float *table,\n"
    "                    __global float *x, int E) {\n"
    "    const size_t e = get_global_id(0), t = get_global_id(1);\n"
    "    x[t * E + e] = table[(size_t)ids[t] * E + e];\n"
    "}\n"
    /* out[r, :] = x[row0 + r, :] / rms(x[row0 + r, :]) * gain; global (rows) */
    "__kernel void rmsnorm(__global const float *x, int row0, __global const float *gain,\n"
    "                      __global float *out, int E, float eps) {\n"
    "    const size_t r = get_global_id(0);\n"
    "    __global const float *in = x + (row0 + r) * E;\n"
    "    float ss = 0.0f;\n"
    "    for (int i = 0; i < E; i++) ss += in[i] * in[i];\n"
    "    const float inv = rsqrt(ss / (float)E + eps);\n"
    "    for (int i = 0; i < E; i++) out[r * E + i] = in[i] * inv * gain[i];\n"
    "}\n"
    /* the residual: x += a; global (elements) */
    "__kernel void add_to(__global float *x, __global const float *a) {\n"
    "    const size_t i = get_global_id(0);\n"
    "    x[i] += a[i];\n"
    "}\n"
    /* GELU, the exact (erf) form; global (elements) */
    "__kernel void gelu(__global float *u) {\n"
    "    const size_t i = get_global_id(0);\n"
    "    const float v = u[i];\n"
    "    u[i] = 0.5f * v * (1.0f + erf(v * 0.70710678118654752f));\n"
    "}\n"
    /* y[m, :] = x[m, :] W^T (+ y[m, :] when accumulate), nn.Linear for the few rows of a decode
     * step; global (N, M). One work-item per output reads its weight row once, 8 wide: at M = 1
     * the step is a stream over W, which CLBlast's tiled GEMM (built for many rows) is not. */
    "__kernel void linear_rows(__global const float *x, __global const float *w,\n"
    "                          __global float *y, int K, int N, int accumulate) {\n"
    "    const size_t n = get_global_id(0), m = get_global_id(1);\n"
    "    __global const float *a = x + m * K, *b = w + n * K;\n"
    "    float8 acc = (float8)(0.0f);\n"
    "    int k = 0;\n"
    "    for (; k + 8 <= K; k += 8) acc = fma(vload8(0, a + k), vload8(0, b + k), acc);\n"
    "    float s = (acc.s0 + acc.s1) + (acc.s2 + acc.s3) + (acc.s4 + acc.s5) + (acc.s6 + acc.s7);\n"
    "    for (; k < K; k++) s = fma(a[k], b[k], s);\n"
    "    if (accumulate) s += y[m * N + n];\n"
    "    y[m * N + n] = s;\n"
    "}\n"
    /* greedy decoding: the first index of the largest logit; one work-item */
    "__kernel void argmax(__global const float *logits, int n, __global int *out) {\n"
    "    int best = 0;\n"
    "    for (int i = 1; i < n; i++)\n"
    "        if (logits[i] > logits[best]) best = i;\n"
    "    out[0] = best;\n"
    "}\n";

#endif
