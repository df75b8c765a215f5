/* Batch datagram I/O (docs/batch.md).
 *
 * DatagramBatch: a reusable array of datagram slots over caller-owned buffers, pinned once
 * when the batch is made. Socket.recv_batch fills it with one recvmmsg (Linux) and
 * Socket.send_batch sends it (or any sequence of bytes-like objects) with one sendmmsg;
 * neither builds a Python object per datagram. Lengths, flags, senders and GRO segment
 * sizes are read by index afterwards; a sender's SockAddr is made on demand and kept per
 * slot while the sender is unchanged. Elsewhere the batch calls loop over
 * sys_recvmsg/sys_sendmsg (the documented fallback). A slot's GRO segment size is
 * offload.c's reading of its control messages; the UDP offload calls themselves live
 * there. */
#include "msg.h"

#include <string.h>

/* ---------------------------------------------------------------- the batch object */

typedef struct {
    PyObject_HEAD
    Py_ssize_t capacity;
    Py_ssize_t count;             /* datagrams held: set by recv_batch, or by the caller */
    Py_ssize_t control_size;      /* control-message bytes per slot (0: none) */
    PyObject *buffers;            /* tuple: the caller's buffer objects */
    Py_buffer *views;             /* capacity views, pinned writable until release */
    int pinned;                   /* views hold exports */
    int busy;                     /* a call is using the arrays (maybe without the GIL) */
    module_state *state;
    /* Receive headers, armed once over the pinned buffers: a call re-arms only the
     * `recv_dirty` first ones, which the last receive rewrote. */
    sys_mmsg *rmsgs;
    sys_iovec *riov;
    Py_ssize_t recv_dirty;
    /* Send headers, built for the first `send_built` slots and reused while nothing
     * changed (send_built = -1: rebuild); send_to is the address they were built for. */
    sys_mmsg *smsgs;
    sys_iovec *siov;
    Py_ssize_t send_built;
    struct sockaddr_storage send_to;
    sys_socklen_t send_tolen;
    struct sockaddr_storage *addrs;
    size_t *lens;                 /* datagram length per slot */
    sys_socklen_t *addrlens;      /* address length per slot; 0: none */
    int *flags;                   /* received msg_flags per slot */
    size_t *controllens;          /* received control bytes per slot */
    char *control;                /* capacity * control_size */
    PyObject **addr_objs;         /* per slot: the SockAddr last handed out, or NULL */
    PyObject *last_addr;          /* the SockAddr last made, shared by slots */
} BatchObject;

/* The busy mark: taken by one call at a time (which may run without the GIL). */
static int
busy_try(BatchObject *self)
{
    int idle = 0;
    return compat_atomic_cas_int(&self->busy, &idle, 1);
}

static void
busy_done(BatchObject *self)
{
    compat_atomic_store_int(&self->busy, 0);
}

/* Takes the batch for one call: it must hold its buffers and no other call may be using
 * it (a call may run without the GIL; two at once would share the arrays). */
static int
batch_enter(BatchObject *self)
{
    if (!busy_try(self)) {
        PyErr_SetString(PyExc_RuntimeError, "DatagramBatch is in use by another call");
        return -1;
    }
    if (!self->pinned) {
        busy_done(self);
        PyErr_SetString(PyExc_ValueError, "DatagramBatch is released");
        return -1;
    }
    return 0;
}

static void
batch_free_arrays(BatchObject *self)
{
    if (self->pinned) {
        for (Py_ssize_t i = 0; i < self->capacity; i++) {
            PyBuffer_Release(&self->views[i]);
        }
        self->pinned = 0;
    }
    if (self->addr_objs != NULL) {
        for (Py_ssize_t i = 0; i < self->capacity; i++) {
            Py_CLEAR(self->addr_objs[i]);
        }
    }
    PyMem_Free(self->views);
    PyMem_Free(self->rmsgs);
    PyMem_Free(self->riov);
    PyMem_Free(self->smsgs);
    PyMem_Free(self->siov);
    PyMem_Free(self->addrs);
    PyMem_Free(self->lens);
    PyMem_Free(self->addrlens);
    PyMem_Free(self->flags);
    PyMem_Free(self->controllens);
    PyMem_Free(self->control);
    PyMem_Free(self->addr_objs);
    self->views = NULL;
    self->rmsgs = NULL;
    self->riov = NULL;
    self->smsgs = NULL;
    self->siov = NULL;
    self->addrs = NULL;
    self->lens = NULL;
    self->addrlens = NULL;
    self->flags = NULL;
    self->controllens = NULL;
    self->control = NULL;
    self->addr_objs = NULL;
    self->count = 0;
}

