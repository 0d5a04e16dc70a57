/* forward.c: the attention layer's forward pass on the device (clattn_mha_layer_forward) and its
 * host form. The stages, each after the previous one's event:
 *   1. P = x [B*S, E] Wqkv^T into the projection layout (layer_internal.h): on CPU devices
 *      cl/layer.cl's layer_linear, elsewhere one CLBlast GEMM (GEMV for one row);
 *   2. the q/k/v biases added and padding tokens' rows zeroed (cl/layer.cl: layer_rows);
 *   3. RoPE on q and k in place, in float32 (clattn_rope), at positions 0..S-1, or with a cache
 *      at each sequence's cached length + i: q by clattn_rope, k as the cache stores it (the
 *      append's own rotation: no pass over k of its own);
 *   4. P rounded to the storage type when it is not float32 (cl/convert.cl: narrow);
 *   5. attention into a [B, S, Hq, Dv] buffer A of the storage type: clattn_sdpa over the q, k,
 *      v views of P (key padding as kv_lens), or, with a cache, clattn_kv_cache_append of k and
 *      v (float32, the cache converts) and clattn_kv_cache_attention;
 *   6. A widened to float32 when it is not (cl/convert.cl: widen);
 *   7. y = A Wo^T, as stage 1, then the output bias and zeroed padding rows (layer_rows).
 * Scratch (P, its storage copy, A and its float32 copy) is allocated per call and released as
 * soon as the work is enqueued (OpenCL frees it when the work is done), so calls on one layer
 * share nothing but the weights and may run from several threads. y is written only by stage 7,
 * so a call that fails part-way leaves it as it was. */
#include "core/blas.h"
#include "core/linear.h"
#include "layer/layer_internal.h"
#include "sdpa/sdpa_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The event each stage waits for: the caller's wait list first, then the last stage's. */
typedef struct {
    cl_uint n;
    const cl_event *w;
    cl_event last;
} chain;

static void chain_take(chain *c, cl_event e) {
    clattn__release_event(&c->last);
    c->last = e;
    c->n = 1;
    c->w = &c->last;
}

static clattn_status chain_launch(clattn_context *ctx, chain *c, cl_kernel k, cl_uint dims,
                                  const size_t *global, const char *what) {
    cl_event e = NULL;
    clattn_status st = clattn__launch(ctx, k, dims, global, NULL, c->n, c->w, &e, what);
    if (st == CLATTN_SUCCESS) chain_take(c, e);
    return st;
}

/* C [m, n] = A [m, k] W [k, n], row-major C and A, W a layer's transposed weights: on CPU devices
 * `linear` (layer_linear, built for m rows: core/linear.h) over W's panels, elsewhere one CLBlast
 * GEMM, or for a single row a GEMV (blas.h says why). CLBlast gives no event: a barrier after it
 * does (a barrier completes after every earlier command). */
static clattn_status chain_gemm(const clattn_mha_layer *l, chain *c, cl_kernel linear, cl_mem a,
                                cl_mem w, cl_mem out, int64_t m, int64_t n, int64_t k,
                                const char *what) {
    clattn_context *ctx = l->ctx;
    if (linear) {
        cl_event e = NULL;
        const clattn_status st =
            clattn__linear_launch(ctx, linear, l->lanes, a, w, out, m, k, n, c->n, c->w, &e, what);
        if (st == CLATTN_SUCCESS) chain_take(c, e);
        return st;
    }
    clattn_status st;
    if (m == 1) {
        /* CLBlast's GEMV reads y even with beta 0 (0 * NaN is NaN): it starts from zeros */
        const cl_float zero = 0.0f;
        cl_event filled = NULL;
        const cl_int err =
            clEnqueueFillBuffer(ctx->queue, out, &zero, sizeof zero, 0, (size_t)n * sizeof zero,
                                c->n, c->n ? c->w : NULL, &filled);
        if (err != CL_SUCCESS)
            return clattn__cl_fail(ctx, err, "%s: clEnqueueFillBuffer failed", what);
        chain_take(c, filled);
        const clattn_gemv g = {1, k, n, w, a, out, 0, n, 0, 0};
        st = clattn__sgemv(ctx, &g, c->n, c->w, what);
    } else {
        clattn_gemm g;
        memset(&g, 0, sizeof g);
        g.alpha = 1.0f, g.count = 1;
        g.m = m, g.n = n, g.k = k;
        g.a = a, g.lda = k, g.a_stride = m * k;
        g.b = w, g.ldb = n, g.b_stride = n * k;
        g.c = out, g.ldc = n, g.c_stride = m * n; /* CLBlast refuses batch strides of 0 */
        st = clattn__sgemm_batched(ctx, &g, c->n, c->w, what);
    }
    if (st != CLATTN_SUCCESS) return st;
    cl_event e = NULL;
    const cl_int err = clEnqueueBarrierWithWaitList(ctx->queue, 0, NULL, &e);
    if (err != CL_SUCCESS)
        return clattn__cl_fail(ctx, err, "%s: clEnqueueBarrierWithWaitList failed", what);
    chain_take(c, e);
    return CLATTN_SUCCESS;
}

