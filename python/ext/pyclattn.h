/* pyclattn.h: what the C files of clattn's Python extension (_clattn) share: the Context object,
 * the mapping of clattn_status to Python exceptions and the buffer-protocol helpers that turn
 * Python arrays into the shapes and element strides the C API takes. */
#ifndef PYCLATTN_H
#define PYCLATTN_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <clattn.h>

/* A clattn_context. `holders` counts what uses the C context without the Python object's own
 * reference keeping it alive (a call running with the GIL released, an AdditiveKeys handle):
 * close() while holders > 0 only marks it closing, and the last holder destroys it. Both fields
 * change only with the GIL held. */
typedef struct {
    PyObject_HEAD clattn_context *ctx;
    Py_ssize_t holders;
    int closing;
} pyclattn_context;

extern PyTypeObject pyclattn_context_type;
extern PyTypeObject pyclattn_keys_type;
extern PyTypeObject pyclattn_rnn_type; /* rnn.c */
extern PyObject *pyclattn_error;       /* clattn.Error, a RuntimeError */

/* Checks that obj is an open Context and takes a holder on it (NULL with an exception set). */
clattn_context *pyclattn_hold(PyObject *obj);
/* Drops a holder; destroys the C context when it was the last one of a closed Context. */
void pyclattn_unhold(PyObject *obj);

/* Raises the exception for a failed status: ValueError (invalid argument, shapes, buffer sizes,
 * overflow), MemoryError (out of memory) or clattn.Error; the message is `what`, the status name
 * and the context's last error for this thread (ctx may be NULL). Returns NULL. */
PyObject *pyclattn_raise(clattn_status st, const char *what, const clattn_context *ctx);

/* Flags of pyclattn_buffer. */
enum { PYB_WRITABLE = 1, PYB_CONTIGUOUS = 2, PYB_INTS = 4, PYB_HALF = 8, PYB_INT32 = 16 };

/* Gets a buffer of `ndim` dimensions (0: any) holding float32 (with PYB_HALF also float16; with
 * PYB_INTS int32 or int64 instead; with PYB_INT32 int32 only) from obj, named `name` in errors.
 * Returns 0, or -1 with ValueError/TypeError set (nothing held).
 */
int pyclattn_buffer(PyObject *obj, Py_buffer *view, const char *name, int ndim, int flags);

/* The storage type of a float buffer pyclattn_buffer accepted: float32 or float16. */
clattn_dtype pyclattn_dtype(const Py_buffer *view);

/* The element strides of the first three dimensions of a 4-D float buffer whose last
 * dimension is contiguous, in the form clattn_sdpa_desc takes (0 for a dimension of size 1).
 * Returns 0, or -1 with ValueError set when the layout cannot be described without a copy. */
int pyclattn_row_strides(const Py_buffer *view, const char *name, int64_t strides[3]);

/* ValueError naming the argument when its dimension `dim` is not `want`. */
int pyclattn_expect(const Py_buffer *view, const char *name, int dim, Py_ssize_t want);

/* Module functions defined in sdpa.c and additive.c. */
PyObject *pyclattn_sdpa(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *pyclattn_plan(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *pyclattn_additive(PyObject *self, PyObject *args);
PyObject *pyclattn_birnn_gru(PyObject *self, PyObject *args);

#endif /* PYCLATTN_H */