#define NEW_ARRAY(type, n) ((type *)PyMem_Calloc((size_t)(n), sizeof(type)))

static PyObject *
batch_tp_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"buffers", "control_size", NULL};
    PyObject *buffers;
    Py_ssize_t control_size = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$n:DatagramBatch", kwlist, &buffers,
                                     &control_size)) {
        return NULL;
    }
    module_state *state = module_state_of_type(cls);
    if (state == NULL) {
        return NULL;
    }
    if (control_size < 0 || control_size > 65536) {
        PyErr_SetString(PyExc_ValueError, "DatagramBatch() control_size must be 0-65536");
        return NULL;
    }
    if (PyObject_CheckBuffer(buffers)) {
        PyErr_SetString(PyExc_TypeError,
                        "DatagramBatch() takes a sequence of buffers, not one buffer "
                        "(DatagramBatch.allocate(count, size) makes them)");
        return NULL;
    }
    PyObject *tuple = PySequence_Tuple(buffers);
    if (tuple == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Format(PyExc_TypeError,
                         "DatagramBatch() takes a sequence of writable buffers, not %.100s",
                         Py_TYPE(buffers)->tp_name);
        }
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    if (n < 1 || n > SYS_MMSG_MAX) {
        PyErr_Format(PyExc_ValueError, "DatagramBatch() takes 1 to %d buffers, not %zd",
                     SYS_MMSG_MAX, n);
        Py_DECREF(tuple);
        return NULL;
    }
    BatchObject *self = (BatchObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) {
        Py_DECREF(tuple);
        return NULL;
    }
    self->state = state;
    self->buffers = tuple;
    self->capacity = n;
    self->control_size = control_size;
    self->views = NEW_ARRAY(Py_buffer, n);
    self->rmsgs = NEW_ARRAY(sys_mmsg, n);
    self->riov = NEW_ARRAY(sys_iovec, n);
    self->smsgs = NEW_ARRAY(sys_mmsg, n);
    self->siov = NEW_ARRAY(sys_iovec, n);
    self->send_built = -1;
    self->addrs = NEW_ARRAY(struct sockaddr_storage, n);
    self->lens = NEW_ARRAY(size_t, n);
    self->addrlens = NEW_ARRAY(sys_socklen_t, n);
    self->flags = NEW_ARRAY(int, n);
    self->controllens = NEW_ARRAY(size_t, n);
    self->control = control_size ? NEW_ARRAY(char, n *control_size) : NULL;
    self->addr_objs = NEW_ARRAY(PyObject *, n);
    if (!self->views || !self->rmsgs || !self->riov || !self->smsgs || !self->siov || !self->addrs
        || !self->lens || !self->addrlens || !self->flags || !self->controllens || !self->addr_objs
        || (control_size && !self->control)) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (args_writable_buffer("DatagramBatch", PyTuple_GET_ITEM(tuple, i), &self->views[i])
            < 0) {
            for (Py_ssize_t j = 0; j < i; j++) {
                PyBuffer_Release(&self->views[j]);
            }
            Py_DECREF(self);
            return NULL;
        }
    }
    self->pinned = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        sys_iovec_set(&self->riov[i], self->views[i].buf, (size_t)self->views[i].len);
        sys_mmsg_set(&self->rmsgs[i], (struct sockaddr *)&self->addrs[i], sizeof(self->addrs[i]),
                     &self->riov[i], 1, control_size ? self->control + i * control_size : NULL,
                     (size_t)control_size);
    }
    return (PyObject *)self;
}

static int
batch_traverse(BatchObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->buffers);
    Py_VISIT(self->last_addr);
    for (Py_ssize_t i = 0; self->addr_objs != NULL && i < self->capacity; i++) {
        Py_VISIT(self->addr_objs[i]);
    }
    /* The pinned views hold references to what the buffers export. */
    if (self->pinned) {
        for (Py_ssize_t i = 0; i < self->capacity; i++) {
            Py_VISIT(self->views[i].obj);
        }
    }
    return 0;
}

