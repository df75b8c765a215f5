/* The message headers of sendmsg and recvmsg (socket2's MsgHdr and MsgHdrMut).
 *
 * A header acquires its buffers once, when it is made, and keeps them (and the iovec
 * array the kernel reads) until release(), `with` exit or garbage collection, so that a
 * header reused in a loop costs no per-call buffer work. While a call uses a header it is
 * marked in use: release() then raises BufferError, and a MsgHdrMut takes one recvmsg at a
 * time.
 *
 * Descriptors received in SCM_RIGHTS messages belong to the MsgHdrMut until take_fds()
 * hands them to the caller; those not taken are closed by the next recvmsg into the same
 * header, by release(), or at garbage collection (with a ResourceWarning). */
#include "msg.h"

#include <string.h>

#define USES_RELEASED (-1)  /* the in-use counter of a released header */

/* The most control room a MsgHdrMut allocates (msg_controllen is 32-bit on the BSDs). */
#define CONTROL_MAX ((Py_ssize_t)INT_MAX)

/* ---------------------------------------------------------------- shared */

static int
traverse_buffers(buffer_list *bufs, Py_buffer *control, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < bufs->count; i++) {
        Py_VISIT(bufs->views[i].obj);
    }
    Py_VISIT(control->obj);
    return 0;
}

static void
release_buffers(buffer_list *bufs, Py_buffer *control)
{
    buffer_list_release(bufs);
    if (control->obj != NULL) {
        PyBuffer_Release(control);
    }
}

/* Marks a header released if no call uses it: 1 released now, 0 already released, -1 in
 * use (BufferError raised). */
static int
mark_released(int *uses, const char *tname)
{
    for (;;) {
        int n = compat_atomic_load_int(uses);
        if (n == USES_RELEASED) {
            return 0;
        }
        if (n > 0) {
            PyErr_Format(PyExc_BufferError, "%s is in use by a call in progress", tname);
            return -1;
        }
        if (compat_atomic_cas_int(uses, &n, USES_RELEASED)) {
            return 1;
        }
    }
}

static PyObject *
enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

/* ---------------------------------------------------------------- MsgHdr */

typedef struct {
    PyObject_HEAD
    int uses;                     /* sendmsg calls in progress; USES_RELEASED once released */
    int flags;                    /* msg_flags, as socket2's with_flags */
    PyObject *addr_obj;           /* the address as given (None: none), for audit hooks */
    struct sockaddr_storage addr;
    sys_socklen_t addrlen;        /* 0: no address */
    Py_buffer control;            /* control.obj == NULL: no control data */
    buffer_list bufs;
} MsgHdrObject;

static PyObject *
msghdr_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"addr", "buffers", "control", "flags", NULL};
    PyObject *addr = Py_None, *buffers = NULL, *control = NULL, *flags = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOOO:MsgHdr", kwlist, &addr, &buffers,
                                     &control, &flags)) {
        return NULL;
    }
    module_state *state = module_state_of_type(cls);
    if (state == NULL) {
        return NULL;
    }
    MsgHdrObject *self = (MsgHdrObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) {
        return NULL;
    }
    /* tp_alloc zeroed everything: no views, no control, no address, flags 0. */
    self->bufs.views = self->bufs.inline_views;
    self->bufs.iov = self->bufs.inline_iov;
    self->addr_obj = Py_NewRef(addr);
    if ((flags != NULL && args_int("MsgHdr", "flags", flags, &self->flags) < 0)
        || (addr != Py_None && sockaddr_from_object(state, addr, &self->addr, &self->addrlen) < 0)
        || (buffers != NULL
            && buffer_list_acquire(&self->bufs, "MsgHdr", "buffers", buffers, 0) < 0)
        || (control != NULL && args_readable_buffer("MsgHdr", control, &self->control) < 0)) {
        Py_DECREF(self);
        return NULL;
    }
    if (self->control.obj != NULL && self->control.len == 0) {
        PyBuffer_Release(&self->control);  /* no control data: pass NULL, not an empty one */
    }
    return (PyObject *)self;
}

