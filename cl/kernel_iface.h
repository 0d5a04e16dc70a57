/* kernel_iface.h: the one interface between the host and the attention kernels, valid both as C
 * (src/ includes it) and as OpenCL C (the host prepends it, then common.cl, to every kernel
 * family). It fixes, once for every SDPA kernel (flash1/flash2 in both flavours and the naive
 * path's softmax):
 *   - the argument order, as named indices (the host sets arguments through one function,
 *     src/sdpa/kernel_args.c, never by a bare number) and, for OpenCL C, the parameter list
 *     CLATTN_SDPA_PARAMS that every such kernel declares;
 *   - the flag bits of the `flags` argument;
 *   - the storage types: Q_T, KV_T, O_T and M_T (how q, k and v, out and the mask are stored,
 *     each float32, float16 or bfloat16 by a -D option) with load_q() / load_kv() / load_m() /
 *     store_o(), and ACC_T (what the kernels accumulate in: always float, as lse and scratch);
 * and the named argument indices (and, for OpenCL C, the parameter list) of the log-sum-exp
 * combine kernel (cl/lse_combine.cl: the decode path and clattn_lse_combine both launch it, through
 * src/sdpa/lse_combine.c), and those of the additive and GRU kernels, whose host code sets them.
 * A new option adds a flag bit here and one case in cl/common.cl's mask helper; a new argument
 * is appended here, in the parameter list and in the host's argument table together. */
#ifndef CLATTN_KERNEL_IFACE_H
#define CLATTN_KERNEL_IFACE_H

/* ---- Flag bits of the SDPA kernels' `flags` argument ---- */
#define CLATTN_KF_CAUSAL  1  /* bottom-right aligned causal mask */
#define CLATTN_KF_MASK    2  /* an additive mask is passed (`mask` is not NULL) */
#define CLATTN_KF_LSE     4  /* write the natural log-sum-exp of every row to `lse` */
#define CLATTN_KF_WINDOW  8  /* window_left / window_right limit the keys (-1: that side open) */
#define CLATTN_KF_ALIBI   16 /* add -slope * |i' - j| from `alibi` */
#define CLATTN_KF_SOFTCAP 32 /* s -> softcap * tanh(s / softcap) */
#define CLATTN_KF_KV_LENS 64 /* sequence b has kv_lens[b] keys (its first ones) */
#define CLATTN_KF_TOP_LEFT                                                                         \
    128 /* diag is 0 (top-left); else Skv - Sq, per sequence with kv_lens                          \
         */
/* K and V are paged (a KV cache, src/kvcache/): key j of batch entry b is row j % page_size of
 * page block_table[b * pages_per_seq + j / page_size], and the batch strides of k and v are the
 * page strides. Only kernels built with -DKV_PAGED contain the paged addressing (cl/common.cl:
 * clattn_kv_row), so every other build keeps its plain stride arithmetic. */
#define CLATTN_KF_PAGED 256

/* ---- Storage types ---- */
/* Element types of q, k/v, out and the mask; the same values as the public clattn_dtype. The
 * launchers pass -DQ_DTYPE=, -DKV_DTYPE=, -DO_DTYPE= and -DM_DTYPE= only for a type that is not
 * float32, so float32 builds (and their cached binaries) keep the option strings they had. */
#define CLATTN_STORAGE_F32  0
#define CLATTN_STORAGE_F16  1
#define CLATTN_STORAGE_BF16 2

