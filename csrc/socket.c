/* The Socket type: creation, ownership and closing, connection set-up, descriptor state.
 * Data transfer is in io.c, options in options.c. */
#include "pysock2.h"

#include <structmember.h>

#include <string.h>

/* ---------------------------------------------------------------- creation */

static PyObject *
wrap_fd_as(PyTypeObject *cls, module_state *state, sys_socket_t fd, PyObject *owner)
{
    SocketObject *self = (SocketObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) {
        if (owner == NULL) {
            sys_close(fd);
        }
        return NULL;
    }
    self->fd = fd;
    self->state = state;
    self->owner = Py_XNewRef(owner);
    return (PyObject *)self;
}

PyObject *
socket_wrap_fd(module_state *state, sys_socket_t fd)
{
    return wrap_fd_as(state->socket_class, state, fd, NULL);
}

/* (domain, type, protocol=None) of the constructors. */
static int
parse_new_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               int *domain, int *type, int *protocol)
{
    static const char *const names[] = {"domain", "type", "protocol"};
    PyObject *argv[3];
    if (args_parse(fname, args, nargs, kwnames, names, 2, 3, argv) < 0
        || args_int(fname, "domain", argv[0], domain) < 0
        || args_int(fname, "type", argv[1], type) < 0) {
        return -1;
    }
    *protocol = 0;
    if (argv[2] != NULL && argv[2] != Py_None) {
        return args_int(fname, "protocol", argv[2], protocol);
    }
    return 0;
}

static PyObject *
create(PyTypeObject *cls, const char *fname, PyObject *const *args, Py_ssize_t nargs,
       PyObject *kwnames, int raw)
{
    module_state *state = module_state_of_type(cls);
    int domain, type, protocol;
    if (state == NULL
        || parse_new_args(fname, args, nargs, kwnames, &domain, &type, &protocol) < 0) {
        return NULL;
    }
    sys_socket_t fd = sys_socket(domain, type, protocol, raw);
    if (fd == SYS_INVALID_SOCKET) {
        return error_set_from_sys(sys_last_error());
    }
    PyObject *self = wrap_fd_as(cls, state, fd, NULL);
    if (self != NULL && PySys_Audit("socket.__new__", "Oiii", self, domain, type, protocol) < 0) {
        Py_CLEAR(self);  /* the finalizer closes fd quietly: nothing was handed out */
    }
    return self;
}

static PyObject *
socket_tp_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    /* The constructor is cold: go through the FASTCALL parser with a temporary vector. */
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    Py_ssize_t nkw = kwargs == NULL ? 0 : PyDict_GET_SIZE(kwargs);
    PyObject *argv[8];
    if (nargs + nkw > 3) {
        PyErr_Format(PyExc_TypeError, "Socket() takes at most 3 arguments (%zd given)",
                     nargs + nkw);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        argv[i] = PyTuple_GET_ITEM(args, i);
    }
    PyObject *kwnames = NULL;
    if (nkw > 0) {
        kwnames = PyTuple_New(nkw);
        if (kwnames == NULL) {
            return NULL;
        }
        Py_ssize_t pos = 0, i = 0;
        PyObject *key, *value;
        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            PyTuple_SET_ITEM(kwnames, i, Py_NewRef(key));
            argv[nargs + i++] = value;
        }
    }
    PyObject *self = create(cls, "Socket", argv, nargs, kwnames, 0);
    Py_XDECREF(kwnames);
    return self;
}

static PyObject *
socket_new_raw(PyObject *cls, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return create((PyTypeObject *)cls, "new_raw", args, nargs, kwnames, 1);
}

