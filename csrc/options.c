/* Socket options as data: every plain option is a row of options_table.h, and one generic
 * getter and setter convert between the kernel's value and Python for each value shape.
 * The methods are generated from the table; options that are not a plain value are in
 * multicast.c and options_special.c. docs/options.md is the user-facing description. */
#include "options.h"

#include <math.h>
#include <string.h>

typedef enum {
    SHAPE_BOOL,           /* int 0/1 <-> bool */
    SHAPE_INT,            /* int <-> int (read-only rows) */
    SHAPE_OPTIONAL_INT,   /* int, 0 read as None (read-only) */
    SHAPE_NONNEG,         /* int >= 0 (sizes, counts, modes); read back as the kernel says */
    SHAPE_U32,            /* socket2's u32 in a C int */
    SHAPE_U8,             /* one byte (DCCP_SOCKOPT_CCID) */
    SHAPE_U64,            /* a 64-bit unsigned value (read-only) */
    SHAPE_OPTIONAL_U32,   /* an interface index, None <-> 0 */
    SHAPE_BE_U32,         /* an interface index in network byte order (IP_UNICAST_IF) */
    SHAPE_SECONDS,        /* int seconds -> float seconds (read-only) */
    SHAPE_MILLIS,         /* unsigned milliseconds <-> float seconds, None <-> 0 */
    SHAPE_TIMEOUT,        /* SO_RCVTIMEO/SO_SNDTIMEO <-> float seconds, None for none */
    SHAPE_LINGER,         /* struct linger <-> whole seconds as float, None when off */
    SHAPE_IPV4,           /* struct in_addr <-> ipaddress.IPv4Address */
    SHAPE_BYTES,          /* a short name (TCP_CONGESTION) <-> bytes, no trailing NULs */
    SHAPE_OPTIONAL_BYTES, /* a short name (SO_BINDTODEVICE), None/empty unbinds */
} option_shape;

typedef struct {
    const char *get;      /* NULL for a write-only option */
    const char *set;      /* NULL for a read-only option */
    int level;
    int optname;
    option_shape shape;
} option_row;

/* The table, as an array indexed by OPT_<getter> (OPT_<setter> for write-only rows). */
enum {
#define OPTION(get, set, level, optname, shape) OPT_##get,
#define OPTION_GET(get, level, optname, shape) OPT_##get,
#define OPTION_SET(set, level, optname, shape) OPT_##set,
#include "options_table.h"
#undef OPTION
#undef OPTION_GET
#undef OPTION_SET
    OPT_COUNT
};

static const option_row option_rows[OPT_COUNT] = {
#define OPTION(get, set, level, optname, shape) {#get, #set, level, optname, SHAPE_##shape},
#define OPTION_GET(get, level, optname, shape) {#get, NULL, level, optname, SHAPE_##shape},
#define OPTION_SET(set, level, optname, shape) {NULL, #set, level, optname, SHAPE_##shape},
#include "options_table.h"
#undef OPTION
#undef OPTION_GET
#undef OPTION_SET
};

/* ---------------------------------------------------------------- shared helpers */

int
option_uint_arg(const char *fname, const char *what, PyObject *obj, unsigned long long max,
                unsigned long long *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s() %s must be an int, not %.100s", fname, what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow < 0 || (overflow == 0 && value < 0)) {
        PyErr_Format(PyExc_ValueError, "%s() %s must be >= 0, not %R", fname, what, obj);
        return -1;
    }
    if (overflow > 0 || (unsigned long long)value > max) {
        PyErr_Format(PyExc_OverflowError, "%s() %s must be <= %llu, not %R", fname, what, max, obj);
        return -1;
    }
    *out = (unsigned long long)value;
    return 0;
}

static int
ip_arg(module_state *state, const char *fname, const char *what, PyObject *obj, int family,
       void *out)
{
    unsigned char raw[16];
    int got = 0;
    uint32_t scope_id = 0;
    if (sockaddr_parse_host(state, obj, &got, raw, &scope_id) < 0) {
        return -1;
    }
    if (got != family) {
        PyErr_Format(PyExc_ValueError, "%s() %s must be an %s address, not %R", fname, what,
                     family == AF_INET ? "IPv4" : "IPv6", obj);
        return -1;
    }
    memcpy(out, raw, family == AF_INET ? 4 : 16);
    return 0;
}

