/* module.c: the _clattn extension module of the clattn Python package: module initialisation,
 * the exception mapping, the buffer-protocol helpers, clattn.devices() and the Context type.
 * Written against the CPython C API; the Python layer (python/clattn/) adds the PyTorch-style
 * functions on top. */
#include "pyclattn.h"

#include <string.h>

PyObject *pyclattn_error;

PyObject *pyclattn_raise(clattn_status st, const char *what, const clattn_context *ctx) {
    const char *detail = ctx ? clattn_context_last_error(ctx) : clattn_context_create_error();
    PyObject *type = pyclattn_error;
    if (st == CLATTN_ERROR_INVALID_ARGUMENT || st == CLATTN_ERROR_SHAPE_MISMATCH ||
        st == CLATTN_ERROR_BUFFER_TOO_SMALL || st == CLATTN_ERROR_OVERFLOW)
        type = PyExc_ValueError;
    else if (st == CLATTN_ERROR_OUT_OF_MEMORY)
        type = PyExc_MemoryError;
    PyObject *exc = PyObject_CallFunction(type, "s", "");
    if (!exc) return NULL;
    PyObject *msg = PyUnicode_FromFormat("%s: %s%s%s", what, clattn_status_string(st),
                                         detail && *detail ? ": " : "", detail ? detail : "");
    PyObject *args = msg ? PyTuple_Pack(1, msg) : NULL;
    PyObject *status = PyLong_FromLong((long)st);
    int bad = !args || !status || PyObject_SetAttrString(exc, "args", args) < 0 ||
              PyObject_SetAttrString(exc, "status", status) < 0 ||
              PyObject_SetAttrString(exc, "message", msg) < 0;
    Py_XDECREF(msg);
    Py_XDECREF(args);
    Py_XDECREF(status);
    if (!bad) PyErr_SetObject(type, exc);
    Py_DECREF(exc);
    return NULL;
}

/* True for a struct-module format of one native little-endian element of the given kind. */
static int format_is(const char *fmt, const char *kinds) {
    if (!fmt) fmt = "B";
    if (*fmt == '@' || *fmt == '=' || *fmt == '<') fmt++;
    return fmt[0] && !fmt[1] && strchr(kinds, fmt[0]) != NULL;
}

