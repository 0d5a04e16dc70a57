/* additive.c: the extension's additive (Bahdanau) attention calls and its encoder: the one-shot
 * clattn_additive_host, the AdditiveKeys type over clattn_additive_keys (precompute once, step
 * many times) and clattn_birnn_gru_host. All buffers C-contiguous float32 (lengths int32 or
 * int64), every shape checked here against the descriptor because the host API takes bare
 * pointers; the device work runs with the GIL released. */
#include "pyclattn.h"

#include <string.h>

/* The buffers of one additive problem: keys w_h w_s v bias lengths. */
typedef struct {
    Py_buffer b[6];
    int held[6];
} key_bufs;

static void release_all(Py_buffer *b, const int *held, int n) {
    for (int i = 0; i < n; i++)
        if (held[i]) PyBuffer_Release(&b[i]);
}

/* Gets keys [B, T, Dk], w_h [A, Dk], w_s [A, Ds], v [A], bias [A] or None, lengths [B] or None
 * and fills the descriptor's sizes (query_dim from w_s). */
static int get_keys(PyObject *const o[6], key_bufs *k, clattn_additive_desc *d) {
    static const char *names[6] = {"keys", "w_h", "w_s", "v", "bias", "lengths"};
    static const int nd[6] = {3, 2, 2, 1, 1, 1};
    memset(k->held, 0, sizeof k->held);
    for (int i = 0; i < 6; i++) {
        if (i >= 4 && o[i] == Py_None) continue;
        int fl = PYB_CONTIGUOUS | (i == 5 ? PYB_INTS : 0);
        if (pyclattn_buffer(o[i], &k->b[i], names[i], nd[i], fl) < 0) goto fail;
        k->held[i] = 1;
    }
    d->batch = k->b[0].shape[0], d->seq = k->b[0].shape[1], d->key_dim = k->b[0].shape[2];
    d->attn_dim = k->b[1].shape[0], d->query_dim = k->b[2].shape[1];
    if (pyclattn_expect(&k->b[1], "w_h", 1, d->key_dim) < 0 ||
        pyclattn_expect(&k->b[2], "w_s", 0, d->attn_dim) < 0 ||
        pyclattn_expect(&k->b[3], "v", 0, d->attn_dim) < 0 ||
        (k->held[4] && pyclattn_expect(&k->b[4], "bias", 0, d->attn_dim) < 0) ||
        (k->held[5] && pyclattn_expect(&k->b[5], "lengths", 0, d->batch) < 0))
        goto fail;
    d->lengths_type =
        k->held[5] && k->b[5].itemsize == 8 ? CLATTN_LENGTHS_INT64 : CLATTN_LENGTHS_INT32;
    return 0;
fail:
    release_all(k->b, k->held, 6);
    return -1;
}

/* Gets query [B, steps, Ds], context [B, steps, Dk] and weights [B, steps, T] or None. */
static int get_step(const clattn_additive_desc *d, PyObject *oq, PyObject *oc, PyObject *ow,
                    Py_buffer b[3], int held[3], int64_t *steps) {
    memset(held, 0, 3 * sizeof *held);
    if (pyclattn_buffer(oq, &b[0], "query", 3, PYB_CONTIGUOUS) < 0) return -1;
    held[0] = 1;
    *steps = b[0].shape[1];
    if (pyclattn_expect(&b[0], "query", 0, d->batch) < 0 ||
        pyclattn_expect(&b[0], "query", 2, d->query_dim) < 0 ||
        pyclattn_buffer(oc, &b[1], "context", 3, PYB_CONTIGUOUS | PYB_WRITABLE) < 0)
        goto fail;
    held[1] = 1;
    if (pyclattn_expect(&b[1], "context", 0, d->batch) < 0 ||
        pyclattn_expect(&b[1], "context", 1, *steps) < 0 ||
        pyclattn_expect(&b[1], "context", 2, d->key_dim) < 0)
        goto fail;
    if (ow != Py_None) {
        if (pyclattn_buffer(ow, &b[2], "weights", 3, PYB_CONTIGUOUS | PYB_WRITABLE) < 0) goto fail;
        held[2] = 1;
        if (pyclattn_expect(&b[2], "weights", 0, d->batch) < 0 ||
            pyclattn_expect(&b[2], "weights", 1, *steps) < 0 ||
            pyclattn_expect(&b[2], "weights", 2, d->seq) < 0)
            goto fail;
    }
    return 0;
fail:
    release_all(b, held, 3);
    return -1;
}

