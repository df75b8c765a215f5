/* Platform error codes (sys_last_error(): errno, or WSAGetLastError() on Windows) as
 * Python exceptions: the one place where the platform layer's codes meet Python objects,
 * so that sys_unix.c and sys_windows.c need no Python and tests/c/ can drive them alone. */
#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

PyObject *
error_take(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL) {
        PyException_SetTraceback(value, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

void
error_resource_warning(PyObject *source, const char *format, ...)
{
    PyObject *saved = error_take();
    va_list vargs;
    va_start(vargs, format);
    PyObject *message = PyUnicode_FromFormatV(format, vargs);
    va_end(vargs);
    /* A warnings filter may turn the warning into an error: report it, never raise. */
    if (message == NULL || PyErr_ResourceWarning(source, 1, "%U", message) < 0) {
        PyErr_WriteUnraisable(source);
    }
    Py_XDECREF(message);
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(saved);
#else
    if (saved != NULL) {  /* as it was: no chaining, the same traceback */
        PyObject *type = (PyObject *)Py_TYPE(saved);
        Py_INCREF(type);
        PyErr_Restore(type, saved, PyException_GetTraceback(saved));
    }
#endif
}

#ifdef _WIN32

PyObject *
error_set_from_sys(int err)
{
    /* OSError(errno, strerror, None, winerror): CPython derives errno (and so the subclass)
     * from the Winsock code, and the message from FormatMessage. */
    return PyErr_SetExcFromWindowsErr(PyExc_OSError, err);
}

PyObject *
error_from_sys(int err)
{
    /* The same object error_set_from_sys raises, handed back instead of raised. */
    error_set_from_sys(err);
    return error_take();
}

#else /* Unix */

PyObject *
error_set_from_sys(int err)
{
    errno = err;
    return PyErr_SetFromErrno(PyExc_OSError);
}

PyObject *
error_from_sys(int err)
{
    /* OSError(errno, strerror) picks the subclass (ConnectionRefusedError, ...) itself. */
    return PyObject_CallFunction(PyExc_OSError, "is", err, strerror(err));
}

#endif