/* The call's device resources; everything NULL is simply not used. */
typedef struct {
    cl_mem p, pst;      /* the projection, float32, and its storage-type copy (or p itself) */
    cl_mem pk, pv;      /* sub-buffers: k and v of p */
    cl_mem sk, sv;      /* sub-buffers: k and v of pst (or pk, pv) */
    cl_mem a, a32;      /* the attention output, storage type, and float32 (or a itself) */
    cl_mem lens, first; /* int [B]: the lengths, the cache lengths before the call */
    cl_mem pos;         /* int [S] or [B, S]: the positions RoPE turns q (and k) to */
    cl_mem mask;        /* the ragged prefill's causal mask */
    cl_kernel rows, narrow, widen, mask_k, linear;
} resources;

static void release_resources(resources *r) {
    if (r->pst == r->p) r->pst = NULL;
    if (r->sk == r->pk) r->sk = r->sv = NULL;
    if (r->a32 == r->a) r->a32 = NULL;
    cl_mem *mems[] = {&r->pk, &r->pv,  &r->sk,   &r->sv,    &r->p,    &r->pst,
                      &r->a,  &r->a32, &r->lens, &r->first, &r->mask, &r->pos};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++) clattn__release_mem(mems[i]);
    cl_kernel *kernels[] = {&r->rows, &r->narrow, &r->widen, &r->mask_k, &r->linear};
    for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++)
        if (*kernels[i]) {
            clReleaseKernel(*kernels[i]);
            *kernels[i] = NULL;
        }
}

/* A sub-buffer of `mem` from element `at` (of `elem` bytes) to its end. */
static clattn_status sub_buffer(clattn_context *ctx, cl_mem mem, int64_t at, int64_t elem,
                                int64_t total_bytes, cl_mem *out) {
    const cl_buffer_region region = {(size_t)(at * elem), (size_t)(total_bytes - at * elem)};
    cl_int err = CL_SUCCESS;
    *out = clCreateSubBuffer(mem, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &err);
    if (err != CL_SUCCESS || !*out) {
        *out = NULL;
        return clattn__cl_fail(ctx, err, "mha forward: clCreateSubBuffer at byte %lld failed",
                               (long long)(at * elem));
    }
    return CLATTN_SUCCESS;
}

/* The attention descriptor of the call: q, k, v as views of the projection rows, the output
 * [B, S, Hq, Dv]. With a cache the key side is left to the cache. */
