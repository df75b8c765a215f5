/* The platform layer for Unix (Linux, macOS, the BSDs); see sys.h for the contract. */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#  include <sys/sendfile.h>
#elif defined(SYS_HAS_SENDFILE)
#  include <sys/uio.h>
#endif

const int SYS_EBADF = EBADF;
const int SYS_ENOTCONN = ENOTCONN;
const int SYS_EINVAL = EINVAL;
const int SYS_ETIMEDOUT = ETIMEDOUT;
const int SYS_ECONNRESET = ECONNRESET;

/* socket2 caps one call's length: Apple rejects more than INT_MAX - 1 bytes. */
#ifdef __APPLE__
#  define MAX_IO_LEN ((size_t)INT_MAX - 1)
#else
#  define MAX_IO_LEN ((size_t)SSIZE_MAX)
#endif

static size_t
clamp_len(size_t len)
{
    return len > MAX_IO_LEN ? MAX_IO_LEN : len;
}

int
sys_init(int *err)
{
    (void)err;
    return 0;
}

void
sys_fini(void)
{}

int
sys_last_error(void)
{
    return errno;
}
int
sys_error_is_interrupted(int err)
{
    return err == EINTR;
}
int
sys_error_in_progress(int err)
{
    return err == EINPROGRESS;
}
int
sys_connect_pending(int err)
{
    return err == EINPROGRESS;
}

int
sys_error_is_would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

int
sys_error_is_timeout(int err)
{
    return sys_error_is_would_block(err);
}

static int
set_fd_flag(int fd, int get, int set, int flag, int on)
{
    int flags = fcntl(fd, get);
    if (flags < 0) {
        return -1;
    }
    int wanted = on ? (flags | flag) : (flags & ~flag);
    if (wanted != flags && fcntl(fd, set, wanted) < 0) {
        return -1;
    }
    return 0;
}

int
sys_set_cloexec(sys_socket_t fd, int on)
{
    return set_fd_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, on);
}

int
sys_set_nonblocking(sys_socket_t fd, int on)
{
    return set_fd_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, on);
}

int
sys_get_nonblocking(sys_socket_t fd, int *on)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) {
        return -1;
    }
    *on = (flags & O_NONBLOCK) != 0;
    return 0;
}

int
sys_is_blocking(sys_socket_t fd)
{
    int on = 0;
    return sys_get_nonblocking(fd, &on) == 0 && !on;
}

#ifdef SYS_HAS_NOSIGPIPE
/* Apple has no MSG_NOSIGNAL for every send; SO_NOSIGPIPE makes a write to a closed peer
 * fail with EPIPE instead of raising SIGPIPE. */
int
sys_set_nosigpipe(sys_socket_t fd, int on)
{
    return setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
}
#endif

/* What socket2 does to every socket it creates: close-on-exec with fcntl where the platform
 * lacks SOCK_CLOEXEC in the type (Apple, older systems), and SO_NOSIGPIPE on Apple.
 * Closes fd on failure. */
static int
apply_default_flags(int fd, int cloexec_done)
{
    if (!cloexec_done && sys_set_cloexec(fd, 1) < 0) {
        goto fail;
    }
#ifdef SYS_HAS_NOSIGPIPE
    if (sys_set_nosigpipe(fd, 1) < 0) {
        goto fail;
    }
#endif
    return 0;
fail:
    {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
}

#ifdef SOCK_CLOEXEC
#  define CLOEXEC_IN_TYPE 1
#else
#  define SOCK_CLOEXEC 0
#  define CLOEXEC_IN_TYPE 0
#endif

sys_socket_t
sys_socket(int domain, int type, int protocol, int raw)
{
    if (raw) {
        return socket(domain, type, protocol);
    }
    int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd >= 0 && apply_default_flags(fd, CLOEXEC_IN_TYPE) < 0) {
        return -1;
    }
    return fd;
}

int
sys_socketpair(int domain, int type, int protocol, int raw, sys_socket_t pair[2])
{
    if (raw) {
        return socketpair(domain, type, protocol, pair);
    }
    if (socketpair(domain, type | SOCK_CLOEXEC, protocol, pair) < 0) {
        return -1;
    }
    if (apply_default_flags(pair[0], CLOEXEC_IN_TYPE) < 0) {
        int saved = errno;
        close(pair[1]);
        errno = saved;
        return -1;
    }
    if (apply_default_flags(pair[1], CLOEXEC_IN_TYPE) < 0) {
        int saved = errno;
        close(pair[0]);
        errno = saved;
        return -1;
    }
    return 0;
}