/* ---- Arguments of every SDPA kernel, in order ---- */
enum clattn_sdpa_arg {
    CLATTN_SDPA_ARG_Q = 0,        /* Q_T [B, Hq, Sq, D] by q strides */
    CLATTN_SDPA_ARG_K,            /* KV_T [B, Hkv, Skv, D] */
    CLATTN_SDPA_ARG_V,            /* KV_T [B, Hkv, Skv, Dv] */
    CLATTN_SDPA_ARG_MASK,         /* M_T additive mask by mask strides, or NULL */
    CLATTN_SDPA_ARG_OUT,          /* O_T [B, Hq, Sq, Dv] by out strides */
    CLATTN_SDPA_ARG_LSE,          /* float [B, Hq, Sq], or NULL */
    CLATTN_SDPA_ARG_SCRATCH,      /* float: flash1's m/l rows, the naive path's S; else NULL */
    CLATTN_SDPA_ARG_BATCH,        /* long B */
    CLATTN_SDPA_ARG_HEADS,        /* long Hq */
    CLATTN_SDPA_ARG_GROUP,        /* long Hq / Hkv: query head h reads kv head h / group */
    CLATTN_SDPA_ARG_SEQ_Q,        /* long Sq */
    CLATTN_SDPA_ARG_SEQ_KV,       /* long Skv */
    CLATTN_SDPA_ARG_HEAD_DIM,     /* int D (<= the build's DCAP) */
    CLATTN_SDPA_ARG_HEAD_DIM_V,   /* int Dv (<= DVCAP) */
    CLATTN_SDPA_ARG_SCALE_LOG2,   /* float scale * log2(e): scores are kept in base 2 */
    CLATTN_SDPA_ARG_FLAGS,        /* int CLATTN_KF_* bits */
    CLATTN_SDPA_ARG_BLOCK_KV,     /* int keys per K/V block where it is a run-time value (CPU) */
    CLATTN_SDPA_ARG_KV_START,     /* long first key of this launch (flash1 CPU: one block each) */
    CLATTN_SDPA_ARG_ALIBI,        /* float ALiBi slopes [B or 1, Hq], or NULL */
    CLATTN_SDPA_ARG_ALIBI_SB,     /* long batch stride of the slopes: Hq, or 0 when shared */
    CLATTN_SDPA_ARG_DIAG,         /* long i' = i + diag: alignment + position_offset */
    CLATTN_SDPA_ARG_WINDOW_LEFT,  /* long keys left of i' a row sees (window); -1 unbounded */
    CLATTN_SDPA_ARG_WINDOW_RIGHT, /* long keys right of i' a row sees (window); -1 unbounded */
    CLATTN_SDPA_ARG_SOFTCAP,      /* float softcap * log2(e) (the cap in the base-2 domain) */
    CLATTN_SDPA_ARG_KV_LENS,      /* int [B]: keys each sequence has (ragged), or NULL */
    CLATTN_SDPA_ARG_Q_STRIDES,    /* 3 x long: batch, head, seq strides of q in elements */
    CLATTN_SDPA_ARG_K_STRIDES = CLATTN_SDPA_ARG_Q_STRIDES + 3,
    CLATTN_SDPA_ARG_V_STRIDES = CLATTN_SDPA_ARG_K_STRIDES + 3,
    CLATTN_SDPA_ARG_OUT_STRIDES = CLATTN_SDPA_ARG_V_STRIDES + 3,
    CLATTN_SDPA_ARG_MASK_STRIDES = CLATTN_SDPA_ARG_OUT_STRIDES + 3, /* 0 in broadcast dims */
    CLATTN_SDPA_ARG_BLOCK_TABLE = CLATTN_SDPA_ARG_MASK_STRIDES + 3, /* int [B, pages_per_seq]
                                                                       pages, or NULL */
    CLATTN_SDPA_ARG_PAGE_SIZE,     /* long keys per page (CLATTN_KF_PAGED); else 0 */
    CLATTN_SDPA_ARG_PAGES_PER_SEQ, /* long row length of block_table; else 0 */
    CLATTN_SDPA_ARG_COUNT
};

/* ---- Arguments of the log-sum-exp combine kernel (cl/lse_combine.cl), in order ----
 * It merges N partial (output, lse) pairs of `rows` query rows. Where things live is all strides,
 * so the decode path's scratch records and the public API's separate arrays are one kernel. */
/* Output columns per work-item: global size {ceil(Dv / 64), rows}. Each work-item computes its
 * row's N weights (exp2) itself, so narrow blocks repeat them: on PoCL (2-core AVX2, load ~4.7)
 * merging 8 parts of 16384 rows x 128 columns ran at 1.1-2.1 GB/s with 16 columns, 3.2-4.6 with
 * 64 (runs interleaved), about the same with 128. */