static void attention_desc(const clattn_mha_layer *l, const clattn_mha_call *c,
                           clattn_sdpa_desc *sd) {
    clattn_sdpa_desc_init(sd, sizeof *sd);
    const clattn_dtype t = l->d.dtype;
    sd->batch = c->B, sd->heads = l->Hq, sd->seq_q = c->S;
    sd->scale = (float)l->d.scale;
    sd->causal = c->d.causal != 0 && !c->masked;
    sd->q_dtype = sd->out_dtype = t;
    const int64_t q_st[3] = {c->S * l->ld, l->D, l->ld};
    const int64_t o_st[3] = {c->S * l->Hq * l->Dv, l->Dv, l->Hq * l->Dv};
    memcpy(sd->q_strides, q_st, sizeof q_st);
    memcpy(sd->out_strides, o_st, sizeof o_st);
    if (c->d.cache) {
        sd->seq_kv = c->skv;
        sd->has_mask = c->masked;
        sd->mask_batch = c->B, sd->mask_heads = 1;
        return;
    }
    sd->kv_heads = l->Hkv, sd->seq_kv = c->S, sd->head_dim = l->D, sd->head_dim_v = l->Dv;
    sd->kv_dtype = t;
    const int64_t v_st[3] = {c->S * l->ld, l->Dv, l->ld};
    memcpy(sd->k_strides, q_st, sizeof q_st);
    memcpy(sd->v_strides, v_st, sizeof v_st);
    /* Valid query i sits at key i of its own sequence whatever its length: top-left. */
    if (c->lens) {
        sd->kv_lens = c->lens;
        sd->causal_align = CLATTN_CAUSAL_TOP_LEFT;
    }
}

/* Validates the attention call as its own entry point will (without buffers) and builds the
 * layer's kernels, so neither refuses after the first stage is enqueued. */
static clattn_status prepare(clattn_mha_layer *l, const clattn_mha_call *c,
                             const clattn_sdpa_desc *sd, resources *r) {
    clattn_context *ctx = l->ctx;
    clattn_sdpa_plan plan;
    clattn_status st =
        c->d.cache ? clattn_kv_cache_plan_get(c->d.cache, sd, c->d.slots, &plan, sizeof plan)
                   : clattn_sdpa_plan_get(ctx, sd, &plan, sizeof plan);
    if (st != CLATTN_SUCCESS) return st;
    char opts[32];
    snprintf(opts, sizeof opts, "-DCV_DTYPE=%d", (int)l->d.dtype);
    const int narrow = l->d.dtype != CLATTN_DTYPE_F32;
    const int linear = l->lanes > 0;
    if ((st = clattn__kernel(ctx, "layer", "", "layer_rows", &r->rows)) ||
        (linear &&
         (st = clattn__linear_kernel(ctx, l->lanes, c->rows, "layer_linear", &r->linear))) ||
        (narrow && (st = clattn__kernel(ctx, "convert", opts, "narrow", &r->narrow))) ||
        (narrow && (st = clattn__kernel(ctx, "convert", opts, "widen", &r->widen))) ||
        (c->masked && (st = clattn__kernel(ctx, "layer", "", "layer_causal_mask", &r->mask_k))))
        return st;
    return CLATTN_SUCCESS;
}

/* RoPE's positions: 0..S-1 for every sequence, or with a cache [B, S], sequence b's new token i
 * at first[b] + i (padding tokens, whose rows are zeros, at first[b]: never past int32). */
static clattn_status upload_positions(clattn_context *ctx, const clattn_mha_call *c, cl_mem *out) {
    const int64_t n = c->d.cache ? c->rows : c->S;
    int32_t *pos = malloc((size_t)n * sizeof *pos);
    if (!pos) return clattn__fail(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "mha forward: host memory");
    for (int64_t i = 0; i < n; i++) {
        const int64_t b = i / c->S, t = i % c->S;
        pos[i] = (int32_t)(!c->d.cache ? t : c->first[b] + (t < c->counts[b] ? t : 0));
    }
    clattn_status st =
        clattn__upload(ctx, pos, n * (int64_t)sizeof *pos, "mha forward positions", out);
    free(pos);
    return st;
}

