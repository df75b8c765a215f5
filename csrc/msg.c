/* Vectored and message I/O: recv_vectored, recv_from_vectored, send_vectored,
 * send_to_vectored, sendmsg and recvmsg (socket2's names), and this family's part of module
 * set-up (the MsgHdr/MsgHdrMut types, pysock2.cmsg's functions and constants, RecvFlags).
 *
 * msg_send_attempt/msg_recv_attempt are the one message path: these methods and the UDP
 * offloads (offload.c) run them through the system-call loop. Every call acquires all its
 * buffers before the system call (buffer_list.c, or a header's own), builds the platform's
 * iovec array once (on the stack for a few buffers) and releases everything on every
 * path. */
#include "msg.h"

#include <string.h>

/* ---------------------------------------------------------------- the message path */

ptrdiff_t
msg_recv_attempt(sys_socket_t fd, void *arg)
{
    msg_call *c = arg;
    c->msg.namelen = c->namecap;
    c->msg.controllen = c->controlcap;
    c->msg.flags = 0;
    ptrdiff_t n = sys_recvmsg(fd, &c->msg, c->flags);
    c->msg.flags = msg_received_flags(c->msg.flags);
    return n;
}

ptrdiff_t
msg_send_attempt(sys_socket_t fd, void *arg)
{
    msg_call *c = arg;
    return sys_sendmsg(fd, &c->msg, c->flags);
}

/* ---------------------------------------------------------------- the methods */

/* (first, [address,] *, flags=0): `total` is 2 or 3, flags always last. */
static int
parse_call(const char *fname, const char *const *names, Py_ssize_t total, PyObject *const *args,
           Py_ssize_t nargs, PyObject *kwnames, PyObject **argv, int *flags)
{
    return args_parse_flags(fname, args, nargs, kwnames, names, total - 1, total, argv, flags);
}

static PyObject *
receive_vectored(SocketObject *self, const char *fname, PyObject *const *args, Py_ssize_t nargs,
                 PyObject *kwnames, int want_addr)
{
    static const char *const names[] = {"bufs", "flags"};
    PyObject *argv[2];
    int flags;
    buffer_list list;
    if (parse_call(fname, names, 2, args, nargs, kwnames, argv, &flags) < 0
        || buffer_list_acquire(&list, fname, "bufs", argv[0], 1) < 0) {
        return NULL;
    }
    struct sockaddr_storage from;
    msg_call ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.msg.iov = list.iov;
    ctx.msg.iovlen = (size_t)list.count;
    ctx.flags = flags;
    if (want_addr) {
        memset(&from, 0, sizeof(from));
        ctx.msg.name = (struct sockaddr *)&from;
        ctx.namecap = sizeof(from);
    }
    ptrdiff_t n = socket_call(self, msg_recv_attempt, &ctx, IS_DONTWAIT(flags));
    buffer_list_release(&list);
    if (n < 0) {
        return NULL;
    }
    PyObject *count = PyLong_FromSsize_t(n);
    PyObject *rflags = recv_flags_new(self->state, ctx.msg.flags);
    PyObject *addr = want_addr ? sockaddr_new(self->state, &from, ctx.msg.namelen) : NULL;
    PyObject *result = NULL;
    if (count != NULL && rflags != NULL && (!want_addr || addr != NULL)) {
        result = want_addr ? PyTuple_Pack(3, count, rflags, addr) : PyTuple_Pack(2, count, rflags);
    }
    Py_XDECREF(count);  /* PyTuple_Pack took its own references */
    Py_XDECREF(rflags);
    Py_XDECREF(addr);
    return result;
}

static PyObject *
socket_recv_vectored(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return receive_vectored(self, "recv_vectored", args, nargs, kwnames, 0);
}

