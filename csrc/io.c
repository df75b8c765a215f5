/* Scalar data transfer: the recv/peek/send families and sendfile. Each `_into` method
 * receives into the caller's buffer with no copy; each bytes-returning twin allocates the
 * result. All of them run the system call through socket_call() (call.c). */
#include "pysock2.h"

#include <string.h>

/* The hot helpers are inlined into each method so that the constant arguments (which
 * system call, whether a sender is wanted) fold away: fewer instructions per call. */
#if defined(__GNUC__) || defined(__clang__)
#  define HOT_INLINE static inline __attribute__((always_inline))
#else
#  define HOT_INLINE static inline
#endif

typedef struct {
    void *buf;
    size_t len;
    int flags;
    struct sockaddr_storage *addr;  /* recvfrom: the sender; sendto: the destination */
    sys_socklen_t addrlen;
} io_ctx;

static ptrdiff_t
do_recv(sys_socket_t fd, void *arg)
{
    io_ctx *c = arg;
    return sys_recv(fd, c->buf, c->len, c->flags);
}

static ptrdiff_t
do_recvfrom(sys_socket_t fd, void *arg)
{
    io_ctx *c = arg;
    c->addrlen = sizeof(*c->addr);
    return sys_recvfrom(fd, c->buf, c->len, c->flags, (struct sockaddr *)c->addr, &c->addrlen);
}

static ptrdiff_t
do_send(sys_socket_t fd, void *arg)
{
    io_ctx *c = arg;
    return sys_send(fd, c->buf, c->len, c->flags);
}

static ptrdiff_t
do_sendto(sys_socket_t fd, void *arg)
{
    io_ctx *c = arg;
    return sys_sendto(fd, c->buf, c->len, c->flags, (struct sockaddr *)c->addr, c->addrlen);
}

/* (first, *, flags=0): the shape of recv, recv_into, send, sendall and friends. */
static int
parse_with_flags(const char *fname, const char *first, PyObject *const *args, Py_ssize_t nargs,
                 PyObject *kwnames, PyObject **out, int *flags)
{
    if (kwnames == NULL && nargs == 1) {  /* the common call, parsed with no loop */
        *out = args[0];
        *flags = 0;
        return 0;
    }
    const char *const names[] = {first, "flags"};
    PyObject *argv[2];
    if (args_parse_flags_slow(fname, args, nargs, kwnames, names, 1, 2, argv, flags) < 0) {
        return -1;
    }
    *out = argv[0];
    return 0;
}

/* ---------------------------------------------------------------- receiving */

/* ---------------------------------------------------------------- buffers */

/* The bytes of a data argument for one call. A bytes object is read in place (immutable,
 * and the caller keeps it alive for the call); so are a bytearray and a memoryview on
 * builds with a GIL, but only while the GIL is held, that is for socket_try_call().
 * Anything else, and those two before a call that releases the GIL, is pinned with
 * PyObject_GetBuffer. */
typedef struct {
    void *buf;
    size_t len;
    int pinned;        /* view holds an export to release */
    int needs_gil;     /* buf is valid only while the GIL is held */
    Py_buffer view;
} data_arg;

static int
data_pin(const char *fname, PyObject *obj, int writable, data_arg *arg)
{
    int rc = writable ? args_writable_buffer(fname, obj, &arg->view)
                      : args_readable_buffer(fname, obj, &arg->view);
    if (rc < 0) {
        return -1;
    }
    arg->buf = arg->view.buf;
    arg->len = (size_t)arg->view.len;
    arg->pinned = 1;
    arg->needs_gil = 0;
    return 0;
}