/* additive(ctx, keys, query, w_h, w_s, v, bias, lengths, context, weights) */
PyObject *pyclattn_additive(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *octx, *o[6], *oq, *oc, *ow;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOO", &octx, &o[0], &oq, &o[1], &o[2], &o[3], &o[4], &o[5],
                          &oc, &ow))
        return NULL;
    clattn_additive_desc d;
    clattn_additive_desc_init(&d, sizeof d);
    key_bufs k;
    if (get_keys(o, &k, &d) < 0) return NULL;
    Py_buffer s[3];
    int sh[3];
    PyObject *r = NULL;
    if (get_step(&d, oq, oc, ow, s, sh, &d.steps) < 0) goto done_keys;
    clattn_context *ctx = pyclattn_hold(octx);
    if (!ctx) goto done;
    PyThreadState *ts = PyEval_SaveThread();
    clattn_status st =
        clattn_additive_host(ctx, &d, k.b[0].buf, s[0].buf, k.b[1].buf, k.b[2].buf, k.b[3].buf,
                             k.held[4] ? k.b[4].buf : NULL, k.held[5] ? k.b[5].buf : NULL, s[1].buf,
                             sh[2] ? s[2].buf : NULL);
    PyEval_RestoreThread(ts);
    if (st)
        pyclattn_raise(st, "additive_attention", ctx);
    else
        Py_INCREF(Py_None), r = Py_None;
    pyclattn_unhold(octx);
done:
    release_all(s, sh, 3);
done_keys:
    release_all(k.b, k.held, 6);
    return r;
}

/* ---- AdditiveKeys ------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD PyObject *ctx; /* the Context, held (pyclattn_hold) while the handle lives */
    clattn_additive_keys *keys;
    clattn_additive_desc desc;
} pyclattn_keys;

/* AdditiveKeys(ctx, keys, w_h, w_s, v, bias, lengths[, flavour]) */
static int keys_init(PyObject *self, PyObject *args, PyObject *kwargs) {
    pyclattn_keys *h = (pyclattn_keys *)self;
    PyObject *octx, *o[6];
    int flavour = 0;
    if (kwargs && PyDict_Size(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "AdditiveKeys takes positional arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "OOOOOOO|i", &octx, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5],
                          &flavour))
        return -1;
    if (h->keys) {
        PyErr_SetString(PyExc_RuntimeError, "AdditiveKeys.__init__ called twice");
        return -1;
    }
    clattn_additive_desc_init(&h->desc, sizeof h->desc);
    h->desc.flavour = (clattn_flavour)flavour;
    key_bufs k;
    if (get_keys(o, &k, &h->desc) < 0) return -1;
    clattn_context *ctx = pyclattn_hold(octx);
    int rc = -1;
    if (ctx) {
        PyThreadState *ts = PyEval_SaveThread();
        clattn_status st = clattn_additive_keys_create_host(
            ctx, &h->desc, k.b[0].buf, k.b[1].buf, k.b[2].buf, k.b[3].buf,
            k.held[4] ? k.b[4].buf : NULL, k.held[5] ? k.b[5].buf : NULL, &h->keys);
        PyEval_RestoreThread(ts);
        if (st) {
            pyclattn_raise(st, "AdditiveKeys", ctx);
            pyclattn_unhold(octx);
        } else {
            Py_INCREF(octx), h->ctx = octx, rc = 0; /* keeps the hold */
        }
    }
    release_all(k.b, k.held, 6);
    return rc;
}

