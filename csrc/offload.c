/* UDP segmentation offloads on Linux (docs/batch.md): send_gso sends one buffer with a
 * UDP_SEGMENT control message and the kernel cuts it into datagrams; recv_gro_into and
 * recv_gro_from_into receive datagrams the kernel coalesced (set_udp_gro(True)) and the size
 * they were cut at, from the UDP_GRO control message. Each is one sendmsg/recvmsg on msg.c's
 * message path (msg_call), so it restores the name and control room before every attempt
 * and receives descriptors close-on-exec, as recvmsg does; those a peer sends are closed
 * here, since the control buffer is internal and nobody could take them. */
#include "msg.h"
#include "options_compat.h"  /* UDP_SEGMENT, UDP_GRO, SOL_UDP where old headers lack them */

#include <string.h>

#if defined(__linux__) && defined(UDP_SEGMENT) && defined(UDP_GRO)
#  define HAVE_UDP_OFFLOAD 1
#endif

/* ---------------------------------------------------------------- segment sizes */

#ifdef HAVE_UDP_OFFLOAD
/* The UDP_GRO segment size in a datagram's control messages, or 0. */
static int
find_gro_size(void *control, size_t controllen)
{
    struct msghdr hdr;
    memset(&hdr, 0, sizeof(hdr));
    hdr.msg_control = control;
    hdr.msg_controllen = controllen;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&hdr); c != NULL; c = CMSG_NXTHDR(&hdr, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO
            && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int size;
            memcpy(&size, CMSG_DATA(c), sizeof(size));
            return size;
        }
    }
    return 0;
}
#endif

size_t
offload_segment_size(size_t len, void *control, size_t controllen, int msg_flags)
{
#ifdef HAVE_UDP_OFFLOAD
    int size = control != NULL ? find_gro_size(control, controllen) : 0;
    if (size > 0) {
        return (size_t)size < len ? (size_t)size : len;
    }
#else
    (void)control;
    (void)controllen;
#endif
#ifdef MSG_CTRUNC
    if (msg_flags & MSG_CTRUNC) {
        return 0;
    }
#else
    (void)msg_flags;
#endif
    return len;
}

#ifdef HAVE_UDP_OFFLOAD

/* ---------------------------------------------------------------- GSO */

/* The largest GSO send: a UDP payload of at most 65507 bytes in segments of 1-65535. */
#  define GSO_MAX_SEGMENT 0xffff

/* send_gso(data, segment_size, address=None, *, flags=0) -> int */
static PyObject *
socket_send_gso(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"data", "segment_size", "address", "flags"};
    PyObject *argv[4];
    int segment_size, flags;
    if (args_parse_flags("send_gso", args, nargs, kwnames, names, 2, 4, argv, &flags) < 0
        || args_int("send_gso", "segment_size", argv[1], &segment_size) < 0) {
        return NULL;
    }
    if (segment_size < 1 || segment_size > GSO_MAX_SEGMENT) {
        PyErr_Format(PyExc_ValueError, "send_gso() segment_size must be 1-%d, not %d",
                     GSO_MAX_SEGMENT, segment_size);
        return NULL;
    }
    struct sockaddr_storage to;
    sys_socklen_t tolen = 0;
    int has_to = argv[2] != NULL && argv[2] != Py_None;
    if (has_to
        && (socket_address_arg(self, "send_gso", argv[2], &to, &tolen) < 0
            || PySys_Audit("socket.sendmsg", "OO", self, argv[2]) < 0)) {
        return NULL;
    }
    /* A bytes object is read in place (immutable, kept alive by the caller); anything
     * else is pinned for the call. */
    Py_buffer view;
    if (PyBytes_CheckExact(argv[0])) {
        view.buf = PyBytes_AS_STRING(argv[0]);
        view.len = PyBytes_GET_SIZE(argv[0]);
        view.obj = NULL;
    }
    else if (args_readable_buffer("send_gso", argv[0], &view) < 0) {
        return NULL;
    }
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct cmsghdr *c = &control.align;
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t size16 = (uint16_t)segment_size;
    memcpy(CMSG_DATA(c), &size16, sizeof(size16));
    sys_iovec iov;
    sys_iovec_set(&iov, view.buf, (size_t)view.len);
    msg_call call = {.msg = {.name = has_to ? (struct sockaddr *)&to : NULL,
                             .namelen = tolen,
                             .iov = &iov,
                             .iovlen = 1,
                             .control = control.buf,
                             .controllen = sizeof(control.buf)},
                     .flags = flags};
    ptrdiff_t n = socket_call_flags(self, msg_send_attempt, &call, &call.flags, SOCKET_SENDS);
    if (view.obj != NULL) {
        PyBuffer_Release(&view);
    }
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