static int
batch_clear(BatchObject *self)
{
    if (!compat_atomic_load_int(&self->busy)) {
        batch_free_arrays(self);
    }
    Py_CLEAR(self->buffers);
    Py_CLEAR(self->last_addr);
    return 0;
}

static void
batch_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    batch_clear((BatchObject *)op);
    batch_free_arrays((BatchObject *)op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

/* ---------------------------------------------------------------- reading results */

/* Index argument of a slot; `limit` is count (results) or capacity (buffers, set). */
static int
slot_arg(BatchObject *self, const char *fname, PyObject *obj, Py_ssize_t limit, Py_ssize_t *index)
{
    if (!self->pinned) {
        PyErr_SetString(PyExc_ValueError, "DatagramBatch is released");
        return -1;
    }
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s() index must be an int, not %.100s", fname,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t i = PyLong_AsSsize_t(obj);
    if (i == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        i = PY_SSIZE_T_MAX;
    }
    if (i < 0) {
        i += limit;
    }
    if (i < 0 || i >= limit) {
        PyErr_Format(PyExc_IndexError, "%s() index out of range (%zd %s)", fname, limit,
                     limit == self->count ? "datagrams held" : "slots");
        return -1;
    }
    *index = i;
    return 0;
}

static PyObject *
batch_length(BatchObject *self, PyObject *arg)
{
    Py_ssize_t i;
    if (slot_arg(self, "length", arg, self->count, &i) < 0) {
        return NULL;
    }
    return PyLong_FromSize_t(self->lens[i]);
}

static PyObject *
batch_get_flags(BatchObject *self, PyObject *arg)
{
    Py_ssize_t i;
    if (slot_arg(self, "flags", arg, self->count, &i) < 0) {
        return NULL;
    }
    return PyLong_FromLong(self->flags[i]);
}

static int
same_address(PyObject *cached, const struct sockaddr_storage *raw, sys_socklen_t len)
{
    const SockAddrObject *addr = (const SockAddrObject *)cached;
    return addr != NULL && addr->len == len && memcmp(&addr->storage, raw, (size_t)len) == 0;
}

/* The SockAddr of slot i: the slot's own, else the batch's last one (one peer filling
 * every slot makes one object), else a new one. */
static PyObject *
slot_address(BatchObject *self, Py_ssize_t i, sys_socklen_t len)
{
    if (same_address(self->addr_objs[i], &self->addrs[i], len)) {
        return Py_NewRef(self->addr_objs[i]);
    }
    PyObject *addr;
    if (same_address(self->last_addr, &self->addrs[i], len)) {
        addr = Py_NewRef(self->last_addr);
    }
    else {
        addr = sockaddr_new(self->state, &self->addrs[i], len);
        if (addr == NULL) {
            return NULL;
        }
        Py_XSETREF(self->last_addr, Py_NewRef(addr));
    }
    Py_XSETREF(self->addr_objs[i], Py_NewRef(addr));
    return addr;
}

static PyObject *
batch_address(BatchObject *self, PyObject *arg)
{
    Py_ssize_t i;
    if (slot_arg(self, "address", arg, self->count, &i) < 0) {
        return NULL;
    }
    sys_socklen_t len = self->addrlens[i];
    if (len == 0) {
        Py_RETURN_NONE;
    }
    PyObject *addr;
    Py_BEGIN_CRITICAL_SECTION(self);
    addr = slot_address(self, i, len);
    Py_END_CRITICAL_SECTION();
    return addr;
}

static PyObject *
batch_buffer(BatchObject *self, PyObject *arg)
{
    Py_ssize_t i;
    if (slot_arg(self, "buffer", arg, self->capacity, &i) < 0) {
        return NULL;
    }
    return Py_NewRef(PyTuple_GET_ITEM(self->buffers, i));
}

static PyObject *
batch_segment_size(BatchObject *self, PyObject *arg)
{
    Py_ssize_t i;
    if (slot_arg(self, "segment_size", arg, self->count, &i) < 0) {
        return NULL;
    }
    void *control = self->control ? self->control + i * self->control_size : NULL;
    return PyLong_FromSize_t(
        offload_segment_size(self->lens[i], control, self->controllens[i], self->flags[i]));
}

static PyObject *
batch_control(BatchObject *self, PyObject *arg)
{
    Py_ssize_t i;
    if (slot_arg(self, "control", arg, self->count, &i) < 0) {
        return NULL;
    }
    if (self->control == NULL) {
        return PyBytes_FromStringAndSize("", 0);
    }
    return PyBytes_FromStringAndSize(self->control + i * self->control_size,
                                     (Py_ssize_t)self->controllens[i]);
}

/* set(index, length, address=None): slot `index` sends `length` bytes of its buffer to
 * `address` (None: the connected peer). */
static PyObject *
batch_set(BatchObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"index", "length", "address"};
    PyObject *argv[3];
    Py_ssize_t i, length;
    if (args_parse("set", args, nargs, kwnames, names, 2, 3, argv) < 0
        || slot_arg(self, "set", argv[0], self->capacity, &i) < 0
        || args_size("set", "length", argv[1], &length) < 0) {
        return NULL;
    }
    if (length > self->views[i].len) {
        PyErr_Format(PyExc_ValueError, "set() length %zd exceeds the slot's buffer (%zd bytes)",
                     length, self->views[i].len);
        return NULL;
    }
    struct sockaddr_storage to;
    sys_socklen_t tolen = 0;
    if (argv[2] != NULL && argv[2] != Py_None
        && sockaddr_from_object(self->state, argv[2], &to, &tolen) < 0) {
        return NULL;
    }
    if (!busy_try(self)) {
        PyErr_SetString(PyExc_RuntimeError, "DatagramBatch is in use by another call");
        return NULL;
    }
    if (!self->pinned) {
        /* Converting the address ran Python code (__fspath__, ...) that released it. */
        busy_done(self);
        PyErr_SetString(PyExc_ValueError, "DatagramBatch is released");
        return NULL;
    }
    self->lens[i] = (size_t)length;
    self->addrlens[i] = tolen;
    if (tolen > 0) {
        memcpy(&self->addrs[i], &to, (size_t)tolen);
    }
    self->flags[i] = 0;
    self->controllens[i] = 0;
    self->send_built = -1;
    busy_done(self);
    Py_RETURN_NONE;
}