#ifdef SYS_HAS_SOCKETPAIR
static PyObject *
make_pair(PyObject *cls, const char *fname, PyObject *const *args, Py_ssize_t nargs,
          PyObject *kwnames, int raw)
{
    module_state *state = module_state_of_type((PyTypeObject *)cls);
    int domain, type, protocol;
    if (state == NULL
        || parse_new_args(fname, args, nargs, kwnames, &domain, &type, &protocol) < 0) {
        return NULL;
    }
    sys_socket_t fds[2];
    if (sys_socketpair(domain, type, protocol, raw, fds) < 0) {
        return error_set_from_sys(sys_last_error());
    }
    PyObject *a = wrap_fd_as((PyTypeObject *)cls, state, fds[0], NULL);
    if (a == NULL) {
        sys_close(fds[1]);
        return NULL;
    }
    PyObject *b = wrap_fd_as((PyTypeObject *)cls, state, fds[1], NULL);
    if (b == NULL) {
        Py_DECREF(a);
        return NULL;
    }
    return Py_BuildValue("(NN)", a, b);
}

static PyObject *
socket_pair(PyObject *cls, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return make_pair(cls, "pair", args, nargs, kwnames, 0);
}

static PyObject *
socket_pair_raw(PyObject *cls, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return make_pair(cls, "pair_raw", args, nargs, kwnames, 1);
}
#endif

/* A descriptor argument: a non-negative int (no fileno() lookup: ownership is explicit). */
static int
fd_arg(const char *fname, PyObject *obj, sys_socket_t *fd)
{
#ifdef _WIN32
    unsigned long long value = PyLong_Check(obj) ? PyLong_AsUnsignedLongLong(obj) : 0;
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s() fd must be an int, not %.100s", fname,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyErr_Occurred() || (sys_socket_t)value == SYS_INVALID_SOCKET) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s() fd must be a valid SOCKET handle", fname);
        return -1;
    }
    *fd = (sys_socket_t)value;
#else
    int value;
    if (args_int(fname, "fd", obj, &value) < 0) {
        return -1;
    }
    if (value < 0) {
        PyErr_Format(PyExc_ValueError, "%s() fd must be >= 0, not %d", fname, value);
        return -1;
    }
    *fd = value;
#endif
    return 0;
}

static PyObject *
socket_from_fd(PyObject *cls, PyObject *arg)
{
    module_state *state = module_state_of_type((PyTypeObject *)cls);
    sys_socket_t fd;
    if (state == NULL || fd_arg("from_fd", arg, &fd) < 0) {
        return NULL;
    }
    /* Refuse what is not a socket before taking ownership (ENOTSOCK, EBADF). */
    int type;
    sys_socklen_t len = sizeof(type);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        return error_set_from_sys(sys_last_error());
    }
    return wrap_fd_as((PyTypeObject *)cls, state, fd, NULL);
}

/* ---- borrowed sockets (SockRef, pysock2/_sockref.py) ---- */

/* _borrow(fd, owner): an object of class cls on a descriptor it does not own: `owner` is
 * kept alive, and neither close() nor the finalizer ever closes the descriptor. */
static PyObject *
socket_borrow(PyObject *cls, PyObject *const *args, Py_ssize_t nargs)
{
    module_state *state = module_state_of_type((PyTypeObject *)cls);
    sys_socket_t fd;
    if (state == NULL) {
        return NULL;
    }
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_borrow() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (fd_arg("_borrow", args[0], &fd) < 0) {
        return NULL;
    }
    int type;
    sys_socklen_t len = sizeof(type);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_TYPE, (void *)&type, &len) < 0) {
        return error_set_from_sys(sys_last_error());  /* not a socket (ENOTSOCK) or not open */
    }
    return wrap_fd_as((PyTypeObject *)cls, state, fd, args[1]);
}

/* ---- end of borrowed sockets ---- */

/* ---------------------------------------------------------------- ownership */

static PyObject *
socket_fileno(SocketObject *self, PyObject *unused)
{
    (void)unused;
    /* -1 once closed, as the stdlib does, so that selectors can unregister it. */
    sys_socket_t fd = SOCK_FD(self);
    return fd == SYS_INVALID_SOCKET ? PyLong_FromLong(-1) : PyLong_FromLongLong((long long)fd);
}

