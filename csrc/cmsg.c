/* Control messages (ancillary data): the one bounds-checked walker that every parser uses,
 * the build/parse/space/len functions behind pysock2.cmsg, and the constants and struct
 * sizes the Python typed helpers need (so that no platform layout is written in Python). */
#include "msg.h"

#include <string.h>
#ifdef __linux__
#  include <linux/net_tstamp.h>
#  include <netinet/udp.h>
#endif

/* The most payload one message may carry: cmsg_len is a 32-bit socklen_t on the BSDs. */
#define CMSG_MAX_DATA ((size_t)INT_MAX - 256)

int
cmsg_walk(const char *buf, size_t len, cmsg_visit visit, void *ctx, size_t *where)
{
    const size_t header = sys_cmsg_len(0);
    size_t offset = 0;
    /* Invariant: offset <= len, so len - offset never wraps. */
    while (len - offset >= header) {
        sys_cmsghdr hdr;
        memcpy(&hdr, buf + offset, sizeof(hdr));  /* buf may be unaligned */
        size_t cmsg_len = (size_t)hdr.cmsg_len;
        if (cmsg_len < header || cmsg_len > len - offset) {
            if (where != NULL) {
                *where = offset;
            }
            return -2;
        }
        cmsg_item item = {hdr.cmsg_level, hdr.cmsg_type, buf + offset + header, cmsg_len - header};
        int rc = visit(&item, ctx);
        if (rc != 0) {
            return rc;
        }
        size_t step = sys_cmsg_next(cmsg_len);
        if (step >= len - offset) {
            break;  /* the last message, possibly without its trailing padding */
        }
        offset += step;
    }
    return 0;
}

static int
append_item(const cmsg_item *item, void *ctx)
{
    PyObject *entry =
        Py_BuildValue("(iiy#)", item->level, item->type, item->data, (Py_ssize_t)item->len);
    if (entry == NULL) {
        return -1;
    }
    int rc = PyList_Append((PyObject *)ctx, entry);
    Py_DECREF(entry);
    return rc;
}

PyObject *
cmsg_parse_list(const char *buf, size_t len)
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    size_t where = 0;
    int rc = cmsg_walk(buf, len, append_item, list, &where);
    if (rc == 0) {
        return list;
    }
    Py_DECREF(list);
    if (rc == -2) {
        PyErr_Format(PyExc_ValueError,
                     "malformed control data: the message at offset %zu has a cmsg_len "
                     "smaller than its header or larger than the %zu bytes left",
                     where, len - where);
    }
    return NULL;
}

typedef struct {
    int *fds;          /* room for `max` descriptors (may be NULL with max 0: count only) */
    Py_ssize_t max;
    Py_ssize_t count;
    int close_them;    /* close each descriptor and overwrite its number with -1 */
} fd_collector;

static int
collect_item(const cmsg_item *item, void *ctx)
{
#ifdef SCM_RIGHTS
    fd_collector *c = ctx;
    if (item->level != SOL_SOCKET || item->type != SCM_RIGHTS) {
        return 0;
    }
    /* Only whole ints are descriptors; a partial one cannot have been installed. */
    for (size_t i = 0; i + sizeof(int) <= item->len; i += sizeof(int)) {
        int fd;
        memcpy(&fd, item->data + i, sizeof(int));
        if (c->close_them) {
            static const int closed = -1;
            /* The number may be reused at once: leave -1 in its place. (The walker hands
             * out const data; cmsg_close_fds' buffer is writable.) */
            sys_close(fd);
            memcpy((char *)item->data + i, &closed, sizeof(int));
        }
        else if (c->count < c->max) {
            c->fds[c->count] = fd;
        }
        c->count++;
    }
#else
    (void)item;
    (void)ctx;
#endif
    return 0;
}

/* Visits every descriptor in buf[0:len], also those of a last message cut short
 * (MSG_CTRUNC): some kernels leave its cmsg_len at the full size while installing only
 * the descriptors that fit, and those must not be lost. */
static void
walk_fds(const char *buf, size_t len, fd_collector *c)
{
    size_t where = 0;
    if (cmsg_walk(buf, len, collect_item, c, &where) != -2) {
        return;
    }
    sys_cmsghdr hdr;
    const size_t header = sys_cmsg_len(0);
    memcpy(&hdr, buf + where, sizeof(hdr));
    if ((size_t)hdr.cmsg_len > len - where) {  /* not one shorter than its header */
        cmsg_item clipped = {hdr.cmsg_level, hdr.cmsg_type, buf + where + header,
                             len - where - header};
        (void)collect_item(&clipped, c);
    }
}