static PyObject *
batch_get_count(BatchObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->count);
}

static int
batch_set_count(BatchObject *self, PyObject *value, void *closure)
{
    (void)closure;
    Py_ssize_t n;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete count");
        return -1;
    }
    if (args_size("count", "value", value, &n) < 0) {
        return -1;
    }
    if (n > self->capacity) {
        PyErr_Format(PyExc_ValueError, "count must be 0-%zd (the capacity)", self->capacity);
        return -1;
    }
    if (!busy_try(self)) {
        PyErr_SetString(PyExc_RuntimeError, "DatagramBatch is in use by another call");
        return -1;
    }
    self->count = n;
    self->send_built = -1;
    busy_done(self);
    return 0;
}

static PyObject *
batch_get_capacity(BatchObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->capacity);
}

static PyObject *
batch_get_control_size(BatchObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->control_size);
}

static PyObject *
batch_get_released(BatchObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(!self->pinned);
}

static PyObject *
batch_release(BatchObject *self, PyObject *unused)
{
    (void)unused;
    if (!busy_try(self)) {
        PyErr_SetString(PyExc_RuntimeError, "DatagramBatch is in use by another call");
        return NULL;
    }
    if (self->pinned) {
        for (Py_ssize_t i = 0; i < self->capacity; i++) {
            PyBuffer_Release(&self->views[i]);
        }
        self->pinned = 0;
        self->count = 0;
    }
    busy_done(self);
    Py_RETURN_NONE;
}