int
option_ipv4_arg(module_state *state, const char *fname, const char *what, PyObject *obj,
                struct in_addr *out)
{
    return ip_arg(state, fname, what, obj, AF_INET, out);
}

int
option_ipv6_arg(module_state *state, const char *fname, const char *what, PyObject *obj,
                struct in6_addr *out)
{
    return ip_arg(state, fname, what, obj, AF_INET6, out);
}

int
option_checked(int rc)
{
    if (rc < 0) {
        error_set_from_sys(sys_last_error());
        return -1;
    }
    return 0;
}

int
option_getsockopt(SocketObject *self, int level, int name, void *value, sys_socklen_t *len)
{
    sys_socket_t fd = socket_checked_fd(self);
    return fd == SYS_INVALID_SOCKET ? -1
                                    : option_checked(sys_getsockopt(fd, level, name, value, len));
}

int
option_setsockopt(SocketObject *self, int level, int name, const void *value, sys_socklen_t len)
{
    sys_socket_t fd = socket_checked_fd(self);
    return fd == SYS_INVALID_SOCKET ? -1
                                    : option_checked(sys_setsockopt(fd, level, name, value, len));
}

/* ---------------------------------------------------------------- values */

typedef union {
    int i;
    unsigned char u8;
    uint64_t u64;
    struct linger linger;
    struct in_addr in4;
    char name[PYSOCK2_NAME_MAX + 1];
} option_value;

static sys_socklen_t
value_size(option_shape shape)
{
    switch (shape) {
    case SHAPE_U8:
        return 1;
    case SHAPE_U64:
        return sizeof(uint64_t);
    case SHAPE_LINGER:
        return sizeof(struct linger);
    case SHAPE_IPV4:
        return sizeof(struct in_addr);
    case SHAPE_BYTES:
    case SHAPE_OPTIONAL_BYTES:
        return PYSOCK2_NAME_MAX + 1;
    default:
        return sizeof(int);
    }
}

/* A name as the kernel returned it, without the NUL padding; None when empty and the shape
 * says so. */
static PyObject *
name_object(const option_value *v, sys_socklen_t len, int optional)
{
    size_t n = len > PYSOCK2_NAME_MAX + 1 ? PYSOCK2_NAME_MAX + 1 : (size_t)len;
    while (n > 0 && v->name[n - 1] == '\0') {
        n--;
    }
    if (n == 0 && optional) {
        Py_RETURN_NONE;
    }
    return PyBytes_FromStringAndSize(v->name, (Py_ssize_t)n);
}

static PyObject *
value_object(module_state *state, const option_row *row, const option_value *v, sys_socklen_t len)
{
    unsigned int u = (unsigned int)v->i;
    switch (row->shape) {
    case SHAPE_BOOL:
        return PyBool_FromLong(v->i != 0);
    case SHAPE_OPTIONAL_INT:
        if (v->i == 0) {
            Py_RETURN_NONE;
        }
        return PyLong_FromLong(v->i);
    case SHAPE_U32:
        return PyLong_FromUnsignedLong(u);
    case SHAPE_U8:
        return PyLong_FromLong(v->u8);
    case SHAPE_U64:
        return PyLong_FromUnsignedLongLong(v->u64);
    case SHAPE_OPTIONAL_U32:
        if (u == 0) {
            Py_RETURN_NONE;
        }
        return PyLong_FromUnsignedLong(u);
    case SHAPE_BE_U32:
        return PyLong_FromUnsignedLong(ntohl(u));
    case SHAPE_SECONDS:
        return PyFloat_FromDouble((double)u);
    case SHAPE_MILLIS:
        if (u == 0) {
            Py_RETURN_NONE;
        }
        return PyFloat_FromDouble((double)u / 1e3);
    case SHAPE_LINGER:
        if (v->linger.l_onoff == 0) {
            Py_RETURN_NONE;
        }
        return PyFloat_FromDouble((double)v->linger.l_linger);
    case SHAPE_IPV4:
        return sockaddr_ip_object(state, AF_INET, &v->in4);
    case SHAPE_BYTES:
    case SHAPE_OPTIONAL_BYTES:
        return name_object(v, len, row->shape == SHAPE_OPTIONAL_BYTES);
    default: /* SHAPE_INT, SHAPE_NONNEG: as the kernel reports it */
        return PyLong_FromLong(v->i);
    }
}