HOT_INLINE int
data_open(const char *fname, PyObject *obj, int writable, data_arg *arg)
{
    arg->pinned = 0;
    arg->needs_gil = 0;
    if (!writable && PyBytes_CheckExact(obj)) {
        arg->buf = PyBytes_AS_STRING(obj);
        arg->len = (size_t)PyBytes_GET_SIZE(obj);
        return 0;
    }
#ifndef Py_GIL_DISABLED
    if (PyByteArray_CheckExact(obj)) {
        arg->buf = PyByteArray_AS_STRING(obj);
        arg->len = (size_t)PyByteArray_GET_SIZE(obj);
        arg->needs_gil = 1;
        return 0;
    }
#endif
    /* A live memoryview's buffer, read in place (see compat.h); a read-only one (when
     * writing) or a non-contiguous one takes the general path, which raises the usual
     * error. */
    const Py_buffer *held = compat_memoryview_buffer(obj);
    if (held != NULL && !(writable && held->readonly) && PyBuffer_IsContiguous(held, 'C')) {
        arg->buf = held->buf;
        arg->len = (size_t)held->len;
        arg->needs_gil = 1;
        return 0;
    }
    return data_pin(fname, obj, writable, arg);
}

HOT_INLINE void
data_close(data_arg *arg)
{
    if (arg->pinned) {
        PyBuffer_Release(&arg->view);
    }
}

/* Runs fn over `arg` (whose pointer and length are in ctx): first without blocking and
 * with the GIL held, then, if it must wait, as a blocking call with the buffer pinned. */
HOT_INLINE ptrdiff_t
call_with_data(SocketObject *self, const char *fname, PyObject *obj, int writable, data_arg *arg,
               sys_call_fn fn, io_ctx *ctx)
{
    ptrdiff_t n = socket_try_call(self, fn, ctx, &ctx->flags);
    if (n != SOCKET_MUST_WAIT) {
        return n;
    }
    if (arg->needs_gil) {
        /* Nothing ran since data_open (the GIL was held), so the object is unchanged. */
        if (data_pin(fname, obj, writable, arg) < 0) {
            return -1;
        }
        ctx->buf = arg->buf;
        ctx->len = arg->len;
    }
    /* A receive fills a writable buffer; a send reads one (SO_SNDTIMEO bounds it). */
    int how = IS_DONTWAIT(ctx->flags) | (writable ? 0 : SOCKET_SENDS);
    return socket_call(self, fn, ctx, how);
}

/* ---------------------------------------------------------------- receiving */

PyObject *
socket_sender(SocketObject *self, const struct sockaddr_storage *from, sys_socklen_t len)
{
    if ((size_t)len > sizeof(*from)) {
        len = sizeof(*from);
    }
    PyObject *addr = NULL;
    Py_BEGIN_CRITICAL_SECTION(self);
    SockAddrObject *cached = (SockAddrObject *)self->sender_cache;
    if (cached != NULL && cached->len == len && memcmp(&cached->storage, from, (size_t)len) == 0) {
        addr = Py_NewRef(cached);
    }
    else {
        addr = sockaddr_new(self->state, from, len);
        if (addr != NULL) {
            Py_XSETREF(self->sender_cache, Py_NewRef(addr));
        }
    }
    Py_END_CRITICAL_SECTION();
    return addr;
}

/* n, or (n, sender) where the method reports the sender; steals `value`. */
static PyObject *
with_sender(SocketObject *self, PyObject *value, const io_ctx *ctx)
{
    if (value == NULL || ctx->addr == NULL) {
        return value;
    }
    PyObject *sender = socket_sender(self, ctx->addr, ctx->addrlen);
    if (sender == NULL) {
        Py_DECREF(value);
        return NULL;
    }
    return Py_BuildValue("(NN)", value, sender);
}

HOT_INLINE PyObject *
receive_into(SocketObject *self, const char *fname, PyObject *target, int flags, int want_sender)
{
    data_arg arg;
    if (data_open(fname, target, 1, &arg) < 0) {
        return NULL;
    }
    struct sockaddr_storage from;
    io_ctx ctx = {
        .buf = arg.buf, .len = arg.len, .flags = flags, .addr = want_sender ? &from : NULL};
    /* A pinned buffer stays exported across the call: a bytearray cannot be resized. */
    ptrdiff_t n =
        call_with_data(self, fname, target, 1, &arg, want_sender ? do_recvfrom : do_recv, &ctx);
    data_close(&arg);
    return n < 0 ? NULL : with_sender(self, PyLong_FromSsize_t(n), &ctx);
}