int
sys_close(sys_socket_t fd)
{
    /* Linux and the BSDs release the descriptor even when close() reports EINTR, so a
     * retry could close a descriptor another thread just opened. */
    int rc = close(fd);
    return (rc < 0 && errno == EINTR) ? 0 : rc;
}

sys_socket_t
sys_duplicate(sys_socket_t fd)
{
    return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

int
sys_bind(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len)
{
    return bind(fd, addr, len);
}

int
sys_connect(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len)
{
    return connect(fd, addr, len);
}

int
sys_listen(sys_socket_t fd, int backlog)
{
    return listen(fd, backlog);
}

sys_socket_t
sys_accept(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len, int raw)
{
    if (raw) {
        return accept(fd, addr, len);
    }
#ifdef SYS_HAS_ACCEPT4
    return accept4(fd, addr, len, SOCK_CLOEXEC);
#else
    int conn = accept(fd, addr, len);
    /* socket2 sets no SO_NOSIGPIPE here: the listener's setting is inherited. */
    if (conn >= 0 && sys_set_cloexec(conn, 1) < 0) {
        int saved = errno;
        close(conn);
        errno = saved;
        return -1;
    }
    return conn;
#endif
}

#ifdef SYS_HAS_ACCEPT4
sys_socket_t
sys_accept4(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len, int flags)
{
    return accept4(fd, addr, len, flags);
}
#endif

int
sys_shutdown(sys_socket_t fd, int how)
{
    return shutdown(fd, how);
}

int
sys_getsockname(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len)
{
    return getsockname(fd, addr, len);
}

int
sys_getpeername(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len)
{
    return getpeername(fd, addr, len);
}

int
sys_poll_connect(sys_socket_t fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT};
    int rc = poll(&pfd, 1, timeout_ms);
    return rc < 0 ? -1 : (rc > 0);
}

int
sys_poll_ready(sys_socket_t fd, int for_write, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = for_write ? POLLOUT : POLLIN};
    int rc = poll(&pfd, 1, timeout_ms);
    return rc < 0 ? -1 : (rc > 0);
}

int
sys_getsockopt(sys_socket_t fd, int level, int name, void *value, sys_socklen_t *len)
{
    return getsockopt(fd, level, name, value, len);
}

int
sys_setsockopt(sys_socket_t fd, int level, int name, const void *value, sys_socklen_t len)
{
    return setsockopt(fd, level, name, value, len);
}

int
sys_set_timeout(sys_socket_t fd, int name, int64_t usec)
{
    struct timeval tv;
    tv.tv_sec = (time_t)(usec / 1000000);
    tv.tv_usec = (suseconds_t)(usec % 1000000);
    return setsockopt(fd, SOL_SOCKET, name, &tv, sizeof(tv));
}