int
msghdr_begin(PyObject *op, sys_msg *msg, PyObject **addr_obj)
{
    MsgHdrObject *self = (MsgHdrObject *)op;
    for (;;) {
        int n = compat_atomic_load_int(&self->uses);
        if (n == USES_RELEASED) {
            PyErr_SetString(PyExc_ValueError, "sendmsg() on a released MsgHdr");
            return -1;
        }
        if (compat_atomic_cas_int(&self->uses, &n, n + 1)) {
            break;
        }
    }
    memset(msg, 0, sizeof(*msg));
    msg->name = self->addrlen > 0 ? (struct sockaddr *)&self->addr : NULL;
    msg->namelen = self->addrlen;
    msg->iov = self->bufs.iov;
    msg->iovlen = (size_t)self->bufs.count;
    msg->control = self->control.obj != NULL ? self->control.buf : NULL;
    msg->controllen = (size_t)self->control.len;
    msg->flags = self->flags;
    *addr_obj = self->addr_obj;
    return 0;
}

void
msghdr_end(PyObject *op)
{
    compat_atomic_add_int(&((MsgHdrObject *)op)->uses, -1);
}

static PyObject *
msghdr_release(MsgHdrObject *self, PyObject *unused)
{
    (void)unused;
    int rc = mark_released(&self->uses, "MsgHdr");
    if (rc < 0) {
        return NULL;
    }
    if (rc > 0) {
        release_buffers(&self->bufs, &self->control);
    }
    Py_RETURN_NONE;
}

static PyObject *
msghdr_exit(MsgHdrObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs;
    return msghdr_release(self, NULL);
}

static PyObject *
msghdr_repr(MsgHdrObject *self)
{
    if (compat_atomic_load_int(&self->uses) == USES_RELEASED) {
        return PyUnicode_FromFormat("<%s [released]>", Py_TYPE(self)->tp_name);
    }
    return PyUnicode_FromFormat("<%s addr=%R buffers=%zd control=%zd flags=%d>",
                                Py_TYPE(self)->tp_name, self->addr_obj, self->bufs.count,
                                self->control.obj != NULL ? self->control.len : 0, self->flags);
}

static int
msghdr_traverse(MsgHdrObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->addr_obj);
    return traverse_buffers(&self->bufs, &self->control, visit, arg);
}

static int
msghdr_clear(MsgHdrObject *self)
{
    /* Unreachable objects take part in no call, so the buffers can go. */
    release_buffers(&self->bufs, &self->control);
    Py_CLEAR(self->addr_obj);
    return 0;
}