/* Scratch buffers and views. */
static clattn_status allocate(clattn_mha_layer *l, const clattn_mha_call *c, resources *r) {
    clattn_context *ctx = l->ctx;
    const int64_t el = clattn__storage_bytes((int)l->d.dtype), f = (int64_t)sizeof(float);
    const int64_t p_elems = c->rows * l->ld, a_elems = c->rows * l->Hq * l->Dv; /* checked */
    const int narrow = l->d.dtype != CLATTN_DTYPE_F32;
    clattn_status st;
    if ((st = clattn__alloc(ctx, p_elems * f, CL_MEM_READ_WRITE, NULL, "mha forward q/k/v",
                            &r->p)) ||
        (narrow && (st = clattn__alloc(ctx, p_elems * el, CL_MEM_READ_WRITE, NULL,
                                       "mha forward stored q/k/v", &r->pst))) ||
        (st = clattn__alloc(ctx, a_elems * el, CL_MEM_READ_WRITE, NULL, "mha forward attention",
                            &r->a)) ||
        (narrow && (st = clattn__alloc(ctx, a_elems * f, CL_MEM_READ_WRITE, NULL,
                                       "mha forward float32 attention", &r->a32))) ||
        (st = sub_buffer(ctx, r->p, l->off_k, f, p_elems * f, &r->pk)) ||
        (st = sub_buffer(ctx, r->p, l->off_v, f, p_elems * f, &r->pv)) ||
        (narrow && (st = sub_buffer(ctx, r->pst, l->off_k, el, p_elems * el, &r->sk))) ||
        (narrow && (st = sub_buffer(ctx, r->pst, l->off_v, el, p_elems * el, &r->sv))) ||
        (st = clattn__upload(ctx, c->lens, c->B * (int64_t)sizeof(int32_t), "mha forward lengths",
                             &r->lens)) ||
        (c->masked && (st = clattn__upload(ctx, c->first, c->B * (int64_t)sizeof(int32_t),
                                           "mha forward cache lengths", &r->first))) ||
        (c->masked && (st = clattn__alloc(ctx, c->rows * c->skv * f, CL_MEM_READ_WRITE, NULL,
                                          "mha forward causal mask", &r->mask))) ||
        (l->d.rope_theta > 0.0 && (st = upload_positions(ctx, c, &r->pos))))
        return st;
    if (!narrow) {
        r->pst = r->p, r->sk = r->pk, r->sv = r->pv;
        r->a32 = r->a;
    }
    return CLATTN_SUCCESS;
}

/* layer_rows on `x` [rows, ld]: the first `cols` columns get `bias` (or none), padding rows 0. */
static clattn_status rows_stage(clattn_mha_layer *l, const clattn_mha_call *c, resources *r,
                                chain *ch, cl_mem x, int64_t ld, int64_t cols, cl_mem bias,
                                const char *what) {
    if (!bias && !c->lens) return CLATTN_SUCCESS;
    const cl_long ldl = ld, seq = c->S;
    const cl_int has_bias = bias != NULL, has_lens = c->lens != NULL;
    clattn_status st =
        clattn__set_args(l->ctx, r->rows, what, sizeof(cl_mem), &x, sizeof(cl_mem), &bias,
                         sizeof(cl_mem), &r->lens, sizeof ldl, &ldl, sizeof seq, &seq,
                         sizeof has_bias, &has_bias, sizeof has_lens, &has_lens, (size_t)0);
    const size_t global[2] = {(size_t)cols, (size_t)c->rows};
    return st ? st : chain_launch(l->ctx, ch, r->rows, 2, global, what);
}

/* RoPE in place on `heads` heads of the projection rows in `mem` (q, or k's sub-buffer). */
static clattn_status rope_stage(clattn_mha_layer *l, const clattn_mha_call *c, resources *r,
                                chain *ch, cl_mem mem, int64_t heads) {
    clattn_rope_desc rd;
    clattn_rope_desc_init(&rd, sizeof rd);
    rd.batch = c->B, rd.heads = heads, rd.seq = c->S, rd.head_dim = l->D;
    rd.rotary_dim = l->d.rope_dim, rd.style = l->d.rope_style, rd.theta = l->d.rope_theta;
    rd.position_scale = l->d.rope_position_scale;
    rd.positions_per_batch = c->d.cache != NULL;
    const int64_t st3[3] = {c->S * l->ld, l->D, l->ld};
    memcpy(rd.in_strides, st3, sizeof st3);
    memcpy(rd.out_strides, st3, sizeof st3);
    cl_event e = NULL;
    clattn_status st = clattn_rope(l->ctx, &rd, mem, mem, r->pos, ch->n, ch->w, &e);
    if (st == CLATTN_SUCCESS) chain_take(ch, e);
    return st;
}

