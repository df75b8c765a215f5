/* The generic getsockopt/setsockopt, for options without a typed accessor (options.c):
 * the stdlib's shapes (an int, a bytes-like value, or None with an explicit length), every
 * argument checked before the system call. */
#include "pysock2.h"

#include <string.h>

/* The largest buffer getsockopt(level, optname, buflen) reads: the stdlib's 1024 is too
 * small for some options (IP_MSFILTER source lists, SO_PEERGROUPS). */
#define SOCKOPT_MAX_BUFLEN 65536

/* The (level, optname) pair both calls start with: two C ints. */
static int
level_and_name(const char *fname, PyObject *const *argv, int *level, int *optname)
{
    return args_int(fname, "level", argv[0], level) < 0
                   || args_int(fname, "optname", argv[1], optname) < 0
               ? -1
               : 0;
}

static PyObject *
socket_getsockopt(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"level", "optname", "buflen"};
    PyObject *argv[3];
    int level, optname;
    if (args_parse("getsockopt", args, nargs, kwnames, names, 2, 3, argv) < 0
        || level_and_name("getsockopt", argv, &level, &optname) < 0) {
        return NULL;
    }
    Py_ssize_t buflen = -1;  /* no buflen: the option is an int */
    if (argv[2] != NULL && argv[2] != Py_None) {
        if (args_size("getsockopt", "buflen", argv[2], &buflen) < 0) {
            return NULL;
        }
        if (buflen < 1 || buflen > SOCKOPT_MAX_BUFLEN) {
            PyErr_Format(PyExc_ValueError, "getsockopt() buflen must be 1-%d, not %zd",
                         SOCKOPT_MAX_BUFLEN, buflen);
            return NULL;
        }
    }
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    if (buflen < 0) {
        int value = 0;
        sys_socklen_t len = sizeof(value);
        if (sys_getsockopt(fd, level, optname, (void *)&value, &len) < 0) {
            return error_set_from_sys(sys_last_error());
        }
        return PyLong_FromLong(value);
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, buflen);
    if (result == NULL) {
        return NULL;
    }
    memset(PyBytes_AS_STRING(result), 0, (size_t)buflen);
    sys_socklen_t len = (sys_socklen_t)buflen;
    if (sys_getsockopt(fd, level, optname, PyBytes_AS_STRING(result), &len) < 0) {
        Py_DECREF(result);
        return error_set_from_sys(sys_last_error());
    }
    if ((Py_ssize_t)len < buflen && _PyBytes_Resize(&result, (Py_ssize_t)(len > 0 ? len : 0)) < 0) {
        return NULL;
    }
    return result;
}

static PyObject *
socket_setsockopt(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"level", "optname", "value", "optlen"};
    PyObject *argv[4];
    int level, optname;
    if (args_parse("setsockopt", args, nargs, kwnames, names, 3, 4, argv) < 0
        || level_and_name("setsockopt", argv, &level, &optname) < 0) {
        return NULL;
    }
    PyObject *value = argv[2], *optlen_obj = argv[3];
    int as_int = 0;
    Py_ssize_t optlen = 0;
    Py_buffer view = {.buf = NULL, .obj = NULL};
    if (value == Py_None) {
        /* setsockopt(level, optname, None, optlen): a NULL value of optlen bytes, as the
         * stdlib does for AF_ALG's ALG_SET_AEAD_AUTHSIZE. */
        if (optlen_obj == NULL || optlen_obj == Py_None) {
            PyErr_SetString(PyExc_TypeError, "setsockopt() with value None needs optlen");
            return NULL;
        }
        if (args_size("setsockopt", "optlen", optlen_obj, &optlen) < 0) {
            return NULL;
        }
    }
    else if (optlen_obj != NULL && optlen_obj != Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "setsockopt() takes optlen only with value None (an int or a "
                        "bytes-like value has its own length)");
        return NULL;
    }
    else if (PyLong_Check(value)) {
        if (args_int("setsockopt", "value", value, &as_int) < 0) {
            return NULL;
        }
        optlen = sizeof(as_int);
    }
    else if (PyObject_CheckBuffer(value)) {
        if (args_readable_buffer("setsockopt", value, &view) < 0) {
            return NULL;
        }
        optlen = view.len;
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "setsockopt() value must be an int, a bytes-like object or None, "
                     "not %.100s",
                     Py_TYPE(value)->tp_name);
        return NULL;
    }
    PyObject *result = NULL;
    if (optlen > INT_MAX) {
        PyErr_Format(PyExc_OverflowError, "setsockopt() optlen %zd is too large", optlen);
        goto done;
    }
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        goto done;
    }
    const void *buf = value == Py_None ? NULL : view.obj != NULL ? view.buf : (void *)&as_int;
    if (sys_setsockopt(fd, level, optname, buf, (sys_socklen_t)optlen) < 0) {
        error_set_from_sys(sys_last_error());
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    if (view.obj != NULL) {
        PyBuffer_Release(&view);
    }
    return result;
}


PyMethodDef socket_sockopt_methods[] = {
    {"getsockopt", FASTCALL_KW(socket_getsockopt),
     "getsockopt($self, level, optname, buflen=None)\n--\n\n"
     "Returns int (no buflen) or bytes (at most buflen, 1-65536): any socket option, as "
     "the stdlib's socket.getsockopt. Prefer the typed accessors where they exist."},
    {"setsockopt", FASTCALL_KW(socket_setsockopt),
     "setsockopt($self, level, optname, value, optlen=None)\n--\n\n"
     "Sets any socket option to an int (a C int), a bytes-like value, or None with "
     "optlen (a NULL value of optlen bytes), as the stdlib's socket.setsockopt."},
    {NULL, NULL, 0, NULL},
};