static void
msghdr_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    msghdr_clear((MsgHdrObject *)op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef msghdr_methods[] = {
    {"release", (PyCFunction)msghdr_release, METH_NOARGS,
     "release($self, /)\n--\n\nReleases the buffers now (idempotent); the header cannot be "
     "sent afterwards."},
    {"__enter__", enter, METH_NOARGS, "__enter__($self, /)\n--\n\nReturns the header."},
    {"__exit__", (PyCFunction)(void (*)(void))msghdr_exit, METH_FASTCALL,
     "__exit__($self, *args)\n--\n\nReleases the header (release())."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot msghdr_slots[] = {
    {Py_tp_new, msghdr_new},
    {Py_tp_dealloc, msghdr_dealloc},
    {Py_tp_traverse, msghdr_traverse},
    {Py_tp_clear, msghdr_clear},
    {Py_tp_repr, msghdr_repr},
    {Py_tp_methods, msghdr_methods},
    {Py_tp_doc,
     "MsgHdr(addr=None, buffers=(), control=b\"\", flags=0)\n--\n\nWhat sendmsg sends.\n\n"
     "addr: the destination (None on a connected socket); buffers: a sequence of bytes-like\n"
     "objects, gathered without copying; control: control messages (pysock2.cmsg.build\n"
     "results, concatenated); flags: msg_flags. The buffers stay acquired until release(),\n"
     "the end of a `with` block, or garbage collection."},
    {0, NULL},
};

PyType_Spec msghdr_spec = {
    .name = "pysock2.MsgHdr",
    .basicsize = sizeof(MsgHdrObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = msghdr_slots,
};

/* ---------------------------------------------------------------- MsgHdrMut */

typedef struct {
    PyObject_HEAD
    module_state *state;
    int busy;                     /* 1 while a recvmsg runs; USES_RELEASED once released */
    int want_addr;
    buffer_list bufs;
    Py_buffer control;            /* the caller's writable control buffer, or */
    char *own_control;            /* room allocated for control=<int> (PyMem) */
    size_t control_cap;           /* the control room given to the kernel */
    /* what the last recvmsg received */
    struct sockaddr_storage addr;
    sys_socklen_t addrlen;        /* 0: no address */
    size_t control_len;
    int flags;
    int *fds;                     /* SCM_RIGHTS descriptors not taken yet (PyMem) */
    Py_ssize_t nfds;
} MsgHdrMutObject;

static char *
control_room(MsgHdrMutObject *self)
{
    return self->control.obj != NULL ? (char *)self->control.buf : self->own_control;
}

/* control=None | int | writable buffer. */
static int
control_arg(MsgHdrMutObject *self, PyObject *control)
{
    if (control == Py_None) {
        return 0;
    }
    if (PyLong_Check(control) && !PyBool_Check(control)) {
        Py_ssize_t n;
        if (args_size("MsgHdrMut", "control", control, &n) < 0) {
            return -1;
        }
        if (n > CONTROL_MAX) {
            PyErr_Format(PyExc_OverflowError,
                         "MsgHdrMut() control room of %zd bytes is too "
                         "large",
                         n);
            return -1;
        }
        if (n > 0) {
            self->own_control = PyMem_Calloc((size_t)n, 1);
            if (self->own_control == NULL) {
                PyErr_NoMemory();
                return -1;
            }
        }
        self->control_cap = (size_t)n;
        return 0;
    }
    if (PyObject_CheckBuffer(control)) {
        if (args_writable_buffer("MsgHdrMut", control, &self->control) < 0) {
            return -1;
        }
        if (self->control.len == 0) {
            PyBuffer_Release(&self->control);
        }
        self->control_cap = (size_t)self->control.len;
        return 0;
    }
    PyErr_Format(PyExc_TypeError,
                 "MsgHdrMut() control must be None, a size in bytes or a "
                 "writable buffer, not %.100s",
                 Py_TYPE(control)->tp_name);
    return -1;
}

static PyObject *
msghdrmut_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"addr", "buffers", "control", NULL};
    PyObject *addr = Py_False, *buffers = NULL, *control = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOO:MsgHdrMut", kwlist, &addr, &buffers,
                                     &control)) {
        return NULL;
    }
    if (addr != Py_None && !PyBool_Check(addr)) {
        PyErr_Format(PyExc_TypeError,
                     "MsgHdrMut() addr must be True (record the sender's "
                     "address) or False, not %.100s",
                     Py_TYPE(addr)->tp_name);
        return NULL;
    }
    module_state *state = module_state_of_type(cls);
    if (state == NULL) {
        return NULL;
    }
    MsgHdrMutObject *self = (MsgHdrMutObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) {
        return NULL;
    }
    self->state = state;
    self->want_addr = addr == Py_True;
    self->bufs.views = self->bufs.inline_views;
    self->bufs.iov = self->bufs.inline_iov;
    if ((buffers != NULL
         && buffer_list_acquire(&self->bufs, "MsgHdrMut", "buffers", buffers, 1) < 0)
        || control_arg(self, control) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* Closes the received descriptors nobody took; returns how many. */
static Py_ssize_t
close_untaken_fds(MsgHdrMutObject *self)
{
    Py_ssize_t n = self->nfds;
    for (Py_ssize_t i = 0; i < n; i++) {
        sys_close((sys_socket_t)self->fds[i]);
    }
    PyMem_Free(self->fds);
    self->fds = NULL;
    self->nfds = 0;
    return n;
}

int
msghdrmut_begin(PyObject *op, sys_msg *msg, struct sockaddr_storage *name)
{
    MsgHdrMutObject *self = (MsgHdrMutObject *)op;
    int idle = 0;
    if (!compat_atomic_cas_int(&self->busy, &idle, 1)) {
        if (idle == USES_RELEASED) {
            PyErr_SetString(PyExc_ValueError, "recvmsg() into a released MsgHdrMut");
        }
        else {
            PyErr_SetString(PyExc_BufferError, "MsgHdrMut is in use by another recvmsg()");
        }
        return -1;
    }
    Py_BEGIN_CRITICAL_SECTION(self);
    close_untaken_fds(self);
    self->addrlen = 0;
    self->control_len = 0;
    self->flags = 0;
    Py_END_CRITICAL_SECTION();
    memset(msg, 0, sizeof(*msg));
    if (self->want_addr) {
        memset(name, 0, sizeof(*name));
        msg->name = (struct sockaddr *)name;
        msg->namelen = sizeof(*name);
    }
    msg->iov = self->bufs.iov;
    msg->iovlen = (size_t)self->bufs.count;
    msg->control = self->control_cap > 0 ? control_room(self) : NULL;
    msg->controllen = self->control_cap;
    return 0;
}

/* Takes ownership of the descriptors in the control data just received. */
static int
record_fds(MsgHdrMutObject *self)
{
    char *room = control_room(self);
    Py_ssize_t count = cmsg_collect_fds(room, self->control_len, NULL, 0);
    if (count == 0) {
        return 0;
    }
    int *fds = PyMem_New(int, (size_t)count);
    if (fds == NULL) {
        cmsg_close_fds(room, self->control_len);  /* never leak what we cannot hold */
        PyErr_NoMemory();
        return -1;
    }
    cmsg_collect_fds(room, self->control_len, fds, count);
    self->fds = fds;
    self->nfds = count;
    return 0;
}

int
msghdrmut_finish(PyObject *op, const sys_msg *msg, ptrdiff_t n)
{
    MsgHdrMutObject *self = (MsgHdrMutObject *)op;
    int rc = 0;
    if (n >= 0) {
        Py_BEGIN_CRITICAL_SECTION(self);
        if (self->want_addr && msg->namelen > 0) {
            size_t len = (size_t)msg->namelen;
            /* The kernel reports the full length even when it had to cut the address. */
            self->addrlen = (sys_socklen_t)(len < sizeof(self->addr) ? len : sizeof(self->addr));
            memcpy(&self->addr, msg->name, (size_t)self->addrlen);
        }
        self->control_len =
            msg->controllen < self->control_cap ? msg->controllen : self->control_cap;
        self->flags = msg->flags;
        rc = record_fds(self);
        Py_END_CRITICAL_SECTION();
    }
    compat_atomic_store_int(&self->busy, 0);
    return rc;
}

static PyObject *
msghdrmut_get_addr(MsgHdrMutObject *self, void *closure)
{
    (void)closure;
    PyObject *result;
    Py_BEGIN_CRITICAL_SECTION(self);
    if (self->addrlen == 0) {
        result = Py_NewRef(Py_None);
    }
    else {
        result = sockaddr_new(self->state, &self->addr, self->addrlen);
    }
    Py_END_CRITICAL_SECTION();
    return result;
}

static PyObject *
msghdrmut_flags(MsgHdrMutObject *self, PyObject *unused)
{
    (void)unused;
    return recv_flags_new(self->state, self->flags);
}

static PyObject *
msghdrmut_control_len(MsgHdrMutObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromSize_t(self->control_len);
}

static PyObject *
msghdrmut_control_messages(MsgHdrMutObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *result;
    Py_BEGIN_CRITICAL_SECTION(self);
    result = cmsg_parse_list(control_room(self), self->control_len);
    Py_END_CRITICAL_SECTION();
    return result;
}

static PyObject *
msghdrmut_take_fds(MsgHdrMutObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *list = NULL;
    Py_BEGIN_CRITICAL_SECTION(self);
    list = PyList_New(self->nfds);
    for (Py_ssize_t i = 0; list != NULL && i < self->nfds; i++) {
        PyObject *fd = PyLong_FromLong(self->fds[i]);
        if (fd == NULL) {
            Py_CLEAR(list);  /* the descriptors stay ours, to be closed later */
            break;
        }
        PyList_SET_ITEM(list, i, fd);
    }
    if (list != NULL) {
        PyMem_Free(self->fds);
        self->fds = NULL;
        self->nfds = 0;
    }
    Py_END_CRITICAL_SECTION();
    return list;
}

static void
msghdrmut_release_all(MsgHdrMutObject *self)
{
    release_buffers(&self->bufs, &self->control);
    PyMem_Free(self->own_control);
    self->own_control = NULL;
    self->control_cap = 0;
    self->control_len = 0;
    close_untaken_fds(self);
}

static PyObject *
msghdrmut_release(MsgHdrMutObject *self, PyObject *unused)
{
    (void)unused;
    int rc = mark_released(&self->busy, "MsgHdrMut");
    if (rc < 0) {
        return NULL;
    }
    if (rc > 0) {
        Py_BEGIN_CRITICAL_SECTION(self);
        msghdrmut_release_all(self);
        Py_END_CRITICAL_SECTION();
    }
    Py_RETURN_NONE;
}

static PyObject *
msghdrmut_exit(MsgHdrMutObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs;
    return msghdrmut_release(self, NULL);
}

static PyObject *
msghdrmut_repr(MsgHdrMutObject *self)
{
    if (compat_atomic_load_int(&self->busy) == USES_RELEASED) {
        return PyUnicode_FromFormat("<%s [released]>", Py_TYPE(self)->tp_name);
    }
    return PyUnicode_FromFormat("<%s addr=%s buffers=%zd control=%zu>", Py_TYPE(self)->tp_name,
                                self->want_addr ? "True" : "False", self->bufs.count,
                                self->control_cap);
}

static void
msghdrmut_finalize(PyObject *op)
{
    MsgHdrMutObject *self = (MsgHdrMutObject *)op;
    if (self->nfds == 0) {
        return;
    }
    error_resource_warning(op,
                           "%R closed %zd received descriptor(s) never taken with "
                           "take_fds()",
                           op, self->nfds);
    close_untaken_fds(self);
}

static int
msghdrmut_traverse(MsgHdrMutObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return traverse_buffers(&self->bufs, &self->control, visit, arg);
}

static int
msghdrmut_clear(MsgHdrMutObject *self)
{
    msghdrmut_release_all(self);
    return 0;
}

static void
msghdrmut_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    /* The finalizer runs while the object is still tracked: its ResourceWarning may keep
     * it alive (a warnings record holds the source), and a resurrected object must stay
     * known to the GC. Untracking first aborts a debug CPython. */
    if (PyObject_CallFinalizerFromDealloc(op) < 0) {
        return;  /* resurrected */
    }
    PyObject_GC_UnTrack(op);
    msghdrmut_clear((MsgHdrMutObject *)op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef msghdrmut_methods[] = {
    {"flags", (PyCFunction)msghdrmut_flags, METH_NOARGS,
     "flags($self, /)\n--\n\nReturns RecvFlags: the received message's flags (MSG_TRUNC, "
     "MSG_CTRUNC, ...)."},
    {"control_len", (PyCFunction)msghdrmut_control_len, METH_NOARGS,
     "control_len($self, /)\n--\n\nReturns int: bytes of control data received."},
    {"control_messages", (PyCFunction)msghdrmut_control_messages, METH_NOARGS,
     "control_messages($self, /)\n--\n\nReturns list[(level, type, data: bytes)]: the control "
     "messages received; ValueError if malformed."},
    {"take_fds", (PyCFunction)msghdrmut_take_fds, METH_NOARGS,
     "take_fds($self, /)\n--\n\nReturns list[int]: the descriptors received in SCM_RIGHTS "
     "messages, now owned by "
     "the caller (who must close them). Those not taken are closed by the next recvmsg, "
     "release() or garbage collection."},
    {"release", (PyCFunction)msghdrmut_release, METH_NOARGS,
     "release($self, /)\n--\n\nReleases the buffers and closes descriptors not taken "
     "(idempotent)."},
    {"__enter__", enter, METH_NOARGS, "__enter__($self, /)\n--\n\nReturns the header."},
    {"__exit__", (PyCFunction)(void (*)(void))msghdrmut_exit, METH_FASTCALL,
     "__exit__($self, *args)\n--\n\nReleases the header (release())."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef msghdrmut_getset[] = {
    {"addr", (getter)msghdrmut_get_addr, NULL,
     "The sender's SockAddr with the length the kernel reported, or None (not asked for, "
     "or none received).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot msghdrmut_slots[] = {
    {Py_tp_new, msghdrmut_new},
    {Py_tp_dealloc, msghdrmut_dealloc},
    {Py_tp_finalize, msghdrmut_finalize},
    {Py_tp_traverse, msghdrmut_traverse},
    {Py_tp_clear, msghdrmut_clear},
    {Py_tp_repr, msghdrmut_repr},
    {Py_tp_methods, msghdrmut_methods},
    {Py_tp_getset, msghdrmut_getset},
    {Py_tp_doc,
     "MsgHdrMut(addr=False, buffers=(), control=None)\n--\n\nWhat recvmsg fills.\n\n"
     "addr: True to record the sender's address; buffers: a sequence of writable buffers,\n"
     "filled without copying; control: None (no control data), a size in bytes to allocate\n"
     "(pysock2.cmsg.space(...)), or a writable buffer to receive control data into. The\n"
     "buffers stay acquired until release(), the end of a `with` block, or garbage\n"
     "collection."},
    {0, NULL},
};

PyType_Spec msghdrmut_spec = {
    .name = "pysock2.MsgHdrMut",
    .basicsize = sizeof(MsgHdrMutObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = msghdrmut_slots,
};
