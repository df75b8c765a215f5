/* The platform layer: the only functions that call socket APIs.
 *
 * sys_unix.c and sys_windows.c implement the same names; setup.py compiles exactly one of
 * them.  Nothing here needs Python (errors.c turns the error codes into exceptions), so
 * every function is safe to call without the GIL, and tests/c/sys_contract.c drives this
 * layer alone, on Linux and under Wine.
 *
 * Conventions: functions returning int give 0 on success and -1 on failure; functions
 * returning a length give -1 on failure.  After a failure, sys_last_error() is the
 * platform's error code (errno or WSAGetLastError()).
 */
#ifndef PYSOCK2_SYS_H
#define PYSOCK2_SYS_H

/* Apple's headers give RFC 2292's IPv6 API unless asked for RFC 3542's, whose names
 * (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO, ...) socket2 and CPython's socket module use.
 * Before any system header. */
#if defined(__APPLE__) && !defined(__APPLE_USE_RFC_3542)
#  define __APPLE_USE_RFC_3542 1
#endif

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#  include <winsock2.h>
#  include <ws2tcpip.h>
#  include <afunix.h>
#  include <mswsock.h>
#  include <mstcpip.h>
#  include <iphlpapi.h>   /* if_nametoindex, IF_NAMESIZE */
typedef SOCKET sys_socket_t;
typedef int sys_socklen_t;
/* The POSIX name for the sockaddr family field's type, which Winsock calls ADDRESS_FAMILY. */
typedef ADDRESS_FAMILY sa_family_t;
#  define SYS_INVALID_SOCKET INVALID_SOCKET
#  define SYS_SHUT_RD SD_RECEIVE
#  define SYS_SHUT_WR SD_SEND
#  define SYS_SHUT_RDWR SD_BOTH
/* socket2's Type::no_inherit() and Type::registered_io(): flags carried in bits 31 and 30
 * of the type argument, which sys_socket strips and turns into WSASocketW flags. */
#  define SYS_SOCK_NO_INHERIT INT_MIN  /* bit 31 */
#  define SYS_SOCK_REGISTERED_IO (1 << 30)
/* Windows 10 1703+ has TCP_KEEPCNT (MSVC's ws2ipdef.h names it; mingw-w64's does not). */
#  ifndef TCP_KEEPCNT
#    define TCP_KEEPCNT 16
#  endif
#else
#  include <sys/types.h>
#  include <sys/socket.h>
#  include <sys/un.h>
#  include <netinet/in.h>
#  include <netinet/tcp.h>
#  include <arpa/inet.h>
#  include <net/if.h>
#  include <sys/uio.h>
#  include <limits.h>
/* VM sockets as socket2 has them: Linux and Android. (Apple's <sys/socket.h> defines
 * AF_VSOCK too, but no struct sockaddr_vm, and socket2 has no vsock there.) */
#  ifdef __linux__
#    include <linux/vm_sockets.h>
#    define SYS_HAS_VSOCK 1
#  endif
typedef int sys_socket_t;
typedef socklen_t sys_socklen_t;
#  define SYS_INVALID_SOCKET (-1)
#  define SYS_SHUT_RD SHUT_RD
#  define SYS_SHUT_WR SHUT_WR
#  define SYS_SHUT_RDWR SHUT_RDWR
#  define SYS_HAS_SOCKETPAIR 1
#  define SYS_HAS_CLOEXEC 1
#  if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__)
#    define SYS_HAS_SENDFILE 1
#  endif
#  if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) \
      || defined(__DragonFly__)
#    define SYS_HAS_ACCEPT4 1
#  endif
#endif

/* BSD-derived systems carry the address length in the first byte of every sockaddr. */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) \
    || defined(__DragonFly__)
#  define SYS_HAS_SA_LEN 1
#endif

#if defined(__APPLE__) && defined(SO_NOSIGPIPE)
#  define SYS_HAS_NOSIGPIPE 1
#endif