Py_ssize_t
cmsg_collect_fds(const char *buf, size_t len, int *fds, Py_ssize_t max)
{
    fd_collector c = {fds, max, 0, 0};
    walk_fds(buf, len, &c);
    return c.count;
}

void
cmsg_close_fds(char *buf, size_t len)
{
    fd_collector c = {NULL, 0, 0, 1};
    walk_fds(buf, len, &c);
}

/* ---------------------------------------------------------------- module functions */

static int
payload_size_arg(const char *fname, PyObject *obj, size_t *out)
{
    Py_ssize_t n;
    if (args_size(fname, "n", obj, &n) < 0) {
        return -1;
    }
    if ((size_t)n > CMSG_MAX_DATA) {
        PyErr_Format(PyExc_OverflowError, "%s() payload of %zd bytes is too large", fname, n);
        return -1;
    }
    *out = (size_t)n;
    return 0;
}

static PyObject *
cmsg_space(PyObject *module, PyObject *arg)
{
    (void)module;
    size_t n;
    return payload_size_arg("cmsg_space", arg, &n) < 0 ? NULL
                                                       : PyLong_FromSize_t(sys_cmsg_space(n));
}

static PyObject *
cmsg_length(PyObject *module, PyObject *arg)
{
    (void)module;
    size_t n;
    return payload_size_arg("cmsg_len", arg, &n) < 0 ? NULL : PyLong_FromSize_t(sys_cmsg_len(n));
}

static PyObject *
cmsg_build(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)module;
    static const char *const names[] = {"level", "type", "data"};
    PyObject *argv[3];
    int level, type;
    Py_buffer data;
    if (args_parse("cmsg_build", args, nargs, kwnames, names, 3, 3, argv) < 0
        || args_int("cmsg_build", "level", argv[0], &level) < 0
        || args_int("cmsg_build", "type", argv[1], &type) < 0
        || args_readable_buffer("cmsg_build", argv[2], &data) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    if ((size_t)data.len > CMSG_MAX_DATA) {
        PyErr_Format(PyExc_OverflowError, "cmsg_build() payload of %zd bytes is too large",
                     data.len);
        goto done;
    }
    size_t space = sys_cmsg_space((size_t)data.len);
#if PY_VERSION_HEX >= 0x030F0000  /* 3.15 soft-deprecates PyBytes_FromStringAndSize(NULL) */
    PyBytesWriter *writer = PyBytesWriter_Create((Py_ssize_t)space);
    if (writer == NULL) {
        goto done;
    }
    char *out = PyBytesWriter_GetData(writer);
#else
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)space);
    if (result == NULL) {
        goto done;
    }
    char *out = PyBytes_AS_STRING(result);
#endif
    memset(out, 0, space);  /* header padding and trailing alignment */
    sys_cmsghdr hdr;
    memset(&hdr, 0, sizeof(hdr));
    hdr.cmsg_len = sys_cmsg_len((size_t)data.len);
    hdr.cmsg_level = level;
    hdr.cmsg_type = type;
    memcpy(out, &hdr, sizeof(hdr));
    if (data.len > 0) {
        memcpy(out + sys_cmsg_len(0), data.buf, (size_t)data.len);
    }
#if PY_VERSION_HEX >= 0x030F0000
    result = PyBytesWriter_Finish(writer);
#endif
done:
    PyBuffer_Release(&data);
    return result;
}