static void keys_dealloc(PyObject *self) {
    pyclattn_keys *h = (pyclattn_keys *)self;
    clattn_additive_keys_destroy(h->keys);
    if (h->ctx) {
        pyclattn_unhold(h->ctx);
        Py_DECREF(h->ctx);
    }
    Py_TYPE(self)->tp_free(self);
}

/* step(query [B, steps, Ds], context [B, steps, Dk], weights [B, steps, T] or None) */
static PyObject *keys_step(PyObject *self, PyObject *args) {
    pyclattn_keys *h = (pyclattn_keys *)self;
    PyObject *oq, *oc, *ow;
    if (!PyArg_ParseTuple(args, "OOO", &oq, &oc, &ow)) return NULL;
    if (!h->keys) {
        PyErr_SetString(PyExc_ValueError, "AdditiveKeys: not initialised");
        return NULL;
    }
    Py_buffer s[3];
    int sh[3];
    int64_t steps;
    if (get_step(&h->desc, oq, oc, ow, s, sh, &steps) < 0) return NULL;
    clattn_context *ctx = ((pyclattn_context *)h->ctx)->ctx;
    PyThreadState *ts = PyEval_SaveThread();
    clattn_status st =
        clattn_additive_step_host(ctx, h->keys, steps, s[0].buf, s[1].buf, sh[2] ? s[2].buf : NULL);
    PyEval_RestoreThread(ts);
    release_all(s, sh, 3);
    if (st) return pyclattn_raise(st, "AdditiveKeys.step", ctx);
    Py_RETURN_NONE;
}

/* The dispatcher's plan for the step kernel, as a dict. */
static PyObject *keys_plan(PyObject *self, PyObject *unused) {
    (void)unused;
    pyclattn_keys *h = (pyclattn_keys *)self;
    if (!h->keys) {
        PyErr_SetString(PyExc_ValueError, "AdditiveKeys: not initialised");
        return NULL;
    }
    clattn_context *ctx = ((pyclattn_context *)h->ctx)->ctx;
    clattn_additive_plan p;
    clattn_status st = clattn_additive_plan_get(ctx, &h->desc, &p, sizeof p);
    if (st) return pyclattn_raise(st, "AdditiveKeys.plan", ctx);
    return Py_BuildValue("{s:s,s:L,s:L,s:L,s:O,s:L}", "flavour",
                         p.flavour == CLATTN_FLAVOUR_GPU ? "gpu" : "cpu", "block_t",
                         (long long)p.block_t, "lanes", (long long)p.lanes, "work_group",
                         (long long)p.work_group, "stage_query", p.stage_query ? Py_True : Py_False,
                         "local_mem_bytes", (long long)p.local_mem_bytes);
}

static PyObject *keys_shape(PyObject *self, void *unused) {
    (void)unused;
    const clattn_additive_desc *d = &((pyclattn_keys *)self)->desc;
    return Py_BuildValue("{s:L,s:L,s:L,s:L,s:L}", "batch", (long long)d->batch, "seq",
                         (long long)d->seq, "key_dim", (long long)d->key_dim, "query_dim",
                         (long long)d->query_dim, "attn_dim", (long long)d->attn_dim);
}

