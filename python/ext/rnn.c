/* rnn.c: the extension's Rnn type over clattn_rnn (include/clattn_rnn.h): GRU or LSTM layers,
 * stacked, one or two directions, created once from host weights (uploaded in the kernels'
 * layout) and run many times. Buffers are C-contiguous float32 (lengths int32 or int64); every
 * shape is checked here because the host API takes bare pointers. The device work runs with the
 * GIL released. python/clattn/_rnn.py wraps it as clattn.GRU and clattn.LSTM. */
#include "pyclattn.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    PyObject_HEAD PyObject *ctx; /* the Context, held (pyclattn_hold) while the handle lives */
    clattn_rnn *rnn;
    clattn_rnn_desc desc;
} pyclattn_rnn;

/* Gets the weights: a sequence of num_layers * ndir tuples (w_ih [G H, din], w_hh [G H, H],
 * b_ih [G H] or None, b_hh [G H] or None), entry l * ndir + dir, din = input_dim for layer 0 and
 * ndir * H above. views holds 4 per entry; held says which were taken. */
static int get_weights(PyObject *seq, const clattn_rnn_desc *d, Py_buffer *views, int *held,
                       clattn_rnn_host_weights *w) {
    const int64_t nd = d->bidirectional ? 2 : 1, n = d->num_layers * nd;
    const int64_t G = d->cell == CLATTN_RNN_LSTM ? 4 : 3, H = d->hidden;
    static const char *names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    if (!PySequence_Check(seq) || PySequence_Size(seq) != n) {
        PyErr_Format(PyExc_ValueError,
                     "Rnn: weights must be a sequence of num_layers * directions = %lld tuples "
                     "(w_ih, w_hh, b_ih, b_hh)",
                     (long long)n);
        return -1;
    }
    for (int64_t e = 0; e < n; e++) {
        PyObject *t = PySequence_GetItem(seq, e);
        if (!t) return -1;
        if (!PyTuple_Check(t) || PyTuple_Size(t) != 4) {
            Py_DECREF(t);
            PyErr_Format(PyExc_ValueError, "Rnn: weights[%lld] must be a tuple of 4 arrays",
                         (long long)e);
            return -1;
        }
        const float *p[4] = {NULL, NULL, NULL, NULL};
        for (int i = 0; i < 4; i++) {
            PyObject *o = PyTuple_GET_ITEM(t, i);
            if (i >= 2 && o == Py_None) continue;
            char name[64];
            snprintf(name, sizeof name, "%s_l%lld%s", names[i], (long long)(e / nd),
                     e % nd ? "_reverse" : "");
            Py_buffer *v = &views[e * 4 + i];
            if (pyclattn_buffer(o, v, name, i < 2 ? 2 : 1, PYB_CONTIGUOUS) < 0) {
                Py_DECREF(t);
                return -1;
            }
            held[e * 4 + i] = 1;
            const int64_t cols = i == 0 ? (e < nd ? d->input_dim : nd * H) : H;
            if (pyclattn_expect(v, name, 0, G * H) < 0 ||
                (i < 2 && pyclattn_expect(v, name, 1, cols) < 0)) {
                Py_DECREF(t);
                return -1;
            }
            p[i] = v->buf;
        }
        Py_DECREF(t);
        w[e] = (clattn_rnn_host_weights){p[0], p[1], p[2], p[3]};
    }
    return 0;
}

static void release_views(Py_buffer *b, const int *held, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (held[i]) PyBuffer_Release(&b[i]);
}

/* Rnn(ctx, lstm, input_size, hidden_size, num_layers, bidirectional, bias, weights) */
static int rnn_init(PyObject *self, PyObject *args, PyObject *kwargs) {
    pyclattn_rnn *h = (pyclattn_rnn *)self;
    PyObject *octx, *ow;
    int lstm, bidir, bias;
    long long din, hidden, layers;
    if (kwargs && PyDict_Size(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "Rnn takes positional arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "OpLLLppO", &octx, &lstm, &din, &hidden, &layers, &bidir, &bias,
                          &ow))
        return -1;
    if (h->rnn) {
        PyErr_SetString(PyExc_RuntimeError, "Rnn.__init__ called twice");
        return -1;
    }
    clattn_rnn_desc_init(&h->desc, sizeof h->desc);
    h->desc.cell = lstm ? CLATTN_RNN_LSTM : CLATTN_RNN_GRU;
    h->desc.bidirectional = bidir, h->desc.has_bias = bias;
    h->desc.input_dim = din, h->desc.hidden = hidden, h->desc.num_layers = layers;
    /* The sizes the library refuses are refused before any allocation sized by them. */
    if (din < 1 || hidden < 1 || layers < 1 || layers > 64) {
        PyErr_Format(PyExc_ValueError,
                     "Rnn: input_size %lld, hidden_size %lld and num_layers %lld must be >= 1 "
                     "(num_layers <= 64)",
                     din, hidden, layers);
        return -1;
    }
    const int64_t n = layers * (bidir ? 2 : 1);
    Py_buffer *views = calloc((size_t)n * 4, sizeof *views);
    int *held = calloc((size_t)n * 4, sizeof *held);
    clattn_rnn_host_weights *w = calloc((size_t)n, sizeof *w);
    int rc = -1;
    if (!views || !held || !w) {
        PyErr_NoMemory();
    } else if (get_weights(ow, &h->desc, views, held, w) == 0) {
        clattn_context *ctx = pyclattn_hold(octx);
        if (ctx) {
            PyThreadState *ts = PyEval_SaveThread();
            clattn_status st = clattn_rnn_create(ctx, &h->desc, w, &h->rnn);
            PyEval_RestoreThread(ts);
            if (st) {
                pyclattn_raise(st, "Rnn", ctx);
                pyclattn_unhold(octx);
            } else {
                Py_INCREF(octx), h->ctx = octx, rc = 0; /* keeps the hold */
            }
        }
    }
    if (views && held) release_views(views, held, n * 4);
    free(views), free(held), free(w);
    return rc;
}