static PyObject *
socket_detach(SocketObject *self, PyObject *unused)
{
    (void)unused;
    sys_socket_t fd = SOCK_FD_SWAP(self, SYS_INVALID_SOCKET);
    return fd == SYS_INVALID_SOCKET ? PyLong_FromLong(-1) : PyLong_FromLongLong((long long)fd);
}

/* Gives up the descriptor; closes it only if this object owns it. */
static int
release_fd(SocketObject *self)
{
    sys_socket_t fd = SOCK_FD_SWAP(self, SYS_INVALID_SOCKET);
    if (fd == SYS_INVALID_SOCKET || self->owner != NULL) {
        return 0;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sys_close(fd);
    Py_END_ALLOW_THREADS
    return rc < 0 ? sys_last_error() : 0;
}

static PyObject *
socket_close(SocketObject *self, PyObject *unused)
{
    (void)unused;
    int err = release_fd(self);
    /* As the stdlib: a reset peer is not the closer's problem. */
    if (err != 0 && err != SYS_ECONNRESET) {
        return error_set_from_sys(err);
    }
    Py_RETURN_NONE;
}

static PyObject *
socket_get_closed(SocketObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(SOCK_FD(self) == SYS_INVALID_SOCKET);
}

static PyObject *
socket_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *
socket_exit(SocketObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs;
    return socket_close(self, NULL);
}

static void
socket_finalize(PyObject *op)
{
    SocketObject *self = (SocketObject *)op;
    if (self->owner != NULL || SOCK_FD(self) == SYS_INVALID_SOCKET) {
        return;
    }
    error_resource_warning(op, "unclosed %R", op);
    release_fd(self);
}

static int
socket_traverse(SocketObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->owner);
    Py_VISIT(self->sender_cache);
    return 0;
}

static int
socket_clear(SocketObject *self)
{
    Py_CLEAR(self->owner);
    Py_CLEAR(self->sender_cache);
    return 0;
}

static void
socket_dealloc(PyObject *op)
{
    SocketObject *self = (SocketObject *)op;
    PyTypeObject *tp = Py_TYPE(op);
    /* The finalizer runs while the object is still tracked: its ResourceWarning may keep
     * it alive (a warnings record holds the source), and a resurrected object must stay
     * known to the GC. Untracking first aborts a debug CPython. */
    if (PyObject_CallFinalizerFromDealloc(op) < 0) {
        return;  /* resurrected */
    }
    PyObject_GC_UnTrack(op);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs(op);
    }
    socket_clear(self);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyObject *
socket_repr(SocketObject *self)
{
    sys_socket_t fd = SOCK_FD(self);
    if (fd == SYS_INVALID_SOCKET) {
        return PyUnicode_FromFormat("<%s [closed]>", Py_TYPE(self)->tp_name);
    }
    return PyUnicode_FromFormat("<%s fd=%lld%s>", Py_TYPE(self)->tp_name, (long long)fd,
                                self->owner != NULL ? " borrowed" : "");
}

/* ---------------------------------------------------------------- connection */

/* The address family of an open socket (AF_UNSPEC if the platform cannot say); cached,
 * as the family of a descriptor never changes. */
static int
socket_family(SocketObject *self, sys_socket_t fd)
{
    int family = compat_atomic_load_int_relaxed(&self->family);
    if (family != AF_UNSPEC) {
        return family;
    }
#if defined(SO_DOMAIN)
    sys_socklen_t len = sizeof(family);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, (void *)&family, &len) < 0) {
        family = AF_UNSPEC;
    }
#elif defined(_WIN32)
    WSAPROTOCOL_INFOW info;
    sys_socklen_t len = sizeof(info);
    family = sys_getsockopt(fd, SOL_SOCKET, SO_PROTOCOL_INFOW, (void *)&info, &len) < 0
                 ? AF_UNSPEC
                 : info.iAddressFamily;
