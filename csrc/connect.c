/* Connecting with a deadline that signals cannot stretch or cut short.
 *
 * connect() on a blocking socket is bounded by its write_timeout (SO_SNDTIMEO) on Unix;
 * connect_timeout() by its argument. A signal (EINTR) must change neither the deadline
 * nor the outcome (PEP 475). What EINTR leaves behind depends on the family: TCP carries
 * on connecting in the background (wait for it: writability, then SO_ERROR), while an
 * interrupted AF_UNIX connect has nothing under way (connect again). getpeername() after
 * the wait tells the two apart, so no family is special-cased. A full AF_UNIX backlog
 * (EAGAIN from a non-blocking connect) is likewise "nothing under way": connect_timeout
 * then waits for room with a blocking connect bounded by the time left. */
#include "pysock2.h"

#define RAISED (-1)  /* an exception is set (errors are positive codes) */

static int
connect_call(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len)
{
    int rc, err = 0;
    Py_BEGIN_ALLOW_THREADS
    rc = sys_connect(fd, addr, len);
    if (rc < 0) {
        err = sys_last_error();
    }
    Py_END_ALLOW_THREADS
    return err;
}

static int
raise_timeout(void)
{
    PyErr_SetString(PyExc_TimeoutError, "connection timed out");
    return RAISED;
}

/* The deadline `usec` microseconds after `start_ns`, or -1 (none) when usec is 0 or the
 * sum is past what the clock can count (about 292 years: no one could tell the
 * difference). Never overflows. */
static int64_t
deadline_after(int64_t start_ns, int64_t usec)
{
    if (usec <= 0 || usec > (INT64_MAX - start_ns) / 1000) {
        return -1;
    }
    return start_ns + usec * 1000;
}

static int
connect_error(sys_socket_t fd)
{
    int err = 0;
    sys_socklen_t len = sizeof(err);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_ERROR, (void *)&err, &len) < 0) {
        return sys_last_error();
    }
    return err;
}

/* Waits for a connect under way until deadline_ns (< 0: no deadline), retrying EINTR with
 * the remaining time; 0 (finished, maybe with nothing having been under way), or RAISED
 * (its error, TimeoutError, or what a signal handler raised). */
static int
wait_connected(sys_socket_t fd, int64_t deadline_ns)
{
    for (;;) {
        int timeout_ms = -1;
        if (deadline_ns >= 0) {
            /* Past the deadline: one look without waiting (a zero timeout still sees a
             * connection that is already made). */
            int64_t left_ns = deadline_ns - sys_monotonic_ns();
            int64_t ms = left_ns <= 0 ? 0 : left_ns / 1000000 + (left_ns % 1000000 != 0);
            timeout_ms = ms > INT_MAX ? INT_MAX : (int)ms;
        }
        int ready, err = 0;
        Py_BEGIN_ALLOW_THREADS
        ready = sys_poll_connect(fd, timeout_ms);
        if (ready < 0) {
            err = sys_last_error();
        }
        Py_END_ALLOW_THREADS
        if (ready > 0) {
            err = connect_error(fd);
            return err == 0 ? 0 : (sys_set_error(err), RAISED);
        }
        if (ready < 0 && !sys_error_is_interrupted(err)) {
            sys_set_error(err);
            return RAISED;
        }
        if (ready < 0 && PyErr_CheckSignals() < 0) {
            return RAISED;
        }
        if (ready == 0 && timeout_ms == 0) {
            return raise_timeout();
        }
        /* Interrupted, or woken before the deadline: go round with the time left. */
    }
}

/* After waiting: 1 connected, 0 nothing is under way (connect again), or RAISED. */
static int
is_connected(sys_socket_t fd)
{
    struct sockaddr_storage peer;
    sys_socklen_t len = sizeof(peer);
    if (sys_getpeername(fd, (struct sockaddr *)&peer, &len) == 0) {
        return 1;
    }
    int err = sys_last_error();
    if (err == SYS_ENOTCONN) {
        return 0;
    }
    sys_set_error(err);
    return RAISED;
}