/* A short name from bytes-like or str: at most PYSOCK2_NAME_MAX bytes and no NUL, which
 * the kernel would otherwise silently cut. */
static int
name_value(const char *fname, PyObject *obj, option_value *v, sys_socklen_t *len)
{
    Py_buffer view;
    const char *data;
    Py_ssize_t n;
    int have_view = 0;
    if (PyUnicode_Check(obj)) {
        data = PyUnicode_AsUTF8AndSize(obj, &n);
        if (data == NULL) {
            return -1;
        }
    }
    else {
        if (args_readable_buffer(fname, obj, &view) < 0) {
            return -1;
        }
        have_view = 1;
        data = view.buf;
        n = view.len;
    }
    int rc = -1;
    if (n > PYSOCK2_NAME_MAX) {
        PyErr_Format(PyExc_ValueError, "%s() name is longer than %d bytes", fname,
                     PYSOCK2_NAME_MAX);
    }
    else if (memchr(data, '\0', (size_t)n) != NULL) {
        PyErr_Format(PyExc_ValueError, "%s() name must not contain NUL", fname);
    }
    else {
        memcpy(v->name, data, (size_t)n);
        *len = (sys_socklen_t)n;
        rc = 0;
    }
    if (have_view) {
        PyBuffer_Release(&view);
    }
    return rc;
}

/* A duration in whole units of `unit_usec` microseconds, at most `max` units; rounds up so
 * that a tiny positive duration never becomes zero (which means "unset"). */
static int
duration_units(module_state *state, const char *fname, PyObject *obj, int64_t unit_usec,
               unsigned long long max, int round_up, unsigned long long *out)
{
    int64_t usec;
    if (args_duration(state, fname, obj, &usec) < 0) {
        return -1;
    }
    unsigned long long units = (unsigned long long)(usec / unit_usec);
    if (round_up && usec % unit_usec != 0) {
        units++;
    }
    if (units > max) {
        PyErr_Format(PyExc_OverflowError, "%s() duration %R is too large", fname, obj);
        return -1;
    }
    *out = units;
    return 0;
}