/* Binding to an interface by index (bind_device_by_index_v4/_v6, device_index_v4/_v6), as
 * socket2 does it: SO_BINDTOIFINDEX for both families on Linux/Android, one option per
 * family on Apple. The option table uses these (level, name) pairs. */
#if defined(__APPLE__) && defined(IP_BOUND_IF) && defined(IPV6_BOUND_IF)
#  define SYS_BOUND_IF_V4_LEVEL IPPROTO_IP
#  define SYS_BOUND_IF_V4 IP_BOUND_IF
#  define SYS_BOUND_IF_V6_LEVEL IPPROTO_IPV6
#  define SYS_BOUND_IF_V6 IPV6_BOUND_IF
#elif (defined(__linux__) || defined(__ANDROID__)) && defined(SO_BINDTOIFINDEX)
#  define SYS_BOUND_IF_V4_LEVEL SOL_SOCKET
#  define SYS_BOUND_IF_V4 SO_BINDTOIFINDEX
#  define SYS_BOUND_IF_V6_LEVEL SOL_SOCKET
#  define SYS_BOUND_IF_V6 SO_BINDTOIFINDEX
#endif

/* Process-wide start-up (WSAStartup on Windows); 0 or -1 with the error code in *err. */
int sys_init(int *err);
void sys_fini(void);

int sys_last_error(void);
int sys_error_is_interrupted(int err);
int sys_error_is_would_block(int err);
/* Whether a failed blocking call reports an expired SO_RCVTIMEO/SO_SNDTIMEO. On Unix this
 * is EAGAIN on a socket in blocking mode; the caller checks the mode. */
int sys_error_is_timeout(int err);
int sys_error_in_progress(int err);
/* Whether a non-blocking connect() failed with "the connection is under way" (EINPROGRESS
 * on Unix, WSAEWOULDBLOCK on Windows). Unix's EAGAIN is not that: nothing is under way
 * (an AF_UNIX listener's backlog is full). */
int sys_connect_pending(int err);
extern const int SYS_EBADF;
extern const int SYS_ENOTCONN;
extern const int SYS_EINVAL;
extern const int SYS_ETIMEDOUT;
extern const int SYS_ECONNRESET;

/* Creation. `raw` asks for no extra flags (no close-on-exec, no SO_NOSIGPIPE). */
sys_socket_t sys_socket(int domain, int type, int protocol, int raw);
#ifdef SYS_HAS_SOCKETPAIR
int sys_socketpair(int domain, int type, int protocol, int raw, sys_socket_t pair[2]);
#endif
int sys_close(sys_socket_t fd);
/* A close-on-exec / non-inheritable duplicate (try_clone). */
sys_socket_t sys_duplicate(sys_socket_t fd);

/* Connection. */
int sys_bind(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len);
int sys_connect(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len);
int sys_listen(sys_socket_t fd, int backlog);
/* accept, then mark the new socket close-on-exec / non-inheritable unless `raw`. */
sys_socket_t sys_accept(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len, int raw);
#ifdef SYS_HAS_ACCEPT4
sys_socket_t sys_accept4(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len, int flags);
#endif
int sys_shutdown(sys_socket_t fd, int how);
int sys_getsockname(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len);
int sys_getpeername(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len);
/* Waits until a non-blocking connect finishes: 1 ready, 0 timed out, -1 error.
 * timeout_ms < 0 waits forever. */
int sys_poll_connect(sys_socket_t fd, int timeout_ms);
/* Waits until the socket is readable (or writable, `for_write`), or has an error or a
 * hang-up to report: 1 ready, 0 timed out, -1 error. */
int sys_poll_ready(sys_socket_t fd, int for_write, int timeout_ms);

/* Descriptor state. */
int sys_set_nonblocking(sys_socket_t fd, int on);
#ifndef _WIN32
int sys_get_nonblocking(sys_socket_t fd, int *on);
int sys_set_cloexec(sys_socket_t fd, int on);
#  ifdef SYS_HAS_NOSIGPIPE
int sys_set_nosigpipe(sys_socket_t fd, int on);
#  endif
#else
int sys_set_no_inherit(sys_socket_t fd, int on);
#endif
/* Whether the socket is in blocking mode, as far as the platform can tell (Windows cannot
 * read FIONBIO back and reports 1). Used only to classify a failure. */