#else
    struct sockaddr_storage name;
    sys_socklen_t len = sizeof(name);
    memset(&name, 0, sizeof(name));
    family = sys_getsockname(fd, (struct sockaddr *)&name, &len) < 0 ? AF_UNSPEC : name.ss_family;
#endif
    compat_atomic_store_int_relaxed(&self->family, family);
    return family;
}

static const char *
family_name(int family, char *buf, size_t size)
{
    switch (family) {
    case AF_INET:
        return "AF_INET";
    case AF_INET6:
        return "AF_INET6";
#ifdef AF_PACKET
    case AF_PACKET:
        return "AF_PACKET";
#endif
#ifdef AF_VSOCK
    case AF_VSOCK:
        return "AF_VSOCK";
#endif
    default:
        PyOS_snprintf(buf, size, "family %d", family);
        return buf;
    }
}

int
socket_address_arg(SocketObject *self, const char *fname, PyObject *obj,
                   struct sockaddr_storage *storage, sys_socklen_t *len)
{
    /* A str, bytes or path is a Unix path; on any other socket it is a mistake the kernel
     * reports only as EINVAL (connect("127.0.0.1:80")), so say so as the stdlib does. */
    if (!PyTuple_Check(obj) && !PyObject_TypeCheck(obj, self->state->sockaddr_type)) {
        sys_socket_t fd = SOCK_FD(self);
        int family = fd == SYS_INVALID_SOCKET ? AF_UNSPEC : socket_family(self, fd);
        if (family != AF_UNSPEC && family != AF_UNIX) {
            char buf[32];
            PyErr_Format(PyExc_TypeError,
                         "%s(): an %s socket takes a (host, port) tuple or a SockAddr, "
                         "not %.100s (a str, bytes or path is a Unix address)",
                         fname, family_name(family, buf, sizeof(buf)), Py_TYPE(obj)->tp_name);
            return -1;
        }
    }
    return sockaddr_from_object(self->state, obj, storage, len);
}

static PyObject *
socket_bind(SocketObject *self, PyObject *address)
{
    struct sockaddr_storage storage;
    sys_socklen_t len;
    if (socket_address_arg(self, "bind", address, &storage, &len) < 0
        || PySys_Audit("socket.bind", "OO", self, address) < 0) {
        return NULL;
    }
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    if (sys_bind(fd, (struct sockaddr *)&storage, len) < 0) {
        return error_set_from_sys(sys_last_error());
    }
    Py_RETURN_NONE;
}