/* Converts and validates a setter's argument before any system call. */
static int
value_from_object(module_state *state, const option_row *row, const char *fname, PyObject *obj,
                  option_value *v, sys_socklen_t *len)
{
    unsigned long long n = 0;
    *len = value_size(row->shape);
    switch (row->shape) {
    case SHAPE_BOOL:
        if (!PyLong_Check(obj)) {
            PyErr_Format(PyExc_TypeError, "%s() takes a bool, not %.100s", fname,
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
        v->i = PyObject_IsTrue(obj);
        return v->i < 0 ? -1 : 0;
    case SHAPE_NONNEG:
        if (option_uint_arg(fname, "value", obj, INT_MAX, &n) < 0) {
            return -1;
        }
        v->i = (int)n;
        return 0;
    case SHAPE_U32:
    case SHAPE_BE_U32:
        if (option_uint_arg(fname, "value", obj, UINT32_MAX, &n) < 0) {
            return -1;
        }
        v->i = (int)(row->shape == SHAPE_BE_U32 ? htonl((uint32_t)n) : (uint32_t)n);
        return 0;
    case SHAPE_U8:
        if (option_uint_arg(fname, "value", obj, UCHAR_MAX, &n) < 0) {
            return -1;
        }
        v->u8 = (unsigned char)n;
        return 0;
    case SHAPE_OPTIONAL_U32:
        if (obj != Py_None) {
            if (option_uint_arg(fname, "interface index", obj, UINT32_MAX, &n) < 0) {
                return -1;
            }
            if (n == 0) {
                PyErr_Format(PyExc_ValueError,
                             "%s() interface index must be >= 1; None "
                             "removes the binding",
                             fname);
                return -1;
            }
        }
        v->i = (int)(uint32_t)n;
        return 0;
    case SHAPE_MILLIS:
        if (obj != Py_None && duration_units(state, fname, obj, 1000, UINT_MAX, 1, &n) < 0) {
            return -1;
        }
        v->i = (int)(unsigned int)n;
        return 0;
    case SHAPE_LINGER: {
        /* l_linger is an int, or an unsigned short on Windows. */
        unsigned long long max = sizeof(v->linger.l_linger) == 2 ? USHRT_MAX : INT_MAX;
        if (obj != Py_None && duration_units(state, fname, obj, 1000000, max, 0, &n) < 0) {
            return -1;
        }
        /* A fraction of a second would truncate to 0, which is not a short linger but an
         * abortive close (RST): refuse it rather than change what close() does. */
        if (obj != Py_None && n == 0 && PyObject_IsTrue(obj)) {
            PyErr_Format(PyExc_ValueError,
                         "%s() linger is in whole seconds: %R would be 0, "
                         "which resets the connection on close(); pass 0 for that",
                         fname, obj);
            return -1;
        }
        memset(&v->linger, 0, sizeof(v->linger));
        v->linger.l_onoff = obj != Py_None;
        v->linger.l_linger = (int)n;
        return 0;
    }
    case SHAPE_IPV4:
        return option_ipv4_arg(state, fname, "interface", obj, &v->in4);
    case SHAPE_OPTIONAL_BYTES:
        if (obj == Py_None) {
            *len = 0;
            return 0;
        }
        return name_value(fname, obj, v, len);
    case SHAPE_BYTES:
        return name_value(fname, obj, v, len);
    default:
        PyErr_Format(PyExc_SystemError, "%s(): option shape %d cannot be set", fname,
                     (int)row->shape);
        return -1;
    }
}

/* ---------------------------------------------------------------- generic get/set */

static PyObject *
option_get(SocketObject *self, const option_row *row)
{
    if (row->shape == SHAPE_TIMEOUT) {
        sys_socket_t fd = socket_checked_fd(self);
        int64_t usec = 0;
        if (fd == SYS_INVALID_SOCKET
            || option_checked(sys_get_timeout(fd, row->optname, &usec)) < 0) {
            return NULL;
        }
        return args_seconds_from_usec(usec);
    }
    option_value v;
    memset(&v, 0, sizeof(v));
    sys_socklen_t len = value_size(row->shape);
    if (option_getsockopt(self, row->level, row->optname, &v, &len) < 0) {
        return NULL;
    }
    return value_object(self->state, row, &v, len);
}

static PyObject *
option_set(SocketObject *self, const option_row *row, PyObject *obj)
{
    const char *fname = row->set;
    if (row->shape == SHAPE_TIMEOUT) {
        int64_t usec = 0;
        if (obj != Py_None) {
            if (args_duration(self->state, fname, obj, &usec) < 0) {
                return NULL;
            }
            if (usec == 0) {
                PyErr_Format(PyExc_ValueError,
                             "%s() timeout must be positive; None means "
                             "no timeout",
                             fname);
                return NULL;
            }
        }
        sys_socket_t fd = socket_checked_fd(self);
        if (fd == SYS_INVALID_SOCKET
            || option_checked(sys_set_timeout(fd, row->optname, usec)) < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    option_value v;
    sys_socklen_t len;
    memset(&v, 0, sizeof(v));
    if (value_from_object(self->state, row, fname, obj, &v, &len) < 0
        || option_setsockopt(self, row->level, row->optname, &v, len) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- generated methods */

/* optset_<key> sets row OPT_<key>; the getter's name is the key of a get/set pair. */
#define SETTER(key)                                                    \
    static PyObject *optset_##key(SocketObject *self, PyObject *value) \
    {                                                                  \
        return option_set(self, &option_rows[OPT_##key], value);       \
    }
#define OPTION_GET(get, level, optname, shape)                          \
    static PyObject *optget_##get(SocketObject *self, PyObject *unused) \
    {                                                                   \
        (void)unused;                                                   \
        return option_get(self, &option_rows[OPT_##get]);               \
    }
#define OPTION_SET(set, level, optname, shape) SETTER(set)
#define OPTION(get, set, level, optname, shape) OPTION_GET(get, level, optname, shape) SETTER(get)
#include "options_table.h"
#undef OPTION
#undef OPTION_GET
#undef OPTION_SET
#undef SETTER

/* ---------------------------------------------------------------- hand-written */

static PyObject *
socket_take_error(SocketObject *self, PyObject *unused)
{
    (void)unused;
    int err = 0;
    sys_socklen_t len = sizeof(err);
    if (option_getsockopt(self, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return NULL;
    }
    if (err == 0) {
        Py_RETURN_NONE;
    }
    return error_from_sys(err);
}

/* ---------------------------------------------------------------- the method table */

/* What each shape reads as and accepts, for the docstrings. */
#define GET_DOC_BOOL "a bool"
#define GET_DOC_INT "an int"
#define GET_DOC_OPTIONAL_INT "an int, or None for 0"
#define GET_DOC_NONNEG "an int"
#define GET_DOC_U32 "an int"
#define GET_DOC_U64 "an int"
#define GET_DOC_OPTIONAL_U32 "an interface index, or None when unset"
#define GET_DOC_BE_U32 "an interface index (0: none)"
#define GET_DOC_SECONDS "float seconds"
#define GET_DOC_MILLIS "float seconds, or None for the system default"
#define GET_DOC_TIMEOUT "float seconds, or None for no timeout"
#define GET_DOC_LINGER "whole seconds as a float, or None when off"
#define GET_DOC_IPV4 "an ipaddress.IPv4Address"
#define GET_DOC_BYTES "bytes"
#define GET_DOC_OPTIONAL_BYTES "bytes, or None when unset"
#define SET_DOC_BOOL "a bool"
#define SET_DOC_NONNEG "an int >= 0"
#define SET_DOC_U32 "an int in [0, 2**32)"
#define SET_DOC_U8 "an int in [0, 255]"
#define SET_DOC_OPTIONAL_U32 "an interface index >= 1, or None to remove the binding"
#define SET_DOC_BE_U32 "an interface index (0: none)"
#define SET_DOC_MILLIS "seconds (float, int or timedelta), or None for the system default"
#define SET_DOC_TIMEOUT "seconds (float, int or timedelta), or None for no timeout"
#define SET_DOC_LINGER "seconds (whole seconds are used), or None to turn it off"
#define SET_DOC_IPV4 "an IPv4 address (str or ipaddress.IPv4Address)"
#define SET_DOC_BYTES "bytes or str of at most 15 bytes"
#define SET_DOC_OPTIONAL_BYTES "bytes or str of at most 15 bytes, or None to unbind"

/* The table macros stringify the option's C name themselves: passed on to another macro
 * first, it would be expanded to its number. */
#define GET_ENTRY(get, where, shape)               \
    {#get, (PyCFunction)optget_##get, METH_NOARGS, \
     #get "($self, /)\n--\n\nReads " where " as " GET_DOC_##shape "."},
#define SET_ENTRY(set, key, where, shape)     \
    {#set, (PyCFunction)optset_##key, METH_O, \
     #set "($self, value, /)\n--\n\nSets " where " to " SET_DOC_##shape "."},

PyMethodDef socket_option_methods[] = {
#define OPTION_GET(get, level, optname, shape) GET_ENTRY(get, #optname " (" #level ")", shape)
#define OPTION_SET(set, level, optname, shape) SET_ENTRY(set, set, #optname " (" #level ")", shape)
#define OPTION(get, set, level, optname, shape)     \
    GET_ENTRY(get, #optname " (" #level ")", shape) \
    SET_ENTRY(set, get, #optname " (" #level ")", shape)
#include "options_table.h"
#undef OPTION
#undef OPTION_GET
#undef OPTION_SET
    {"take_error", (PyCFunction)socket_take_error, METH_NOARGS,
     "take_error($self, /)\n--\n\nReads and clears SO_ERROR: an OSError, or None."},
    {NULL, NULL, 0, NULL},
};