#define CLATTN_LSE_COMBINE_COLS 64
enum clattn_lse_combine_arg {
    CLATTN_LSE_COMBINE_ARG_PART_OUT = 0, /* float: part n's output row r, from n*part + r*row */
    CLATTN_LSE_COMBINE_ARG_PART_LSE,   /* float: part n's lse of row r at offset + n*part + r*row */
    CLATTN_LSE_COMBINE_ARG_OUT,        /* O_T: row r = (b * H + h) * S + i by the out strides */
    CLATTN_LSE_COMBINE_ARG_LSE,        /* float [rows] (row r at r), or NULL */
    CLATTN_LSE_COMBINE_ARG_PARTS,      /* long N >= 1 */
    CLATTN_LSE_COMBINE_ARG_ROWS,       /* long B * H * S */
    CLATTN_LSE_COMBINE_ARG_HEADS,      /* long H */
    CLATTN_LSE_COMBINE_ARG_SEQ,        /* long S */
    CLATTN_LSE_COMBINE_ARG_HEAD_DIM_V, /* long Dv: output columns per row */
    CLATTN_LSE_COMBINE_ARG_PART_OUT_STRIDES, /* 2 x long: part, row */
    /* 3 x long: offset, part, row */
    CLATTN_LSE_COMBINE_ARG_PART_LSE_STRIDES = CLATTN_LSE_COMBINE_ARG_PART_OUT_STRIDES + 2,
    /* 3 x long: batch, head, seq strides of out, in elements */
    CLATTN_LSE_COMBINE_ARG_OUT_STRIDES = CLATTN_LSE_COMBINE_ARG_PART_LSE_STRIDES + 3,
    CLATTN_LSE_COMBINE_ARG_COUNT = CLATTN_LSE_COMBINE_ARG_OUT_STRIDES + 3
};

/* ---- Arguments of the additive step kernel (cl/additive.cl, both shapes) ---- */
enum clattn_additive_arg {
    CLATTN_ADDITIVE_ARG_KP = 0,  /* float [B, T, A] projected keys + bias */
    CLATTN_ADDITIVE_ARG_QP,      /* float [B * Tq, A] projected queries */
    CLATTN_ADDITIVE_ARG_V,       /* float [A] */
    CLATTN_ADDITIVE_ARG_KEYS,    /* float [B, T, Dk] */
    CLATTN_ADDITIVE_ARG_LENGTHS, /* int [B], or NULL */
    CLATTN_ADDITIVE_ARG_SCORES,  /* float [B * Tq, T] out: the weights */
    CLATTN_ADDITIVE_ARG_CONTEXT, /* float [B * Tq, Dk] out */
    CLATTN_ADDITIVE_ARG_T,       /* int */
    CLATTN_ADDITIVE_ARG_TQ,      /* int */
    CLATTN_ADDITIVE_ARG_A,       /* int */
    CLATTN_ADDITIVE_ARG_DK,      /* int */
    CLATTN_ADDITIVE_ARG_HAS_LEN, /* int */
    CLATTN_ADDITIVE_ARG_QV_LOCAL /* GPU shape only: __local scratch for W_s s and v */
};

/* ---- Arguments of the GRU step kernel (cl/gru.cl) ---- */
enum clattn_gru_arg {
    CLATTN_GRU_ARG_GI = 0, /* float [ndir, B, T, 3H] input projections */
    CLATTN_GRU_ARG_W_HH0,
    CLATTN_GRU_ARG_W_HH1,
    CLATTN_GRU_ARG_B_IH0,
    CLATTN_GRU_ARG_B_IH1,
    CLATTN_GRU_ARG_B_HH0,
    CLATTN_GRU_ARG_B_HH1,
    CLATTN_GRU_ARG_LENGTHS,
    CLATTN_GRU_ARG_H0,
    CLATTN_GRU_ARG_OUT,
    CLATTN_GRU_ARG_B, /* int */
    CLATTN_GRU_ARG_T,
    CLATTN_GRU_ARG_H,
    CLATTN_GRU_ARG_NDIR,
    CLATTN_GRU_ARG_STEP, /* int: the time step of this launch */
    CLATTN_GRU_ARG_HAS_BIAS_IH,
    CLATTN_GRU_ARG_HAS_BIAS_HH,
    CLATTN_GRU_ARG_HAS_LEN,
    CLATTN_GRU_ARG_HAS_H0
};

