/* The floor of the per-call benchmark: the least a CPython extension can do per call.
 *
 * A minimal METH_FASTCALL type with send(data) and recv_into(buffer) on one descriptor:
 * PyObject_GetBuffer, one system call with MSG_DONTWAIT (data is always queued in the
 * benchmark), PyLong_FromSsize_t. No keywords, no flags, no error mapping beyond errno, no
 * blocking fallback: not a usable socket API, only the yardstick that shows how much of
 * pysock2's per-call time is pysock2 (bench/run.py builds it against this interpreter's
 * headers; docs/performance.md). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/socket.h>

typedef struct {
    PyObject_HEAD
    int fd;
} FloorObject;

static PyObject *
floor_send(FloorObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    if (nargs != 1 || PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return nargs != 1 ? PyErr_Format(PyExc_TypeError, "send(data)") : NULL;
    }
    ssize_t n = send(self->fd, view.buf, (size_t)view.len, MSG_DONTWAIT);
    PyBuffer_Release(&view);
    return n < 0 ? PyErr_SetFromErrno(PyExc_OSError) : PyLong_FromSsize_t(n);
}

static PyObject *
floor_recv_into(FloorObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    if (nargs != 1 || PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE) < 0) {
        return nargs != 1 ? PyErr_Format(PyExc_TypeError, "recv_into(buffer)") : NULL;
    }
    ssize_t n = recv(self->fd, view.buf, (size_t)view.len, MSG_DONTWAIT);
    PyBuffer_Release(&view);
    return n < 0 ? PyErr_SetFromErrno(PyExc_OSError) : PyLong_FromSsize_t(n);
}

static PyObject *
floor_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    int fd;
    if (!PyArg_ParseTuple(args, "i", &fd)) {
        return NULL;
    }
    FloorObject *self = (FloorObject *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->fd = fd;
    }
    (void)kwargs;
    return (PyObject *)self;
}

static PyMethodDef floor_methods[] = {
    {"send", (PyCFunction)(void (*)(void))floor_send, METH_FASTCALL, NULL},
    {"recv_into", (PyCFunction)(void (*)(void))floor_recv_into, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot floor_slots[] = {
    {Py_tp_new, floor_new},
    {Py_tp_methods, floor_methods},
    {0, NULL},
};

static PyType_Spec floor_spec = {
    "floor_ext.Floor", sizeof(FloorObject), 0, Py_TPFLAGS_DEFAULT, floor_slots,
};

static struct PyModuleDef floor_module = {PyModuleDef_HEAD_INIT, "floor_ext", NULL, -1, NULL};

PyMODINIT_FUNC
PyInit_floor_ext(void)
{
    PyObject *module = PyModule_Create(&floor_module);
    PyObject *type = module ? PyType_FromSpec(&floor_spec) : NULL;
    if (type == NULL || PyModule_AddObject(module, "Floor", type) < 0) {
        Py_XDECREF(type);
        Py_XDECREF(module);
        return NULL;
    }
    return module;
}