/* A blocking connect() bounded by the time left until deadline_ns (< 0: unbounded) through
 * SO_SNDTIMEO, which bounds a blocking connect on Unix; the socket's own write_timeout is
 * put back afterwards. The error code (0: connected) or RAISED. */
static int
connect_bounded(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len,
                int64_t deadline_ns)
{
    if (deadline_ns < 0) {
        return connect_call(fd, addr, len);
    }
    int64_t left_ns = deadline_ns - sys_monotonic_ns();
    if (left_ns <= 0) {
        return raise_timeout();
    }
    int64_t saved;
    if (sys_get_timeout(fd, SO_SNDTIMEO, &saved) < 0
        || sys_set_timeout(fd, SO_SNDTIMEO, left_ns / 1000 + 1) < 0) {
        sys_set_error(sys_last_error());
        return RAISED;
    }
    int err = connect_call(fd, addr, len);
    if (sys_set_timeout(fd, SO_SNDTIMEO, saved) < 0) {
        sys_set_error(sys_last_error());
        return RAISED;
    }
    return err;
}

/* The failure of a blocking connect(): its expired SO_SNDTIMEO shows as EINPROGRESS (TCP)
 * or EAGAIN (AF_UNIX, a full backlog) and is a TimeoutError; on a non-blocking socket
 * those stay BlockingIOError. */
static int
connect_failed(sys_socket_t fd, int err)
{
    if ((sys_error_in_progress(err) || sys_error_is_would_block(err)) && sys_is_blocking(fd)) {
        return raise_timeout();
    }
    sys_set_error(err);
    return RAISED;
}

/* Carries a connect() that failed with `err` through to its outcome within deadline_ns
 * (< 0: none). `nonblocking` says the failed call was made in non-blocking mode
 * (connect_timeout), where EINPROGRESS means "under way" and EAGAIN "no room yet".
 * 0 connected, or RAISED. */
static int
connect_until(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len, int err,
              int nonblocking, int64_t deadline_ns)
{
    for (;;) {
        if (err == 0) {
            return 0;
        }
        int interrupted = sys_error_is_interrupted(err);
        if (interrupted && PyErr_CheckSignals() < 0) {
            return RAISED;
        }
        if (interrupted || (nonblocking && sys_connect_pending(err))) {
            int done = wait_connected(fd, deadline_ns);
            if (done == 0) {
                done = is_connected(fd);
            }
            if (done != 0) {
                return done > 0 ? 0 : RAISED;
            }
            /* Nothing under way (an interrupted AF_UNIX connect): connect again. */
        }
        else if (!(nonblocking && sys_error_is_would_block(err))) {
            return connect_failed(fd, err);
        }
        err = connect_bounded(fd, addr, len, deadline_ns);
        if (err == RAISED) {
            return RAISED;
        }
        nonblocking = 0;
    }
}

int
connect_blocking(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len)
{
    int64_t start_ns = sys_monotonic_ns();
    int err = connect_call(fd, addr, len);
    if (err == 0 || !sys_error_is_interrupted(err)) {
        return err == 0 ? 0 : connect_failed(fd, err);
    }
    /* Interrupted: the rest must end where the write_timeout would have ended it. */
    int64_t usec = 0;
    if (sys_get_timeout(fd, SO_SNDTIMEO, &usec) < 0) {
        sys_set_error(sys_last_error());
        return RAISED;
    }
    return connect_until(fd, addr, len, err, 0, deadline_after(start_ns, usec));
}

int
connect_with_timeout(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len,
                     int64_t usec)
{
    int64_t deadline_ns = deadline_after(sys_monotonic_ns(), usec);
    if (usec == 0) {
        deadline_ns = sys_monotonic_ns();  /* a zero timeout: one attempt, no waiting */
    }
    /* As socket2: connect in non-blocking mode, then wait in blocking mode. */
    if (sys_set_nonblocking(fd, 1) < 0) {
        sys_set_error(sys_last_error());
        return RAISED;
    }
    int rc = sys_connect(fd, addr, len);
    int err = rc < 0 ? sys_last_error() : 0;
    if (sys_set_nonblocking(fd, 0) < 0) {
        sys_set_error(sys_last_error());
        return RAISED;
    }
    return connect_until(fd, addr, len, err, 1, deadline_ns);
}
