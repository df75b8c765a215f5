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

/* One connect, from the first call to its outcome. */
typedef struct {
    SocketObject *self;
    sys_socket_t fd;
    const struct sockaddr *addr;
    sys_socklen_t len;
    int64_t deadline_ns;      /* monotonic; < 0: none */
} connect_job;

/* After the GIL was released: RAISED (OSError EBADF) when another thread closed the socket
 * meanwhile, so that nothing more is done to a number that may have been reused. */
static int
still_open(const connect_job *job)
{
    if (SOCK_FD(job->self) != job->fd) {
        error_set_from_sys(SYS_EBADF);
        return RAISED;
    }
    return 0;
}

/* One connect() call, GIL released: 0, the error code, or RAISED (closed meanwhile). */
static int
connect_call(const connect_job *job)
{
    int rc, err = 0;
    Py_BEGIN_ALLOW_THREADS
    rc = sys_connect(job->fd, job->addr, job->len);
    if (rc < 0) {
        err = sys_last_error();
    }
    Py_END_ALLOW_THREADS
    return still_open(job) < 0 ? RAISED : err;
}

static int
raise_timeout(void)
{
    socket_raise_timeout();
    return RAISED;
}

static int
raise_last_error(void)
{
    error_set_from_sys(sys_last_error());
    return RAISED;
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

/* Waits for a connect under way until the deadline, retrying EINTR with the time left:
 * 0 (finished, maybe with nothing having been under way), or RAISED (its error,
 * TimeoutError, or what a signal handler raised). */
static int
wait_connected(const connect_job *job)
{
    for (;;) {
        int timeout_ms = -1;
        if (job->deadline_ns >= 0) {
            /* Past the deadline: one look without waiting (a zero timeout still sees a
             * connection that is already made). */
            int64_t left_ns = job->deadline_ns - sys_monotonic_ns();
            int64_t ms = left_ns <= 0 ? 0 : left_ns / 1000000 + (left_ns % 1000000 != 0);
            timeout_ms = ms > INT_MAX ? INT_MAX : (int)ms;
        }
        int ready, err = 0;
        Py_BEGIN_ALLOW_THREADS
        ready = sys_poll_connect(job->fd, timeout_ms);
        if (ready < 0) {
            err = sys_last_error();
        }
        Py_END_ALLOW_THREADS
        if (still_open(job) < 0) {
            return RAISED;
        }
        if (ready > 0) {
            err = connect_error(job->fd);
            return err == 0 ? 0 : (error_set_from_sys(err), RAISED);
        }
        if (ready < 0 && !sys_error_is_interrupted(err)) {
            error_set_from_sys(err);
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
is_connected(const connect_job *job)
{
    struct sockaddr_storage peer;
    sys_socklen_t len = sizeof(peer);
    if (sys_getpeername(job->fd, (struct sockaddr *)&peer, &len) == 0) {
        return 1;
    }
    return sys_last_error() == SYS_ENOTCONN ? 0 : raise_last_error();
}

/* A blocking connect() bounded by the time left until the deadline through SO_SNDTIMEO,
 * which bounds a blocking connect on Unix; the socket's own write_timeout is put back
 * afterwards. 0, the error code, or RAISED. */
static int
connect_bounded(const connect_job *job)
{
    if (job->deadline_ns < 0) {
        return connect_call(job);
    }
    int64_t left_ns = job->deadline_ns - sys_monotonic_ns();
    if (left_ns <= 0) {
        return raise_timeout();
    }
    int64_t saved;
    if (sys_get_timeout(job->fd, SO_SNDTIMEO, &saved) < 0
        || sys_set_timeout(job->fd, SO_SNDTIMEO, left_ns / 1000 + 1) < 0) {
        return raise_last_error();
    }
    int err = connect_call(job);
    if (err != RAISED && sys_set_timeout(job->fd, SO_SNDTIMEO, saved) < 0) {
        return raise_last_error();
    }
    return err;
}

/* The failure of a blocking connect(): its expired SO_SNDTIMEO shows as EINPROGRESS (TCP)
 * or EAGAIN (AF_UNIX, a full backlog) and is a TimeoutError; on a non-blocking socket
 * those stay BlockingIOError. */
static int
connect_failed(const connect_job *job, int err)
{
    if ((sys_error_in_progress(err) || sys_error_is_would_block(err)) && sys_is_blocking(job->fd)) {
        return raise_timeout();
    }
    error_set_from_sys(err);
    return RAISED;
}

/* Carries a connect() that failed with `err` through to its outcome within the deadline.
 * `nonblocking` says the failed call was made in non-blocking mode (connect_timeout),
 * where EINPROGRESS means "under way" and EAGAIN "no room yet". 0 connected, or RAISED. */
static int
connect_until(const connect_job *job, int err, int nonblocking)
{
    for (;;) {
        if (err == 0 || err == RAISED) {
            return err;
        }
        int interrupted = sys_error_is_interrupted(err);
        if (interrupted && PyErr_CheckSignals() < 0) {
            return RAISED;
        }
        if (interrupted || (nonblocking && sys_connect_pending(err))) {
            int done = wait_connected(job);
            if (done == 0) {
                done = is_connected(job);
            }
            if (done != 0) {
                return done > 0 ? 0 : RAISED;
            }
            /* Nothing under way (an interrupted AF_UNIX connect): connect again. */
        }
        else if (!(nonblocking && sys_error_is_would_block(err))) {
            return connect_failed(job, err);
        }
        err = connect_bounded(job);
        nonblocking = 0;
    }
}

int
connect_blocking(SocketObject *self, const struct sockaddr *addr, sys_socklen_t len)
{
    connect_job job = {self, socket_checked_fd(self), addr, len, -1};
    if (job.fd == SYS_INVALID_SOCKET) {
        return RAISED;
    }
    int64_t start_ns = sys_monotonic_ns();
    int err = connect_call(&job);
    if (sys_error_is_interrupted(err)) {
        /* The rest must end where the write_timeout would have ended the call. */
        int64_t usec = 0;
        if (sys_get_timeout(job.fd, SO_SNDTIMEO, &usec) < 0) {
            return raise_last_error();
        }
        job.deadline_ns = deadline_after(start_ns, usec);
    }
    return connect_until(&job, err, 0);
}

int
connect_with_timeout(SocketObject *self, const struct sockaddr *addr, sys_socklen_t len,
                     int64_t usec)
{
    connect_job job = {self, socket_checked_fd(self), addr, len, -1};
    if (job.fd == SYS_INVALID_SOCKET) {
        return RAISED;
    }
    int64_t now_ns = sys_monotonic_ns();
    /* A zero timeout: one attempt and one look, no waiting. */
    job.deadline_ns = usec == 0 ? now_ns : deadline_after(now_ns, usec);
    /* As socket2: connect in non-blocking mode, then wait in blocking mode. */
    if (sys_set_nonblocking(job.fd, 1) < 0) {
        return raise_last_error();
    }
    int rc = sys_connect(job.fd, addr, len);
    int err = rc < 0 ? sys_last_error() : 0;
    if (sys_set_nonblocking(job.fd, 0) < 0) {
        return raise_last_error();
    }
    return connect_until(&job, err, 1);
}