/* A convert.cl kernel over `rows` rows of `dim` elements, the strided side's row stride `ld`. */
static clattn_status convert_stage(clattn_context *ctx, const clattn_mha_call *c, chain *ch,
                                   cl_kernel k, cl_mem src, cl_mem dst, int64_t dim,
                                   const char *what) {
    const cl_long d = dim, zero = 0;
    clattn_status st =
        clattn__set_args(ctx, k, what, sizeof(cl_mem), &src, sizeof(cl_mem), &dst, sizeof d, &d,
                         sizeof zero, &zero, sizeof zero, &zero, sizeof d, &d, (size_t)0);
    const size_t global[3] = {(size_t)c->rows, 1, 1};
    return st ? st : chain_launch(ctx, ch, k, 3, global, what);
}

/* Stage 5 with a cache: the append, the ragged prefill's mask, the attention. */
static clattn_status cache_stage(clattn_mha_layer *l, const clattn_mha_call *c, resources *r,
                                 chain *ch, const clattn_sdpa_desc *sd) {
    clattn_context *ctx = l->ctx;
    clattn_kv_append_desc ad;
    clattn_kv_append_desc_init(&ad, sizeof ad);
    ad.num_seqs = c->B, ad.slots = c->d.slots, ad.counts = c->counts, ad.seq = c->S;
    const int64_t k_st[3] = {c->S * l->ld, l->D, l->ld}, v_st[3] = {c->S * l->ld, l->Dv, l->ld};
    memcpy(ad.k_strides, k_st, sizeof k_st);
    memcpy(ad.v_strides, v_st, sizeof v_st);
    /* k turns as it is stored, at the slot's length + t: the positions q was turned to */
    ad.rope_theta = l->d.rope_theta, ad.rope_style = l->d.rope_style;
    ad.rope_dim = l->d.rope_dim, ad.rope_position_scale = l->d.rope_position_scale;
    cl_event e = NULL;
    clattn_status st = clattn_kv_cache_append(c->d.cache, &ad, r->pk, r->pv, ch->n, ch->w, &e);
    if (st != CLATTN_SUCCESS) return st;
    chain_take(ch, e);
    if (c->masked) {
        const cl_long skv = c->skv;
        st = clattn__set_args(ctx, r->mask_k, "layer_causal_mask", sizeof(cl_mem), &r->mask,
                              sizeof(cl_mem), &r->first, sizeof skv, &skv, (size_t)0);
        const size_t global[3] = {(size_t)c->skv, (size_t)c->S, (size_t)c->B};
        if (st == CLATTN_SUCCESS)
            st = chain_launch(ctx, ch, r->mask_k, 3, global, "layer_causal_mask");
        if (st != CLATTN_SUCCESS) return st;
    }
    st = clattn_kv_cache_attention(c->d.cache, sd, c->d.slots, r->pst, r->mask, r->a, NULL, ch->n,
                                   ch->w, &e);
    if (st == CLATTN_SUCCESS) chain_take(ch, e);
    return st;
}

