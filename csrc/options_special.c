/* The options that are not a plain value: TCP keepalive (several options at once), BPF
 * socket filters, the original destination of a redirected connection, DCCP's CCID list,
 * TCP_INFO (beyond socket2: raw bytes, which pysock2.TcpInfo decodes) and Windows' ACK
 * frequency ioctl. */
#include "options.h"

#include <string.h>
#ifdef __linux__
#  include <linux/filter.h>
#endif

/* ---------------------------------------------------------------- keepalive */

/* A keepalive time in milliseconds, -1 for None: whole units of the platform (seconds on
 * Unix, the fraction dropped as socket2 does), from one unit to what the kernel accepts.
 * Checked here, before any system call, so that the setting is never half-applied. */
static int
keepalive_ms(module_state *state, const char *what, PyObject *obj, int64_t *ms)
{
    int64_t usec;
    if (obj == NULL || obj == Py_None) {
        *ms = -1;
        return 0;
    }
    if (args_duration(state, "set_tcp_keepalive", obj, &usec) < 0) {
        return -1;
    }
    int64_t units = usec / ((int64_t)SYS_KEEPALIVE_UNIT_MS * 1000);
    if (units == 0) {
        PyErr_Format(PyExc_ValueError,
                     "set_tcp_keepalive() %s must be at least %d ms here "
                     "(the kernel counts whole %s), not %R; None leaves the system's setting",
                     what, SYS_KEEPALIVE_UNIT_MS,
                     SYS_KEEPALIVE_UNIT_MS == 1000 ? "seconds" : "milliseconds", obj);
        return -1;
    }
    if (units > SYS_KEEPALIVE_MAX_MS / SYS_KEEPALIVE_UNIT_MS) {
        PyErr_Format(PyExc_OverflowError,
                     "set_tcp_keepalive() %s %R is over the "
                     "platform's limit of %lld s",
                     what, obj, (long long)(SYS_KEEPALIVE_MAX_MS / 1000));
        return -1;
    }
    *ms = units * SYS_KEEPALIVE_UNIT_MS;
    return 0;
}

