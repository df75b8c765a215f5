/* Socket options as data: every plain option is a row of options_table.h, and one generic
 * getter and setter per value shape do the work. The per-row methods below are generated
 * from the table; only options that are not a plain value are written by hand. */
#include "pysock2.h"

#include <string.h>

typedef enum {
    SHAPE_BOOL,          /* int 0/1 <-> bool */
    SHAPE_INT,           /* int <-> int */
    SHAPE_OPTIONAL_INT,  /* int, 0 read as None (read-only) */
    SHAPE_TIMEOUT,       /* SO_RCVTIMEO/SO_SNDTIMEO <-> float seconds or None */
} option_shape;

typedef struct {
    const char *name;
    int level;
    int optname;
    option_shape shape;
} option_row;

/* The table, as an array indexed by OPT_<getter>. */
enum {
#define OPTION(get, set, level, optname, shape) OPT_##get,
#define OPTION_GET(get, level, optname, shape) OPT_##get,
#include "options_table.h"
#undef OPTION
#undef OPTION_GET
    OPT_COUNT
};

static const option_row option_rows[OPT_COUNT] = {
#define OPTION(get, set, level, optname, shape) {#get, level, optname, SHAPE_##shape},
#define OPTION_GET(get, level, optname, shape) {#get, level, optname, SHAPE_##shape},
#include "options_table.h"
#undef OPTION
#undef OPTION_GET
};

/* ---------------------------------------------------------------- generic get/set */

static PyObject *
option_get(SocketObject *self, const option_row *row)
{
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    if (row->shape == SHAPE_TIMEOUT) {
        int64_t usec;
        if (sys_get_timeout(fd, row->optname, &usec) < 0) {
            return sys_set_error(sys_last_error());
        }
        return seconds_from_usec(usec);
    }
    int value = 0;
    sys_socklen_t len = sizeof(value);
    if (sys_getsockopt(fd, row->level, row->optname, &value, &len) < 0) {
        return sys_set_error(sys_last_error());
    }
    switch (row->shape) {
    case SHAPE_BOOL:
        return PyBool_FromLong(value != 0);
    case SHAPE_OPTIONAL_INT:
        if (value == 0) {
            Py_RETURN_NONE;
        }
        return PyLong_FromLong(value);
    default:
        return PyLong_FromLong(value);
    }
}

static int
bool_value(const option_row *row, PyObject *value, int *out)
{
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "set_%s() takes a bool, not %.100s", row->name,
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    *out = PyObject_IsTrue(value);
    return *out < 0 ? -1 : 0;
}

static PyObject *
option_set(SocketObject *self, const option_row *row, PyObject *value)
{
    char fname[64];
    PyOS_snprintf(fname, sizeof(fname), "set_%s", row->name);
    int64_t usec = 0;
    int ivalue = 0;
    /* Convert and validate before touching the descriptor. */
    switch (row->shape) {
    case SHAPE_TIMEOUT:
        if (value != Py_None) {
            if (duration_arg(fname, value, &usec) < 0) {
                return NULL;
            }
            if (usec == 0) {
                PyErr_Format(PyExc_ValueError, "%s() timeout must be positive; None means "
                             "no timeout", fname);
                return NULL;
            }
        }
        break;
    case SHAPE_BOOL:
        if (bool_value(row, value, &ivalue) < 0) {
            return NULL;
        }
        break;
    default:
        if (int_arg(fname, "value", value, &ivalue) < 0) {
            return NULL;
        }
    }
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    int rc = row->shape == SHAPE_TIMEOUT
                 ? sys_set_timeout(fd, row->optname, usec)
                 : sys_setsockopt(fd, row->level, row->optname, &ivalue, sizeof(ivalue));
    if (rc < 0) {
        return sys_set_error(sys_last_error());
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- generated methods */

#define OPTION_GET(get, level, optname, shape)                                              \
    static PyObject *get_##get(SocketObject *self, PyObject *unused)                        \
    {                                                                                       \
        (void)unused;                                                                       \
        return option_get(self, &option_rows[OPT_##get]);                                   \
    }
#define OPTION(get, set, level, optname, shape)                                             \
    OPTION_GET(get, level, optname, shape)                                                  \
    static PyObject *set_##get(SocketObject *self, PyObject *value)                         \
    {                                                                                       \
        return option_set(self, &option_rows[OPT_##get], value);                            \
    }
#include "options_table.h"
#undef OPTION
#undef OPTION_GET

/* ---------------------------------------------------------------- hand-written */

static PyObject *
socket_take_error(SocketObject *self, PyObject *unused)
{
    (void)unused;
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    int err = 0;
    sys_socklen_t len = sizeof(err);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return sys_set_error(sys_last_error());
    }
    if (err == 0) {
        Py_RETURN_NONE;
    }
    return sys_error_object(err);
}

PyMethodDef socket_option_methods[] = {
#define OPTION_GET(get, level, optname, shape)                                              \
    {#get, (PyCFunction)get_##get, METH_NOARGS, #get "() -> " #shape ": " #level "/" #optname},
#define OPTION(get, set, level, optname, shape)                                             \
    OPTION_GET(get, level, optname, shape)                                                  \
    {#set, (PyCFunction)set_##get, METH_O, #set "(value: " #shape "): " #level "/" #optname},
#include "options_table.h"
#undef OPTION
#undef OPTION_GET
    {"take_error", (PyCFunction)socket_take_error, METH_NOARGS,
     "take_error() -> OSError | None: reads and clears SO_ERROR."},
    {NULL, NULL, 0, NULL},
};
