/* generate_kernels.h: the OpenCL C source of the small kernels around the attention layers in
 * examples/generate.c (token embedding, RMSNorm, residual add, GELU, greedy argmax), as one C
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
    /* greedy decoding: the first index of the largest logit; one work-item */
    "__kernel void argmax(__global const float *logits, int n, __global int *out) {\n"
    "    int best = 0;\n"
    "    for (int i = 1; i < n; i++)\n"
    "        if (logits[i] > logits[best]) best = i;\n"
    "    out[0] = best;\n"
    "}\n";

#endif