static PyObject *
batch_enter_ctx(BatchObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *
batch_exit_ctx(BatchObject *self, PyObject *args)
{
    (void)args;
    return batch_release(self, NULL);
}

static PyObject *
batch_repr(BatchObject *self)
{
    if (!self->pinned) {
        return PyUnicode_FromFormat("<%s released>", Py_TYPE(self)->tp_name);
    }
    return PyUnicode_FromFormat("<%s %zd of %zd slots held>", Py_TYPE(self)->tp_name, self->count,
                                self->capacity);
}

static PyMethodDef batch_methods[] = {
    {"length", (PyCFunction)batch_length, METH_O,
     "length($self, index, /)\n--\n\nReturns int: bytes of datagram `index` (received, or set for "
     "sending)."},
    {"flags", (PyCFunction)batch_get_flags, METH_O,
     "flags($self, index, /)\n--\n\nReturns int: the msg_flags received with datagram `index` "
     "(MSG_TRUNC, ...)."},
    {"address", (PyCFunction)batch_address, METH_O,
     "address($self, index, /)\n--\n\nReturns SockAddr | None: the sender (or destination set) "
     "of datagram `index`; the same object while it is unchanged."},
    {"segment_size", (PyCFunction)batch_segment_size, METH_O,
     "segment_size($self, index, /)\n--\n\nReturns int: the GRO segment size of datagram "
     "`index`: its length "
     "when it was not coalesced, 0 when unknown (control_size too small: MSG_CTRUNC)."},
    {"control", (PyCFunction)batch_control, METH_O,
     "control($self, index, /)\n--\n\nReturns bytes: the control messages received with "
     "datagram `index`."},
    {"buffer", (PyCFunction)batch_buffer, METH_O,
     "buffer($self, index, /)\n--\n\nReturns the buffer object given for slot `index`, as it "
     "was given (allocate() gives memoryview slices of one bytearray)."},
    {"set", (PyCFunction)(void (*)(void))batch_set, METH_FASTCALL | METH_KEYWORDS,
     "set($self, index, length, address=None)\n--\n\nSlot `index` sends `length` bytes of its "
     "buffer "
     "to `address` (None: the connected peer)."},
    {"release", (PyCFunction)batch_release, METH_NOARGS,
     "release($self, /)\n--\n\nUnpins the buffers; the batch is unusable afterwards."},
    {"__enter__", (PyCFunction)batch_enter_ctx, METH_NOARGS,
     "__enter__($self, /)\n--\n\nReturns the batch."},
    {"__exit__", (PyCFunction)batch_exit_ctx, METH_VARARGS,
     "__exit__($self, *args)\n--\n\nReleases the batch (release())."},
    /* DatagramBatch[memoryview] in annotations, as list[int] (PEP 585). */
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     "__class_getitem__($type, item, /)\n--\n\nThe batch type with its buffer type: "
     "DatagramBatch[memoryview]."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef batch_getset[] = {
    {"count", (getter)batch_get_count, (setter)batch_set_count,
     "Datagrams held: set by recv_batch, or by the caller before send_batch.", NULL},
    {"capacity", (getter)batch_get_capacity, NULL, "The number of slots.", NULL},
    {"control_size", (getter)batch_get_control_size, NULL, "Control-message bytes per slot.", NULL},
    {"released", (getter)batch_get_released, NULL, "Whether release() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot batch_slots[] = {
    {Py_tp_new, batch_tp_new},
    {Py_tp_dealloc, batch_dealloc},
    {Py_tp_traverse, batch_traverse},
    {Py_tp_clear, batch_clear},
    {Py_tp_repr, batch_repr},
    {Py_tp_methods, batch_methods},
    {Py_tp_getset, batch_getset},
    {Py_tp_doc, "DatagramBatch(buffers, *, control_size=0)\n--\n\nDatagram slots over the "
                "caller's writable buffers (pinned until release()), filled by "
                "Socket.recv_batch and sent by Socket.send_batch."},
    {0, NULL},
};

PyType_Spec batch_spec = {
    .name = "pysock2.DatagramBatch",
    .basicsize = sizeof(BatchObject),
    .flags =
        Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = batch_slots,
};

/* ---------------------------------------------------------------- the batch calls */

typedef struct {
    sys_mmsg *msgs;
    size_t count;
    int flags;
} batch_ctx;

#ifdef SYS_HAS_MMSG
static ptrdiff_t
do_recv_batch(sys_socket_t fd, void *arg)
{
    batch_ctx *c = arg;
    return sys_recvmmsg(fd, c->msgs, c->count, c->flags);
}

static ptrdiff_t
do_send_batch(sys_socket_t fd, void *arg)
{
    batch_ctx *c = arg;
    return sys_sendmmsg(fd, c->msgs, c->count, c->flags);
}
#else
/* The fallback: one sys_recvmsg per datagram. Only the first may wait; the rest are taken
 * with MSG_DONTWAIT while any are queued (without MSG_DONTWAIT, as on Windows, a call
 * receives one datagram). */
static ptrdiff_t
do_recv_batch(sys_socket_t fd, void *arg)
{
    batch_ctx *c = arg;
    size_t i = 0;
    for (; i < c->count; i++) {
#  ifdef MSG_DONTWAIT
        int flags = i == 0 ? c->flags : c->flags | MSG_DONTWAIT;
#  else
        int flags = c->flags;
        if (i > 0) {
            break;
        }
#  endif
        ptrdiff_t n = sys_recvmsg(fd, &c->msgs[i].msg, flags);
        if (n < 0) {
            return i > 0 ? (ptrdiff_t)i : -1;
        }
        c->msgs[i].len = (size_t)n;
    }
    return (ptrdiff_t)i;
}

/* The fallback: one sys_sendmsg per datagram, stopping at the first failure. */
static ptrdiff_t
do_send_batch(sys_socket_t fd, void *arg)
{
    batch_ctx *c = arg;
    for (size_t i = 0; i < c->count; i++) {
        ptrdiff_t n = sys_sendmsg(fd, &c->msgs[i].msg, c->flags);
        if (n < 0) {
            return i > 0 ? (ptrdiff_t)i : -1;
        }
        c->msgs[i].len = (size_t)n;
    }
    return (ptrdiff_t)c->count;
}
#endif

static BatchObject *
batch_arg(SocketObject *self, const char *fname, PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, self->state->batch_type)) {
        PyErr_Format(PyExc_TypeError, "%s() takes a DatagramBatch, not %.100s", fname,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    return (BatchObject *)obj;
}

/* recv_batch(batch, *, flags=0) -> int */
static PyObject *
socket_recv_batch(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"batch", "flags"};
    PyObject *argv[2];
    int flags;
    if (args_parse_flags("recv_batch", args, nargs, kwnames, names, 1, 2, argv, &flags) < 0
        || batch_arg(self, "recv_batch", argv[0]) == NULL) {
        return NULL;
    }
    ptrdiff_t got = batch_recv(self, argv[0], flags);
    return got < 0 ? NULL : PyLong_FromSsize_t(got);
}

ptrdiff_t
batch_recv(SocketObject *self, PyObject *obj, int flags)
{
    BatchObject *batch = (BatchObject *)obj;
    if (batch_enter(batch) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < batch->recv_dirty; i++) {
        sys_mmsg_rearm(&batch->rmsgs[i], sizeof(batch->addrs[i]), (size_t)batch->control_size);
    }
    batch_ctx ctx = {.msgs = batch->rmsgs,
                     .count = (size_t)batch->capacity,
                     .flags = msg_recv_request(flags, batch->control != NULL)};
    /* The buffers are pinned for the batch's life: no borrowing to undo before waiting. */
    ptrdiff_t got = socket_call_flags(self, do_recv_batch, &ctx, &ctx.flags, 0);
    for (ptrdiff_t i = 0; i < got; i++) {
        const sys_mmsg *m = &batch->rmsgs[i];
        /* MSG_TRUNC (the caller's or the kernel's) makes the count the datagram's full
         * length; the slot holds at most its buffer, and send_batch sends length(i). */
        size_t room = (size_t)batch->views[i].len;
        batch->lens[i] = sys_mmsg_len(m) < room ? sys_mmsg_len(m) : room;
        batch->addrlens[i] = sys_mmsg_namelen(m);
        batch->flags[i] = msg_received_flags(sys_mmsg_flags(m));
        batch->controllens[i] = batch->control ? sys_mmsg_controllen(m) : 0;
        if (batch->controllens[i] > 0) {
            /* A batch hands out no descriptors (docs/batch.md): close any a peer sent. */
            cmsg_close_fds(batch->control + i * batch->control_size, batch->controllens[i]);
        }
    }
    batch->recv_dirty = got > 0 ? got : batch->capacity;
    batch->count = got > 0 ? got : 0;  /* a failed call leaves nothing held */
    batch->send_built = -1;
    busy_done(batch);
    return got;
}

/* Slot i of a batch after batch_recv (aio_transport.c): its bytes, its sender (a new
 * reference; None without one) and its GRO segment size (segment_size()). */
const char *
batch_slot_data(PyObject *obj, Py_ssize_t i, size_t *len)
{
    BatchObject *batch = (BatchObject *)obj;
    *len = batch->lens[i];
    return batch->views[i].buf;
}

PyObject *
batch_slot_sender(PyObject *obj, Py_ssize_t i)
{
    BatchObject *batch = (BatchObject *)obj;
    sys_socklen_t len = batch->addrlens[i];
    return len == 0 ? Py_NewRef(Py_None) : slot_address(batch, i, len);
}

size_t
batch_slot_segment(PyObject *obj, Py_ssize_t i)
{
    BatchObject *batch = (BatchObject *)obj;
    void *control = batch->control ? batch->control + i * batch->control_size : NULL;
    return offload_segment_size(batch->lens[i], control, batch->controllens[i], batch->flags[i]);
}

/* Sends msgs[0..n). On a datagram socket first without blocking and with the GIL held;
 * what did not fit then goes as the blocking sendmmsg would send it, GIL released. An
 * error after the first datagram is not reported (as with sendmmsg): the count says how
 * many went. */
ptrdiff_t
batch_send_msgs(SocketObject *self, sys_mmsg *msgs, size_t n, int flags)
{
    batch_ctx ctx = {.msgs = msgs, .count = n, .flags = flags};
    ptrdiff_t sent = socket_try_call(self, do_send_batch, &ctx, &ctx.flags);
    if (sent == SOCKET_MUST_WAIT) {
        return socket_call(self, do_send_batch, &ctx, IS_DONTWAIT(flags) | SOCKET_SENDS);
    }
    if (sent <= 0 || (size_t)sent == n || IS_DONTWAIT(flags) || !sys_is_blocking(SOCK_FD(self))) {
        return sent;
    }
    ctx.msgs = msgs + sent;
    ctx.count = n - (size_t)sent;
    ptrdiff_t more = socket_call(self, do_send_batch, &ctx, SOCKET_SENDS);
    if (more < 0) {
        if (!PyErr_ExceptionMatches(PyExc_OSError)) {
            return -1;  /* a signal handler raised */
        }
        PyErr_Clear();
        return sent;
    }
    return sent + more;
}

/* Sends the first `count` slots of a batch, each to `to` when given, else to the slot's
 * own address when it has one, else to the connected peer. */
static ptrdiff_t
send_from_batch(SocketObject *self, BatchObject *batch, struct sockaddr_storage *to,
                sys_socklen_t tolen, int flags)
{
    if (batch_enter(batch) < 0) {
        return -1;
    }
    Py_ssize_t n = batch->count;
    int same_to =
        to ? (batch->send_tolen == tolen && memcmp(&batch->send_to, to, (size_t)tolen) == 0)
           : batch->send_tolen == 0;
    if (batch->send_built != n || !same_to) {
        /* The headers point into the batch (addrs, send_to), never at the caller's stack. */
        batch->send_tolen = to ? tolen : 0;
        if (to) {
            memcpy(&batch->send_to, to, (size_t)tolen);
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            /* Never past the slot's buffer, whatever a length says (recv_batch and set()
             * keep it within; this is the last line of defence). */
            size_t room = (size_t)batch->views[i].len;
            sys_iovec_set(&batch->siov[i], batch->views[i].buf,
                          batch->lens[i] < room ? batch->lens[i] : room);
            struct sockaddr *name = to                   ? (struct sockaddr *)&batch->send_to
                                    : batch->addrlens[i] ? (struct sockaddr *)&batch->addrs[i]
                                                         : NULL;
            sys_mmsg_set(&batch->smsgs[i], name, to ? tolen : batch->addrlens[i], &batch->siov[i],
                         1, NULL, 0);
        }
        batch->send_built = n;
    }
    ptrdiff_t sent = n == 0 ? 0 : batch_send_msgs(self, batch->smsgs, (size_t)n, flags);
    busy_done(batch);
    return sent;
}

/* Sends each item of a sequence of bytes-like objects as one datagram. Every buffer is
 * pinned for the call; the arrays are one allocation per call, not per datagram. */
static ptrdiff_t
send_from_sequence(SocketObject *self, PyObject *seq, struct sockaddr_storage *to,
                   sys_socklen_t tolen, int flags)
{
    PyObject *fast = PySequence_Fast(seq, "send_batch() takes a DatagramBatch or a "
                                          "sequence of bytes-like objects");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > SYS_MMSG_MAX) {
        PyErr_Format(PyExc_ValueError, "send_batch() sends at most %d datagrams per call",
                     SYS_MMSG_MAX);
        Py_DECREF(fast);
        return -1;
    }
    if (n == 0) {
        Py_DECREF(fast);
        return 0;
    }
    size_t each = sizeof(sys_mmsg) + sizeof(sys_iovec) + sizeof(Py_buffer);
    char *scratch = PyMem_Malloc((size_t)n * each);
    if (scratch == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    sys_mmsg *msgs = (sys_mmsg *)scratch;
    sys_iovec *iov = (sys_iovec *)(msgs + n);
    Py_buffer *views = (Py_buffer *)(iov + n);
    Py_ssize_t pinned = 0;
    ptrdiff_t sent = -1;
    for (; pinned < n; pinned++) {
        /* Read through the list each time: a buffer export could run code that edits it. */
        if (pinned >= PySequence_Fast_GET_SIZE(fast)) {
            PyErr_SetString(PyExc_RuntimeError, "send_batch() sequence changed size");
            goto done;
        }
        /* Held while exporting: a __buffer__ (3.12+) that empties the list would otherwise
         * free the item under CPython's getbuffer slot. */
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(fast, pinned));
        int rc = args_readable_buffer("send_batch", item, &views[pinned]);
        Py_DECREF(item);
        if (rc < 0) {
            goto done;
        }
        sys_iovec_set(&iov[pinned], views[pinned].buf, (size_t)views[pinned].len);
        sys_mmsg_set(&msgs[pinned], (struct sockaddr *)to, tolen, &iov[pinned], 1, NULL, 0);
    }
    sent = batch_send_msgs(self, msgs, (size_t)n, flags);
done:
    for (Py_ssize_t i = 0; i < pinned; i++) {
        PyBuffer_Release(&views[i]);
    }
    PyMem_Free(scratch);
    Py_DECREF(fast);
    return sent;
}

/* send_batch(datagrams, address=None, *, flags=0) -> int */
static PyObject *
socket_send_batch(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"datagrams", "address", "flags"};
    PyObject *argv[3];
    int flags;
    if (args_parse_flags("send_batch", args, nargs, kwnames, names, 1, 3, argv, &flags) < 0) {
        return NULL;
    }
    struct sockaddr_storage to;
    sys_socklen_t tolen = 0;
    int has_to = argv[1] != NULL && argv[1] != Py_None;
    if (has_to
        && (socket_address_arg(self, "send_batch", argv[1], &to, &tolen) < 0
            || PySys_Audit("socket.sendmsg", "OO", self, argv[1]) < 0)) {
        return NULL;
    }
    ptrdiff_t sent;
    if (PyObject_TypeCheck(argv[0], self->state->batch_type)) {
        sent = send_from_batch(self, (BatchObject *)argv[0], has_to ? &to : NULL, tolen, flags);
    }
    else if (PyObject_CheckBuffer(argv[0]) || PyUnicode_Check(argv[0])) {
        PyErr_Format(PyExc_TypeError,
                     "send_batch() takes a DatagramBatch or a sequence of bytes-like "
                     "objects, not %.100s (use send() for one datagram)",
                     Py_TYPE(argv[0])->tp_name);
        return NULL;
    }
    else {
        sent = send_from_sequence(self, argv[0], has_to ? &to : NULL, tolen, flags);
    }
    return sent < 0 ? NULL : PyLong_FromSsize_t(sent);
}

PyMethodDef socket_batch_methods[] = {
    {"recv_batch", FASTCALL_KW(socket_recv_batch),
     "recv_batch($self, batch, *, flags=0)\n--\n\nReturns int: receives up to batch.capacity "
     "datagrams in one call (waiting only for the first); sets batch.count and returns it."},
    {"send_batch", FASTCALL_KW(socket_send_batch),
     "send_batch($self, datagrams, address=None, *, flags=0)\n--\n\nReturns int: sends a "
     "DatagramBatch's first "
     "count slots, or each item of a sequence of bytes-like objects, as datagrams in one "
     "call; returns how many were sent."},
    {NULL, NULL, 0, NULL},
};
