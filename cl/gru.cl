/* gru.cl: the recurrent step of a GRU (PyTorch conventions: gates stacked r, z, n and
 * n = tanh(W_in x + b_in + r * (W_hn h + b_hn))), both directions of a bidirectional encoder in one
 * launch. The input projections x W_ih^T of every step were computed beforehand by one GEMM per
 * direction into gi [ndir, B, T, 3H]; this kernel adds the recurrent projection h W_hh^T, the
 * biases and the gate arithmetic.
 *
 * Work-item (j, b, dir) computes hidden unit j of sequence b in direction dir at step s. The
 * forward direction handles position s, the backward one position len-1-s (each sequence starts
 * at its own last token); for s >= len both write 0 at position s. The previous state is read
 * from `out` itself (position s-1 forward, len-s backward), written by the previous launch, so no
 * separate state buffers are needed; within one launch reads and writes never meet. For s = 0 the
 * state is h0 [B, H] when given (the decoder cell) and 0 otherwise. */

#define GRU_SIGMOID(x) (1.0f / (1.0f + exp(-(x))))

__kernel void gru_step(__global const float *gi, __global const float *w_hh0,
                       __global const float *w_hh1, __global const float *b_ih0,
                       __global const float *b_ih1, __global const float *b_hh0,
                       __global const float *b_hh1, __global const int *lengths,
                       __global const float *h0, __global float *out, int B, int T, int H, int ndir,
                       int s, int has_bias_ih, int has_bias_hh, int has_len, int has_h0) {
    const int j = get_global_id(0), b = get_global_id(1), dir = get_global_id(2);
    if (j >= H) return;
    const int len = has_len ? lengths[b] : T;
    const long od = (long)ndir * H;
    if (s >= len) {
        out[((long)b * T + s) * od + (long)dir * H + j] = 0.0f;
        return;
    }
    const int t = dir == 0 ? s : len - 1 - s;
    __global const float *hp = 0;
    if (s > 0)
        hp = out + ((long)b * T + (dir == 0 ? t - 1 : t + 1)) * od + (long)dir * H;
    else if (has_h0)
        hp = h0 + (long)b * H;

    __global const float *w = dir == 0 ? w_hh0 : w_hh1;
    float hr = 0.0f, hz = 0.0f, hn = 0.0f, hj = 0.0f;
    if (hp) {
        __global const float *wr = w + (long)j * H, *wz = w + (long)(H + j) * H,
                             *wn = w + (long)(2 * H + j) * H;
        const int H8 = H & ~7;
        float8 ar = 0.0f, az = 0.0f, an = 0.0f;
        for (int k = 0; k < H8; k += 8) {
            float8 h = vload8(0, hp + k);
            ar += vload8(0, wr + k) * h;
            az += vload8(0, wz + k) * h;
            an += vload8(0, wn + k) * h;
        }
        float4 r4 = ar.lo + ar.hi, z4 = az.lo + az.hi, n4 = an.lo + an.hi;
        hr = r4.x + r4.y + r4.z + r4.w;
        hz = z4.x + z4.y + z4.z + z4.w;
        hn = n4.x + n4.y + n4.z + n4.w;
        for (int k = H8; k < H; k++) {
            hr += wr[k] * hp[k];
            hz += wz[k] * hp[k];
            hn += wn[k] * hp[k];
        }
        hj = hp[j];
    }
    if (has_bias_hh) {
        __global const float *bh = dir == 0 ? b_hh0 : b_hh1;
        hr += bh[j];
        hz += bh[H + j];
        hn += bh[2 * H + j];
    }
    __global const float *g = gi + (((long)dir * B + b) * T + t) * 3 * H;
    float xr = g[j], xz = g[H + j], xn = g[2 * H + j];
    if (has_bias_ih) {
        __global const float *bi = dir == 0 ? b_ih0 : b_ih1;
        xr += bi[j];
        xz += bi[H + j];
        xn += bi[2 * H + j];
    }
    const float r = GRU_SIGMOID(xr + hr), z = GRU_SIGMOID(xz + hz);
    const float n = tanh(xn + r * hn);
    out[((long)b * T + t) * od + (long)dir * H + j] = (1.0f - z) * n + z * hj;
}