int sys_is_blocking(sys_socket_t fd);

/* Options. */
int sys_getsockopt(sys_socket_t fd, int level, int name, void *value, sys_socklen_t *len);
int sys_setsockopt(sys_socket_t fd, int level, int name, const void *value, sys_socklen_t len);
/* SO_RCVTIMEO / SO_SNDTIMEO in microseconds, 0 meaning no timeout (timeval on Unix,
 * DWORD milliseconds on Windows). */
int sys_set_timeout(sys_socket_t fd, int name, int64_t usec);
int sys_get_timeout(sys_socket_t fd, int name, int64_t *usec);

/* Scalar I/O; lengths are clamped to what the platform accepts in one call. */
ptrdiff_t sys_recv(sys_socket_t fd, void *buf, size_t len, int flags);
ptrdiff_t sys_recvfrom(sys_socket_t fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                       sys_socklen_t *addrlen);
ptrdiff_t sys_send(sys_socket_t fd, const void *buf, size_t len, int flags);
ptrdiff_t sys_sendto(sys_socket_t fd, const void *buf, size_t len, int flags,
                     const struct sockaddr *addr, sys_socklen_t addrlen);
#ifdef SYS_HAS_SENDFILE
/* Sends up to `len` bytes (0: as many as one call allows) of file `in_fd` from `offset`;
 * returns bytes sent. */
ptrdiff_t sys_sendfile(sys_socket_t fd, int in_fd, int64_t offset, size_t len);
#endif

/* Message I/O: one scatter/gather element is the platform's own type (struct iovec on
 * Unix, WSABUF on Windows) so that arrays of them go to the kernel as they are. */
#ifdef _WIN32
typedef WSABUF sys_iovec;
static inline void
sys_iovec_set(sys_iovec *iov, void *base, size_t len)
{
    iov->buf = (CHAR *)base;
    iov->len = len > ULONG_MAX ? ULONG_MAX : (ULONG)len;
}
#else
typedef struct iovec sys_iovec;
static inline void
sys_iovec_set(sys_iovec *iov, void *base, size_t len)
{
    iov->iov_base = base;
    iov->iov_len = len;
}
#endif

/* A platform-neutral msghdr/WSAMSG: sys_sendmsg/sys_recvmsg translate it. On return from
 * sys_recvmsg, namelen and controllen hold the lengths the kernel filled and flags the
 * received message's flags (MSG_TRUNC, MSG_CTRUNC, ...). */
typedef struct {
    struct sockaddr *name;    /* NULL: none */
    sys_socklen_t namelen;
    sys_iovec *iov;
    size_t iovlen;
    void *control;            /* NULL: none */
    size_t controllen;
    int flags;
} sys_msg;
/* Windows: WSASendTo/WSARecvFrom when there is no control buffer (any socket type), else
 * the WSASendMsg/WSARecvMsg extension functions, which Winsock allows only on datagram and
 * raw sockets. A truncated datagram (WSAEMSGSIZE) is a success with MSG_TRUNC in flags. */
ptrdiff_t sys_sendmsg(sys_socket_t fd, sys_msg *msg, int flags);
ptrdiff_t sys_recvmsg(sys_socket_t fd, sys_msg *msg, int flags);

/* TCP keepalive as socket2 sets it: the idle time and the probe interval (milliseconds, a
 * multiple of SYS_KEEPALIVE_UNIT_MS) and the probe count, each only if >= 0, and
 * SO_KEEPALIVE on last, so that a socket refusing the TCP options is left as it was.
 * Windows sends time and interval through SIO_KEEPALIVE_VALS (unset ones as 0). */
int sys_set_tcp_keepalive(sys_socket_t fd, int64_t time_ms, int64_t interval_ms, int retries);
/* What the kernel accepts, checked before the first system call so that a keepalive
 * setting is never half-applied: times count in units of SYS_KEEPALIVE_UNIT_MS (a
 * positive time rounds up to one), from one unit to SYS_KEEPALIVE_MAX_MS; the probe
 * count from 1 to SYS_KEEPALIVE_MAX_RETRIES. */