static PyObject *
receive_bytes(SocketObject *self, const char *fname, PyObject *size, int flags, int want_sender)
{
    Py_ssize_t bufsize;
    if (args_size(fname, "bufsize", size, &bufsize) < 0) {
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030F0000
    /* 3.15 soft-deprecates filling PyBytes_FromStringAndSize(NULL, n); the writer also
     * shrinks a short read without a copy. */
    PyBytesWriter *writer = PyBytesWriter_Create(bufsize);
    if (writer == NULL) {
        return NULL;
    }
    char *buf = PyBytesWriter_GetData(writer);
#else
    PyObject *data = PyBytes_FromStringAndSize(NULL, bufsize);
    if (data == NULL) {
        return NULL;
    }
    char *buf = PyBytes_AS_STRING(data);
#endif
#ifdef MSG_TRUNC
    if (flags & MSG_TRUNC) {
        /* Linux TCP discards with MSG_TRUNC and writes nothing: what it did not write
         * reads as zeros, never as old heap memory. */
        memset(buf, 0, (size_t)bufsize);
    }
#endif
    struct sockaddr_storage from;
    io_ctx ctx = {
        .buf = buf, .len = (size_t)bufsize, .flags = flags, .addr = want_sender ? &from : NULL};
    ptrdiff_t n = socket_call_flags(self, want_sender ? do_recvfrom : do_recv, &ctx, &ctx.flags, 0);
    /* With MSG_TRUNC a datagram's full length may exceed the buffer: never hand out more. */
    Py_ssize_t got = n > bufsize ? bufsize : (Py_ssize_t)n;
#if PY_VERSION_HEX >= 0x030F0000
    if (n < 0) {
        PyBytesWriter_Discard(writer);
        return NULL;
    }
    PyObject *data = PyBytesWriter_FinishWithSize(writer, got);
    if (data == NULL) {
        return NULL;
    }
#else
    if (n < 0) {
        Py_DECREF(data);
        return NULL;
    }
    if (got < bufsize) {  /* a short read: hand out exactly the bytes received */
        Py_SETREF(data, PyBytes_FromStringAndSize(PyBytes_AS_STRING(data), got));
    }
#endif
    return with_sender(self, data, &ctx);
}

#define RECEIVER(name, extra_flags, sender, takes_flags, first, body)                           \
    static PyObject *socket_##name(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, \
                                   PyObject *kwnames)                                           \
    {                                                                                           \
        PyObject *arg;                                                                          \
        int flags = 0;                                                                          \
        if (takes_flags) {                                                                      \
            if (parse_with_flags(#name, first, args, nargs, kwnames, &arg, &flags) < 0) {       \
                return NULL;                                                                    \
            }                                                                                   \
        }                                                                                       \
        else {                                                                                  \
            const char *const names[] = {first};                                                \
            if (args_parse(#name, args, nargs, kwnames, names, 1, 1, &arg) < 0) {               \
                return NULL;                                                                    \
            }                                                                                   \
        }                                                                                       \
        return body(self, #name, arg, flags | (extra_flags), sender);                           \
    }

RECEIVER(recv, 0, 0, 1, "bufsize", receive_bytes)
RECEIVER(recv_into, 0, 0, 1, "buffer", receive_into)
RECEIVER(recv_out_of_band, MSG_OOB, 0, 0, "bufsize", receive_bytes)
RECEIVER(recv_out_of_band_into, MSG_OOB, 0, 0, "buffer", receive_into)
RECEIVER(peek, MSG_PEEK, 0, 0, "bufsize", receive_bytes)
RECEIVER(peek_into, MSG_PEEK, 0, 0, "buffer", receive_into)
RECEIVER(recv_from, 0, 1, 1, "bufsize", receive_bytes)
RECEIVER(recv_from_into, 0, 1, 1, "buffer", receive_into)
RECEIVER(peek_from, MSG_PEEK, 1, 0, "bufsize", receive_bytes)
RECEIVER(peek_from_into, MSG_PEEK, 1, 0, "buffer", receive_into)

static PyObject *
socket_peek_sender(SocketObject *self, PyObject *unused)
{
    (void)unused;
    /* As socket2: peek into a small buffer, keep only the sender. */
    char scratch[8];
    struct sockaddr_storage from;
    io_ctx ctx = {.buf = scratch, .len = sizeof(scratch), .flags = MSG_PEEK, .addr = &from};
    if (socket_call_flags(self, do_recvfrom, &ctx, &ctx.flags, 0) < 0) {
        return NULL;
    }
    return socket_sender(self, &from, ctx.addrlen);
}

/* ---------------------------------------------------------------- sending */

HOT_INLINE PyObject *
transmit(SocketObject *self, const char *fname, PyObject *data, int flags,
         struct sockaddr_storage *to, sys_socklen_t tolen)
{
    data_arg arg;
    if (data_open(fname, data, 0, &arg) < 0) {
        return NULL;
    }
    io_ctx ctx = {.buf = arg.buf, .len = arg.len, .flags = flags, .addr = to, .addrlen = tolen};
    ptrdiff_t n = call_with_data(self, fname, data, 0, &arg, to ? do_sendto : do_send, &ctx);
    data_close(&arg);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *
socket_send(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *data;
    int flags;
    if (parse_with_flags("send", "data", args, nargs, kwnames, &data, &flags) < 0) {
        return NULL;
    }
    return transmit(self, "send", data, flags, NULL, 0);
}

static PyObject *
socket_send_out_of_band(SocketObject *self, PyObject *data)
{
    return transmit(self, "send_out_of_band", data, MSG_OOB, NULL, 0);
}

static PyObject *
socket_send_to(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"data", "address", "flags"};
    PyObject *argv[3];
    int flags;
    struct sockaddr_storage to;
    sys_socklen_t tolen;
    if (args_parse_flags("send_to", args, nargs, kwnames, names, 2, 3, argv, &flags) < 0
        || socket_address_arg(self, "send_to", argv[1], &to, &tolen) < 0
        || PySys_Audit("socket.sendto", "OO", self, argv[1]) < 0) {
        return NULL;
    }
    return transmit(self, "send_to", argv[0], flags, &to, tolen);
}

static PyObject *
socket_sendall(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *data;
    int flags;
    Py_buffer view;
    if (parse_with_flags("sendall", "data", args, nargs, kwnames, &data, &flags) < 0
        || args_readable_buffer("sendall", data, &view) < 0) {
        return NULL;
    }
    io_ctx ctx = {.buf = view.buf, .len = (size_t)view.len, .flags = flags};
    ptrdiff_t n = 0;
    while (ctx.len > 0) {
        n = socket_call(self, do_send, &ctx, IS_DONTWAIT(flags) | SOCKET_SENDS);
        if (n < 0) {
            break;
        }
        ctx.buf = (char *)ctx.buf + n;
        ctx.len -= (size_t)n;
    }
    PyBuffer_Release(&view);
    if (n < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

#ifdef SYS_HAS_SENDFILE
typedef struct {
    int in_fd;
    int64_t offset;
    size_t len;
} sendfile_ctx;

static ptrdiff_t
do_sendfile(sys_socket_t fd, void *arg)
{
    sendfile_ctx *c = arg;
    return sys_sendfile(fd, c->in_fd, c->offset, c->len);
}

static PyObject *
socket_sendfile_once(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"file", "offset", "length"};
    PyObject *argv[3];
    sendfile_ctx ctx = {.offset = 0, .len = 0};
    if (args_parse("sendfile_once", args, nargs, kwnames, names, 1, 3, argv) < 0) {
        return NULL;
    }
    ctx.in_fd = PyObject_AsFileDescriptor(argv[0]);
    if (ctx.in_fd < 0) {
        return NULL;
    }
    Py_ssize_t value;
    if (argv[1] != NULL) {
        if (args_size("sendfile_once", "offset", argv[1], &value) < 0) {
            return NULL;
        }
        ctx.offset = value;
    }
    if (argv[2] != NULL && argv[2] != Py_None) {
        if (args_size("sendfile_once", "length", argv[2], &value) < 0) {
            return NULL;
        }
        if (value == 0) {
            PyErr_SetString(PyExc_ValueError, "sendfile_once() length must be positive or None");
            return NULL;
        }
        ctx.len = (size_t)value;
    }
    ptrdiff_t n = socket_call(self, do_sendfile, &ctx, SOCKET_SENDS);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}
#endif


PyMethodDef socket_io_methods[] = {
    {"recv", FASTCALL_KW(socket_recv),
     "recv($self, bufsize, *, flags=0)\n--\n\nReturns bytes: at most bufsize received bytes."},
    {"recv_into", FASTCALL_KW(socket_recv_into),
     "recv_into($self, buffer, *, flags=0)\n--\n\nReturns int: receives into a writable buffer, "
     "zero-copy."},
    {"recv_out_of_band", FASTCALL_KW(socket_recv_out_of_band),
     "recv_out_of_band($self, bufsize)\n--\n\nReturns bytes: recv with MSG_OOB."},
    {"recv_out_of_band_into", FASTCALL_KW(socket_recv_out_of_band_into),
     "recv_out_of_band_into($self, buffer)\n--\n\nReturns int: recv_into with MSG_OOB."},
    {"peek", FASTCALL_KW(socket_peek),
     "peek($self, bufsize)\n--\n\nReturns bytes: recv with MSG_PEEK."},
    {"peek_into", FASTCALL_KW(socket_peek_into),
     "peek_into($self, buffer)\n--\n\nReturns int: recv_into with MSG_PEEK."},
    {"recv_from", FASTCALL_KW(socket_recv_from),
     "recv_from($self, bufsize, *, flags=0)\n--\n\nReturns (bytes, SockAddr): the data and its "
     "sender."},
    {"recv_from_into", FASTCALL_KW(socket_recv_from_into),
     "recv_from_into($self, buffer, *, flags=0)\n--\n\nReturns (int, SockAddr): zero-copy."},
    {"peek_from", FASTCALL_KW(socket_peek_from),
     "peek_from($self, bufsize)\n--\n\nReturns (bytes, SockAddr): recv_from with MSG_PEEK."},
    {"peek_from_into", FASTCALL_KW(socket_peek_from_into),
     "peek_from_into($self, buffer)\n--\n\nReturns (int, SockAddr): recv_from_into with MSG_PEEK."},
    {"peek_sender", (PyCFunction)socket_peek_sender, METH_NOARGS,
     "peek_sender($self, /)\n--\n\nReturns SockAddr: the sender of the next datagram, left "
     "queued."},
    {"send", FASTCALL_KW(socket_send),
     "send($self, data, *, flags=0)\n--\n\nReturns int: bytes sent."},
    {"send_out_of_band", (PyCFunction)socket_send_out_of_band, METH_O,
     "send_out_of_band($self, data, /)\n--\n\nReturns int: send with MSG_OOB."},
    {"send_to", FASTCALL_KW(socket_send_to),
     "send_to($self, data, address, *, flags=0)\n--\n\nReturns int: bytes sent to address."},
    {"sendall", FASTCALL_KW(socket_sendall),
     "sendall($self, data, *, flags=0)\n--\n\nSends until all of data is sent or an error is "
     "raised."},
#ifdef SYS_HAS_SENDFILE
    /* socket2's sendfile: one system call. Socket.sendfile (pysock2/_socket.py) is the
     * stdlib's loop over it; the distinct name keeps the two from being mistaken. */
    {"sendfile_once", FASTCALL_KW(socket_sendfile_once),
     "sendfile_once($self, file, offset=0, length=None)\n--\n\nReturns int: the bytes of "
     "file (a descriptor or an object with fileno()) sent by ONE sendfile(2) call from "
     "offset, which may be fewer than length; the file position is neither used nor "
     "moved. socket2's sendfile; Socket.sendfile is the stdlib's complete transfer."},
#endif
    {NULL, NULL, 0, NULL},
};
