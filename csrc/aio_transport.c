/* The hot path of pysock2.aio's datagram transport (docs/asyncio.md).
 *
 * _pysock2._DatagramEngine does, in C, what asyncio's _SelectorDatagramTransport does in
 * Python per datagram: read_ready() is the loop's reader callback itself; it drains the
 * socket with recv_batch (batch.c), a bounded number of batches per wakeup, and hands each
 * datagram to the protocol. sendto() queues a datagram; outside a drain the queue is sent
 * at once, during a drain it collects what datagram_received sends and goes out with one
 * sendmmsg when the drain ends (still within the loop iteration). What the kernel will not
 * take stays queued and the engine calls back into Python (pysock2/aio.py), which owns
 * the cold parts of the asyncio contract: the writer callback, flow control, closing.
 *
 * An engine belongs to one event loop and is used from that loop's thread, as asyncio
 * transports are; a second thread is refused with RuntimeError rather than let in. */
#include "pysock2.h"
#include "options_compat.h"

#include <string.h>

/* UDP GSO on send (Linux): a run of queued datagrams to one address, of one size (the
 * last may be shorter), leaves as one message with a UDP_SEGMENT control message; the
 * kernel cuts it into those same datagrams after one pass through the stack. Small
 * segments only (they fit any path's MTU, where GSO refuses what would need IP
 * fragments); the transport turns it off for good if the kernel refuses it. */
#if defined(__linux__) && defined(UDP_SEGMENT)
#  define HAVE_GSO 1
#  define GSO_MAX_SEGMENTS 64     /* UDP_MAX_SEGMENTS of older kernels */
#  define GSO_MAX_SEGMENT 1452    /* an IPv6 payload within a 1500-byte MTU */
#  define GSO_MAX_PAYLOAD 65507   /* a GSO message is one IPv4 datagram's payload at most */
typedef union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
} gso_control;
#endif

/* Datagrams per sendmmsg when the queue is flushed; a drain that queues this many sends
 * them before going on, so the queue of a drain stays small. */
#define SEND_CHUNK 64
/* What a queued datagram counts in get_write_buffer_size() besides its bytes: a UDP
 * header, as asyncio counts since 3.13 (so that empty datagrams fill the buffer too). */
#define DATAGRAM_OVERHEAD 8

typedef struct {
    PyObject *data;                 /* bytes, held until sent */
    sys_socklen_t addrlen;          /* 0: the connected peer */
    struct sockaddr_storage addr;
} queued_datagram;

typedef struct {
    PyObject_HEAD
    SocketObject *sock;
    PyObject *batch;                /* the DatagramBatch each drain fills */
    PyObject *on_datagram;          /* protocol.datagram_received, or NULL */
    PyObject *on_batch;             /* protocol.datagrams_received, or NULL */
    PyObject *on_error;             /* protocol.error_received */
    PyObject *on_exception;         /* f(exc): a protocol callback raised (aio.py) */
    PyObject *on_backlog;           /* f(): the queue is left non-empty (aio.py) */
    PyObject *on_fatal;             /* f(exc): the transport cannot go on (aio.py) */
    Py_ssize_t max_batches;         /* recv_batch calls per wakeup */
    Py_ssize_t batch_capacity;      /* a receive this full may have left more queued */
    Py_ssize_t slot_size;           /* bytes per batch slot: a datagram this long may be cut */
    int split_gro;                  /* cut coalesced (GRO) datagrams for datagram_received */
    int cut_batches;                /* and for datagrams_received (GRO was not asked for) */
    int connected;                  /* sendto(addr=None) goes to the peer */
    sys_socklen_t peerlen;
    struct sockaddr_storage peer;
    int closed;                     /* close(): nothing is read or sent any more */
    int reading_stopped;            /* stop_reading(): a drain delivers nothing more */
    int paused;                     /* pause(): nothing is delivered until resume() */
    int draining;                   /* inside read_ready: sendto only queues */
    /* The last receive: slots [next, held) are still to be delivered, the first of them
     * from byte next_offset on (a coalesced slot cut apart part-way); they wait there
     * while the protocol has paused reading. */
    Py_ssize_t held, next;
    size_t next_offset;
    uintptr_t owner;                /* the thread inside the engine, 0: none */
    int depth;
    queued_datagram *queue;         /* queue[head..tail) waits to be sent */
    Py_ssize_t head, tail, capacity;
    Py_ssize_t queued_bytes;
    sys_mmsg msgs[SEND_CHUNK];
    sys_iovec iov[SEND_CHUNK];      /* one per datagram; a GSO message takes a run */
    Py_ssize_t per_msg[SEND_CHUNK]; /* datagrams in each message */
    int gso;                        /* coalesce runs with UDP_SEGMENT */
    Py_ssize_t singles;             /* the first queued go one by one: their GSO message failed */
#ifdef HAVE_GSO
    gso_control controls[SEND_CHUNK];
#endif
} EngineObject;

/* ---------------------------------------------------------------- exceptions as objects */

