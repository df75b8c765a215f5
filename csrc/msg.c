/* Vectored and message I/O: recv_vectored, recv_from_vectored, send_vectored,
 * send_to_vectored, sendmsg and recvmsg (socket2's names), and this family's part of module
 * set-up (the MsgHdr/MsgHdrMut types, pysock2.cmsg's functions and constants, RecvFlags).
 *
 * Every call acquires all its buffers before the system call, builds the platform's iovec
 * array once (on the stack for a few buffers), runs through socket_call() and releases
 * everything on every path. */
#include "msg.h"

#include <string.h>

/* ---------------------------------------------------------------- buffer lists */

/* A failed PyObject_GetBuffer on item i becomes a TypeError naming the call and the item. */
static void
item_error(const char *fname, const char *what, Py_ssize_t i, PyObject *item, int writable)
{
    if (buffer_error_is_wrong_kind()) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s() %s[%zd] must be %s, not %.100s", fname, what, i,
                     writable ? "a writable, contiguous buffer (bytearray, memoryview, ...)"
                              : "a contiguous bytes-like object",
                     Py_TYPE(item)->tp_name);
    }
}

static int
acquire_items(buffer_list *list, const char *fname, const char *what, PyObject *fast,
              int writable)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > SYS_IOV_MAX) {
        PyErr_Format(PyExc_ValueError, "%s() takes at most IOV_MAX = %d buffers, not %zd",
                     fname, (int)SYS_IOV_MAX, n);
        return -1;
    }
    if (n > BUFFER_LIST_INLINE) {
        list->views = PyMem_New(Py_buffer, (size_t)n);
        list->iov = PyMem_New(sys_iovec, (size_t)n);
        if (list->views == NULL || list->iov == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        /* A Python __buffer__ (3.12+) runs code that may change a list under us: read the
         * size and the item afresh each time, and hold the item while exporting. */
        if (i >= PySequence_Fast_GET_SIZE(fast)) {
            PyErr_Format(PyExc_RuntimeError, "%s() %s changed size during the call", fname,
                         what);
            return -1;
        }
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(fast, i));
        int rc = PyObject_GetBuffer(item, &list->views[i],
                                    writable ? PyBUF_WRITABLE : PyBUF_SIMPLE);
        if (rc < 0) {
            item_error(fname, what, i, item, writable);
        }
        Py_DECREF(item);
        if (rc < 0) {
            return -1;
        }
        list->count = i + 1;
        sys_iovec_set(&list->iov[i], list->views[i].buf, (size_t)list->views[i].len);
    }
    return 0;
}

int
buffer_list_acquire(buffer_list *list, const char *fname, const char *what, PyObject *seq,
                    int writable)
{
    list->views = list->inline_views;
    list->iov = list->inline_iov;
    list->count = 0;
    /* A bytes-like object is also a sequence (of ints): name the likely mistake. */
    if (PyObject_CheckBuffer(seq)) {
        PyErr_Format(PyExc_TypeError, "%s() %s must be a sequence of buffers, not a single "
                     "%.100s (wrap it in a list)", fname, what, Py_TYPE(seq)->tp_name);
        return -1;
    }
    char message[160];
    PyOS_snprintf(message, sizeof(message), "%s() %s must be a sequence of buffers", fname,
                  what);
    PyObject *fast = PySequence_Fast(seq, message);
    if (fast == NULL) {
        return -1;
    }
    int rc;
    /* The free-threaded build: hold the list still while its items are read. */
    OBJECT_LOCK(fast);
    rc = acquire_items(list, fname, what, fast, writable);
    OBJECT_UNLOCK(fast);
    Py_DECREF(fast);
    if (rc < 0) {
        buffer_list_release(list);
    }
    return rc;
}

void
buffer_list_release(buffer_list *list)
{
    for (Py_ssize_t i = 0; i < list->count; i++) {
        PyBuffer_Release(&list->views[i]);
    }
    if (list->views != list->inline_views) {
        PyMem_Free(list->views);
    }
    if (list->iov != list->inline_iov) {
        PyMem_Free(list->iov);
    }
    list->views = list->inline_views;
    list->iov = list->inline_iov;
    list->count = 0;
}