static PyMethodDef keys_methods[] = {
    {"step", keys_step, METH_VARARGS, "step(query, context, weights): one or more decoder steps."},
    {"plan", keys_plan, METH_NOARGS, "The step kernel's plan (clattn_additive_plan) as a dict."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef keys_getset[] = {
    {"dims", keys_shape, NULL, "batch, seq, key_dim, query_dim and attn_dim.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject pyclattn_keys_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "clattn._clattn.AdditiveKeys",
    .tp_basicsize = sizeof(pyclattn_keys),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The projected keys of additive attention (clattn_additive_keys).",
    .tp_new = PyType_GenericNew,
    .tp_init = keys_init,
    .tp_dealloc = keys_dealloc,
    .tp_methods = keys_methods,
    .tp_getset = keys_getset,
};

/* ---- Bidirectional GRU -------------------------------------------------------------------- */

/* birnn_gru(ctx, x [B, T, Din], fwd, bwd, lengths, out [B, T, 2H]); fwd and bwd are
 * (w_ih [3H, Din], w_hh [3H, H], b_ih [3H] or None, b_hh [3H] or None). */
PyObject *pyclattn_birnn_gru(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *octx, *ox, *ol, *oout, *w[8];
    if (!PyArg_ParseTuple(args, "OO(OOOO)(OOOO)OO", &octx, &ox, &w[0], &w[1], &w[2], &w[3], &w[4],
                          &w[5], &w[6], &w[7], &ol, &oout))
        return NULL;
    static const char *names[8] = {
        "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",         "bias_hh_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"};
    Py_buffer b[11]; /* 8 weights, x, lengths, out */
    int held[11] = {0};
    PyObject *r = NULL;
    clattn_gru_desc d;
    clattn_gru_desc_init(&d, sizeof d);
    if (pyclattn_buffer(ox, &b[8], "x", 3, PYB_CONTIGUOUS) < 0) goto done;
    held[8] = 1;
    d.batch = b[8].shape[0], d.seq = b[8].shape[1], d.input_dim = b[8].shape[2];
    if (pyclattn_buffer(w[1], &b[1], names[1], 2, PYB_CONTIGUOUS) < 0) goto done;
    held[1] = 1;
    d.hidden = b[1].shape[1];
    for (int i = 0; i < 8; i++) {
        if (i == 1) continue;
        if ((i % 4) >= 2 && w[i] == Py_None) continue;
        if (pyclattn_buffer(w[i], &b[i], names[i], (i % 4) < 2 ? 2 : 1, PYB_CONTIGUOUS) < 0)
            goto done;
        held[i] = 1;
    }
    for (int i = 0; i < 8; i++) {
        if (!held[i]) continue;
        if (pyclattn_expect(&b[i], names[i], 0, 3 * d.hidden) < 0) goto done;
        if ((i % 4) < 2 &&
            pyclattn_expect(&b[i], names[i], 1, (i % 4) == 0 ? d.input_dim : d.hidden) < 0)
            goto done;
    }
    if (ol != Py_None) {
        if (pyclattn_buffer(ol, &b[9], "lengths", 1, PYB_CONTIGUOUS | PYB_INTS) < 0) goto done;
        held[9] = 1;
        if (pyclattn_expect(&b[9], "lengths", 0, d.batch) < 0) goto done;
        d.lengths_type = b[9].itemsize == 8 ? CLATTN_LENGTHS_INT64 : CLATTN_LENGTHS_INT32;
    }
    if (pyclattn_buffer(oout, &b[10], "out", 3, PYB_CONTIGUOUS | PYB_WRITABLE) < 0) goto done;
    held[10] = 1;
    if (pyclattn_expect(&b[10], "out", 0, d.batch) < 0 ||
        pyclattn_expect(&b[10], "out", 1, d.seq) < 0 ||
        pyclattn_expect(&b[10], "out", 2, 2 * d.hidden) < 0)
        goto done;
    clattn_gru_host_weights fw = {b[0].buf, b[1].buf, held[2] ? b[2].buf : NULL,
                                  held[3] ? b[3].buf : NULL};
    clattn_gru_host_weights bw = {b[4].buf, b[5].buf, held[6] ? b[6].buf : NULL,
                                  held[7] ? b[7].buf : NULL};
    clattn_context *ctx = pyclattn_hold(octx);
    if (!ctx) goto done;
    PyThreadState *ts = PyEval_SaveThread();
    clattn_status st =
        clattn_birnn_gru_host(ctx, &d, b[8].buf, &fw, &bw, held[9] ? b[9].buf : NULL, b[10].buf);
    PyEval_RestoreThread(ts);
    if (st)
        pyclattn_raise(st, "BiGRU", ctx);
    else
        Py_INCREF(Py_None), r = Py_None;
    pyclattn_unhold(octx);
done:
    release_all(b, held, 11);
    return r;
}