int pyclattn_buffer(PyObject *obj, Py_buffer *view, const char *name, int ndim, int flags) {
    int req = PyBUF_FORMAT | PyBUF_STRIDES;
    if (flags & PYB_WRITABLE) req |= PyBUF_WRITABLE;
    if (flags & PYB_CONTIGUOUS) req |= PyBUF_C_CONTIGUOUS;
    if (PyObject_GetBuffer(obj, view, req) < 0) {
        PyErr_Format(PyExc_ValueError, "%s: needs a %s%sbuffer (%s)", name,
                     flags & PYB_CONTIGUOUS ? "C-contiguous " : "",
                     flags & PYB_WRITABLE ? "writable " : "", Py_TYPE(obj)->tp_name);
        return -1;
    }
    const char *what = NULL;
    if (flags & PYB_INT32) {
        if (view->itemsize != 4 || !format_is(view->format, "il")) what = "int32";
    } else if (flags & PYB_INTS) {
        /* int32 or int64 whatever the platform's C long is. */
        int ok = (view->itemsize == 4 && format_is(view->format, "il")) ||
                 (view->itemsize == 8 && format_is(view->format, "lq"));
        if (!ok) what = "int32 or int64";
    } else if (flags & PYB_HALF) {
        int ok = (view->itemsize == 4 && format_is(view->format, "f")) ||
                 (view->itemsize == 2 && format_is(view->format, "e"));
        if (!ok) what = "float32 or float16";
    } else if (view->itemsize != 4 || !format_is(view->format, "f")) {
        what = "float32";
    }
    if (what) {
        PyErr_Format(PyExc_TypeError, "%s: needs %s elements (buffer format '%s')", name, what,
                     view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    if (ndim && view->ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s: needs %d dimensions, got %d", name, ndim, view->ndim);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

clattn_dtype pyclattn_dtype(const Py_buffer *view) {
    return view->itemsize == 2 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32;
}

int pyclattn_row_strides(const Py_buffer *view, const char *name, int64_t strides[3]) {
    const Py_ssize_t it = view->itemsize;
    if (view->shape[3] > 1 && view->strides[3] != it) goto bad;
    for (int i = 0; i < 3; i++) {
        Py_ssize_t s = view->strides[i];
        if (view->shape[i] == 1) {
            strides[i] = 0;
            continue;
        }
        if (s <= 0 || s % it) goto bad;
        strides[i] = (int64_t)(s / it);
    }
    if (view->shape[2] > 1 && strides[2] < (int64_t)view->shape[3]) goto bad;
    return 0;
bad:
    PyErr_Format(PyExc_ValueError,
                 "%s: strides the library cannot take without a copy (last dimension "
                 "contiguous, others positive multiples of the element size)",
                 name);
    return -1;
}

int pyclattn_expect(const Py_buffer *view, const char *name, int dim, Py_ssize_t want) {
    if (view->shape[dim] == want) return 0;
    PyErr_Format(PyExc_ValueError, "%s: dimension %d is %zd, expected %zd", name, dim,
                 view->shape[dim], want);
    return -1;
}

/* ---- devices() -------------------------------------------------------------------------- */

static const char *type_name(cl_device_type t) {
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "ACCELERATOR";
    return "OTHER";
}

static PyObject *caps_dict(const clattn_device_caps *c) {
    return Py_BuildValue(
        "{s:i,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:L,s:(LLL),s:L,s:L,s:s,s:L,s:L,s:i,s:O,s:O,s:O}",
        "platform_index", c->platform_index, "device_index", c->device_index, "platform_name",
        c->platform_name, "device_name", c->device_name, "vendor", c->vendor, "driver_version",
        c->driver_version, "platform_version", c->platform_version, "type", type_name(c->type),
        "compute_units", c->compute_units, "max_work_group_size", (long long)c->max_work_group_size,
        "max_work_item_sizes", (long long)c->max_work_item_sizes[0],
        (long long)c->max_work_item_sizes[1], (long long)c->max_work_item_sizes[2],
        "local_mem_bytes", (long long)c->local_mem_bytes, "real_local_mem_bytes",
        (long long)c->real_local_mem_bytes, "local_mem_type",
        c->local_mem_type == CLATTN_LOCAL_MEM_LOCAL ? "local" : "global", "global_mem_bytes",
        (long long)c->global_mem_bytes, "max_alloc_bytes", (long long)c->max_alloc_bytes,
        "preferred_vector_width_float", c->preferred_vector_width_float, "has_fp16",
        c->has_fp16 ? Py_True : Py_False, "has_fp64", c->has_fp64 ? Py_True : Py_False,
        "has_subgroups", c->has_subgroups ? Py_True : Py_False);
}

static PyObject *devices(PyObject *self, PyObject *unused) {
    (void)self, (void)unused;
    int count = 0;
    clattn_status st = clattn_device_list(NULL, sizeof(clattn_device_caps), 0, &count);
    if (st) return pyclattn_raise(st, "devices", NULL);
    clattn_device_caps *caps = PyMem_Calloc(count ? count : 1, sizeof *caps);
    if (!caps) return PyErr_NoMemory();
    st = clattn_device_list(caps, sizeof *caps, count, &count);
    PyObject *list = st ? pyclattn_raise(st, "devices", NULL) : PyList_New(0);
    for (int i = 0; list && i < count; i++) {
        PyObject *d = caps_dict(&caps[i]);
        if (!d || PyList_Append(list, d) < 0) Py_CLEAR(list);
        Py_XDECREF(d);
    }
    PyMem_Free(caps);
    return list;
}

/* ---- Context ------------------------------------------------------------------------------ */

clattn_context *pyclattn_hold(PyObject *obj) {
    if (!PyObject_TypeCheck(obj, &pyclattn_context_type)) {
        PyErr_Format(PyExc_TypeError, "ctx: expected a clattn.Context, got %s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    pyclattn_context *c = (pyclattn_context *)obj;
    if (!c->ctx || c->closing) {
        PyErr_SetString(PyExc_ValueError, "ctx: the Context is closed");
        return NULL;
    }
    c->holders++;
    return c->ctx;
}

void pyclattn_unhold(PyObject *obj) {
    pyclattn_context *c = (pyclattn_context *)obj;
    if (--c->holders == 0 && c->closing && c->ctx) {
        clattn_context_destroy(c->ctx);
        c->ctx = NULL;
    }
}

static int context_init(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kw[] = {"device", NULL};
    const char *sel = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|z", kw, &sel)) return -1;
    pyclattn_context *c = (pyclattn_context *)self;
    if (c->ctx || c->holders) {
        PyErr_SetString(PyExc_RuntimeError, "Context.__init__ called twice");
        return -1;
    }
    clattn_context *ctx = NULL;
    clattn_status st;
    PyThreadState *ts = PyEval_SaveThread();
    st = clattn_context_create(sel, &ctx);
    PyEval_RestoreThread(ts);
    if (st) {
        pyclattn_raise(st, "Context", NULL);
        return -1;
    }
    c->ctx = ctx;
    c->closing = 0;
    return 0;
}

static void context_dealloc(PyObject *self) {
    pyclattn_context *c = (pyclattn_context *)self;
    if (c->ctx) clattn_context_destroy(c->ctx); /* no holder can outlive the object */
    Py_TYPE(self)->tp_free(self);
}

static PyObject *context_close(PyObject *self, PyObject *unused) {
    (void)unused;
    pyclattn_context *c = (pyclattn_context *)self;
    c->closing = 1;
    if (c->holders == 0 && c->ctx) {
        clattn_context_destroy(c->ctx);
        c->ctx = NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *context_caps(PyObject *self, PyObject *unused) {
    (void)unused;
    clattn_context *ctx = pyclattn_hold(self);
    if (!ctx) return NULL;
    clattn_device_caps caps;
    clattn_status st = clattn_context_caps(ctx, &caps, sizeof caps);
    PyObject *r = st ? pyclattn_raise(st, "caps", ctx) : caps_dict(&caps);
    pyclattn_unhold(self);
    return r;
}

static PyObject *context_cache_stats(PyObject *self, PyObject *unused) {
    (void)unused;
    clattn_context *ctx = pyclattn_hold(self);
    if (!ctx) return NULL;
    clattn_cache_stats s;
    clattn_status st = clattn_context_cache_stats(ctx, &s, sizeof s);
    PyObject *r =
        st ? pyclattn_raise(st, "cache_stats", ctx)
           : Py_BuildValue("{s:L,s:L,s:L,s:L,s:L}", "builds_from_source",
                           (long long)s.builds_from_source, "loads_from_binary",
                           (long long)s.loads_from_binary, "memory_hits", (long long)s.memory_hits,
                           "disk_writes", (long long)s.disk_writes, "disk_rejects",
                           (long long)s.disk_rejects);
    pyclattn_unhold(self);
    return r;
}

static PyObject *context_closed(PyObject *self, void *unused) {
    (void)unused;
    pyclattn_context *c = (pyclattn_context *)self;
    return PyBool_FromLong(!c->ctx || c->closing);
}

static PyMethodDef context_methods[] = {
    {"close", context_close, METH_NOARGS,
     "Releases the OpenCL context (after the calls running on it finish)."},
    {"_caps", context_caps, METH_NOARGS, "The device's capabilities as a dict."},
    {"cache_stats", context_cache_stats, METH_NOARGS, "The program cache's counters as a dict."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef context_getset[] = {
    {"closed", context_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject pyclattn_context_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "clattn._clattn.Context",
    .tp_basicsize = sizeof(pyclattn_context),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Context(device=None): an OpenCL device with its queue and program cache.",
    .tp_new = PyType_GenericNew,
    .tp_init = context_init,
    .tp_dealloc = context_dealloc,
    .tp_methods = context_methods,
    .tp_getset = context_getset,
};

/* ---- Module ------------------------------------------------------------------------------- */

static PyObject *version(PyObject *self, PyObject *unused) {
    (void)self, (void)unused;
    return PyUnicode_FromString(clattn_version_string());
}

static PyMethodDef module_methods[] = {
    {"devices", devices, METH_NOARGS, "Every OpenCL device, as a list of dicts."},
    {"version", version, METH_NOARGS, "The C library's version string."},
    {"sdpa", (PyCFunction)(void (*)(void))pyclattn_sdpa, METH_VARARGS | METH_KEYWORDS,
     "sdpa(ctx, q, k, v, mask, out, lse, **options): clattn_sdpa_host on 4-D float32/float16 "
     "buffers."},
    {"plan", (PyCFunction)(void (*)(void))pyclattn_plan, METH_VARARGS | METH_KEYWORDS,
     "plan(ctx, dims, **options): clattn_sdpa_plan_get as a dict."},
    {"additive", pyclattn_additive, METH_VARARGS,
     "additive(ctx, keys, query, w_h, w_s, v, bias, lengths, context, weights)."},
    {"birnn_gru", pyclattn_birnn_gru, METH_VARARGS,
     "birnn_gru(ctx, x, fwd, bwd, lengths, out): fwd and bwd are (w_ih, w_hh, b_ih, b_hh)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_clattn",
    .m_doc = "The C extension of the clattn package.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__clattn(void) {
    if (PyType_Ready(&pyclattn_context_type) < 0 || PyType_Ready(&pyclattn_keys_type) < 0 ||
        PyType_Ready(&pyclattn_rnn_type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    pyclattn_error = PyErr_NewExceptionWithDoc(
        "clattn.Error",
        "A clattn call failed for a reason other than its arguments or memory: .status is the "
        "clattn_status number, .message the text (status name and the library's detail).",
        PyExc_RuntimeError, NULL);
    Py_INCREF(&pyclattn_context_type);
    Py_INCREF(&pyclattn_keys_type);
    Py_INCREF(&pyclattn_rnn_type);
    if (!pyclattn_error || PyModule_AddObject(m, "Error", pyclattn_error) < 0 ||
        PyModule_AddObject(m, "Context", (PyObject *)&pyclattn_context_type) < 0 ||
        PyModule_AddObject(m, "AdditiveKeys", (PyObject *)&pyclattn_keys_type) < 0 ||
        PyModule_AddObject(m, "Rnn", (PyObject *)&pyclattn_rnn_type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(pyclattn_error); /* the module's reference and ours */
    return m;
}