/* ---------------------------------------------------------------- RecvFlags */

/* Distinct flag values are few; the cap only bounds the cache against surprises. */
#define RECV_FLAGS_CACHE_MAX 256

PyObject *
recv_flags_new(module_state *state, int flags)
{
    PyObject *value = PyLong_FromLong(flags);
    if (value == NULL || state->recv_flags_class == NULL) {
        return value;
    }
    PyObject *member;
#if PY_VERSION_HEX >= 0x030D0000
    if (PyDict_GetItemRef(state->recv_flags_cache, value, &member) < 0) {
        Py_DECREF(value);
        return NULL;
    }
#else
    member = Py_XNewRef(PyDict_GetItemWithError(state->recv_flags_cache, value));
    if (member == NULL && PyErr_Occurred()) {
        Py_DECREF(value);
        return NULL;
    }
#endif
    if (member == NULL) {
        /* A miss calls the registered class (Python) once per distinct value. */
        member = PyObject_CallFunctionObjArgs(state->recv_flags_class, value, NULL);
        if (member != NULL && PyDict_GET_SIZE(state->recv_flags_cache) < RECV_FLAGS_CACHE_MAX
            && PyDict_SetItem(state->recv_flags_cache, value, member) < 0) {
            Py_CLEAR(member);
        }
    }
    Py_DECREF(value);
    return member;
}

/* _register_recv_flags(cls): the Python layer's RecvFlags, which the receive calls return. */
static PyObject *
register_recv_flags(PyObject *module, PyObject *cls)
{
    module_state *state = PyModule_GetState(module);
    if (!PyCallable_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "_register_recv_flags() takes a class");
        return NULL;
    }
    PyObject *cache = PyDict_New();
    if (cache == NULL) {
        return NULL;
    }
    Py_XSETREF(state->recv_flags_cache, cache);
    Py_XSETREF(state->recv_flags_class, Py_NewRef(cls));
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- the calls */

typedef struct {
    sys_msg msg;
    int flags;
    sys_socklen_t namecap;   /* the room behind msg.name, restored before each attempt */
    size_t controlcap;
} msg_ctx;

static ptrdiff_t
do_recvmsg(sys_socket_t fd, void *arg)
{
    msg_ctx *c = arg;
    c->msg.namelen = c->namecap;
    c->msg.controllen = c->controlcap;
    c->msg.flags = 0;
    ptrdiff_t n = sys_recvmsg(fd, &c->msg, c->flags);
#ifdef MSG_CMSG_CLOEXEC
    /* Linux echoes this request flag in msg_flags; it says nothing about the message. */
    c->msg.flags &= ~MSG_CMSG_CLOEXEC;
#endif
    return n;
}

static ptrdiff_t
do_sendmsg(sys_socket_t fd, void *arg)
{
    msg_ctx *c = arg;
    return sys_sendmsg(fd, &c->msg, c->flags);
}

/* (first, [address,] *, flags=0): `total` is 2 or 3, flags always last. */
static int
parse_call(const char *fname, const char *const *names, Py_ssize_t total,
           PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **argv,
           int *flags)
{
    return parse_flags_call(fname, args, nargs, kwnames, names, total - 1, total, argv, flags);
}