static PyObject *
socket_set_tcp_keepalive(SocketObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    static const char *const names[] = {"time", "interval", "retries"};
    PyObject *argv[3];
    int64_t time_ms, interval_ms;
    unsigned long long retries = 0;
    if (args_parse("set_tcp_keepalive", args, nargs, kwnames, names, 0, 3, argv) < 0
        || keepalive_ms(self->state, "time", argv[0], &time_ms) < 0
        || keepalive_ms(self->state, "interval", argv[1], &interval_ms) < 0) {
        return NULL;
    }
    int have_retries = argv[2] != NULL && argv[2] != Py_None;
    if (have_retries
        && option_uint_arg("set_tcp_keepalive", "retries", argv[2], SYS_KEEPALIVE_MAX_RETRIES,
                           &retries)
               < 0) {
        return NULL;
    }
    if (have_retries && retries == 0) {
        PyErr_SetString(PyExc_ValueError, "set_tcp_keepalive() retries must be at least 1 "
                                          "(None leaves the system's setting)");
        return NULL;
    }
    /* Everything is in range: the system calls below can fail only as a whole (a socket
     * that is not TCP refuses the first option, before SO_KEEPALIVE is turned on). */
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET
        || option_checked(
               sys_set_tcp_keepalive(fd, time_ms, interval_ms, have_retries ? (int)retries : -1))
               < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- BPF filters */

#ifdef SO_ATTACH_FILTER
/* One instruction: a sequence (code, jt, jf, k) of ints of the sock_filter field widths. */
static int
filter_instruction(PyObject *item, Py_ssize_t i, struct sock_filter *out)
{
    static const char *const fields[] = {"code", "jt", "jf", "k"};
    static const unsigned long long max[] = {USHRT_MAX, UCHAR_MAX, UCHAR_MAX, UINT32_MAX};
    unsigned long long value[4];
    PyObject *seq = PySequence_Fast(item, "attach_filter() instructions must be sequences "
                                          "(code, jt, jf, k)");
    if (seq == NULL) {
        return -1;
    }
    int rc = 0;
    if (PySequence_Fast_GET_SIZE(seq) != 4) {
        PyErr_Format(PyExc_ValueError,
                     "attach_filter() instruction %zd must have 4 fields "
                     "(code, jt, jf, k), not %zd",
                     i, PySequence_Fast_GET_SIZE(seq));
        rc = -1;
    }
    for (int f = 0; rc == 0 && f < 4; f++) {
        rc = option_uint_arg("attach_filter", fields[f], PySequence_Fast_GET_ITEM(seq, f), max[f],
                             &value[f]);
    }
    Py_DECREF(seq);
    if (rc == 0) {
        out->code = (unsigned short)value[0];
        out->jt = (unsigned char)value[1];
        out->jf = (unsigned char)value[2];
        out->k = (uint32_t)value[3];
    }
    return rc;
}

static PyObject *
socket_attach_filter(SocketObject *self, PyObject *filters)
{
    PyObject *seq = PySequence_Fast(filters, "attach_filter() takes a sequence of "
                                             "instructions");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    struct sock_filter *code = NULL;
    PyObject *result = NULL;
    if (n == 0 || n > USHRT_MAX) {
        PyErr_Format(PyExc_ValueError, "attach_filter() takes 1 to %d instructions, not %zd",
                     USHRT_MAX, n);
        goto done;
    }
    code = PyMem_New(struct sock_filter, n);
    if (code == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (filter_instruction(PySequence_Fast_GET_ITEM(seq, i), i, &code[i]) < 0) {
            goto done;
        }
    }
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = code};
    if (option_setsockopt(self, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0) {
        result = Py_NewRef(Py_None);
    }
done:
    PyMem_Free(code);
    Py_DECREF(seq);
    return result;
}

static PyObject *
socket_detach_filter(SocketObject *self, PyObject *unused)
{
    (void)unused;
    int zero = 0;
    if (option_setsockopt(self, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof(zero)) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}
#endif /* SO_ATTACH_FILTER */

/* ---------------------------------------------------------------- original destination */

#if defined(__linux__)
#  define ORIGINAL_DST_V4 IPPROTO_IP, SO_ORIGINAL_DST
#  define ORIGINAL_DST_V6 IPPROTO_IPV6, IP6T_SO_ORIGINAL_DST
#elif defined(_WIN32) && defined(SO_ORIGINAL_DST)
#  define ORIGINAL_DST_V4 SOL_SOCKET, SO_ORIGINAL_DST
#  define ORIGINAL_DST_V6 SOL_SOCKET, SO_ORIGINAL_DST
#endif

#ifdef ORIGINAL_DST_V4
/* The address a connection was sent to before NAT redirected it (netfilter REDIRECT or
 * TPROXY; Windows' redirect records). */
static PyObject *
original_dst(SocketObject *self, int level, int optname)
{
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof(storage));
    sys_socklen_t len = sizeof(storage);
    if (option_getsockopt(self, level, optname, &storage, &len) < 0) {
        return NULL;
    }
    return sockaddr_new(self->state, &storage, len);
}

static PyObject *
socket_original_dst_v4(SocketObject *self, PyObject *unused)
{
    (void)unused;
    return original_dst(self, ORIGINAL_DST_V4);
}

static PyObject *
socket_original_dst_v6(SocketObject *self, PyObject *unused)
{
    (void)unused;
    return original_dst(self, ORIGINAL_DST_V6);
}
#endif

/* ---------------------------------------------------------------- DCCP */

#ifdef __linux__
static PyObject *
socket_dccp_available_ccids(SocketObject *self, PyObject *unused)
{
    (void)unused;
    /* The kernel wants room for all its CCIDs at once; one byte each. */
    unsigned char ccids[256];
    sys_socklen_t len = sizeof(ccids);
    if (option_getsockopt(self, SOL_DCCP, DCCP_SOCKOPT_AVAILABLE_CCIDS, ccids, &len) < 0) {
        return NULL;
    }
    PyObject *list = PyList_New(len);
    for (sys_socklen_t i = 0; list != NULL && i < len; i++) {
        PyList_SET_ITEM(list, i, PyLong_FromLong(ccids[i]));
        if (PyList_GET_ITEM(list, i) == NULL) {
            Py_CLEAR(list);
        }
    }
    return list;
}
#endif

/* ---------------------------------------------------------------- TCP_INFO (beyond) */

#if defined(__linux__) && defined(TCP_INFO)
#  define TCP_INFO_OPTION TCP_INFO
#elif defined(__APPLE__) && defined(TCP_CONNECTION_INFO)
#  define TCP_INFO_OPTION TCP_CONNECTION_INFO
#endif

#ifdef TCP_INFO_OPTION
static PyObject *
socket_tcp_info(SocketObject *self, PyObject *unused)
{
    (void)unused;
    /* Larger than any kernel's struct, so the length returned is the running kernel's. */
    union {
        uint64_t align;
        unsigned char bytes[1024];
    } info;
    memset(&info, 0, sizeof(info));
    sys_socklen_t len = sizeof(info);
    if (option_getsockopt(self, IPPROTO_TCP, TCP_INFO_OPTION, &info, &len) < 0) {
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)info.bytes, len);
}
#endif