static void
restore_exception(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(Py_NewRef(Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
#endif
}

/* ---------------------------------------------------------------- one thread at a time */

static int
engine_enter(EngineObject *self)
{
    uintptr_t me = (uintptr_t)PyThread_get_thread_ident();
    uintptr_t owner = 0;
    if (!compat_atomic_cas_uintptr(&self->owner, &owner, me) && owner != me) {
        PyErr_SetString(PyExc_RuntimeError,
                        "a pysock2.aio transport is used from a thread other than its event "
                        "loop's (use loop.call_soon_threadsafe)");
        return -1;
    }
    self->depth++;
    return 0;
}

static void
engine_leave(EngineObject *self)
{
    if (--self->depth == 0) {
        compat_atomic_store_uintptr(&self->owner, 0);
    }
}

/* ---------------------------------------------------------------- the queue */

static Py_ssize_t
queue_length(EngineObject *self)
{
    return self->tail - self->head;
}

/* Room for one more at the tail: compacts, else doubles. */
static int
queue_reserve(EngineObject *self)
{
    if (self->tail < self->capacity) {
        return 0;
    }
    Py_ssize_t n = queue_length(self);
    if (self->head > 0 && n < self->capacity / 2) {
        memmove(self->queue, self->queue + self->head, (size_t)n * sizeof(queued_datagram));
    }
    else {
        Py_ssize_t capacity = self->capacity ? self->capacity * 2 : SEND_CHUNK;
        queued_datagram *grown = PyMem_Malloc((size_t)capacity * sizeof(queued_datagram));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        if (n > 0) {
            memcpy(grown, self->queue + self->head, (size_t)n * sizeof(queued_datagram));
        }
        PyMem_Free(self->queue);
        self->queue = grown;
        self->capacity = capacity;
    }
    self->head = 0;
    self->tail = n;
    return 0;
}

/* Drops the first `n` queued datagrams. */
static void
queue_pop(EngineObject *self, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        queued_datagram *q = &self->queue[self->head];
        self->queued_bytes -= PyBytes_GET_SIZE(q->data) + DATAGRAM_OVERHEAD;
        self->head++;
        Py_DECREF(q->data);
    }
    self->singles = self->singles > n ? self->singles - n : 0;
    if (self->head == self->tail) {
        self->head = self->tail = 0;
    }
}

static void
queue_clear(EngineObject *self)
{
    queue_pop(self, queue_length(self));
}

/* ---------------------------------------------------------------- protocol callbacks */

/* Calls a callback slot, holding it for the call: the callback may replace or drop the
 * slot (set_protocol, close) while it runs. A slot that is NULL is a no-op (None). */
static PyObject *
call_slot(PyObject *fn, PyObject *const *args, size_t nargsf)
{
    if (fn == NULL) {
        return Py_NewRef(Py_None);
    }
    Py_INCREF(fn);
    PyObject *r = PyObject_Vectorcall(fn, args, nargsf, NULL);
    Py_DECREF(fn);
    return r;
}

/* After a protocol callback raised: SystemExit and KeyboardInterrupt go on up (return -1,
 * as asyncio lets them out of the loop); anything else goes to on_exception (the loop's
 * exception handler) and the engine carries on. */
static int
callback_failed(EngineObject *self)
{
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        return -1;
    }
    PyObject *exc = error_take();
    if (self->on_exception == NULL) {  /* closed meanwhile: nobody to tell */
        Py_DECREF(exc);
        return 0;
    }
    PyObject *r = call_slot(self->on_exception, &exc, 1);
    Py_DECREF(exc);
    if (r == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
            return -1;
        }
        PyErr_WriteUnraisable((PyObject *)self);  /* the exception handler itself failed */
        return 0;
    }
    Py_DECREF(r);
    return 0;
}

/* The exception in flight goes to the callback `slot`; 0, or -1 for an exception to
 * propagate. */
static int
pass_exception(EngineObject *self, PyObject *slot)
{
    PyObject *exc = error_take();
    PyObject *r = call_slot(slot, &exc, 1);
    Py_DECREF(exc);
    if (r == NULL) {
        return callback_failed(self);
    }
    Py_DECREF(r);
    return 0;
}

/* The OSError in flight goes to error_received. */
static int
report_os_error(EngineObject *self)
{
    return pass_exception(self, self->on_error);
}

static int
call_backlog(EngineObject *self)
{
    PyObject *r = call_slot(self->on_backlog, NULL, 0);
    if (r == NULL) {
        return callback_failed(self);
    }
    Py_DECREF(r);
    return 0;
}

/* ---------------------------------------------------------------- sending */

static size_t
datagram_size(const queued_datagram *q)
{
    return (size_t)PyBytes_GET_SIZE(q->data);
}

