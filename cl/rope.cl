/* rope.cl: rotary position embeddings (clattn_rope, src/rope/rope.c) on q or k of any storage
 * type (Q_T in, O_T out: the host builds both as the call's dtype), in place or out of place.
 * The angle, pairing and rotation are cl/common.cl's, shared with cl/kv_cache.cl's rotating
 * append. One work-item per pair of a (batch, head, token) row: global size (pairs, seq,
 * batch * heads), where pairs is rotary_dim / 2 in place and head_dim / 2 out of place, the
 * items past rotary_dim / 2 copying the unrotated tail two elements each (rotary_dim and
 * head_dim are even, so the tail's elements 2 c, 2 c + 1 for c >= npairs are exactly [R, D)).
 * in and out may be the same buffer (in place), so neither is restrict; each item reads and
 * writes only its own two elements. */

/* positions: int [seq] (pos_sb 0) or [batch, seq] (pos_sb seq); turns: ulong [npairs], pair i's
 * frequency in 2^-64 turns per position. Strides in elements of (batch, head, token). */
__kernel void rope(__global const Q_T *in, __global O_T *out,
                   __global const int *restrict positions, __global const ulong *restrict turns,
                   long heads, long in_sb, long in_sh, long in_ss, long out_sb, long out_sh,
                   long out_ss, long pos_sb, int npairs, int gptj) {
    const int c = (int)get_global_id(0);
    const long t = get_global_id(1), bh = get_global_id(2), b = bh / heads, h = bh % heads;
    const long src = b * in_sb + h * in_sh + t * in_ss, dst = b * out_sb + h * out_sh + t * out_ss;
    if (c >= npairs) { /* the unrotated tail (out of place only) */
        store_o(out, dst + 2 * c, load_q(in, src + 2 * c));
        store_o(out, dst + 2 * c + 1, load_q(in, src + 2 * c + 1));
        return;
    }
    const int2 e = clattn_rope_pair(c, npairs, gptj);
    const float2 cs = clattn_rope_cos_sin(turns[c], positions[b * pos_sb + t]);
    const float2 r = clattn_rope_rotate(load_q(in, src + e.x), load_q(in, src + e.y), cs);
    store_o(out, dst + e.x, r.x);
    store_o(out, dst + e.y, r.y);
}