/* ---------------------------------------------------------------- GRO */

/* Room for the UDP_GRO message and a few others the caller may have enabled. */
#  define GRO_CONTROL_SPACE 256

/* (nbytes, segment_size[, sender]) */
static PyObject *
gro_result(SocketObject *self, ptrdiff_t n, size_t segment, const struct sockaddr_storage *from,
           const sys_socklen_t *fromlen)
{
    PyObject *result = PyTuple_New(fromlen != NULL ? 3 : 2);
    PyObject *nbytes = PyLong_FromSsize_t(n);
    PyObject *size = PyLong_FromSize_t(segment);
    PyObject *sender = fromlen != NULL ? socket_sender(self, from, *fromlen) : NULL;
    if (result == NULL || nbytes == NULL || size == NULL || (fromlen != NULL && sender == NULL)) {
        Py_XDECREF(result);
        Py_XDECREF(nbytes);
        Py_XDECREF(size);
        Py_XDECREF(sender);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, nbytes);
    PyTuple_SET_ITEM(result, 1, size);
    if (fromlen != NULL) {
        PyTuple_SET_ITEM(result, 2, sender);
    }
    return result;
}

static PyObject *
receive_gro(SocketObject *self, const char *fname, PyObject *const *args, Py_ssize_t nargs,
            PyObject *kwnames, int want_sender)
{
    static const char *const names[] = {"buffer", "flags"};
    PyObject *argv[2];
    int flags;
    Py_buffer view;
    if (args_parse_flags(fname, args, nargs, kwnames, names, 1, 2, argv, &flags) < 0
        || args_writable_buffer(fname, argv[0], &view) < 0) {
        return NULL;
    }
    union {
        char buf[GRO_CONTROL_SPACE];
        struct cmsghdr align;
    } control;
    struct sockaddr_storage from;
    sys_iovec iov;
    sys_iovec_set(&iov, view.buf, (size_t)view.len);
    msg_call call = {.msg = {.name = want_sender ? (struct sockaddr *)&from : NULL,
                             .iov = &iov,
                             .iovlen = 1,
                             .control = control.buf},
                     .flags = msg_recv_request(flags, 1),
                     .namecap = want_sender ? sizeof(from) : 0,
                     .controlcap = sizeof(control.buf)};
    ptrdiff_t n = socket_call_flags(self, msg_recv_attempt, &call, &call.flags, 0);
    PyBuffer_Release(&view);
    if (n < 0) {
        return NULL;
    }
    cmsg_close_fds(control.buf, call.msg.controllen);
    size_t segment =
        offload_segment_size((size_t)n, control.buf, call.msg.controllen, call.msg.flags);
    return gro_result(self, n, segment, &from, want_sender ? &call.msg.namelen : NULL);
}

static PyObject *
socket_recv_gro_into(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return receive_gro(self, "recv_gro_into", args, nargs, kwnames, 0);
}

static PyObject *
socket_recv_gro_from_into(SocketObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
{
    return receive_gro(self, "recv_gro_from_into", args, nargs, kwnames, 1);
}

#endif /* HAVE_UDP_OFFLOAD */

/* Empty where the kernel has no UDP offloads: the methods are absent, not failing. */
PyMethodDef socket_offload_methods[] = {
#ifdef HAVE_UDP_OFFLOAD
    {"send_gso", FASTCALL_KW(socket_send_gso),
     "send_gso($self, data, segment_size, address=None, *, flags=0)\n--\n\nReturns int: sends "
     "data as datagrams "
     "of segment_size bytes (the last may be shorter), cut by the kernel (UDP_SEGMENT)."},
    {"recv_gro_into", FASTCALL_KW(socket_recv_gro_into),
     "recv_gro_into($self, buffer, *, flags=0)\n--\n\nReturns (nbytes, segment_size): receives "
     "coalesced "
     "datagrams (set_udp_gro(True)) and the size they were cut at."},
    {"recv_gro_from_into", FASTCALL_KW(socket_recv_gro_from_into),
     "recv_gro_from_into($self, buffer, *, flags=0)\n--\n\nReturns (nbytes, segment_size, "
     "SockAddr): recv_gro_into and the sender."},
#endif
    {NULL, NULL, 0, NULL},
};