static clattn_status enqueue(clattn_mha_layer *l, const clattn_mha_call *c, resources *r, chain *ch,
                             const clattn_sdpa_desc *sd, cl_mem x, cl_mem y) {
    clattn_context *ctx = l->ctx;
    clattn_status st;
    if ((st = chain_gemm(l, ch, r->linear, x, l->w_qkv, r->p, c->rows, l->ld, l->E,
                         "mha forward q/k/v projection")) ||
        (st = rows_stage(l, c, r, ch, r->p, l->ld, l->ld, l->b_qkv, "layer_rows q/k/v")) ||
        (r->pos && (st = rope_stage(l, c, r, ch, r->p, l->Hq))) ||
        (r->pos && !c->d.cache && (st = rope_stage(l, c, r, ch, r->pk, l->Hkv))))
        return st;
    if (r->narrow &&
        (st = convert_stage(ctx, c, ch, r->narrow, r->p, r->pst, l->ld, "mha forward narrow")))
        return st;
    if (c->d.cache) {
        if ((st = cache_stage(l, c, r, ch, sd))) return st;
    } else {
        cl_event e = NULL;
        if ((st = clattn_sdpa(ctx, sd, r->pst, r->sk, r->sv, NULL, r->a, NULL, ch->n, ch->w, &e)))
            return st;
        chain_take(ch, e);
    }
    if (r->widen && (st = convert_stage(ctx, c, ch, r->widen, r->a, r->a32, l->Hq * l->Dv,
                                        "mha forward widen")))
        return st;
    if ((st = chain_gemm(l, ch, r->linear, r->a32, l->w_o, y, c->rows, l->E, l->Hq * l->Dv,
                         "mha forward output projection")))
        return st;
    return rows_stage(l, c, r, ch, y, l->E, l->E, l->b_o, "layer_rows y");
}

clattn_status clattn_mha_layer_forward(clattn_mha_layer *layer, const clattn_mha_forward_desc *desc,
                                       cl_mem x, cl_mem y, cl_uint num_wait,
                                       const cl_event *wait_list, cl_event *event) {
    if (!layer) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_context *ctx = layer->ctx;
    if (event) *event = NULL;
    if (!x || !y || (num_wait > 0) != (wait_list != NULL))
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha forward: x and y are required, and num_wait and wait_list must "
                            "agree");
    clattn_mha_call c;
    clattn_status st = clattn__mha_call_check(layer, desc, &c);
    if (st != CLATTN_SUCCESS) return st;
    const int64_t xy_bytes = c.rows * layer->E * (int64_t)sizeof(float); /* checked */
    clattn_sdpa_desc sd;
    attention_desc(layer, &c, &sd);
    resources r;
    memset(&r, 0, sizeof r);
    chain ch = {num_wait, wait_list, NULL};
    if ((st = clattn__check_buffer(ctx, x, xy_bytes, "mha forward x")) ||
        (st = clattn__check_buffer(ctx, y, xy_bytes, "mha forward y")) ||
        (st = prepare(layer, &c, &sd, &r)) || (st = allocate(layer, &c, &r)))
        goto done;
    st = enqueue(layer, &c, &r, &ch, &sd, x, y);
    if (st == CLATTN_SUCCESS && event) {
        *event = ch.last;
        ch.last = NULL;
    }
done:
    clattn__release_event(&ch.last);
    release_resources(&r);
    clattn__mha_call_free(&c);
    return st;
}

clattn_status clattn_mha_layer_forward_host(clattn_mha_layer *layer,
                                            const clattn_mha_forward_desc *desc, const float *x,
                                            float *y) {
    if (!layer) return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_context *ctx = layer->ctx;
    if (!x || !y)
        return clattn__fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mha forward: x and y are required");
    clattn_mha_call c;
    clattn_status st = clattn__mha_call_check(layer, desc, &c);
    if (st != CLATTN_SUCCESS) return st;
    const int64_t bytes = c.rows * layer->E * (int64_t)sizeof(float); /* checked */
    clattn__mha_call_free(&c);
    cl_mem dx = NULL, dy = NULL;
    cl_event ev = NULL;
    if ((st = clattn__upload(ctx, x, bytes, "mha forward x", &dx)) ||
        (st = clattn__alloc(ctx, bytes, CL_MEM_READ_WRITE, NULL, "mha forward y", &dy)) ||
        (st = clattn_mha_layer_forward(layer, desc, dx, dy, 0, NULL, &ev)))
        goto done;
    st = clattn__download(ctx, dy, y, bytes, 1, &ev, "mha forward y");
done:
    clattn__release_event(&ev);
    clattn__release_mem(&dx);
    clattn__release_mem(&dy);
    return st;
}