/* How many of the n datagrams from `first` on can go as one GSO message. */
static Py_ssize_t
gso_run(EngineObject *self, const queued_datagram *first, Py_ssize_t n)
{
#ifdef HAVE_GSO
    size_t size = datagram_size(first);
    if (!self->gso || size == 0 || size > GSO_MAX_SEGMENT) {
        return 1;
    }
    Py_ssize_t k = 1;
    size_t total = size;
    while (k < n && k < GSO_MAX_SEGMENTS) {
        const queued_datagram *q = first + k;
        size_t next = datagram_size(q);
        if (q->addrlen != first->addrlen || next == 0 || next > size
            || total + next > GSO_MAX_PAYLOAD
            || memcmp(&q->addr, &first->addr, (size_t)first->addrlen) != 0) {
            break;
        }
        total += next;
        k++;
        if (next < size) {
            break;  /* only the last segment may be shorter */
        }
    }
    return k;
#else
    (void)self;
    (void)first;
    (void)n;
    return 1;
#endif
}

/* Headers for up to SEND_CHUNK queued datagrams; returns the number of messages. */
static Py_ssize_t
build_messages(EngineObject *self)
{
    Py_ssize_t n = queue_length(self);
    if (n > SEND_CHUNK) {
        n = SEND_CHUNK;
    }
    const queued_datagram *queue = self->queue + self->head;
    Py_ssize_t msgs = 0;
    for (Py_ssize_t i = 0; i < n; msgs++) {
        const queued_datagram *q = &queue[i];
        Py_ssize_t k = i < self->singles ? 1 : gso_run(self, q, n - i);
        for (Py_ssize_t j = 0; j < k; j++) {
            sys_iovec_set(&self->iov[i + j], PyBytes_AS_STRING(queue[i + j].data),
                          datagram_size(&queue[i + j]));
        }
        void *control = NULL;
        size_t controllen = 0;
#ifdef HAVE_GSO
        if (k > 1) {
            gso_control *c = &self->controls[msgs];
            memset(c, 0, sizeof(*c));
            c->align.cmsg_level = SOL_UDP;
            c->align.cmsg_type = UDP_SEGMENT;
            c->align.cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t segment = (uint16_t)datagram_size(q);
            memcpy(CMSG_DATA(&c->align), &segment, sizeof(segment));
            control = c->buf;
            controllen = sizeof(c->buf);
        }
#endif
        sys_mmsg_set(&self->msgs[msgs], q->addrlen ? (struct sockaddr *)&q->addr : NULL, q->addrlen,
                     &self->iov[i], (size_t)k, control, controllen);
        self->per_msg[msgs] = k;
        i += k;
    }
    return msgs;
}

/* The errno of the OSError in flight (0 if it has none). */
static int
raised_errno(void)
{
    PyObject *exc = error_take();
    PyObject *value = PyObject_GetAttrString(exc, "errno");
    int err = value != NULL && PyLong_Check(value) ? PyLong_AsLong(value) : 0;
    Py_XDECREF(value);
    PyErr_Clear();
    restore_exception(exc);
    return err;
}

/* Sends queued datagrams until the queue is empty or the kernel would block; a datagram
 * the kernel refuses (an OSError) is dropped and reported to error_received, as asyncio
 * does. 0, or -1 with an exception to propagate. */
static int
queue_flush(EngineObject *self)
{
    while (!self->closed && queue_length(self) > 0) {
        Py_ssize_t msgs = build_messages(self);
        ptrdiff_t sent = batch_send_msgs(self->sock, self->msgs, (size_t)msgs, 0);
        if (sent > 0) {
            Py_ssize_t datagrams = 0;
            for (ptrdiff_t i = 0; i < sent; i++) {
                datagrams += self->per_msg[i];
            }
            queue_pop(self, datagrams);
            continue;
        }
        if (sent == 0 || PyErr_ExceptionMatches(PyExc_BlockingIOError)) {
            PyErr_Clear();
            return 0;  /* the kernel's buffer is full: the writer callback goes on */
        }
        if (!PyErr_ExceptionMatches(PyExc_OSError)) {
            return -1;  /* a signal handler raised */
        }
        if (self->per_msg[0] > 1) {
            /* The error is the coalesced message's, not one datagram's: its datagrams
             * go again one by one (each then gets its own verdict); a path that refuses
             * GSO itself has it off from now on. */
            int err = raised_errno();
            PyErr_Clear();
            if (err == EINVAL || err == EIO || err == EOPNOTSUPP) {
                self->gso = 0;
            }
            self->singles = self->per_msg[0];
            continue;
        }
        queue_pop(self, 1);  /* the datagram the error belongs to, as asyncio drops it */
        if (report_os_error(self) < 0) {
            return -1;
        }
    }
    return 0;
}

/* After sending: tells Python when something is left over. */
static int
flush_and_report(EngineObject *self)
{
    if (queue_flush(self) < 0) {
        return -1;
    }
    return queue_length(self) > 0 && !self->closed ? call_backlog(self) : 0;
}

/* The destination of sendto: the peer for None on a connected socket, else the address,
 * which on a connected socket must be the peer's (ValueError, as asyncio). */