#if defined(_WIN32)
#  define SYS_KEEPALIVE_UNIT_MS 1
#  define SYS_KEEPALIVE_MAX_MS ((int64_t)UINT32_MAX - 1)  /* DWORD; UINT32_MAX: INFINITE */
#  define SYS_KEEPALIVE_MAX_RETRIES 255
#elif defined(__linux__)
#  define SYS_KEEPALIVE_UNIT_MS 1000
#  define SYS_KEEPALIVE_MAX_MS ((int64_t)32767 * 1000)  /* MAX_TCP_KEEPIDLE, _KEEPINTVL */
#  define SYS_KEEPALIVE_MAX_RETRIES 127                   /* MAX_TCP_KEEPCNT */
#else
#  define SYS_KEEPALIVE_UNIT_MS 1000
#  define SYS_KEEPALIVE_MAX_MS ((int64_t)(INT_MAX / 1000) * 1000)  /* the BSDs: ticks */
#  define SYS_KEEPALIVE_MAX_RETRIES INT_MAX
#endif
#ifdef _WIN32
/* SIO_TCP_SET_ACK_FREQUENCY. */
int sys_set_tcp_ack_frequency(sys_socket_t fd, unsigned char frequency);
#endif

/* Address text, numeric only (no name resolution). */
int sys_inet_pton(int family, const char *text, void *out);
const char *sys_inet_ntop(int family, const void *addr, char *out, size_t outlen);
/* Interface name to index (0 if unknown); no name resolution involved. */
unsigned int sys_if_nametoindex(const char *name);

/* A monotonic clock in nanoseconds, for deadlines. */
int64_t sys_monotonic_ns(void);

/* ---- vectored and message I/O (msg.c, msghdr.c, cmsg.c) ----
 * msg.c also runs the vectored calls (recv_vectored, send_to_vectored, ...) through
 * sys_recvmsg/sys_sendmsg with control == NULL; there the Windows layer must accept stream
 * sockets too (WSARecvFrom/WSASendTo, as socket2's vectored calls do) and report a
 * WSAEMSGSIZE receive as success with MSG_TRUNC in msg->flags. */

/* The most buffers one vectored call takes (Linux and Apple: IOV_MAX = 1024). Windows has
 * no documented limit; the same cap keeps programs portable. */
#if defined(IOV_MAX)
#  define SYS_IOV_MAX IOV_MAX
#elif defined(UIO_MAXIOV)
#  define SYS_IOV_MAX UIO_MAXIOV
#else
#  define SYS_IOV_MAX 1024
#endif

/* Control-message layout: the header type (fields cmsg_len, cmsg_level, cmsg_type) and the
 * CMSG_SPACE / CMSG_LEN arithmetic, with no pointer into a real msghdr needed. */
#ifdef _WIN32
typedef WSACMSGHDR sys_cmsghdr;
static inline size_t
sys_cmsg_space(size_t n)
{
    return WSA_CMSG_SPACE(n);
}
static inline size_t
sys_cmsg_len(size_t n)
{
    return WSA_CMSG_LEN(n);
}
#else
typedef struct cmsghdr sys_cmsghdr;
static inline size_t
sys_cmsg_space(size_t n)
{
    return CMSG_SPACE(n);
}
static inline size_t
sys_cmsg_len(size_t n)
{
    return CMSG_LEN(n);
}
#endif
/* The distance from a header whose cmsg_len is `len` (>= sys_cmsg_len(0)) to the next. */
static inline size_t
sys_cmsg_next(size_t len)
{
    return sys_cmsg_space(len - sys_cmsg_len(0));
}

/* ---- batch datagram I/O (batch.c) ----
 * One element of a batch, in the platform's own layout so that an array of them goes to
 * the kernel as it is: struct mmsghdr where recvmmsg/sendmmsg exist (SYS_HAS_MMSG), else
 * a sys_msg that batch.c passes to sys_recvmsg/sys_sendmsg one at a time. Fill with
 * sys_mmsg_set; after a call read the results with the accessors. */