static PyObject *
socket_connect(SocketObject *self, PyObject *address)
{
    struct sockaddr_storage storage;
    sys_socklen_t len;
    if (socket_address_arg(self, "connect", address, &storage, &len) < 0
        || PySys_Audit("socket.connect", "OO", self, address) < 0) {
        return NULL;
    }
    if (connect_blocking(self, (struct sockaddr *)&storage, len) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
socket_connect_timeout(SocketObject *self, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames)
{
    static const char *const names[] = {"address", "timeout"};
    PyObject *argv[2];
    struct sockaddr_storage storage;
    sys_socklen_t len;
    int64_t usec;
    if (args_parse("connect_timeout", args, nargs, kwnames, names, 2, 2, argv) < 0
        || socket_address_arg(self, "connect_timeout", argv[0], &storage, &len) < 0
        || args_duration(self->state, "connect_timeout", argv[1], &usec) < 0
        || PySys_Audit("socket.connect", "OO", self, argv[0]) < 0) {
        return NULL;
    }
    if (connect_with_timeout(self, (struct sockaddr *)&storage, len, usec) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
socket_listen(SocketObject *self, PyObject *arg)
{
    int backlog;
    if (args_int("listen", "backlog", arg, &backlog) < 0) {
        return NULL;
    }
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    if (sys_listen(fd, backlog) < 0) {
        return error_set_from_sys(sys_last_error());
    }
    Py_RETURN_NONE;
}

typedef struct {
    struct sockaddr_storage storage;
    sys_socklen_t len;
    int raw;
    int flags;  /* accept4 flags, or -1 for accept */
} accept_ctx;

static ptrdiff_t
do_accept(sys_socket_t fd, void *arg)
{
    accept_ctx *ctx = arg;
    ctx->len = sizeof(ctx->storage);
    sys_socket_t conn;
#ifdef SYS_HAS_ACCEPT4
    if (ctx->flags >= 0) {
        conn = sys_accept4(fd, (struct sockaddr *)&ctx->storage, &ctx->len, ctx->flags);
    }
    else
#endif
        conn = sys_accept(fd, (struct sockaddr *)&ctx->storage, &ctx->len, ctx->raw);
    /* A SOCKET is a handle, not a small int, on Windows; it still fits ptrdiff_t. */
    return conn == SYS_INVALID_SOCKET ? -1 : (ptrdiff_t)conn;
}

static PyObject *
accept_with(SocketObject *self, int raw, int flags)
{
    accept_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.raw = raw;
    ctx.flags = flags;
    ptrdiff_t conn = socket_call(self, do_accept, &ctx, 0);
    if (conn < 0) {
        return NULL;
    }
    PyObject *sock = socket_wrap_fd(self->state, (sys_socket_t)conn);
    if (sock == NULL) {
        return NULL;
    }
    PyObject *addr = sockaddr_new(self->state, &ctx.storage, ctx.len);
    if (addr == NULL) {
        Py_DECREF(sock);  /* closes quietly: never handed out */
        return NULL;
    }
    return Py_BuildValue("(NN)", sock, addr);
}

static PyObject *
socket_accept(SocketObject *self, PyObject *unused)
{
    (void)unused;
    return accept_with(self, 0, -1);
}

static PyObject *
socket_accept_raw(SocketObject *self, PyObject *unused)
{
    (void)unused;
    return accept_with(self, 1, -1);
}

#ifdef SYS_HAS_ACCEPT4
static PyObject *
socket_accept4(SocketObject *self, PyObject *arg)
{
    int flags;
    if (args_int("accept4", "flags", arg, &flags) < 0) {
        return NULL;
    }
    if (flags < 0) {
        PyErr_SetString(PyExc_ValueError, "accept4() flags must not be negative");
        return NULL;
    }
    return accept_with(self, 1, flags);
}
#endif

typedef int (*name_fn)(sys_socket_t, struct sockaddr *, sys_socklen_t *);

static PyObject *
socket_name(SocketObject *self, name_fn fn)
{
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof(storage));
    sys_socklen_t len = sizeof(storage);
    if (fn(fd, (struct sockaddr *)&storage, &len) < 0) {
        return error_set_from_sys(sys_last_error());
    }
    return sockaddr_new(self->state, &storage, len);
}

static PyObject *
socket_local_addr(SocketObject *self, PyObject *unused)
{
    (void)unused;
    return socket_name(self, sys_getsockname);
}

static PyObject *
socket_peer_addr(SocketObject *self, PyObject *unused)
{
    (void)unused;
    return socket_name(self, sys_getpeername);
}

static PyObject *
socket_shutdown(SocketObject *self, PyObject *arg)
{
    int how;
    if (args_int("shutdown", "how", arg, &how) < 0) {
        return NULL;
    }
    if (how != SYS_SHUT_RD && how != SYS_SHUT_WR && how != SYS_SHUT_RDWR) {
        PyErr_Format(PyExc_ValueError,
                     "shutdown() how must be Shutdown.READ, WRITE or BOTH, "
                     "not %d",
                     how);
        return NULL;
    }
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    if (sys_shutdown(fd, how) < 0) {
        return error_set_from_sys(sys_last_error());
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- descriptor state */

static PyObject *
socket_try_clone(SocketObject *self, PyObject *unused)
{
    (void)unused;
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    sys_socket_t copy = sys_duplicate(fd);
    if (copy == SYS_INVALID_SOCKET) {
        return error_set_from_sys(sys_last_error());
    }
    return socket_wrap_fd(self->state, copy);
}

typedef int (*flag_setter)(sys_socket_t, int);

static PyObject *
set_flag(SocketObject *self, PyObject *arg, flag_setter set)
{
    int on = PyObject_IsTrue(arg);
    if (on < 0) {
        return NULL;
    }
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    if (set(fd, on) < 0) {
        return error_set_from_sys(sys_last_error());
    }
    Py_RETURN_NONE;
}

static PyObject *
socket_set_nonblocking(SocketObject *self, PyObject *arg)
{
    return set_flag(self, arg, sys_set_nonblocking);
}

#ifndef _WIN32
static PyObject *
socket_nonblocking(SocketObject *self, PyObject *unused)
{
    (void)unused;
    sys_socket_t fd = socket_checked_fd(self);
    int on;
    if (fd == SYS_INVALID_SOCKET) {
        return NULL;
    }
    if (sys_get_nonblocking(fd, &on) < 0) {
        return error_set_from_sys(sys_last_error());
    }
    return PyBool_FromLong(on);
}

static PyObject *
socket_set_cloexec(SocketObject *self, PyObject *arg)
{
    return set_flag(self, arg, sys_set_cloexec);
}
#else
static PyObject *
socket_set_no_inherit(SocketObject *self, PyObject *arg)
{
    return set_flag(self, arg, sys_set_no_inherit);
}
#endif

/* ---------------------------------------------------------------- the type */


static PyMethodDef socket_methods[] = {
    {"new_raw", FASTCALL_KW(socket_new_raw) | METH_CLASS,
     "new_raw($type, domain, type, protocol=None)\n--\n\nA socket with no flags set (no "
     "close-on-exec)."},
#ifdef SYS_HAS_SOCKETPAIR
    {"pair", FASTCALL_KW(socket_pair) | METH_CLASS,
     "pair($type, domain, type, protocol=None)\n--\n\nReturns (Socket, Socket): connected, "
     "close-on-exec."},
    {"pair_raw", FASTCALL_KW(socket_pair_raw) | METH_CLASS,
     "pair_raw($type, domain, type, protocol=None)\n--\n\nReturns (Socket, Socket): with no flags "
     "set."},
#endif
    {"from_fd", (PyCFunction)socket_from_fd, METH_O | METH_CLASS,
     "from_fd($type, fd, /)\n--\n\nReturns Socket: takes ownership of an open socket descriptor."},
    {"_borrow", (PyCFunction)(void (*)(void))socket_borrow, METH_FASTCALL | METH_CLASS,
     "_borrow($type, fd, owner, /)\n--\n\nInternal (SockRef): borrows fd, keeping owner alive."},
    {"fileno", (PyCFunction)socket_fileno, METH_NOARGS,
     "fileno($self, /)\n--\n\nThe descriptor, or -1 once closed or detached."},
    {"detach", (PyCFunction)socket_detach, METH_NOARGS,
     "detach($self, /)\n--\n\nGives up the descriptor without closing it and returns it (-1 if "
     "closed)."},
    {"close", (PyCFunction)socket_close, METH_NOARGS,
     "close($self, /)\n--\n\nCloses the descriptor (idempotent); a borrowed one is released, never "
     "closed."},
    {"__enter__", (PyCFunction)socket_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nReturns the socket."},
    {"__exit__", (PyCFunction)(void (*)(void))socket_exit, METH_FASTCALL,
     "__exit__($self, *args)\n--\n\nCloses the socket (close())."},
    {"bind", (PyCFunction)socket_bind, METH_O,
     "bind($self, address, /)\n--\n\nBinds to a local address."},
    {"connect", (PyCFunction)socket_connect, METH_O,
     "connect($self, address, /)\n--\n\nConnects (waits for the outcome after a signal, PEP 475)."},
    {"connect_timeout", FASTCALL_KW(socket_connect_timeout),
     "connect_timeout($self, address, timeout)\n--\n\nConnects, raising TimeoutError after timeout "
     "seconds; the socket is in blocking mode afterwards."},
    {"listen", (PyCFunction)socket_listen, METH_O,
     "listen($self, backlog, /)\n--\n\nMarks the socket as accepting connections."},
    {"accept", (PyCFunction)socket_accept, METH_NOARGS,
     "accept($self, /)\n--\n\nReturns (Socket, SockAddr): the new socket is close-on-exec."},
    {"accept_raw", (PyCFunction)socket_accept_raw, METH_NOARGS,
     "accept_raw($self, /)\n--\n\nReturns (Socket, SockAddr): with no flags set on the new "
     "socket."},
#ifdef SYS_HAS_ACCEPT4
    {"accept4", (PyCFunction)socket_accept4, METH_O,
     "accept4($self, flags, /)\n--\n\nReturns (Socket, SockAddr): accept4(2) with "
     "SOCK_NONBLOCK/SOCK_CLOEXEC flags."},
#endif
    {"local_addr", (PyCFunction)socket_local_addr, METH_NOARGS,
     "local_addr($self, /)\n--\n\nThe bound address."},
    {"peer_addr", (PyCFunction)socket_peer_addr, METH_NOARGS,
     "peer_addr($self, /)\n--\n\nThe connected peer's address."},
    {"shutdown", (PyCFunction)socket_shutdown, METH_O,
     "shutdown($self, how, /)\n--\n\nShuts down reading, writing or both (a Shutdown)."},
    {"try_clone", (PyCFunction)socket_try_clone, METH_NOARGS,
     "try_clone($self, /)\n--\n\nA new Socket on a close-on-exec duplicate of the descriptor."},
    {"set_nonblocking", (PyCFunction)socket_set_nonblocking, METH_O,
     "set_nonblocking($self, on, /)\n--\n\nSets or clears non-blocking mode."},
#ifndef _WIN32
    {"nonblocking", (PyCFunction)socket_nonblocking, METH_NOARGS,
     "nonblocking($self, /)\n--\n\nWhether O_NONBLOCK is set."},
    {"set_cloexec", (PyCFunction)socket_set_cloexec, METH_O,
     "set_cloexec($self, on, /)\n--\n\nSets or clears FD_CLOEXEC."},
#else
    {"set_no_inherit", (PyCFunction)socket_set_no_inherit, METH_O,
     "set_no_inherit($self, on, /)\n--\n\nSets or clears HANDLE_FLAG_INHERIT (Windows)."},
#endif
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef socket_getset[] = {
    {"closed", (getter)socket_get_closed, NULL, "Whether the socket is closed or detached.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef socket_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(SocketObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot socket_slots[] = {
    {Py_tp_new, socket_tp_new},
    {Py_tp_dealloc, socket_dealloc},
    {Py_tp_finalize, socket_finalize},
    {Py_tp_traverse, socket_traverse},
    {Py_tp_clear, socket_clear},
    {Py_tp_repr, socket_repr},
    {Py_tp_methods, socket_methods},
    {Py_tp_getset, socket_getset},
    {Py_tp_members, socket_members},
    {Py_tp_doc, "Socket(domain, type, protocol=None)\n--\n\nAn owned socket descriptor, "
                "close-on-exec."},
    {0, NULL},
};

PyType_Spec socket_spec = {
    .name = "pysock2.Socket",
    .basicsize = sizeof(SocketObject),
    .flags =
        Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = socket_slots,
};