static int
destination(EngineObject *self, PyObject *addr, queued_datagram *q)
{
    if (addr == NULL || addr == Py_None) {
        if (!self->connected) {
            PyErr_SetString(PyExc_ValueError,
                            "sendto() needs an address: the socket is not connected");
            return -1;
        }
        q->addrlen = 0;
        return 0;
    }
    if (socket_address_arg(self->sock, "sendto", addr, &q->addr, &q->addrlen) < 0) {
        return -1;
    }
    if (self->connected) {
        if (q->addrlen != self->peerlen || memcmp(&q->addr, &self->peer, q->addrlen) != 0) {
            PyObject *peer = sockaddr_new(self->sock->state, &self->peer, self->peerlen);
            if (peer != NULL) {
                PyErr_Format(PyExc_ValueError, "Invalid address: must be None or %R", peer);
                Py_DECREF(peer);
            }
            return -1;
        }
        q->addrlen = 0;
    }
    return PySys_Audit("socket.sendto", "OO", (PyObject *)self->sock, addr);
}

/* sendto(data, addr=None) */
static PyObject *
engine_sendto(EngineObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"data", "addr"};
    PyObject *argv[2] = {NULL, NULL};
    if (kwnames == NULL && (nargs == 1 || nargs == 2)) {
        argv[0] = args[0];
        argv[1] = nargs == 2 ? args[1] : NULL;
    }
    else if (args_parse("sendto", args, nargs, kwnames, names, 1, 2, argv) < 0) {
        return NULL;
    }
    PyObject *data = argv[0];
    if (!PyObject_CheckBuffer(data)) {
        PyErr_Format(PyExc_TypeError, "data argument must be a bytes-like object, not %.100s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (self->closed) {
        Py_RETURN_NONE;  /* asyncio drops what is sent after close() */
    }
    if (engine_enter(self) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    /* Address and data are made ready on the stack: converting them can run Python code
     * (an address's __index__, a buffer export) that could itself send and move the
     * queue. Only then does the datagram take the queue's tail. */
    queued_datagram d;
    if (destination(self, argv[1], &d) < 0) {
        goto done;
    }
    /* Bytes are kept as they are; anything mutable is copied, so a datagram that has to
     * wait is what the caller passed. */
    if (PyBytes_CheckExact(data)) {
        d.data = Py_NewRef(data);
    }
    else {
        Py_buffer view;
        if (args_readable_buffer("sendto", data, &view) < 0) {
            goto done;
        }
        d.data = PyBytes_FromStringAndSize(view.buf, view.len);
        PyBuffer_Release(&view);
        if (d.data == NULL) {
            goto done;
        }
    }
    if (self->closed) {  /* closed by that code meanwhile */
        Py_DECREF(d.data);
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (queue_reserve(self) < 0) {
        Py_DECREF(d.data);
        goto done;
    }
    queued_datagram *q = &self->queue[self->tail++];
    q->data = d.data;
    q->addrlen = d.addrlen;
    if (d.addrlen > 0) {
        memcpy(&q->addr, &d.addr, (size_t)d.addrlen);
    }
    self->queued_bytes += PyBytes_GET_SIZE(d.data) + DATAGRAM_OVERHEAD;
    Py_ssize_t n = queue_length(self);
    if (self->draining) {
        /* Goes out with the drain's sendmmsg; a long drain sends every SEND_CHUNK. */
        if (n >= SEND_CHUNK && queue_flush(self) < 0) {
            goto done;
        }
    }
    else if (n == 1) {
        if (flush_and_report(self) < 0) {
            goto done;
        }
    }
    else if (call_backlog(self) < 0) {  /* already waiting for the writer */
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    engine_leave(self);
    return result;
}

/* flush(): sends what is queued, as far as the kernel takes it (the writer callback). */
static PyObject *
engine_flush(EngineObject *self, PyObject *unused)
{
    (void)unused;
    if (engine_enter(self) < 0) {
        return NULL;
    }
    int rc = queue_flush(self);
    engine_leave(self);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- receiving */

/* Whether a receive's errno says the descriptor is no socket any more (closed or
 * detached under the transport): no datagram's error, and it would recur on every
 * readable event; the transport ends with it. */
static int
socket_gone(int err)
{
#ifdef _WIN32
    return err == WSAEBADF || err == WSAENOTSOCK || err == EBADF;
#else
    return err == EBADF || err == ENOTSOCK;
#endif
}

/* Whether the protocol is to get more datagrams now. */
static int
delivering(EngineObject *self)
{
    return !self->closed && !self->reading_stopped && !self->paused;
}

/* The batch could not be received into (the protocol released it, or is using it in
 * another call): the transport cannot go on; on_fatal closes it with that error. */
static int
receive_failed(EngineObject *self)
{
    return pass_exception(self, self->on_fatal);
}

/* set_protocol() to a datagrams_received protocol in the middle of a batch: the datagrams
 * not yet delivered go to it in a batch of their own (copied: the rare path), each
 * coalesced one cut apart as datagram_received would have had it. */
static int
deliver_rest_as_batch(EngineObject *self)
{
    PyObject *buffers = PyList_New(0), *senders = PyList_New(0), *rest = NULL;
    int rc = -1;
    if (buffers == NULL || senders == NULL) {
        goto done;
    }
    for (Py_ssize_t i = self->next; i < self->held; i++) {
        size_t len;
        const char *data = batch_slot_data(self->batch, i, &len);
        size_t segment = self->split_gro ? batch_slot_segment(self->batch, i) : len;
        if (segment == 0 || segment > len) {
            segment = len;  /* (a lost segment size: handed over whole, as received) */
        }
        PyObject *addr = batch_slot_sender(self->batch, i);
        if (addr == NULL) {
            goto done;
        }
        size_t offset = i == self->next ? self->next_offset : 0;
        do {
            size_t take = len - offset < segment ? len - offset : segment;
            PyObject *piece = PyByteArray_FromStringAndSize(data + offset, (Py_ssize_t)take);
            int failed = piece == NULL || PyList_Append(buffers, piece) < 0
                         || PyList_Append(senders, addr) < 0;
            Py_XDECREF(piece);
            if (failed) {
                Py_DECREF(addr);
                goto done;
            }
            offset += take;
        } while (offset < len);
        Py_DECREF(addr);
    }
    self->next = self->held;
    self->next_offset = 0;
    Py_ssize_t n = PyList_GET_SIZE(buffers);
    if (n == 0) {
        rc = 0;
        goto done;
    }
    rest = PyObject_CallOneArg((PyObject *)Py_TYPE(self->batch), buffers);
    if (rest == NULL) {
        goto done;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *r = PyObject_CallMethod(rest, "set", "nnO", j,
                                          PyByteArray_GET_SIZE(PyList_GET_ITEM(buffers, j)),
                                          PyList_GET_ITEM(senders, j));
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
    }
    PyObject *count = PyLong_FromSsize_t(n);
    if (count == NULL || PyObject_SetAttrString(rest, "count", count) < 0) {
        Py_XDECREF(count);
        goto done;
    }
    Py_DECREF(count);
    PyObject *r = call_slot(self->on_batch, &rest, 1);
    rc = r == NULL ? callback_failed(self) : 0;
    Py_XDECREF(r);
    if (rc == 0) {
        r = PyObject_CallMethod(rest, "release", NULL);
        rc = r == NULL ? -1 : 0;
        Py_XDECREF(r);
    }
done:
    Py_XDECREF(rest);
    Py_XDECREF(buffers);
    Py_XDECREF(senders);
    return rc;
}

/* Whether the batch holds a coalesced train that a datagrams_received protocol must not
 * see whole: GRO is on for a datagram_received protocol the transport started with. */
static int
holds_trains(EngineObject *self)
{
    if (!self->cut_batches) {
        return 0;
    }
    for (Py_ssize_t i = self->next; i < self->held; i++) {
        size_t len;
        (void)batch_slot_data(self->batch, i, &len);
        if (batch_slot_segment(self->batch, i) != len) {
            return 1;
        }
    }
    return 0;
}

/* Hands the whole batch to datagrams_received(batch). The batch is the transport's: once
 * the call returns it holds nothing (count 0), so a protocol that kept it gets IndexError
 * instead of the next receive's datagrams. */
static int
deliver_batch(EngineObject *self)
{
    if (self->next > 0 || self->next_offset > 0 || holds_trains(self)) {
        return deliver_rest_as_batch(self);
    }
    self->next = self->held;
    PyObject *r = call_slot(self->on_batch, &self->batch, 1);
    if (r == NULL && callback_failed(self) < 0) {
        return -1;
    }
    Py_XDECREF(r);
    PyObject *zero = PyLong_FromLong(0);
    int rc = zero == NULL ? -1 : PyObject_SetAttrString(self->batch, "count", zero);
    Py_XDECREF(zero);
    if (rc == 0) {  /* a released batch takes a count: ask */
        PyObject *released = PyObject_GetAttrString(self->batch, "released");
        rc = released == NULL ? -1 : PyObject_IsTrue(released);
        Py_XDECREF(released);
        if (rc > 0) {
            PyErr_SetString(PyExc_ValueError,
                            "datagrams_received() released the transport's DatagramBatch: "
                            "nothing more can be received");
            rc = -1;
        }
    }
    /* The protocol released the batch, or lent it to a call still running. */
    return rc < 0 ? receive_failed(self) : 0;
}

/* Whether slot i holds a datagram the kernel cut to fit (MSG_TRUNC): 1, 0, or -1 with an
 * exception. Asked only of full slots, through the batch's flags(). */
static int
slot_truncated(EngineObject *self, Py_ssize_t i)
{
#ifdef MSG_TRUNC
    PyObject *flags = PyObject_CallMethod(self->batch, "flags", "n", i);
    long value = flags == NULL ? -1 : PyLong_AsLong(flags);
    Py_XDECREF(flags);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    return (value & MSG_TRUNC) != 0;
#else
    (void)self;
    (void)i;
    return 0;
#endif
}

/* A datagram larger than a slot is dropped, never delivered cut short: error_received
 * hears of it (asyncio would hand over the first 256 KiB as if they were all). */
static int
report_dropped(EngineObject *self, const char *why)
{
    PyObject *exc = PyObject_CallFunction(PyExc_OSError, "is", EMSGSIZE, why);
    if (exc == NULL) {
        return -1;
    }
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return report_os_error(self);
}

/* Hands the held datagrams to datagram_received, one call each (each segment of a
 * coalesced slot its own), until they are all delivered or the protocol pauses or
 * closes; what is left stays held for resume(). */
static int
deliver(EngineObject *self)
{
    if (self->next >= self->held) {
        return 0;
    }
    if (self->on_batch != NULL) {
        return deliver_batch(self);
    }
    PyObject *call[3];
    while (self->next < self->held && self->on_datagram != NULL && delivering(self)) {
        Py_ssize_t i = self->next;
        size_t len;
        const char *data = batch_slot_data(self->batch, i, &len);
        size_t segment = self->split_gro ? batch_slot_segment(self->batch, i) : len;
        if (segment > len) {
            segment = len;
        }
        if ((Py_ssize_t)len == self->slot_size) {
            int cut = slot_truncated(self, i);
            if (cut != 0) {
                self->next++;
                self->next_offset = 0;
                if (cut < 0
                    || report_dropped(self, "a datagram larger than the transport's "
                                            "receive slot was dropped")
                           < 0) {
                    return -1;
                }
                continue;
            }
        }
        if (segment == 0 && len > 0) {  /* GRO's segment size lost with the control room */
            self->next++;
            self->next_offset = 0;
            if (report_dropped(self, "a coalesced receive whose segment size did not fit "
                                     "the control buffer was dropped")
                < 0) {
                return -1;
            }
            continue;
        }
        PyObject *addr = batch_slot_sender(self->batch, i);
        if (addr == NULL) {
            return -1;
        }
        call[2] = addr;
        do {  /* once, or once per segment of a coalesced receive */
            size_t offset = self->next_offset;
            size_t take = len - offset < segment ? len - offset : segment;
            /* Moved on before the call: the protocol may pause inside it. */
            if (offset + take >= len) {
                self->next++;
                self->next_offset = 0;
            }
            else {
                self->next_offset = offset + take;
            }
            call[1] = PyBytes_FromStringAndSize(data + offset, (Py_ssize_t)take);
            if (call[1] == NULL) {
                Py_DECREF(addr);
                return -1;
            }
            PyObject *r =
                call_slot(self->on_datagram, call + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET);
            Py_DECREF(call[1]);
            if (r == NULL && callback_failed(self) < 0) {
                Py_DECREF(addr);
                return -1;
            }
            Py_XDECREF(r);
        } while (self->next == i && self->on_datagram != NULL && delivering(self));
        Py_DECREF(addr);
    }
    if (self->on_batch != NULL && self->next < self->held && delivering(self)) {
        return deliver_batch(self);  /* set_protocol() to a batch protocol meanwhile */
    }
    return 0;
}

/* read_ready(): the loop's reader callback: first what a pause left held, then fresh
 * receives. */
static PyObject *
engine_read_ready(EngineObject *self, PyObject *unused)
{
    (void)unused;
    if (!delivering(self)) {
        Py_RETURN_NONE;
    }
    if (engine_enter(self) < 0) {
        return NULL;
    }
    if (self->draining) {  /* the batch being delivered would be received over */
        engine_leave(self);
        PyErr_SetString(PyExc_RuntimeError,
                        "read_ready() called from inside a protocol callback of its transport");
        return NULL;
    }
    self->draining++;
    int rc = deliver(self);
    for (Py_ssize_t round = 0;
         rc == 0 && round < self->max_batches && delivering(self) && self->next == self->held;
         round++) {
        ptrdiff_t got = batch_recv(self->sock, self->batch, 0);
        if (got < 0) {
            if (PyErr_ExceptionMatches(PyExc_BlockingIOError)) {
                PyErr_Clear();
            }
            else if (PyErr_ExceptionMatches(PyExc_OSError) && !socket_gone(raised_errno())) {
                rc = report_os_error(self);  /* an ICMP error, as asyncio reports it */
            }
            else if (PyErr_ExceptionMatches(PyExc_Exception)) {
                rc = receive_failed(self);
            }
            else {
                rc = -1;
            }
            break;
        }
        self->held = got;
        self->next = 0;
        self->next_offset = 0;
        if ((rc = deliver(self)) < 0 || got < self->batch_capacity) {
            break;  /* the queue is empty (or a callback let SystemExit out) */
        }
    }
    self->draining--;
    /* What the drain queued goes out now, even when a callback let an exception out. */
    PyObject *exc = rc < 0 ? error_take() : NULL;
    if (flush_and_report(self) < 0) {
        rc = -1;
        if (exc != NULL) {
            PyErr_Clear();
        }
    }
    if (exc != NULL) {
        restore_exception(exc);
    }
    engine_leave(self);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- life cycle */

/* _DatagramEngine(sock, batch, datagram_received, datagrams_received, error_received,
 *                 on_exception, on_backlog, on_fatal, *, max_batches, split_gro,
 *                 cut_batches, gso) */
static PyObject *
engine_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"sock",
                             "batch",
                             "datagram_received",
                             "datagrams_received",
                             "error_received",
                             "on_exception",
                             "on_backlog",
                             "on_fatal",
                             "max_batches",
                             "split_gro",
                             "cut_batches",
                             "gso",
                             NULL};
    PyObject *sock, *batch, *on_datagram, *on_batch, *on_error, *on_exception, *on_backlog,
        *on_fatal;
    Py_ssize_t max_batches = 4;
    int split_gro = 0, cut_batches = 0, gso = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOOOO|$nppp:_DatagramEngine", kwlist, &sock,
                                     &batch, &on_datagram, &on_batch, &on_error, &on_exception,
                                     &on_backlog, &on_fatal, &max_batches, &split_gro, &cut_batches,
                                     &gso)) {
        return NULL;
    }
    module_state *state = module_state_of_type(cls);
    if (state == NULL) {
        return NULL;
    }
    if (!PyObject_TypeCheck(sock, state->socket_type)
        || !PyObject_TypeCheck(batch, state->batch_type)) {
        PyErr_SetString(PyExc_TypeError, "_DatagramEngine() takes a Socket and a DatagramBatch");
        return NULL;
    }
    if (on_batch == Py_None && !PyCallable_Check(on_datagram)) {
        PyErr_SetString(PyExc_TypeError,
                        "the protocol needs datagram_received() or datagrams_received()");
        return NULL;
    }
    if (max_batches < 1) {
        PyErr_SetString(PyExc_ValueError, "max_batches must be at least 1");
        return NULL;
    }
    EngineObject *self = (EngineObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) {
        return NULL;
    }
    self->sock = (SocketObject *)Py_NewRef(sock);
    self->batch = Py_NewRef(batch);
    self->on_batch = on_batch == Py_None ? NULL : Py_NewRef(on_batch);
    self->on_datagram = self->on_batch ? NULL : Py_NewRef(on_datagram);
    self->on_error = on_error == Py_None ? NULL : Py_NewRef(on_error);
    self->on_exception = on_exception == Py_None ? NULL : Py_NewRef(on_exception);
    self->on_backlog = on_backlog == Py_None ? NULL : Py_NewRef(on_backlog);
    self->on_fatal = on_fatal == Py_None ? NULL : Py_NewRef(on_fatal);
    self->max_batches = max_batches;
    self->split_gro = split_gro;
    self->cut_batches = split_gro && cut_batches;
#ifdef HAVE_GSO
    self->gso = gso;
#else
    self->gso = 0;  /* asked for where the platform has none: one by one */
#endif
    PyObject *capacity = PyObject_GetAttrString(batch, "capacity");
    self->batch_capacity = capacity ? PyLong_AsSsize_t(capacity) : -1;
    Py_XDECREF(capacity);
    if (self->batch_capacity < 0) {
        Py_DECREF(self);
        return NULL;
    }
    PyObject *slot = PyObject_CallMethod(batch, "buffer", "i", 0);
    Py_buffer view;
    if (slot == NULL || PyObject_GetBuffer(slot, &view, PyBUF_SIMPLE) < 0) {
        Py_XDECREF(slot);
        Py_DECREF(self);
        return NULL;
    }
    self->slot_size = view.len;  /* the transport's slots are all one size */
    PyBuffer_Release(&view);
    Py_DECREF(slot);
    /* The peer of a connected socket (sendto(addr=None) goes there); OSError: none. */
    PyObject *peer = PyObject_CallMethod(sock, "peer_addr", NULL);
    if (peer == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_OSError)) {
            Py_DECREF(self);
            return NULL;
        }
        PyErr_Clear();
    }
    else {
        int rc = sockaddr_from_object(state, peer, &self->peer, &self->peerlen);
        Py_DECREF(peer);
        if (rc < 0) {
            Py_DECREF(self);
            return NULL;
        }
        self->connected = 1;
    }
    return (PyObject *)self;
}