static PyObject *
receive_vectored(SocketObject *self, const char *fname, PyObject *const *args,
                 Py_ssize_t nargs, PyObject *kwnames, int want_addr)
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
    msg_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.msg.iov = list.iov;
    ctx.msg.iovlen = (size_t)list.count;
    ctx.flags = flags;
    if (want_addr) {
        memset(&from, 0, sizeof(from));
        ctx.msg.name = (struct sockaddr *)&from;
        ctx.namecap = sizeof(from);
    }
    ptrdiff_t n = socket_call(self, do_recvmsg, &ctx, MSG_IS_DONTWAIT(flags));
    buffer_list_release(&list);
    if (n < 0) {
        return NULL;
    }
    PyObject *count = PyLong_FromSsize_t(n);
    PyObject *rflags = recv_flags_new(self->state, ctx.msg.flags);
    PyObject *addr = want_addr ? sockaddr_new(self->state, &from, ctx.msg.namelen) : NULL;
    PyObject *result = NULL;
    if (count != NULL && rflags != NULL && (!want_addr || addr != NULL)) {
        result = want_addr ? PyTuple_Pack(3, count, rflags, addr)
                           : PyTuple_Pack(2, count, rflags);
    }
    Py_XDECREF(count);  /* PyTuple_Pack took its own references */
    Py_XDECREF(rflags);
    Py_XDECREF(addr);
    return result;
}

static PyObject *
socket_recv_vectored(SocketObject *self, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames)
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
    msg_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.msg.name = (struct sockaddr *)to;
    ctx.msg.namelen = tolen;
    ctx.msg.iov = list.iov;
    ctx.msg.iovlen = (size_t)list.count;
    ctx.flags = flags;
    ptrdiff_t n = socket_call(self, do_sendmsg, &ctx, MSG_IS_DONTWAIT(flags) | SOCKET_SENDS);
    buffer_list_release(&list);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *
socket_send_vectored(SocketObject *self, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames)
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
    msg_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    if (parse_call("sendmsg", names, 2, args, nargs, kwnames, argv, &ctx.flags) < 0
        || header_arg("sendmsg", argv[0], self->state->msghdr_type) < 0
        || msghdr_begin(argv[0], &ctx.msg, &addr_obj) < 0) {
        return NULL;
    }
    ptrdiff_t n = -1;
    if (PySys_Audit("socket.sendmsg", "OO", self, addr_obj) == 0) {
        n = socket_call(self, do_sendmsg, &ctx, MSG_IS_DONTWAIT(ctx.flags) | SOCKET_SENDS);
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
    msg_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    if (parse_call("recvmsg", names, 2, args, nargs, kwnames, argv, &ctx.flags) < 0
        || header_arg("recvmsg", argv[0], self->state->msghdrmut_type) < 0
        || msghdrmut_begin(argv[0], &ctx.msg, &from) < 0) {
        return NULL;
    }
    ctx.namecap = ctx.msg.namelen;
    ctx.controlcap = ctx.msg.controllen;
    int dontwait = MSG_IS_DONTWAIT(ctx.flags);
#ifdef MSG_CMSG_CLOEXEC
    /* Descriptors received are close-on-exec, as every socket pysock2 makes. */
    if (ctx.msg.control != NULL) {
        ctx.flags |= MSG_CMSG_CLOEXEC;
    }
#endif
    ptrdiff_t n = socket_call(self, do_recvmsg, &ctx, dontwait);
    if (msghdrmut_finish(argv[0], &ctx.msg, n) < 0 || n < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(n);
}

#define FASTCALL_KW(fn) (PyCFunction)(void (*)(void))(fn), METH_FASTCALL | METH_KEYWORDS

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
     "which then holds the address, flags and control messages. Received descriptors are close-on-exec (MSG_CMSG_CLOEXEC)."},
    {NULL, NULL, 0, NULL},
};

/* ---------------------------------------------------------------- module set-up */

static PyMethodDef msg_functions[] = {
    {"_register_recv_flags", (PyCFunction)register_recv_flags, METH_O,
     "Internal: the RecvFlags class the receive calls return."},
    {NULL, NULL, 0, NULL},
};

int
msg_module_exec(PyObject *module, module_state *state)
{
    state->msghdr_type = add_type(module, &msghdr_spec);
    if (state->msghdr_type == NULL) {
        return -1;
    }
    state->msghdrmut_type = add_type(module, &msghdrmut_spec);
    if (state->msghdrmut_type == NULL) {
        return -1;
    }
    if (PyModule_AddFunctions(module, msg_functions) < 0
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
