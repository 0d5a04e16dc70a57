/* sdpa.c: the extension's scaled dot-product attention and plan calls: a clattn_sdpa_desc filled
 * from 4-D float32 or float16 buffers (their storage dtypes) (their shapes and element strides, so
 * [B, S, H, D] views need no copy) and keyword options, clattn_sdpa_host run with the GIL released.
 * Every buffer's shape is checked against the descriptor here, because the host API takes bare
 * pointers. */
#include "pyclattn.h"

/* The keyword options shared by sdpa and plan; alibi is a float32 buffer or None, kv_lens an
 * int32 buffer or None. */
static int parse_options(PyObject *kwargs, clattn_sdpa_desc *d, PyObject **alibi,
                         PyObject **kv_lens) {
    static char *kw[] = {"kv_lens",     "decode_splits", "scale",   "causal",       "causal_align",
                         "algo",        "flavour",       "block_q", "block_kv",     "window",
                         "window_left", "window_right",  "softcap", "alibi_slopes", NULL};
    PyObject *empty = PyTuple_New(0);
    if (!empty) return -1;
    int causal = 0, window = 0, align = 0, algo = 0, flavour = 0;
    long long bq = 0, bkv = 0, wl = -1, wr = -1, splits = 0;
    float scale = 0, softcap = 0;
    *alibi = *kv_lens = Py_None;
    int ok = PyArg_ParseTupleAndKeywords(empty, kwargs, "|$OLfpiiiLLpLLfO", kw, kv_lens, &splits,
                                         &scale, &causal, &align, &algo, &flavour, &bq, &bkv,
                                         &window, &wl, &wr, &softcap, alibi);
    Py_DECREF(empty);
    if (!ok) return -1;
    d->scale = scale;
    d->causal = causal;
    d->causal_align = (clattn_causal_align)align;
    d->algo = (clattn_algo)algo;
    d->flavour = (clattn_flavour)flavour;
    d->block_q = bq, d->block_kv = bkv;
    d->window = window;
    d->window_left = wl, d->window_right = wr;
    d->softcap = softcap;
    d->decode_splits = splits;
    return 0;
}

/* Points d->alibi_slopes at a [Hq] or [1|B, Hq] float32 buffer (held in *view). */
static int attach_alibi(PyObject *obj, clattn_sdpa_desc *d, Py_buffer *view, int *held) {
    *held = 0;
    if (obj == Py_None) return 0;
    if (pyclattn_buffer(obj, view, "alibi_slopes", 0, PYB_CONTIGUOUS) < 0) return -1;
    if (view->ndim != 1 && view->ndim != 2) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "alibi_slopes: needs 1 or 2 dimensions");
        return -1;
    }
    *held = 1;
    Py_ssize_t hq = view->shape[view->ndim - 1];
    Py_ssize_t ab = view->ndim == 2 ? view->shape[0] : 1;
    if (hq != d->heads || (ab != 1 && ab != d->batch)) {
        PyErr_Format(PyExc_ValueError, "alibi_slopes: shape must be [%lld] or [1 or %lld, %lld]",
                     (long long)d->heads, (long long)d->batch, (long long)d->heads);
        return -1;
    }
    d->alibi_slopes = view->buf;
    d->alibi_batch = ab;
    return 0;
}

/* Points d->kv_lens at an int32 [B] buffer (held in *view). */
static int attach_kv_lens(PyObject *obj, clattn_sdpa_desc *d, Py_buffer *view, int *held) {
    *held = 0;
    if (obj == Py_None) return 0;
    if (pyclattn_buffer(obj, view, "kv_lens", 1, PYB_CONTIGUOUS | PYB_INT32) < 0) return -1;
    *held = 1;
    if (pyclattn_expect(view, "kv_lens", 0, d->batch) < 0) return -1;
    d->kv_lens = view->buf;
    return 0;
}

static int check_shape4(const Py_buffer *b, const char *name, Py_ssize_t d0, Py_ssize_t d1,
                        Py_ssize_t d2, Py_ssize_t d3) {
    return pyclattn_expect(b, name, 0, d0) || pyclattn_expect(b, name, 1, d1) ||
                   pyclattn_expect(b, name, 2, d2) || pyclattn_expect(b, name, 3, d3)
               ? -1
               : 0;
}