/* ---------------------------------------------------------------- Windows */

#ifdef _WIN32
/* Windows has no SO_PROTOCOL; socket2 reads the protocol from SO_PROTOCOL_INFOW. */
static PyObject *
socket_protocol(SocketObject *self, PyObject *unused)
{
    (void)unused;
    WSAPROTOCOL_INFOW info;
    sys_socklen_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    if (option_getsockopt(self, SOL_SOCKET, SO_PROTOCOL_INFOW, &info, &len) < 0) {
        return NULL;
    }
    if (info.iProtocol == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLong(info.iProtocol);
}

static PyObject *
socket_set_tcp_ack_frequency(SocketObject *self, PyObject *arg)
{
    unsigned long long frequency;
    if (option_uint_arg("set_tcp_ack_frequency", "frequency", arg, UCHAR_MAX, &frequency) < 0) {
        return NULL;
    }
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET
        || option_checked(sys_set_tcp_ack_frequency(fd, (unsigned char)frequency)) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}
#endif

PyMethodDef socket_special_option_methods[] = {
    {"set_tcp_keepalive", (PyCFunction)(void (*)(void))socket_set_tcp_keepalive,
     METH_FASTCALL | METH_KEYWORDS,
     "set_tcp_keepalive($self, /, time=None, interval=None, retries=None)\n--\n\n"
     "Turns SO_KEEPALIVE on, then sets the idle time and probe interval (seconds; whole "
     "seconds on Unix) and the probe count, each only if not None. pysock2.Socket takes a "
     "TcpKeepalive instead."},
#ifdef SO_ATTACH_FILTER
    {"attach_filter", (PyCFunction)socket_attach_filter, METH_O,
     "attach_filter($self, filters, /)\n--\n\n"
     "Attaches a classic BPF program (SO_ATTACH_FILTER): a sequence of (code, jt, jf, k) "
     "instructions (pysock2.SockFilter is one)."},
    {"detach_filter", (PyCFunction)socket_detach_filter, METH_NOARGS,
     "detach_filter($self, /)\n--\n\nRemoves the attached filter (SO_DETACH_FILTER)."},
#endif
#ifdef ORIGINAL_DST_V4
    {"original_dst_v4", (PyCFunction)socket_original_dst_v4, METH_NOARGS,
     "original_dst_v4($self, /)\n--\n\n"
     "The IPv4 destination before NAT redirected the connection (SO_ORIGINAL_DST)."},
    {"original_dst_v6", (PyCFunction)socket_original_dst_v6, METH_NOARGS,
     "original_dst_v6($self, /)\n--\n\n"
     "The IPv6 destination before NAT redirected the connection (IP6T_SO_ORIGINAL_DST)."},
#endif
#ifdef __linux__
    {"dccp_available_ccids", (PyCFunction)socket_dccp_available_ccids, METH_NOARGS,
     "dccp_available_ccids($self, /)\n--\n\n"
     "The CCIDs the endpoint supports (DCCP_SOCKOPT_AVAILABLE_CCIDS), as a list of ints."},
#endif
#ifdef TCP_INFO_OPTION
    {"tcp_info", (PyCFunction)socket_tcp_info, METH_NOARGS,
     "tcp_info($self, /)\n--\n\n"
     "The raw struct tcp_info (Linux TCP_INFO) or tcp_connection_info (macOS) as bytes, as "
     "long as the running kernel filled it; pysock2.Socket.tcp_info() decodes it."},
#endif
#ifdef _WIN32
    {"protocol", (PyCFunction)socket_protocol, METH_NOARGS,
     "protocol($self, /)\n--\n\nThe socket's protocol (from SO_PROTOCOL_INFOW), or None for 0."},
    {"set_tcp_ack_frequency", (PyCFunction)socket_set_tcp_ack_frequency, METH_O,
     "set_tcp_ack_frequency($self, frequency, /)\n--\n\n"
     "Sets how many segments the stack receives before it ACKs (SIO_TCP_SET_ACK_FREQUENCY)."},
#endif
    {NULL, NULL, 0, NULL},
};