static int
engine_traverse(EngineObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->sock);
    Py_VISIT(self->batch);
    Py_VISIT(self->on_datagram);
    Py_VISIT(self->on_batch);
    Py_VISIT(self->on_error);
    Py_VISIT(self->on_exception);
    Py_VISIT(self->on_backlog);
    Py_VISIT(self->on_fatal);
    return 0;
}

/* The callbacks go (they close the cycle engine -> protocol -> transport -> engine); the
 * socket and the batch stay for the writer and the final state. */
static void
engine_drop_callbacks(EngineObject *self)
{
    Py_CLEAR(self->on_datagram);
    Py_CLEAR(self->on_batch);
    Py_CLEAR(self->on_error);
    Py_CLEAR(self->on_exception);
    Py_CLEAR(self->on_backlog);
    Py_CLEAR(self->on_fatal);
}

static int
engine_clear(EngineObject *self)
{
    engine_drop_callbacks(self);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->batch);
    return 0;
}

static void
engine_dealloc(PyObject *op)
{
    EngineObject *self = (EngineObject *)op;
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    if (self->queue != NULL) {
        queue_clear(self);
        PyMem_Free(self->queue);
    }
    engine_clear(self);
    tp->tp_free(op);
    Py_DECREF(tp);
}

/* close(): stops reading and sending; the queue stays for the final flush unless
 * abort=True. */