static PyObject *
cmsg_parse(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer view;
    if (args_readable_buffer("cmsg_parse", arg, &view) < 0) {
        return NULL;
    }
    PyObject *list = cmsg_parse_list(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return list;
}


PyMethodDef cmsg_functions[] = {
    {"cmsg_space", (PyCFunction)cmsg_space, METH_O,
     "cmsg_space($module, n, /)\n--\n\nReturns int: CMSG_SPACE(n), the room one message with "
     "n data bytes takes."},
    {"cmsg_len", (PyCFunction)cmsg_length, METH_O,
     "cmsg_len($module, n, /)\n--\n\nReturns int: CMSG_LEN(n), the cmsg_len of a message "
     "with n data bytes."},
    {"cmsg_build", FASTCALL_KW(cmsg_build),
     "cmsg_build($module, level, type, data)\n--\n\nReturns bytes: one complete, aligned "
     "control message."},
    {"cmsg_parse", (PyCFunction)cmsg_parse, METH_O,
     "cmsg_parse($module, control, /)\n--\n\nReturns list[(level, type, data)]: the "
     "messages in control; ValueError if malformed."},
    {NULL, NULL, 0, NULL},
};

/* ---------------------------------------------------------------- constants */

typedef struct {
    const char *name;
    long value;
} msg_constant;

#define C(name) {#name, (long)(name)}
static const msg_constant constants[] = {
    {"IOV_MAX", SYS_IOV_MAX},
    {"SIZEOF_INT", (long)sizeof(int)},
#ifdef MSG_CMSG_CLOEXEC
    C(MSG_CMSG_CLOEXEC),
#endif
#ifdef SCM_RIGHTS
    C(SCM_RIGHTS),
#endif
#if defined(SCM_CREDENTIALS) && defined(__linux__)
    C(SCM_CREDENTIALS),
    C(SO_PASSCRED),
    {"SIZEOF_UCRED", (long)sizeof(struct ucred)},
    {"SIZEOF_PID_T", (long)sizeof(pid_t)},
    {"SIZEOF_UID_T", (long)sizeof(uid_t)},
    {"SIZEOF_GID_T", (long)sizeof(gid_t)},
#endif
    C(IP_TOS),
    C(IP_TTL),
#ifdef IP_RECVTOS
    C(IP_RECVTOS),
#endif
#ifdef IP_RECVTTL
    C(IP_RECVTTL),
#endif
#ifdef IPV6_TCLASS
    C(IPV6_TCLASS),
#endif
#ifdef IPV6_RECVTCLASS
    C(IPV6_RECVTCLASS),
#endif
#ifdef IPV6_HOPLIMIT
    C(IPV6_HOPLIMIT),
#endif
#ifdef IPV6_RECVHOPLIMIT
    C(IPV6_RECVHOPLIMIT),
#endif
#if defined(IP_PKTINFO) && !defined(_WIN32)
    /* Windows' IN_PKTINFO has another layout; only the Unix one is described here. */
    C(IP_PKTINFO),
    {"SIZEOF_IN_PKTINFO", (long)sizeof(struct in_pktinfo)},
#endif
#if defined(IPV6_PKTINFO) && !defined(_WIN32)
    C(IPV6_PKTINFO),
    {"SIZEOF_IN6_PKTINFO", (long)sizeof(struct in6_pktinfo)},
#endif
#ifdef IPV6_RECVPKTINFO
    C(IPV6_RECVPKTINFO),
#endif
#ifndef _WIN32
    {"SIZEOF_TIME_T", (long)sizeof(time_t)},
    {"SIZEOF_LONG", (long)sizeof(long)},
    {"SIZEOF_SUSECONDS_T", (long)sizeof(suseconds_t)},
    {"SIZEOF_TIMEVAL", (long)sizeof(struct timeval)},
    {"SIZEOF_TIMESPEC", (long)sizeof(struct timespec)},
#endif
#if defined(SO_TIMESTAMP) && defined(SCM_TIMESTAMP)  /* Windows has only the option */
    C(SO_TIMESTAMP),
    C(SCM_TIMESTAMP),
#endif
#ifdef SO_TIMESTAMPNS
    C(SO_TIMESTAMPNS),
    C(SCM_TIMESTAMPNS),
#endif
#ifdef SO_TIMESTAMPING
    C(SO_TIMESTAMPING),
    C(SCM_TIMESTAMPING),
    C(SOF_TIMESTAMPING_TX_HARDWARE),
    C(SOF_TIMESTAMPING_TX_SOFTWARE),
    C(SOF_TIMESTAMPING_RX_HARDWARE),
    C(SOF_TIMESTAMPING_RX_SOFTWARE),
    C(SOF_TIMESTAMPING_SOFTWARE),
    C(SOF_TIMESTAMPING_RAW_HARDWARE),
    C(SOF_TIMESTAMPING_OPT_ID),
    C(SOF_TIMESTAMPING_TX_SCHED),
    C(SOF_TIMESTAMPING_TX_ACK),
    C(SOF_TIMESTAMPING_OPT_CMSG),
    C(SOF_TIMESTAMPING_OPT_TSONLY),
#endif
#if defined(UDP_SEGMENT) && defined(__linux__)
    C(SOL_UDP),
    C(UDP_SEGMENT),
    C(UDP_GRO),
#endif
};
#undef C

int
cmsg_add_constants(PyObject *module)
{
    for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++) {
        if (PyModule_AddIntConstant(module, constants[i].name, constants[i].value) < 0) {
            return -1;
        }
    }
    return 0;
}