static void rnn_dealloc(PyObject *self) {
    pyclattn_rnn *h = (pyclattn_rnn *)self;
    clattn_rnn_destroy(h->rnn);
    if (h->ctx) {
        pyclattn_unhold(h->ctx);
        Py_DECREF(h->ctx);
    }
    Py_TYPE(self)->tp_free(self);
}

/* forward(x [B, T, Din], h0, c0, lengths, out [B, T, ndir H], h_n, c_n, algo): states
 * [num_layers * ndir, B, H] or None (h0/c0: zeros; h_n/c_n: not written); c0 and c_n only for
 * the LSTM; lengths [B] int32/int64 or None; algo 0 auto, 1 persistent, 2 step. */
static PyObject *rnn_forward_py(PyObject *self, PyObject *args) {
    pyclattn_rnn *h = (pyclattn_rnn *)self;
    PyObject *o[7];
    int algo = 0;
    if (!PyArg_ParseTuple(args, "OOOOOOO|i", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &algo))
        return NULL;
    if (!h->rnn) {
        PyErr_SetString(PyExc_ValueError, "Rnn: not initialised");
        return NULL;
    }
    static const char *names[7] = {"x", "h0", "c0", "lengths", "out", "h_n", "c_n"};
    const clattn_rnn_desc *d = &h->desc;
    const int64_t nd = d->bidirectional ? 2 : 1, H = d->hidden, S = d->num_layers * nd;
    Py_buffer b[7];
    int held[7] = {0};
    PyObject *r = NULL;
    clattn_rnn_forward_desc f;
    clattn_rnn_forward_desc_init(&f, sizeof f);
    f.algo = (clattn_rnn_algo)algo;
    if (d->cell != CLATTN_RNN_LSTM && (o[2] != Py_None || o[6] != Py_None)) {
        PyErr_SetString(PyExc_ValueError, "Rnn: c0 and c_n are for the LSTM only");
        return NULL;
    }
    for (int i = 0; i < 7; i++) {
        if (i > 0 && i != 4 && o[i] == Py_None) continue;
        const int flags = PYB_CONTIGUOUS | (i == 3 ? PYB_INTS : 0) | (i >= 4 ? PYB_WRITABLE : 0);
        if (pyclattn_buffer(o[i], &b[i], names[i], i == 3 ? 1 : 3, flags) < 0) goto done;
        held[i] = 1;
        if (i == 0) {
            f.batch = b[0].shape[0], f.seq = b[0].shape[1];
            if (pyclattn_expect(&b[0], "x", 2, d->input_dim) < 0) goto done;
        } else if (i == 3) {
            if (pyclattn_expect(&b[3], "lengths", 0, f.batch) < 0) goto done;
            f.lengths = b[3].buf;
            f.lengths_type = b[3].itemsize == 8 ? CLATTN_LENGTHS_INT64 : CLATTN_LENGTHS_INT32;
        } else if (i == 4) {
            if (pyclattn_expect(&b[4], "out", 0, f.batch) < 0 ||
                pyclattn_expect(&b[4], "out", 1, f.seq) < 0 ||
                pyclattn_expect(&b[4], "out", 2, nd * H) < 0)
                goto done;
        } else if (pyclattn_expect(&b[i], names[i], 0, S) < 0 ||
                   pyclattn_expect(&b[i], names[i], 1, f.batch) < 0 ||
                   pyclattn_expect(&b[i], names[i], 2, H) < 0) {
            goto done;
        }
    }
    clattn_context *ctx = ((pyclattn_context *)h->ctx)->ctx;
    PyThreadState *ts = PyEval_SaveThread();
    clattn_status st = clattn_rnn_forward_host(
        h->rnn, &f, b[0].buf, held[1] ? b[1].buf : NULL, held[2] ? b[2].buf : NULL, b[4].buf,
        held[5] ? b[5].buf : NULL, held[6] ? b[6].buf : NULL);
    PyEval_RestoreThread(ts);
    if (st)
        pyclattn_raise(st, "Rnn.forward", ctx);
    else
        Py_INCREF(Py_None), r = Py_None;
done:
    release_views(b, held, 7);
    return r;
}

static PyMethodDef rnn_methods[] = {
    {"forward", rnn_forward_py, METH_VARARGS,
     "forward(x, h0, c0, lengths, out, h_n, c_n[, algo]): the whole stack over the sequences."},
    {NULL, NULL, 0, NULL}};

PyTypeObject pyclattn_rnn_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "clattn._clattn.Rnn",
    .tp_basicsize = sizeof(pyclattn_rnn),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "GRU or LSTM layers on the device (clattn_rnn).",
    .tp_new = PyType_GenericNew,
    .tp_init = rnn_init,
    .tp_dealloc = rnn_dealloc,
    .tp_methods = rnn_methods,
};
