/* kernel_args.c: fills and sets the arguments of every SDPA kernel from one struct, by the named
 * indices of cl/kernel_iface.h (see kernel_args.h). */
#include "sdpa/kernel_args.h"

#include <string.h>

/* log2(e), folded into the scale so the kernels can use exp2. */
#define LOG2E 1.4426950408889634f

void clattn__sdpa_kernel_args_init(clattn_sdpa_kernel_args *a, const clattn_sdpa_problem *p,
                                   const clattn_sdpa_plan *plan, const clattn_sdpa_buffers *buf,
                                   cl_mem scratch) {
    memset(a, 0, sizeof *a);
    a->q = buf->q;
    a->k = buf->k;
    a->v = buf->v;
    a->mask = p->has_mask ? buf->mask : NULL;
    a->out = buf->out;
    a->lse = p->has_lse ? buf->lse : NULL;
    a->scratch = scratch;
    a->batch = p->B;
    a->heads = p->Hq;
    a->group = p->group;
    a->seq_q = p->Sq;
    a->seq_kv = p->Skv;
    a->head_dim = (cl_int)p->D;
    a->head_dim_v = (cl_int)p->Dv;
    a->scale_log2 = p->scale * LOG2E;
    a->flags = clattn__sdpa_kernel_flags(p);
    a->block_kv = (cl_int)plan->block_kv;
    a->kv_start = 0;
    a->alibi = p->alibi ? buf->alibi : NULL;
    a->alibi_sb = p->alibi_batch > 1 ? p->Hq : 0;
    a->diag = p->diag;
    a->window_left = p->window_left;
    a->window_right = p->window_right;
    a->softcap_log2 = p->softcap * LOG2E;
    a->kv_lens = p->kv_lens ? buf->kv_lens : NULL;
    const int64_t *st[5] = {p->q_st, p->k_st, p->v_st, p->o_st, p->m_st};
    for (int t = 0; t < 5; t++)
        for (int i = 0; i < 3; i++) a->strides[t][i] = (t == 4 && !p->has_mask) ? 0 : st[t][i];
    a->block_table = p->page_size > 0 ? buf->block_table : NULL;
    a->page_size = p->page_size;
    a->pages_per_seq = p->pages_per_seq;
}

clattn_status clattn__sdpa_kernel_args_set(clattn_context *ctx, cl_kernel kern,
                                           const clattn_sdpa_kernel_args *a, const char *what) {
    cl_uint nargs = 0;
    cl_int err = clGetKernelInfo(kern, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL);
    if (err != CL_SUCCESS)
        return clattn__cl_fail(ctx, err, "%s: clGetKernelInfo(CL_KERNEL_NUM_ARGS) failed", what);
    if (nargs != CLATTN_SDPA_ARG_COUNT)
        return clattn__fail(ctx, CLATTN_ERROR_INTERNAL,
                            "%s has %u arguments; the SDPA kernel interface has %d", what, nargs,
                            (int)CLATTN_SDPA_ARG_COUNT);
    const struct {
        cl_uint index;
        size_t size;
        const void *value;
    } args[] = {
        {CLATTN_SDPA_ARG_Q, sizeof a->q, &a->q},
        {CLATTN_SDPA_ARG_K, sizeof a->k, &a->k},
        {CLATTN_SDPA_ARG_V, sizeof a->v, &a->v},
        {CLATTN_SDPA_ARG_MASK, sizeof a->mask, &a->mask},
        {CLATTN_SDPA_ARG_OUT, sizeof a->out, &a->out},
        {CLATTN_SDPA_ARG_LSE, sizeof a->lse, &a->lse},
        {CLATTN_SDPA_ARG_SCRATCH, sizeof a->scratch, &a->scratch},
        {CLATTN_SDPA_ARG_BATCH, sizeof a->batch, &a->batch},
        {CLATTN_SDPA_ARG_HEADS, sizeof a->heads, &a->heads},
        {CLATTN_SDPA_ARG_GROUP, sizeof a->group, &a->group},
        {CLATTN_SDPA_ARG_SEQ_Q, sizeof a->seq_q, &a->seq_q},
        {CLATTN_SDPA_ARG_SEQ_KV, sizeof a->seq_kv, &a->seq_kv},
        {CLATTN_SDPA_ARG_HEAD_DIM, sizeof a->head_dim, &a->head_dim},
        {CLATTN_SDPA_ARG_HEAD_DIM_V, sizeof a->head_dim_v, &a->head_dim_v},
        {CLATTN_SDPA_ARG_SCALE_LOG2, sizeof a->scale_log2, &a->scale_log2},
        {CLATTN_SDPA_ARG_FLAGS, sizeof a->flags, &a->flags},
        {CLATTN_SDPA_ARG_BLOCK_KV, sizeof a->block_kv, &a->block_kv},
        {CLATTN_SDPA_ARG_KV_START, sizeof a->kv_start, &a->kv_start},
        {CLATTN_SDPA_ARG_ALIBI, sizeof a->alibi, &a->alibi},
        {CLATTN_SDPA_ARG_ALIBI_SB, sizeof a->alibi_sb, &a->alibi_sb},
        {CLATTN_SDPA_ARG_DIAG, sizeof a->diag, &a->diag},
        {CLATTN_SDPA_ARG_WINDOW_LEFT, sizeof a->window_left, &a->window_left},
        {CLATTN_SDPA_ARG_WINDOW_RIGHT, sizeof a->window_right, &a->window_right},
        {CLATTN_SDPA_ARG_SOFTCAP, sizeof a->softcap_log2, &a->softcap_log2},
        {CLATTN_SDPA_ARG_KV_LENS, sizeof a->kv_lens, &a->kv_lens},
        {CLATTN_SDPA_ARG_BLOCK_TABLE, sizeof a->block_table, &a->block_table},
        {CLATTN_SDPA_ARG_PAGE_SIZE, sizeof a->page_size, &a->page_size},
        {CLATTN_SDPA_ARG_PAGES_PER_SEQ, sizeof a->pages_per_seq, &a->pages_per_seq},
    };
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        err = clSetKernelArg(kern, args[i].index, args[i].size, args[i].value);
        if (err != CL_SUCCESS)
            return clattn__cl_fail(ctx, err, "%s: clSetKernelArg(%u) failed", what, args[i].index);
    }
    static const cl_uint stride_base[5] = {CLATTN_SDPA_ARG_Q_STRIDES, CLATTN_SDPA_ARG_K_STRIDES,
                                           CLATTN_SDPA_ARG_V_STRIDES, CLATTN_SDPA_ARG_OUT_STRIDES,
                                           CLATTN_SDPA_ARG_MASK_STRIDES};
    for (int t = 0; t < 5; t++)
        for (cl_uint i = 0; i < 3; i++) {
            err = clSetKernelArg(kern, stride_base[t] + i, sizeof(cl_long), &a->strides[t][i]);
            if (err != CL_SUCCESS)
                return clattn__cl_fail(ctx, err, "%s: clSetKernelArg(%u) (a stride) failed", what,
                                       stride_base[t] + i);
        }
    return CLATTN_SUCCESS;
}

clattn_status clattn__sdpa_kernel_args_set_kv_start(clattn_context *ctx, cl_kernel kern,
                                                    cl_long kv_start, const char *what) {
    cl_int err = clSetKernelArg(kern, CLATTN_SDPA_ARG_KV_START, sizeof kv_start, &kv_start);
    if (err != CL_SUCCESS)
        return clattn__cl_fail(ctx, err, "%s: clSetKernelArg(kv_start) failed", what);
    return CLATTN_SUCCESS;
}
