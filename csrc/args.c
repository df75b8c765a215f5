/* Argument conversion shared by every method: hand-parsed FASTCALL arguments (no tuple or
 * dict per call), integers, durations and buffers, each raising a clear error before any
 * system call. */
#include "pysock2.h"

#include <math.h>

int
args_parse_kwonly(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                  const char *const *names, Py_ssize_t required, Py_ssize_t positional,
                  Py_ssize_t total, PyObject **out)
{
    if (nargs > positional) {
        if (positional == total) {
            PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)", fname,
                         total, nargs);
        }
        else {
            /* The stdlib's recv_into(buf, nbytes) must not be read as flags: say so. */
            PyErr_Format(PyExc_TypeError,
                         "%s() takes at most %zd positional argument%s (%zd given); "
                         "%s is keyword-only: %s(..., %s=...)",
                         fname, positional, positional == 1 ? "" : "s", nargs, names[positional],
                         fname, names[positional]);
        }
        return -1;
    }
    for (Py_ssize_t i = 0; i < total; i++) {
        out[i] = i < nargs ? args[i] : NULL;
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        Py_ssize_t i = 0;
        while (i < total && PyUnicode_CompareWithASCIIString(key, names[i]) != 0) {
            i++;
        }
        if (i == total) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname,
                         key);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname,
                         names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (Py_ssize_t i = 0; i < required; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]);
            return -1;
        }
    }
    return 0;
}

int
args_parse_flags_slow(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                      const char *const *names, Py_ssize_t required, Py_ssize_t total,
                      PyObject **out, int *flags)
{
    *flags = 0;
    if (args_parse_kwonly(fname, args, nargs, kwnames, names, required, total - 1, total, out)
        < 0) {
        return -1;
    }
    return out[total - 1] == NULL ? 0 : args_int(fname, "flags", out[total - 1], flags);
}

int
args_int(const char *fname, const char *what, PyObject *obj, int *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s() %s must be an int, not %.100s", fname, what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long value = PyLong_AsLongAndOverflow(obj, &overflow);
    if (overflow || value > INT_MAX || value < INT_MIN) {
        PyErr_Format(PyExc_OverflowError, "%s() %s is out of range for a C int", fname, what);
        return -1;
    }
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = (int)value;
    return 0;
}

int
args_size(const char *fname, const char *what, PyObject *obj, Py_ssize_t *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s() %s must be an int, not %.100s", fname, what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t value = PyLong_AsSsize_t(obj);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (value < 0) {
        PyErr_Format(PyExc_ValueError, "%s() %s must not be negative", fname, what);
        return -1;
    }
    *out = value;
    return 0;
}

int
args_duration(module_state *state, const char *fname, PyObject *obj, int64_t *usec)
{
    double seconds;
    if (PyLong_Check(obj) || PyFloat_Check(obj)) {
        seconds = PyFloat_AsDouble(obj);
    }
    else {
        /* datetime.timedelta (or anything duck-typed like it); cold path. */
        PyObject *total = PyObject_CallMethodObjArgs(obj, state->str_total_seconds, NULL);
        if (total == NULL) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "%s() duration must be a number of seconds or a timedelta, not %.100s",
                         fname, Py_TYPE(obj)->tp_name);
            return -1;
        }
        seconds = PyFloat_AsDouble(total);
        Py_DECREF(total);
    }
    if (seconds == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    if (isnan(seconds) || seconds < 0) {
        PyErr_Format(PyExc_ValueError, "%s() duration must be >= 0, not %R", fname, obj);
        return -1;
    }
    /* Up to ~292,000 years fits in int64 microseconds; anything longer is not a timeout. */
    if (!(seconds < 9.2e12)) {
        PyErr_Format(PyExc_OverflowError, "%s() duration %R is too large", fname, obj);
        return -1;
    }
    *usec = (int64_t)ceil(seconds * 1e6);
    return 0;
}

PyObject *
args_seconds_from_usec(int64_t usec)
{
    if (usec == 0) {
        Py_RETURN_NONE;
    }
    return PyFloat_FromDouble((double)usec / 1e6);
}

/* After a failed PyObject_GetBuffer: whether the object is the wrong kind of buffer (to be
 * reported as a TypeError naming what the argument must be). A released memoryview keeps
 * its ValueError, as the stdlib's sends do: the type is right, the object is spent. */
int
args_buffer_error_is_wrong_kind(void)
{
    return PyErr_ExceptionMatches(PyExc_BufferError) || PyErr_ExceptionMatches(PyExc_TypeError);
}

static int
buffer_arg(const char *fname, PyObject *obj, Py_buffer *view, int flags, const char *need)
{
    if (PyObject_GetBuffer(obj, view, flags) == 0) {
        return 0;
    }
    if (args_buffer_error_is_wrong_kind()) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s() argument must be %s, not %.100s", fname, need,
                     Py_TYPE(obj)->tp_name);
    }
    return -1;
}

int
args_writable_buffer(const char *fname, PyObject *obj, Py_buffer *view)
{
    return buffer_arg(fname, obj, view, PyBUF_WRITABLE,
                      "a writable, contiguous buffer (bytearray, memoryview, array, ...)");
}

int
args_readable_buffer(const char *fname, PyObject *obj, Py_buffer *view)
{
    return buffer_arg(fname, obj, view, PyBUF_SIMPLE, "a contiguous bytes-like object");
}
