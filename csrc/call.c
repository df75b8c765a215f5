/* The one system-call loop: release the GIL, call, reacquire, retry on EINTR after the
 * signal handlers ran (PEP 475), and map the failure to the right exception. Every I/O
 * method goes through socket_call(); none re-implements it. */
#include "pysock2.h"

#include <stdarg.h>

sys_socket_t
socket_checked_fd(SocketObject *self)
{
    sys_socket_t fd = SOCK_FD(self);
    if (fd == SYS_INVALID_SOCKET) {
        error_set_from_sys(SYS_EBADF);
    }
    return fd;
}

void
socket_raise(sys_socket_t fd, int err, int dontwait)
{
    /* An expired SO_RCVTIMEO/SO_SNDTIMEO looks like EAGAIN on Unix; it is a timeout only
     * when the socket blocks and the caller did not ask for MSG_DONTWAIT. */
    if (!dontwait && sys_error_is_timeout(err) && sys_is_blocking(fd)) {
        socket_raise_timeout();
        return;
    }
    error_set_from_sys(err);
}

void
socket_raise_timeout(void)
{
    PyObject *exc = PyObject_CallFunction(PyExc_TimeoutError, "is", SYS_ETIMEDOUT, "timed out");
    if (exc != NULL) {
        PyErr_SetObject(PyExc_TimeoutError, exc);
        Py_DECREF(exc);
    }
}

#define DEADLINE_UNKNOWN (-2)  /* not read yet; -1 is "none" (deadline_after) */

/* Called after an EINTR, before calling again: the kernel would restart the socket's
 * timeout with each call, so a storm of signals could postpone it forever. Instead the
 * call's first deadline (start_ns + the timeout, read once) is kept by waiting for
 * readiness with the time left; the call then runs again and normally completes at
 * once. 0 to call again, or -1 raised (TimeoutError at the deadline). */
static int
wait_within_deadline(sys_socket_t fd, int how, int64_t start_ns, int64_t *deadline_ns)
{
    if (*deadline_ns == DEADLINE_UNKNOWN) {
        int64_t usec = 0;
        int name = (how & SOCKET_SENDS) ? SO_SNDTIMEO : SO_RCVTIMEO;
        *deadline_ns = (how & SOCKET_DONTWAIT) || sys_get_timeout(fd, name, &usec) < 0
                           ? -1
                           : deadline_after(start_ns, usec);
    }
    while (*deadline_ns >= 0) {
        int64_t left_ns = *deadline_ns - sys_monotonic_ns();
        if (left_ns <= 0) {
            socket_raise_timeout();
            return -1;
        }
        int64_t ms = left_ns / 1000000 + (left_ns % 1000000 != 0);
        int ready, err = 0;
        Py_BEGIN_ALLOW_THREADS
        ready = sys_poll_ready(fd, how & SOCKET_SENDS, ms > INT_MAX ? INT_MAX : (int)ms);
        if (ready < 0) {
            err = sys_last_error();
        }
        Py_END_ALLOW_THREADS
        if (ready > 0) {
            return 0;
        }
        if (ready < 0 && !sys_error_is_interrupted(err)) {
            error_set_from_sys(err);
            return -1;
        }
        if (ready < 0 && PyErr_CheckSignals() < 0) {
            return -1;
        }
    }
    return 0;  /* no timeout: the call may wait as long as it likes */
}