static PyObject *
engine_close(EngineObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int drop = nargs > 0 ? PyObject_IsTrue(args[0]) : 0;
    if (drop < 0 || engine_enter(self) < 0) {
        return NULL;
    }
    self->closed = 1;
    if (drop) {
        queue_clear(self);
    }
    engine_drop_callbacks(self);
    engine_leave(self);
    Py_RETURN_NONE;
}

/* stop_reading(): transport.close() from a protocol callback: the rest of the batch
 * being delivered is dropped, as asyncio would never have read it. */
static PyObject *
engine_stop_reading(EngineObject *self, PyObject *unused)
{
    (void)unused;
    self->reading_stopped = 1;
    self->held = self->next = 0;
    self->next_offset = 0;
    Py_RETURN_NONE;
}

/* pause(): transport.pause_reading(): the drain stops after the datagram being delivered;
 * the rest of the batch stays held. */
static PyObject *
engine_pause(EngineObject *self, PyObject *unused)
{
    (void)unused;
    self->paused = 1;
    Py_RETURN_NONE;
}

/* resume() -> bool: transport.resume_reading(); True when datagrams are held, for
 * read_ready() to deliver before it receives more (the socket may not turn readable). */
static PyObject *
engine_resume(EngineObject *self, PyObject *unused)
{
    (void)unused;
    self->paused = 0;
    return PyBool_FromLong(self->next < self->held && !self->closed && !self->reading_stopped);
}