/* sdpa(ctx, q, k, v, mask, out, lse, **options): q [B, Hq, Sq, D], k [B, Hkv, Skv, D],
 * v [B, Hkv, Skv, Dv] with the last dimension contiguous; mask None or C-contiguous
 * [1|B, 1|Hq, Sq, Skv]; out C-contiguous [B, Hq, Sq, Dv]; lse None or C-contiguous [B, Hq, Sq]. */
PyObject *pyclattn_sdpa(PyObject *self, PyObject *args, PyObject *kwargs) {
    (void)self;
    PyObject *octx, *oq, *ok, *ov, *omask, *oout, *olse, *oalibi, *olens;
    if (!PyArg_ParseTuple(args, "OOOOOOO", &octx, &oq, &ok, &ov, &omask, &oout, &olse)) return NULL;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    if (parse_options(kwargs, &d, &oalibi, &olens) < 0) return NULL;

    Py_buffer b[8]; /* q k v mask out lse alibi kv_lens */
    int held[8] = {0};
    PyObject *result = NULL;
    clattn_context *ctx = NULL;
    if (pyclattn_buffer(oq, &b[0], "q", 4, PYB_HALF) < 0) goto done;
    held[0] = 1;
    if (pyclattn_buffer(ok, &b[1], "k", 4, PYB_HALF) < 0) goto done;
    held[1] = 1;
    if (pyclattn_buffer(ov, &b[2], "v", 4, PYB_HALF) < 0) goto done;
    held[2] = 1;
    d.q_dtype = pyclattn_dtype(&b[0]);
    d.kv_dtype = pyclattn_dtype(&b[1]);
    if (pyclattn_dtype(&b[2]) != d.kv_dtype) {
        PyErr_SetString(PyExc_TypeError, "k and v: need the same dtype");
        goto done;
    }
    d.batch = b[0].shape[0], d.heads = b[0].shape[1], d.seq_q = b[0].shape[2];
    d.head_dim = b[0].shape[3];
    d.kv_heads = b[1].shape[1], d.seq_kv = b[1].shape[2], d.head_dim_v = b[2].shape[3];
    if (check_shape4(&b[1], "k", d.batch, d.kv_heads, d.seq_kv, d.head_dim) < 0 ||
        check_shape4(&b[2], "v", d.batch, d.kv_heads, d.seq_kv, d.head_dim_v) < 0 ||
        pyclattn_row_strides(&b[0], "q", d.q_strides) < 0 ||
        pyclattn_row_strides(&b[1], "k", d.k_strides) < 0 ||
        pyclattn_row_strides(&b[2], "v", d.v_strides) < 0)
        goto done;
    if (omask != Py_None) {
        if (pyclattn_buffer(omask, &b[3], "mask", 4, PYB_CONTIGUOUS | PYB_HALF) < 0) goto done;
        held[3] = 1;
        d.mask_dtype = pyclattn_dtype(&b[3]);
        d.has_mask = 1;
        d.mask_batch = b[3].shape[0], d.mask_heads = b[3].shape[1];
        if ((d.mask_batch != 1 && d.mask_batch != d.batch) ||
            (d.mask_heads != 1 && d.mask_heads != d.heads) ||
            pyclattn_expect(&b[3], "mask", 2, d.seq_q) < 0 ||
            pyclattn_expect(&b[3], "mask", 3, d.seq_kv) < 0) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "mask: shape must be [1 or %lld, 1 or %lld, ...]",
                             (long long)d.batch, (long long)d.heads);
            goto done;
        }
    }
    if (pyclattn_buffer(oout, &b[4], "out", 4, PYB_WRITABLE | PYB_CONTIGUOUS | PYB_HALF) < 0)
        goto done;
    held[4] = 1;
    d.out_dtype = pyclattn_dtype(&b[4]);
    if (check_shape4(&b[4], "out", d.batch, d.heads, d.seq_q, d.head_dim_v) < 0) goto done;
    if (olse != Py_None) {
        if (pyclattn_buffer(olse, &b[5], "lse", 3, PYB_WRITABLE | PYB_CONTIGUOUS) < 0) goto done;
        held[5] = 1;
        if (pyclattn_expect(&b[5], "lse", 0, d.batch) < 0 ||
            pyclattn_expect(&b[5], "lse", 1, d.heads) < 0 ||
            pyclattn_expect(&b[5], "lse", 2, d.seq_q) < 0)
            goto done;
    }
    if (attach_alibi(oalibi, &d, &b[6], &held[6]) < 0) goto done;
    if (attach_kv_lens(olens, &d, &b[7], &held[7]) < 0) goto done;
    if (!(ctx = pyclattn_hold(octx))) goto done;

    clattn_status st;
    PyThreadState *ts = PyEval_SaveThread();
    st = clattn_sdpa_host(ctx, &d, b[0].buf, b[1].buf, b[2].buf, held[3] ? b[3].buf : NULL,
                          b[4].buf, held[5] ? b[5].buf : NULL);
    PyEval_RestoreThread(ts);
    if (st)
        pyclattn_raise(st, "scaled_dot_product_attention", ctx);
    else
        Py_INCREF(Py_None), result = Py_None;
    pyclattn_unhold(octx);