/* ---- Arguments of the general RNN kernels (cl/rnn.cl: rnn_step and rnn_persistent) ---- */
enum clattn_rnn_arg {
    /* float input projections, Hp = H rounded to 8, U = CLATTN_RNN_UNITS: [B, T, ndir, G, Hp]
     * from the GEMM (RNN_GI_BLOCKED=0) or [T, ndir, Hp / U, B, G, U] from rnn_input (=1) */
    CLATTN_RNN_ARG_GI = 0,
    CLATTN_RNN_ARG_W_HH,    /* float [ndir, Hp / U, H, G, U]: W_hh packed by blocks of U units */
    CLATTN_RNN_ARG_BIAS,    /* float [ndir, Hp / U, G, U]: b_ih + b_hh (the GRU's n: b_in only) */
    CLATTN_RNN_ARG_BIAS_HN, /* float [ndir, Hp]: the GRU's b_hn (the LSTM ignores it) */
    CLATTN_RNN_ARG_LENGTHS, /* int [B], each 0..T */
    CLATTN_RNN_ARG_H_A,     /* float [ndir, B, Hp]: the state before even steps */
    CLATTN_RNN_ARG_H_B,     /* the state before odd steps */
    CLATTN_RNN_ARG_C_A,     /* the LSTM's cell state, likewise (the GRU ignores them) */
    CLATTN_RNN_ARG_C_B,
    CLATTN_RNN_ARG_OUT, /* float [B, T, ndir * H] */
    CLATTN_RNN_ARG_B,   /* int */
    CLATTN_RNN_ARG_T,
    CLATTN_RNN_ARG_H,
    CLATTN_RNN_ARG_NDIR,
    CLATTN_RNN_ARG_STEP /* int: rnn_step's time step (rnn_persistent runs them all) */
};
/* rnn_input (x, w_ih, gi, int B, int T, int din, int H, int ndir): rows per work-item. Each
 * work-item streams its weight block once per 6 (LSTM) or 4 (GRU) of them, so more rows read
 * W_ih fewer times: 256 against 64 took the LSTM at B=32, T=50, 512/512 from a median of 169-179
 * to 154-162 ms (GRU 105 to 100), same runs, interleaved. */
#define CLATTN_RNN_INPUT_ROWS 256
/* Hidden units per work-item block (the packing of W_ih and W_hh, and the launch sizes: Hp /
 * units blocks per direction). The block is G * units floats wide per k, float8 vectors: 3 for
 * the GRU's 8 units, 2 for the LSTM's 4 (see cl/rnn.cl for why). */
#define CLATTN_RNN_UNITS(lstm) ((lstm) ? 4 : 8)

#ifdef __OPENCL_C_VERSION__

#define ACC_T float

/* bfloat16 is stored as the upper half of a float32's bits, in a ushort. Widening is exact. */
inline float clattn_bf16_load(ushort w) {
    return as_float((uint)w << 16);
}
/* Narrowing rounds to nearest, ties to even, on the 16 bits dropped; overflow rounds to inf as
 * IEEE does. A NaN keeps its sign and upper payload with the quiet bit set, so it can never
 * round into an infinity (which adding the rounding bias to a NaN with a small payload would). */