int
sys_get_timeout(sys_socket_t fd, int name, int64_t *usec)
{
    struct timeval tv;
    socklen_t len = sizeof(tv);
    if (getsockopt(fd, SOL_SOCKET, name, &tv, &len) < 0) {
        return -1;
    }
    /* Another program may have set a timeout of up to ~3e16 s (Linux keeps it in jiffies):
     * more than int64 microseconds count saturates, never overflows. */
    const int64_t max_sec = (INT64_MAX - 999999) / 1000000;
    *usec = tv.tv_sec > max_sec ? INT64_MAX : (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    return 0;
}

ptrdiff_t
sys_recv(sys_socket_t fd, void *buf, size_t len, int flags)
{
    return recv(fd, buf, clamp_len(len), flags);
}

ptrdiff_t
sys_recvfrom(sys_socket_t fd, void *buf, size_t len, int flags, struct sockaddr *addr,
             sys_socklen_t *addrlen)
{
    return recvfrom(fd, buf, clamp_len(len), flags, addr, addrlen);
}

ptrdiff_t
sys_send(sys_socket_t fd, const void *buf, size_t len, int flags)
{
    return send(fd, buf, clamp_len(len), flags);
}

ptrdiff_t
sys_sendto(sys_socket_t fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
           sys_socklen_t addrlen)
{
    return sendto(fd, buf, clamp_len(len), flags, addr, addrlen);
}

#ifdef SYS_HAS_SENDFILE
ptrdiff_t
sys_sendfile(sys_socket_t fd, int in_fd, int64_t offset, size_t len)
{
#  if defined(__linux__)
    off_t off = (off_t)offset;
    /* Linux moves at most 0x7ffff000 bytes in one call whatever is asked; socket2 asks
     * for that much when no length is given. */
    if (len == 0 || len > 0x7ffff000) {
        len = 0x7ffff000;
    }
    return sendfile(fd, in_fd, &off, len);
#  elif defined(__APPLE__)
    off_t sent = (off_t)len;
    if (sendfile(in_fd, fd, (off_t)offset, &sent, NULL, 0) < 0 && sent == 0) {
        return -1;
    }
    return (ptrdiff_t)sent;
#  else /* FreeBSD */
    off_t sent = 0;
    if (sendfile(in_fd, fd, (off_t)offset, len, NULL, &sent, 0) < 0 && sent == 0) {
        return -1;
    }
    return (ptrdiff_t)sent;
#  endif
}
#endif

static void
to_msghdr(const sys_msg *msg, struct msghdr *hdr)
{
    memset(hdr, 0, sizeof(*hdr));
    hdr->msg_name = msg->name;
    hdr->msg_namelen = msg->name ? msg->namelen : 0;
    hdr->msg_iov = msg->iov;
    hdr->msg_iovlen = msg->iovlen;
    hdr->msg_control = msg->control;
    hdr->msg_controllen = msg->control ? msg->controllen : 0;
}

ptrdiff_t
sys_sendmsg(sys_socket_t fd, sys_msg *msg, int flags)
{
    struct msghdr hdr;
    to_msghdr(msg, &hdr);
    hdr.msg_flags = msg->flags;
    return sendmsg(fd, &hdr, flags);
}

ptrdiff_t
sys_recvmsg(sys_socket_t fd, sys_msg *msg, int flags)
{
    struct msghdr hdr;
    to_msghdr(msg, &hdr);
    ptrdiff_t n = recvmsg(fd, &hdr, flags);
    if (n >= 0) {
        msg->namelen = hdr.msg_namelen;
        msg->controllen = hdr.msg_controllen;
        msg->flags = hdr.msg_flags;
    }
    return n;
}

#ifdef SYS_HAS_MMSG
ptrdiff_t
sys_recvmmsg(sys_socket_t fd, sys_mmsg *msgs, size_t count, int flags)
{
    return recvmmsg(fd, msgs, (unsigned int)count, flags | MSG_WAITFORONE, NULL);
}

ptrdiff_t
sys_sendmmsg(sys_socket_t fd, sys_mmsg *msgs, size_t count, int flags)
{
    return sendmmsg(fd, msgs, (unsigned int)count, flags);
}
#endif

/* The per-socket keepalive parameters: idle time (TCP_KEEPALIVE on Apple), interval and
 * count. OpenBSD has none of them (only system-wide sysctls). */
#if defined(__APPLE__)
#  define KEEPALIVE_IDLE TCP_KEEPALIVE
#elif defined(TCP_KEEPIDLE)
#  define KEEPALIVE_IDLE TCP_KEEPIDLE
#endif

static int
set_int_option(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof(value));
}

int
sys_set_tcp_keepalive(sys_socket_t fd, int64_t time_ms, int64_t interval_ms, int retries)
{
    /* A parameter the system cannot set is refused before anything changes (ENOPROTOOPT,
     * as setsockopt reports an unknown option), never dropped silently. */
    int unsupported = 0;
#ifndef KEEPALIVE_IDLE
    unsupported |= time_ms >= 0;
#endif
#ifndef TCP_KEEPINTVL
    unsupported |= interval_ms >= 0;
#endif
#ifndef TCP_KEEPCNT
    unsupported |= retries >= 0;
#endif
    if (unsupported) {
        errno = ENOPROTOOPT;
        return -1;
    }
#ifdef KEEPALIVE_IDLE
    if (time_ms >= 0
        && set_int_option(fd, IPPROTO_TCP, KEEPALIVE_IDLE, (int)(time_ms / 1000)) < 0) {
        return -1;
    }
#endif
#ifdef TCP_KEEPINTVL
    if (interval_ms >= 0
        && set_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)(interval_ms / 1000)) < 0) {
        return -1;
    }
#endif
#ifdef TCP_KEEPCNT
    if (retries >= 0 && set_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT, retries) < 0) {
        return -1;
    }
#endif
    return set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
}

int
sys_inet_pton(int family, const char *text, void *out)
{
    return inet_pton(family, text, out);
}

const char *
sys_inet_ntop(int family, const void *addr, char *out, size_t outlen)
{
    return inet_ntop(family, addr, out, (socklen_t)outlen);
}

unsigned int
sys_if_nametoindex(const char *name)
{
    return if_nametoindex(name);
}

int64_t
sys_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