static PyObject *
socket_recv_from_vectored(SocketObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
{
    return receive_vectored(self, "recv_from_vectored", args, nargs, kwnames, 1);
}

static PyObject *
send_vectored(SocketObject *self, const char *fname, PyObject *bufs, int flags,
              struct sockaddr_storage *to, sys_socklen_t tolen)
{
    buffer_list list;
    if (buffer_list_acquire(&list, fname, "bufs", bufs, 0) < 0) {
        return NULL;
    }
    msg_call ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.msg.name = (struct sockaddr *)to;
    ctx.msg.namelen = tolen;
    ctx.msg.iov = list.iov;
    ctx.msg.iovlen = (size_t)list.count;
    ctx.flags = flags;
    ptrdiff_t n = socket_call(self, msg_send_attempt, &ctx, IS_DONTWAIT(flags) | SOCKET_SENDS);
    buffer_list_release(&list);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *
socket_send_vectored(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"bufs", "flags"};
    PyObject *argv[2];
    int flags;
    if (parse_call("send_vectored", names, 2, args, nargs, kwnames, argv, &flags) < 0) {
        return NULL;
    }
    return send_vectored(self, "send_vectored", argv[0], flags, NULL, 0);
}

static PyObject *
socket_send_to_vectored(SocketObject *self, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames)
{
    static const char *const names[] = {"bufs", "address", "flags"};
    PyObject *argv[3];
    int flags;
    struct sockaddr_storage to;
    sys_socklen_t tolen;
    if (parse_call("send_to_vectored", names, 3, args, nargs, kwnames, argv, &flags) < 0
        || socket_address_arg(self, "send_to_vectored", argv[1], &to, &tolen) < 0
        || PySys_Audit("socket.sendto", "OO", self, argv[1]) < 0) {
        return NULL;
    }
    return send_vectored(self, "send_to_vectored", argv[0], flags, &to, tolen);
}

/* The header argument of sendmsg/recvmsg, of the module's MsgHdr or MsgHdrMut type. */
static int
header_arg(const char *fname, PyObject *obj, PyTypeObject *type)
{
    if (PyObject_TypeCheck(obj, type)) {
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s() msg must be a %s, not %.100s", fname,
                 strrchr(type->tp_name, '.') + 1, Py_TYPE(obj)->tp_name);
    return -1;
}

static PyObject *
socket_sendmsg(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"msg", "flags"};
    PyObject *argv[2];
    PyObject *addr_obj;
    msg_call ctx;
    memset(&ctx, 0, sizeof(ctx));
    if (parse_call("sendmsg", names, 2, args, nargs, kwnames, argv, &ctx.flags) < 0
        || header_arg("sendmsg", argv[0], self->state->msghdr_type) < 0
        || msghdr_begin(argv[0], &ctx.msg, &addr_obj) < 0) {
        return NULL;
    }
    ptrdiff_t n = -1;
    if (PySys_Audit("socket.sendmsg", "OO", self, addr_obj) == 0) {
        n = socket_call(self, msg_send_attempt, &ctx, IS_DONTWAIT(ctx.flags) | SOCKET_SENDS);
    }
    msghdr_end(argv[0]);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *
socket_recvmsg(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"msg", "flags"};
    PyObject *argv[2];
    struct sockaddr_storage from;
    msg_call ctx;
    memset(&ctx, 0, sizeof(ctx));
    if (parse_call("recvmsg", names, 2, args, nargs, kwnames, argv, &ctx.flags) < 0
        || header_arg("recvmsg", argv[0], self->state->msghdrmut_type) < 0
        || msghdrmut_begin(argv[0], &ctx.msg, &from) < 0) {
        return NULL;
    }
    ctx.namecap = ctx.msg.namelen;
    ctx.controlcap = ctx.msg.controllen;
    int dontwait = IS_DONTWAIT(ctx.flags);
    ctx.flags = msg_recv_request(ctx.flags, ctx.msg.control != NULL);
    ptrdiff_t n = socket_call(self, msg_recv_attempt, &ctx, dontwait);
    if (msghdrmut_finish(argv[0], &ctx.msg, n) < 0 || n < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(n);
}

PyMethodDef socket_msg_methods[] = {
    {"recv_vectored", FASTCALL_KW(socket_recv_vectored),
     "recv_vectored($self, bufs, *, flags=0)\n--\n\nReturns (int, RecvFlags): scatters one "
     "receive over a sequence of writable buffers, zero-copy."},
    {"recv_from_vectored", FASTCALL_KW(socket_recv_from_vectored),
     "recv_from_vectored($self, bufs, *, flags=0)\n--\n\nReturns (int, RecvFlags, SockAddr): "
     "recv_vectored and the sender."},
    {"send_vectored", FASTCALL_KW(socket_send_vectored),
     "send_vectored($self, bufs, *, flags=0)\n--\n\nReturns int: gathers a sequence of "
     "bytes-like objects into one send, zero-copy."},
    {"send_to_vectored", FASTCALL_KW(socket_send_to_vectored),
     "send_to_vectored($self, bufs, address, *, flags=0)\n--\n\nReturns int: send_vectored "
     "to address."},
    {"sendmsg", FASTCALL_KW(socket_sendmsg),
     "sendmsg($self, msg, *, flags=0)\n--\n\nReturns int: the bytes of a MsgHdr sent."},
    {"recvmsg", FASTCALL_KW(socket_recvmsg),
     "recvmsg($self, msg, *, flags=0)\n--\n\nReturns int: bytes received into a MsgHdrMut, "
     "which then holds the address, flags and control messages. Received descriptors are "
     "close-on-exec (MSG_CMSG_CLOEXEC)."},
    {NULL, NULL, 0, NULL},
};

/* ---------------------------------------------------------------- module set-up */

int
msg_module_exec(PyObject *module, module_state *state)
{
    state->msghdr_type = module_add_type(module, &msghdr_spec);
    if (state->msghdr_type == NULL) {
        return -1;
    }
    state->msghdrmut_type = module_add_type(module, &msghdrmut_spec);
    if (state->msghdrmut_type == NULL) {
        return -1;
    }
    if (PyModule_AddFunctions(module, recv_flags_functions) < 0
        || PyModule_AddFunctions(module, cmsg_functions) < 0) {
        return -1;
    }
    return cmsg_add_constants(module);
}

int
msg_module_traverse(module_state *state, visitproc visit, void *arg)
{
    Py_VISIT(state->msghdr_type);
    Py_VISIT(state->msghdrmut_type);
    Py_VISIT(state->recv_flags_class);
    Py_VISIT(state->recv_flags_cache);
    return 0;
}

void
msg_module_clear(module_state *state)
{
    Py_CLEAR(state->msghdr_type);
    Py_CLEAR(state->msghdrmut_type);
    Py_CLEAR(state->recv_flags_class);
    Py_CLEAR(state->recv_flags_cache);
}