inline ushort clattn_bf16_store(float x) {
    const uint u = as_uint(x);
    if (isnan(x)) return (ushort)((u >> 16) | 0x40u);
    return (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* float16 widened exactly with integer operations and no branch: normals by rebiasing the
 * exponent, subnormals (and zero) through an exact int-to-float conversion, infinities and NaN
 * (payload kept) by setting the float exponent. Not the core vload_half: PoCL's made f16 attention
 * 30-64% slower than f32 on the CPU kernels (bench/options_bench.py, 2-core AVX2 machine under
 * load), this one 22-25%; cl/flash_cpu.cl therefore widens K/V blocks eight elements at a time
 * (clattn_f16_load8 below) into private tiles. */
inline float clattn_f16_load(ushort h) {
    const uint x = h, e = x & 0x7c00u;
    const uint mag = (x & 0x7fffu) << 13;  /* exponent and mantissa in float positions */
    float f = as_float(mag + 0x38000000u); /* exponent bias 15 -> 127 */
    f = e == 0u ? (float)(x & 0x3ffu) * 0x1p-24f : f;
    f = e == 0x7c00u ? as_float(mag | 0x7f800000u) : f;
    return as_float(as_uint(f) | ((x & 0x8000u) << 16));
}

/* Eight float16 values p[0 .. 7] widened at once, for the loops that widen many (cl/flash_cpu.cl's
 * K/V tiles, cl/convert.cl's staging): where the compiler targets an x86 CPU with F16C (PoCL's
 * x86 builds define __F16C__ although the device offers no cl_khr_fp16) one vcvtph2ps
 * instruction, elsewhere clattn_f16_load's integer conversion on eight lanes (about fifteen
 * vector operations). */
#if defined(__F16C__) && defined(__has_builtin)
#if __has_builtin(__builtin_ia32_vcvtph2ps256)
#define CLATTN_F16C 1
#endif
#endif
inline float8 clattn_f16_load8(const __global ushort *p) {
#ifdef CLATTN_F16C
    return __builtin_ia32_vcvtph2ps256(as_short8(vload8(0, p)));
#else
    const uint8 x = convert_uint8(vload8(0, p));
    const uint8 e = x & 0x7c00u, mag = (x & 0x7fffu) << 13;
    float8 f = as_float8(mag + 0x38000000u);
    f = select(f, convert_float8(x & 0x3ffu) * 0x1p-24f, e == 0u);
    f = select(f, as_float8(mag | 0x7f800000u), e == 0x7c00u);
    return as_float8(as_uint8(f) | ((x & 0x8000u) << 16));
#endif
}

/* One storage type's element type and its loader / storer, instantiated below per tensor:
 * float32 plain; float16 as half (only the storage: no cl_khr_fp16 needed) loaded through
 * clattn_f16_load and stored through the core vstore_half_rte; bfloat16 through the helpers
 * above. */
#define CLATTN_ST_T_0     float
#define CLATTN_ST_T_1     half
#define CLATTN_ST_T_2     ushort
#define CLATTN_ST_T_(n)   CLATTN_ST_T_##n
#define CLATTN_ST_T(n)    CLATTN_ST_T_(n)
#define CLATTN_LD_0(p, i) ((float)(p)[i])
#define CLATTN_LD_1(p, i) clattn_f16_load(((const __global ushort *)(p))[i])
#define CLATTN_LD_2(p, i) clattn_bf16_load((p)[i])
#define CLATTN_LD_(n)     CLATTN_LD_##n
#define CLATTN_LD(n)      CLATTN_LD_(n)
/* Element i of storage type n set to the float x, rounded to nearest even for the narrow types. */
#define CLATTN_STORE_0(p, i, x) ((p)[i] = (x))
#define CLATTN_STORE_1(p, i, x) vstore_half_rte((x), (size_t)(i), (p))
#define CLATTN_STORE_2(p, i, x) ((p)[i] = clattn_bf16_store(x))
#define CLATTN_STORE_(n)        CLATTN_STORE_##n
#define CLATTN_STORE(n)         CLATTN_STORE_(n)
/* Elements i .. i+7 at once, widened to float8 (bfloat16: one shift of eight lanes). */
#define CLATTN_LD8_0(p, i) vload8(0, (p) + (i))
#define CLATTN_LD8_1(p, i) clattn_f16_load8((const __global ushort *)(p) + (i))
#define CLATTN_LD8_2(p, i) as_float8(convert_uint8(vload8(0, (p) + (i))) << 16)
#define CLATTN_LD8_(n)     CLATTN_LD8_##n
#define CLATTN_LD8(n)      CLATTN_LD8_(n)
/* Elements i .. i+7 set from a float8, rounded as CLATTN_STORE rounds each. */
inline void clattn_bf16_store8(float8 x, __global ushort *p) {
    float f[8]; /* through memory: subscripting a vector is a clang extension, not OpenCL C 1.2 */
    vstore8(x, 0, f);
    for (int k = 0; k < 8; k++) p[k] = clattn_bf16_store(f[k]);
}
#define CLATTN_STORE8_0(p, i, x) vstore8((x), 0, (p) + (i))
#define CLATTN_STORE8_1(p, i, x) vstore_half8_rte((x), 0, (p) + (i))
#define CLATTN_STORE8_2(p, i, x) clattn_bf16_store8((x), (p) + (i))
#define CLATTN_STORE8_(n)        CLATTN_STORE8_##n
#define CLATTN_STORE8(n)         CLATTN_STORE8_(n)

#ifndef Q_DTYPE
#define Q_DTYPE CLATTN_STORAGE_F32
#endif
#ifndef KV_DTYPE
#define KV_DTYPE CLATTN_STORAGE_F32
#endif
#ifndef O_DTYPE
#define O_DTYPE CLATTN_STORAGE_F32
#endif
#ifndef M_DTYPE
#define M_DTYPE CLATTN_STORAGE_F32
#endif
#define Q_T  CLATTN_ST_T(Q_DTYPE)
#define KV_T CLATTN_ST_T(KV_DTYPE)
#define O_T  CLATTN_ST_T(O_DTYPE)
#define M_T  CLATTN_ST_T(M_DTYPE)

/* Element i of q, k or v, or the mask, widened to ACC_T. */
inline ACC_T load_q(const __global Q_T *p, long i) {
    return CLATTN_LD(Q_DTYPE)(p, i);
}
inline ACC_T load_kv(const __global KV_T *p, long i) {
    return CLATTN_LD(KV_DTYPE)(p, i);
}
inline float8 load8_q(const __global Q_T *p, long i) {
    return CLATTN_LD8(Q_DTYPE)(p, i);
}
inline float8 load8_kv(const __global KV_T *p, long i) {
    return CLATTN_LD8(KV_DTYPE)(p, i);
}
inline ACC_T load_m(const __global M_T *p, long i) {
    return CLATTN_LD(M_DTYPE)(p, i);
}
/* Element i of out (flash1 reads its running output back), and the store of x into it, rounded
 * to nearest even for the narrow types. */
inline ACC_T load_o(const __global O_T *p, long i) {
    return CLATTN_LD(O_DTYPE)(p, i);
}
inline void store_o(__global O_T *p, long i, ACC_T x) {
    CLATTN_STORE(O_DTYPE)(p, i, x);
}
inline void store8_o(__global O_T *p, long i, float8 x) {
    CLATTN_STORE8(O_DTYPE)(p, i, x);
}

/* The parameter list of every SDPA kernel, in the order of enum clattn_sdpa_arg. */
#define CLATTN_SDPA_PARAMS                                                                         \
    __global const Q_T *restrict q, __global const KV_T *restrict k,                               \
        __global const KV_T *restrict v, __global const M_T *restrict mask,                        \
        __global O_T *restrict out, __global float *restrict lse,                                  \
        __global float *restrict scratch, long batch, long heads, long group, long seq_q,          \
        long seq_kv, int head_dim, int head_dim_v, float scale_log2, int flags, int block_kv,      \
        long kv_start, __global const float *restrict alibi, long alibi_sb, long diag,             \
        long window_left, long window_right, float softcap, __global const int *restrict kv_lens,  \
        long q_sb, long q_sh, long q_ss, long k_sb, long k_sh, long k_ss, long v_sb, long v_sh,    \
        long v_ss, long o_sb, long o_sh, long o_ss, long m_sb, long m_sh, long m_ss,               \
        __global const int *restrict block_table, long page_size, long pages_per_seq

/* The parameter list of the combine kernel, in the order of enum clattn_lse_combine_arg. */
#define CLATTN_LSE_COMBINE_PARAMS                                                                  \
    __global const float *restrict part_out, __global const float *restrict part_lse,              \
        __global O_T *restrict out, __global float *restrict lse, long parts, long rows,           \
        long heads, long seq, long head_dim_v, long po_part, long po_row, long pl_offset,          \
        long pl_part, long pl_row, long o_sb, long o_sh, long o_ss

/* The mask rule (cl/common.cl) of batch entry b, from a kernel's CLATTN_SDPA_PARAMS. */
#define CLATTN_SDPA_MASK_RULE(b)                                                                   \
    clattn_mask_rule_make(seq_kv, flags, diag, window_left, window_right, softcap,                 \
                          (flags & CLATTN_KF_KV_LENS) ? (long)kv_lens[b] : seq_kv)

/* Key row j of kv head hk of batch entry b in k or v (t is `k` or `v`), from a kernel's
 * CLATTN_SDPA_PARAMS: plain strides, or the page that holds it (cl/common.cl: clattn_kv_row). */
#define CLATTN_SDPA_KV_ROW(t, b, hk, j)                                                            \
    ((t) + clattn_kv_row(b, hk, j, t##_sb, t##_sh, t##_ss, flags, block_table, page_size,          \
                         pages_per_seq))

#endif /* __OPENCL_C_VERSION__ */

#endif /* CLATTN_KERNEL_IFACE_H */