done:
    for (int i = 0; i < 8; i++)
        if (held[i]) PyBuffer_Release(&b[i]);
    return result;
}

static const char *algo_name(clattn_algo a) {
    switch (a) {
    case CLATTN_ALGO_NAIVE:
        return "naive";
    case CLATTN_ALGO_FLASH1:
        return "flash1";
    case CLATTN_ALGO_FLASH2:
        return "flash2";
    case CLATTN_ALGO_DECODE:
        return "decode";
    default:
        return "auto";
    }
}

static const char *flavour_name(clattn_flavour f) {
    return f == CLATTN_FLAVOUR_GPU ? "gpu" : f == CLATTN_FLAVOUR_CPU ? "cpu" : "auto";
}

/* plan(ctx, (B, Hq, Hkv, Sq, Skv, D, Dv, mask_batch, mask_heads), **options): the dispatcher's
 * plan as a dict; mask_batch 0 means no mask. */
PyObject *pyclattn_plan(PyObject *self, PyObject *args, PyObject *kwargs) {
    (void)self;
    PyObject *octx, *oalibi, *olens;
    long long n[9];
    if (!PyArg_ParseTuple(args, "O(LLLLLLLLL)", &octx, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5],
                          &n[6], &n[7], &n[8]))
        return NULL;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, sizeof d);
    if (parse_options(kwargs, &d, &oalibi, &olens) < 0) return NULL;
    d.batch = n[0], d.heads = n[1], d.kv_heads = n[2], d.seq_q = n[3], d.seq_kv = n[4];
    d.head_dim = n[5], d.head_dim_v = n[6];
    d.has_mask = n[7] > 0, d.mask_batch = n[7], d.mask_heads = n[8];
    Py_buffer ab, lb;
    int held = 0, lheld = 0;
    PyObject *r = NULL;
    if (attach_alibi(oalibi, &d, &ab, &held) < 0) goto done;
    if (attach_kv_lens(olens, &d, &lb, &lheld) < 0) goto done;
    clattn_context *ctx = pyclattn_hold(octx);
    if (!ctx) goto done;
    clattn_sdpa_plan p;
    PyThreadState *ts = PyEval_SaveThread();
    clattn_status st = clattn_sdpa_plan_get(ctx, &d, &p, sizeof p);
    PyEval_RestoreThread(ts);
    if (st)
        pyclattn_raise(st, "plan", ctx);
    else
        r = Py_BuildValue("{s:s,s:s,s:L,s:L,s:L,s:L,s:L,s:(LL),s:L}", "algo", algo_name(p.algo),
                          "flavour", flavour_name(p.flavour), "block_q", (long long)p.block_q,
                          "block_kv", (long long)p.block_kv, "work_group", (long long)p.work_group,
                          "local_mem_bytes", (long long)p.local_mem_bytes, "scratch_bytes",
                          (long long)p.scratch_bytes, "global_size", (long long)p.global_size[0],
                          (long long)p.global_size[1], "splits", (long long)p.splits);
    pyclattn_unhold(octx);
done:
    if (held) PyBuffer_Release(&ab);
    if (lheld) PyBuffer_Release(&lb);
    return r;
}