#if defined(__linux__) && !defined(PYSOCK2_NO_MMSG)  /* the macro tests the fallback */
#  define SYS_HAS_MMSG 1
#endif
/* The most messages one batch call takes (Linux's UIO_MAXIOV). */
#define SYS_MMSG_MAX 1024
#ifdef SYS_HAS_MMSG
typedef struct mmsghdr sys_mmsg;
static inline void
sys_mmsg_set(sys_mmsg *m, struct sockaddr *name, sys_socklen_t namelen, sys_iovec *iov,
             size_t iovlen, void *control, size_t controllen)
{
    m->msg_hdr.msg_name = name;
    m->msg_hdr.msg_namelen = name ? namelen : 0;
    m->msg_hdr.msg_iov = iov;
    m->msg_hdr.msg_iovlen = iovlen;
    m->msg_hdr.msg_control = control;
    m->msg_hdr.msg_controllen = control ? controllen : 0;
    m->msg_hdr.msg_flags = 0;
    m->msg_len = 0;
}
/* Makes a received header ready for the next receive (the kernel rewrote these). */
static inline void
sys_mmsg_rearm(sys_mmsg *m, sys_socklen_t namelen, size_t controllen)
{
    m->msg_hdr.msg_namelen = namelen;
    m->msg_hdr.msg_controllen = controllen;
}
static inline size_t
sys_mmsg_len(const sys_mmsg *m)
{
    return m->msg_len;
}
static inline sys_socklen_t
sys_mmsg_namelen(const sys_mmsg *m)
{
    return m->msg_hdr.msg_namelen;
}
static inline size_t
sys_mmsg_controllen(const sys_mmsg *m)
{
    return m->msg_hdr.msg_controllen;
}
static inline int
sys_mmsg_flags(const sys_mmsg *m)
{
    return m->msg_hdr.msg_flags;
}
/* Receives up to `count` datagrams; waits (unless the socket or `flags` say otherwise) for
 * the first one only and takes the rest only if already queued (MSG_WAITFORONE). Returns
 * the number received (>= 1) or -1; an error after the first is reported by the next
 * call. */
ptrdiff_t sys_recvmmsg(sys_socket_t fd, sys_mmsg *msgs, size_t count, int flags);
/* Sends msgs[0..count) in order. Returns the number sent, fewer than count when the
 * socket's buffer filled up (non-blocking) or an error struck after the first (the error
 * is then lost, as with sendmmsg); -1 when the first one failed. */
ptrdiff_t sys_sendmmsg(sys_socket_t fd, sys_mmsg *msgs, size_t count, int flags);
#else
typedef struct {
    sys_msg msg;
    size_t len;
} sys_mmsg;
static inline void
sys_mmsg_set(sys_mmsg *m, struct sockaddr *name, sys_socklen_t namelen, sys_iovec *iov,
             size_t iovlen, void *control, size_t controllen)
{
    m->msg.name = name;
    m->msg.namelen = namelen;
    m->msg.iov = iov;
    m->msg.iovlen = iovlen;
    m->msg.control = control;
    m->msg.controllen = controllen;
    m->msg.flags = 0;
    m->len = 0;
}
static inline void
sys_mmsg_rearm(sys_mmsg *m, sys_socklen_t namelen, size_t controllen)
{
    m->msg.namelen = namelen;
    m->msg.controllen = controllen;
}
static inline size_t
sys_mmsg_len(const sys_mmsg *m)
{
    return m->len;
}
static inline sys_socklen_t
sys_mmsg_namelen(const sys_mmsg *m)
{
    return m->msg.namelen;
}
static inline size_t
sys_mmsg_controllen(const sys_mmsg *m)
{
    return m->msg.controllen;
}
static inline int
sys_mmsg_flags(const sys_mmsg *m)
{
    return m->msg.flags;
}
#endif

#endif /* PYSOCK2_SYS_H */
