/* The one system-call loop: release the GIL, call, reacquire, retry on EINTR after the
 * signal handlers ran (PEP 475), and map the failure to the right exception. Every I/O
 * method goes through socket_call(); none re-implements it. */
#include "pysock2.h"

#include <stdarg.h>

sys_socket_t
socket_checked_fd(SocketObject *self)
{
    sys_socket_t fd = SOCK_FD(self);
    if (fd == SYS_INVALID_SOCKET) {
        sys_set_error(SYS_EBADF);
    }
    return fd;
}

void
socket_raise(sys_socket_t fd, int err, int dontwait)
{
    /* An expired SO_RCVTIMEO/SO_SNDTIMEO looks like EAGAIN on Unix; it is a timeout only
     * when the socket blocks and the caller did not ask for MSG_DONTWAIT. */
    if (!dontwait && sys_error_is_timeout(err) && sys_is_blocking(fd)) {
        PyObject *exc = PyObject_CallFunction(PyExc_TimeoutError, "is", SYS_ETIMEDOUT,
                                              "timed out");
        if (exc != NULL) {
            PyErr_SetObject(PyExc_TimeoutError, exc);
            Py_DECREF(exc);
        }
        return;
    }
    sys_set_error(err);
}

ptrdiff_t
socket_call(SocketObject *self, sys_call_fn fn, void *ctx, int dontwait)
{
    for (;;) {
        sys_socket_t fd = socket_checked_fd(self);
        if (fd == SYS_INVALID_SOCKET) {
            return -1;
        }
        ptrdiff_t result;
        int err;
        Py_BEGIN_ALLOW_THREADS
        result = fn(fd, ctx);
        err = result < 0 ? sys_last_error() : 0;
        Py_END_ALLOW_THREADS
        if (result >= 0) {
            return result;
        }
        if (!sys_error_is_interrupted(err)) {
            socket_raise(fd, err, dontwait);
            return -1;
        }
        if (PyErr_CheckSignals() < 0) {
            return -1;
        }
    }
}

void
finalizer_warning(PyObject *source, const char *format, ...)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *saved = PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
#endif
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
    PyErr_Restore(type, value, tb);
#endif
}
