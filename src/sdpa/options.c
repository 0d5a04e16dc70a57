/* options.c: validation of the SDPA descriptor's options (causal alignment, sliding window,
 * softcap, ALiBi slopes) into the validated problem, and the one place that turns them into the
 * mask rule the kernels receive (cl/common.cl: clattn_mask_rule). */
#include "kernel_iface.h"
#include "sdpa/sdpa_internal.h"

#include <math.h>

clattn_status clattn__sdpa_options(clattn_context *ctx, const clattn_sdpa_desc *d,
                                   clattn_sdpa_problem *p) {
    if (d->causal_align != CLATTN_CAUSAL_BOTTOM_RIGHT && d->causal_align != CLATTN_CAUSAL_TOP_LEFT)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "causal_align %d is neither CLATTN_CAUSAL_BOTTOM_RIGHT nor _TOP_LEFT",
                            (int)d->causal_align);
    p->top_left = d->causal_align == CLATTN_CAUSAL_TOP_LEFT;
    if (d->position_offset < -CLATTN_SDPA_MAX_POSITION_OFFSET ||
        d->position_offset > CLATTN_SDPA_MAX_POSITION_OFFSET)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "position_offset %lld is outside +-2^48",
                            (long long)d->position_offset);
    /* Sq and Skv are >= 1 here, so Skv - Sq cannot overflow, but adding the offset can when
     * Skv is near INT64_MAX: the sizes are checked after this, so saturate and let that check
     * refuse them (no real shape comes within 2^48 of the limit). */
    const int64_t base = p->top_left ? 0 : p->Skv - p->Sq, off = d->position_offset;
    if (off > 0 && base > INT64_MAX - off)
        p->diag = INT64_MAX;
    else if (off < 0 && base < INT64_MIN - off)
        p->diag = INT64_MIN;
    else
        p->diag = base + off;
    p->window = d->window != 0;
    p->window_left = p->window_right = -1;
    if (p->window) {
        if (d->window_left < -1 || d->window_right < -1)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "window (%lld, %lld): each side is -1 (unbounded) or >= 0",
                                (long long)d->window_left, (long long)d->window_right);
        /* A side wider than Sq + Skv + |position_offset| reaches every key (every i' lies
         * within Sq + |offset| of the keys): the same as unbounded, and small enough that
         * i' +- side cannot overflow in the kernels. */
        const int64_t shift = d->position_offset < 0 ? -d->position_offset : d->position_offset;
        int64_t reach = INT64_MAX; /* saturated: the sizes are not yet checked */
        if (clattn__add64(p->Sq, p->Skv, &reach) || clattn__add64(reach, shift, &reach))
            reach = INT64_MAX;
        p->window_left = d->window_left > reach ? -1 : d->window_left;
        p->window_right = d->window_right > reach ? -1 : d->window_right;
    }
    if (!(d->softcap >= 0.0f) || isinf(d->softcap))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "softcap is %g; it must be finite and >= 0 (0: off)", d->softcap);
    p->softcap = d->softcap;
    p->alibi = d->alibi_slopes;
    p->alibi_batch = 0;
    if (p->alibi) {
        if (d->alibi_batch != 0 && d->alibi_batch != 1 && d->alibi_batch != p->B)
            return clattn__fail(ctx, CLATTN_ERROR_SHAPE_MISMATCH,
                                "alibi_batch is %lld; the slopes are [Hq] (0 or 1) or [B, Hq] "
                                "(B = %lld)",
                                (long long)d->alibi_batch, (long long)p->B);
        p->alibi_batch = d->alibi_batch > 1 ? p->B : 1;
    }
    p->kv_lens = d->kv_lens;
    for (int64_t b = 0; p->kv_lens && b < p->B; b++)
        if (p->kv_lens[b] < 0 || p->kv_lens[b] > p->Skv)
            return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "kv_lens[%lld] = %d is outside 0..%lld (seq_kv)", (long long)b,
                                (int)p->kv_lens[b], (long long)p->Skv);
    return CLATTN_SUCCESS;
}

int clattn__sdpa_kernel_flags(const clattn_sdpa_problem *p) {
    return (p->causal ? CLATTN_KF_CAUSAL : 0) | (p->has_mask ? CLATTN_KF_MASK : 0) |
           (p->has_lse ? CLATTN_KF_LSE : 0) | (p->window ? CLATTN_KF_WINDOW : 0) |
           (p->alibi ? CLATTN_KF_ALIBI : 0) | (p->softcap > 0.0f ? CLATTN_KF_SOFTCAP : 0) |
           (p->kv_lens ? CLATTN_KF_KV_LENS : 0) | (p->top_left ? CLATTN_KF_TOP_LEFT : 0) |
           (p->page_size > 0 ? CLATTN_KF_PAGED : 0);
}