ptrdiff_t
socket_call(SocketObject *self, sys_call_fn fn, void *ctx, int how)
{
    int64_t start_ns = sys_monotonic_ns();
    int64_t deadline_ns = DEADLINE_UNKNOWN;
    for (;;) {
        sys_socket_t fd = socket_checked_fd(self);
        if (fd == SYS_INVALID_SOCKET) {
            return -1;
        }
        ptrdiff_t result;
        int err;
        Py_BEGIN_ALLOW_THREADS
        result = fn(fd, ctx);
        err = result < 0 ? sys_last_error() : 0;
        Py_END_ALLOW_THREADS
        if (result >= 0) {
            return result;
        }
        if (SOCK_FD(self) != fd) {
            /* Closed by another thread while the call waited: the failure (say an expired
             * read_timeout) is of a descriptor that is gone, maybe already reused, so it
             * is reported as any call on a closed socket is. */
            error_set_from_sys(SYS_EBADF);
            return -1;
        }
        if (!sys_error_is_interrupted(err)) {
            socket_raise(fd, err, how & SOCKET_DONTWAIT);
            return -1;
        }
        if (PyErr_CheckSignals() < 0 || wait_within_deadline(fd, how, start_ns, &deadline_ns) < 0) {
            return -1;
        }
    }
}

/* ---------------------------------------------------------------- the fast path */

#ifdef MSG_DONTWAIT
/* Whether a call on this socket may first be tried with MSG_DONTWAIT and give the same
 * result as the blocking call: true of datagram and raw sockets, where a call moves one
 * whole message or none. Not of stream sockets: MSG_DONTWAIT could cut a send short or
 * return fewer bytes than SO_RCVLOWAT asks for. */
static int
socket_is_datagram(SocketObject *self, sys_socket_t fd)
{
    int kind = compat_atomic_load_int_relaxed(&self->kind);
    if (kind == SOCK_KIND_UNKNOWN) {
        int type = 0;
        sys_socklen_t len = sizeof(type);
        if (sys_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
            return 0;  /* not cached: the call itself will report the problem */
        }
        kind = (type == SOCK_DGRAM || type == SOCK_RAW) ? SOCK_KIND_DATAGRAM : SOCK_KIND_OTHER;
        compat_atomic_store_int_relaxed(&self->kind, kind);
    }
    return kind == SOCK_KIND_DATAGRAM;
}

ptrdiff_t
socket_try_failed(sys_socket_t fd, int err, int asked)
{
    if (sys_error_is_interrupted(err)) {
        return SOCKET_MUST_WAIT;  /* socket_call runs the handlers and retries */
    }
    if (sys_error_is_would_block(err) && !(asked & MSG_DONTWAIT) && sys_is_blocking(fd)) {
        return SOCKET_MUST_WAIT;  /* nothing yet: wait as the caller asked, GIL released */
    }
    /* A non-blocking socket or MSG_DONTWAIT: EAGAIN is BlockingIOError, as it would be. */
    socket_raise(fd, err, 1);
    return -1;
}
#endif

/* socket_try_call's first time on a socket (the kind is read), or its refusals. */
ptrdiff_t
socket_try_call_slow(SocketObject *self, sys_call_fn fn, void *ctx, int *flags)
{
#ifdef MSG_DONTWAIT
    int asked = *flags;
    if (asked & MSG_WAITALL) {
        return SOCKET_MUST_WAIT;
    }
    sys_socket_t fd = socket_checked_fd(self);
    if (fd == SYS_INVALID_SOCKET) {
        return -1;
    }
    if (!(asked & MSG_DONTWAIT) && !socket_is_datagram(self, fd)) {
        return SOCKET_MUST_WAIT;
    }
    /* The kind is now cached (or MSG_DONTWAIT was asked): the inline attempt applies. A
     * descriptor closed meanwhile comes back here and raises EBADF above. */
    return socket_try_call(self, fn, ctx, flags);
#else
    (void)self;
    (void)fn;
    (void)ctx;
    (void)flags;
    return SOCKET_MUST_WAIT;
#endif
}

ptrdiff_t
socket_call_flags(SocketObject *self, sys_call_fn fn, void *ctx, int *flags, int sends)
{
    ptrdiff_t result = socket_try_call(self, fn, ctx, flags);
    if (result != SOCKET_MUST_WAIT) {
        return result;
    }
    return socket_call(self, fn, ctx, IS_DONTWAIT(*flags) | sends);
}