/* set_protocol(datagram_received, datagrams_received, error_received): the callbacks of
 * the protocol that transport.set_protocol() installs. */
static PyObject *
engine_set_protocol(EngineObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || (args[1] == Py_None && !PyCallable_Check(args[0]))) {
        PyErr_SetString(PyExc_TypeError,
                        "set_protocol(datagram_received, datagrams_received, error_received)");
        return NULL;
    }
    if (self->closed) {
        Py_RETURN_NONE;
    }
    if (engine_enter(self) < 0) {
        return NULL;
    }
    Py_XSETREF(self->on_batch, args[1] == Py_None ? NULL : Py_NewRef(args[1]));
    Py_XSETREF(self->on_datagram, self->on_batch ? NULL : Py_NewRef(args[0]));
    Py_XSETREF(self->on_error, args[2] == Py_None ? NULL : Py_NewRef(args[2]));
    engine_leave(self);
    Py_RETURN_NONE;
}

static PyObject *
engine_get_write_buffer_size(EngineObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->queued_bytes);
}

static PyObject *
engine_get_queued(EngineObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(queue_length(self));
}

static PyObject *
engine_get_gso(EngineObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->gso);
}

static PyObject *
engine_get_closed(EngineObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->closed);
}

static PyMethodDef engine_methods[] = {
    {"sendto", (PyCFunction)(void (*)(void))engine_sendto, METH_FASTCALL | METH_KEYWORDS,
     "sendto(data, addr=None): sends at once, or queues until the socket is writable."},
    {"read_ready", (PyCFunction)engine_read_ready, METH_NOARGS,
     "read_ready(): the reader callback: drains the socket into the protocol."},
    {"flush", (PyCFunction)engine_flush, METH_NOARGS,
     "flush(): sends queued datagrams as far as the kernel takes them."},
    {"stop_reading", (PyCFunction)engine_stop_reading, METH_NOARGS,
     "stop_reading(): nothing more is read or delivered (close())."},
    {"pause", (PyCFunction)engine_pause, METH_NOARGS,
     "pause(): nothing more is delivered; the rest of the batch stays held."},
    {"resume", (PyCFunction)engine_resume, METH_NOARGS,
     "resume() -> bool: delivering again; True when datagrams are held for read_ready()."},
    {"set_protocol", (PyCFunction)(void (*)(void))engine_set_protocol, METH_FASTCALL,
     "set_protocol(datagram_received, datagrams_received, error_received)"},
    {"close", (PyCFunction)(void (*)(void))engine_close, METH_FASTCALL,
     "close(drop=False): stops; drop=True forgets the queue."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef engine_getset[] = {
    {"write_buffer_size", (getter)engine_get_write_buffer_size, NULL,
     "Bytes queued and not yet sent, plus 8 per datagram (its UDP header).", NULL},
    {"queued", (getter)engine_get_queued, NULL, "Datagrams queued and not yet sent.", NULL},
    {"closed", (getter)engine_get_closed, NULL, "Whether close() was called.", NULL},
    {"gso", (getter)engine_get_gso, NULL,
     "Whether runs of datagrams to one address go out as one UDP GSO message.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot engine_slots[] = {
    {Py_tp_new, engine_new},
    {Py_tp_dealloc, engine_dealloc},
    {Py_tp_traverse, engine_traverse},
    {Py_tp_clear, engine_clear},
    {Py_tp_methods, engine_methods},
    {Py_tp_getset, engine_getset},
    {Py_tp_doc, "Internal: the C read/send path of pysock2.aio's datagram transport."},
    {0, NULL},
};

PyType_Spec aio_engine_spec = {
    .name = "pysock2._DatagramEngine",
    .basicsize = sizeof(EngineObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = engine_slots,
};
