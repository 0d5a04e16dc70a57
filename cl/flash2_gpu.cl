/* flash2_gpu.cl: FlashAttention-2 forward for devices with on-chip local memory (GPUs).
 * One work-group per (query block of BR rows, batch, head), TPR work-items per query row. The Q
 * tile and each K/V tile are staged in __local memory; scores and probabilities go through a
 * BR x BC local tile. Each work-item keeps DVCAP/TPR output columns of its row un-normalised in
 * registers, with the running max and sum in float32, and rescales once at the end. Key blocks
 * that the causal mask hides from the whole query block are never visited.
 * Scores are kept in base 2: q is pre-multiplied by scale*log2(e) so exp2 replaces exp. */

#ifndef BR
#define BR 16 /* query rows per work-group */
#endif
#ifndef BC
#define BC 16 /* keys per K/V tile */
#endif
#ifndef TPR
#define TPR 4 /* work-items per query row */
#endif
#ifndef DCAP
#define DCAP 64 /* capacity for head_dim (the runtime D is <= DCAP) */
#endif
#ifndef DVCAP
#define DVCAP 64 /* capacity for head_dim_v */
#endif

#define WG  (BR * TPR)
#define DVL (DVCAP / TPR)          /* output columns per work-item */
#define NJ  ((BC + TPR - 1) / TPR) /* keys per work-item in a tile */
#define KP  (DCAP + 1)             /* odd K row pitch: lanes reading different keys spread banks */

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
flash2_gpu(__global const float *q, __global const float *k, __global const float *v,
           __global const float *mask, __global float *out, __global float *lse, long Hq,
           long group, long Sq, long Skv, int D, int Dv, float scale2, int causal, int has_mask,
           int has_lse, long qsb, long qsh, long qss, long ksb, long ksh, long kss, long vsb,
           long vsh, long vss, long osb, long osh, long oss, long msb, long msh, long mss) {
    __local float Qs[BR * DCAP];
    __local float Ks[BC * KP];
    __local float Vs[BC * DVCAP];
    __local float Ps[BR * BC];

    const int t = get_local_id(0);
    const int r = t / TPR, lane = t % TPR;
    const long nqb = (Sq + BR - 1) / BR;
    const long gid = get_group_id(0);
    const long bh = gid / nqb;
    const long qb = nqb - 1 - gid % nqb; /* longest causal rows first */
    const long b = bh / Hq, h = bh % Hq, kh = h / group;
    const long q0 = qb * BR, row = q0 + r;
    const int valid = row < Sq;
    const long off = Skv - Sq; /* bottom-right causal: row i sees keys <= i + off */

    const __global float *qp = q + b * qsb + h * qsh;
    const __global float *kp = k + b * ksb + kh * ksh;
    const __global float *vp = v + b * vsb + kh * vsh;

    for (int i = t; i < BR * D; i += WG) {
        const int rr = i / D, d = i - rr * D;
        Qs[rr * DCAP + d] = (q0 + rr < Sq) ? qp[(q0 + rr) * qss + d] * scale2 : 0.0f;
    }

    long kv_end = Skv;
    if (causal && q0 + BR + off < kv_end) kv_end = q0 + BR + off;

    float m = -INFINITY, l = 0.0f;
    float acc[DVL];
    for (int u = 0; u < DVL; u++) acc[u] = 0.0f;
    float sv[NJ];

    for (long k0 = 0; k0 < kv_end; k0 += BC) {
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous tile's readers are done */
        for (int i = t; i < BC * D; i += WG) {
            const int j = i / D, d = i - j * D;
            Ks[j * KP + d] = (k0 + j < Skv) ? kp[(k0 + j) * kss + d] : 0.0f;
        }
        for (int i = t; i < BC * Dv; i += WG) {
            const int j = i / Dv, d = i - j * Dv;
            Vs[j * DVCAP + d] = (k0 + j < Skv) ? vp[(k0 + j) * vss + d] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        /* S = Q K^T for this lane's keys, masked; kept privately and shared for the row max. */
        for (int u = 0; u < NJ; u++) {
            const int j = lane + u * TPR;
            if (j >= BC) break;
            const long key = k0 + j;
            float s = 0.0f;
            for (int d = 0; d < D; d++) s = fma(Qs[r * DCAP + d], Ks[j * KP + d], s);
            if (has_mask && valid && key < Skv)
                s = fma(mask[b * msb + h * msh + row * mss + key], CLATTN_LOG2E, s);
            if (key >= Skv || (causal && key > row + off)) s = -INFINITY;
            sv[u] = s;
            Ps[r * BC + j] = s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        float mx = m;
        for (int j = 0; j < BC; j++) mx = fmax(mx, Ps[r * BC + j]);
        barrier(CLK_LOCAL_MEM_FENCE); /* every lane has its max before P overwrites S */
        for (int u = 0; u < NJ; u++) {
            const int j = lane + u * TPR;
            if (j >= BC) break;
            Ps[r * BC + j] = clattn_exp2_diff(sv[u], mx);
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        /* O = diag(alpha) O + P V, l = alpha l + rowsum(P); nothing is divided until the end. */
        const float alpha = clattn_exp2_diff(m, mx);
        float rs = 0.0f;
        for (int u = 0; u < DVL; u++) acc[u] *= alpha;
        for (int j = 0; j < BC; j++) {
            const float p = Ps[r * BC + j];
            rs += p;
            for (int u = 0; u < DVL; u++) acc[u] = fma(p, Vs[j * DVCAP + lane + u * TPR], acc[u]);
        }
        l = l * alpha + rs;
        m = mx;
    }

    if (valid) {
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        __global float *op = out + b * osb + h * osh + row * oss;
        for (int u = 0; u < DVL; u++) {
            const int d = lane + u * TPR;
            if (d < Dv) op[d] = acc[u] * inv;
        }
        if (has_lse && lane == 0)
            lse[bh * Sq + row] = l > 0.0f ? (m + log2(l)) * CLATTN_LN2 : -INFINITY;
    }
}
