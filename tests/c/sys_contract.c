/* The contract of csrc/sys.h, checked against the real system: one driver compiled with
 * sys_unix.c (run on Linux) and with sys_windows.c (run under Wine, see
 * .ci/sys-contract.sh). Every check looks at a real result (bytes received, addresses,
 * flags, handle inheritance, option values read back); what the system under test cannot
 * do is reported as SKIPPED with the reason, never as passed. Exit status 1 on any failure.
 *
 * Usage: sys_contract [TEST...]   (default: every test; names as printed) */
#include "sys.h"
#include "options_compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#  define PLATFORM_ERR(unix, win) (win)
#else
#  include <errno.h>
#  include <fcntl.h>
#  include <unistd.h>
#  define PLATFORM_ERR(unix, win) (unix)
#endif

#ifdef _WIN32
/* Windows 10 1709+ (ws2ipdef.h); mingw-w64's headers lack the names. */
#  ifndef TCP_KEEPALIVE
#    define TCP_KEEPALIVE 3
#  endif
#  ifndef TCP_KEEPINTVL
#    define TCP_KEEPINTVL 17
#  endif
#endif

#define ERR_CONNREFUSED PLATFORM_ERR(ECONNREFUSED, WSAECONNREFUSED)
#define ERR_NOPROTOOPT PLATFORM_ERR(ENOPROTOOPT, WSAENOPROTOOPT)
#define ERR_MSGSIZE PLATFORM_ERR(EMSGSIZE, WSAEMSGSIZE)

/* ---------------------------------------------------------------- reporting */

static const char *current;
static int test_failed, test_skipped;
static int passed, skipped, failed;
static char skip_reason[512];

#define CHECK(cond) check((cond) != 0, #cond, __LINE__)
/* CHECK_SYS: a sys_* call that returns -1 (or an invalid socket) on failure. */
#define CHECK_SYS(call) check((call) != -1, #call, __LINE__)

static int
check(int ok, const char *what, int line)
{
    if (!ok) {
        test_failed = 1;
        printf("    FAIL %s: %s (line %d, last error %d)\n", current, what, line,
               sys_last_error());
    }
    return ok;
}

static void
skip(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(skip_reason, sizeof(skip_reason), format, args);
    va_end(args);
    test_skipped = 1;
}

static int
under_wine(void)
{
#ifdef _WIN32
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
#else
    return 0;
#endif
}

/* ---------------------------------------------------------------- helpers */

typedef struct {
    struct sockaddr_storage storage;
    sys_socklen_t len;
} address;

static address
loopback(int family, unsigned short port)
{
    address a;
    memset(&a, 0, sizeof(a));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&a.storage;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        sys_inet_pton(AF_INET, "127.0.0.1", &in->sin_addr);
        a.len = sizeof(*in);
    }
    else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.storage;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        sys_inet_pton(AF_INET6, "::1", &in6->sin6_addr);
        a.len = sizeof(*in6);
    }
    return a;
}

static address
local_address(sys_socket_t fd)
{
    address a;
    memset(&a, 0, sizeof(a));
    a.len = sizeof(a.storage);
    CHECK_SYS(sys_getsockname(fd, (struct sockaddr *)&a.storage, &a.len));
    return a;
}

static unsigned short
port_of(const address *a)
{
    return ntohs(a->storage.ss_family == AF_INET
                     ? ((const struct sockaddr_in *)&a->storage)->sin_port
                     : ((const struct sockaddr_in6 *)&a->storage)->sin6_port);
}

static int
same_address(const address *x, const address *y)
{
    if (x->storage.ss_family != y->storage.ss_family || port_of(x) != port_of(y)) {
        return 0;
    }
    if (x->storage.ss_family == AF_INET) {
        return memcmp(&((const struct sockaddr_in *)&x->storage)->sin_addr,
                      &((const struct sockaddr_in *)&y->storage)->sin_addr, 4) == 0;
    }
    return memcmp(&((const struct sockaddr_in6 *)&x->storage)->sin6_addr,
                  &((const struct sockaddr_in6 *)&y->storage)->sin6_addr, 16) == 0;
}

static int
is_inheritable(sys_socket_t fd)
{
#ifdef _WIN32
    DWORD flags = 0;
    if (!GetHandleInformation((HANDLE)fd, &flags)) {
        return -1;
    }
    return (flags & HANDLE_FLAG_INHERIT) != 0;
#else
    int flags = fcntl(fd, F_GETFD);
    return flags < 0 ? -1 : (flags & FD_CLOEXEC) == 0;
#endif
}

static int
socket_error(sys_socket_t fd)
{
    int err = -1;
    sys_socklen_t len = sizeof(err);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return -1;
    }
    return err;
}

/* An int option; -1 on failure. Zeroed first: Wine answers some BOOLs in one byte. */
static int
int_option(sys_socket_t fd, int level, int name)
{
    int value = 0;
    sys_socklen_t len = sizeof(value);
    if (sys_getsockopt(fd, level, name, &value, &len) < 0) {
        return -1;
    }
    return len == 1 ? ((unsigned char *)&value)[0] : value;
}

/* A listener on the loopback of `family` (port chosen by the system), or INVALID when
 * the family has no loopback here (the test is then skipped). */
static sys_socket_t
listener(int family, int backlog)
{
    sys_socket_t fd = sys_socket(family, SOCK_STREAM, 0, 0);
    if (fd == SYS_INVALID_SOCKET) {
        skip("no %s sockets here (error %d)", family == AF_INET ? "IPv4" : "IPv6",
             sys_last_error());
        return fd;
    }
    address a = loopback(family, 0);
    if (sys_bind(fd, (struct sockaddr *)&a.storage, a.len) < 0) {
        skip("cannot bind the %s loopback (error %d)", family == AF_INET ? "IPv4" : "IPv6",
             sys_last_error());
        sys_close(fd);
        return SYS_INVALID_SOCKET;
    }
    CHECK_SYS(sys_listen(fd, backlog));
    return fd;
}

/* A connected TCP pair over the loopback of `family`: client, accepted server side. */
static int
tcp_pair(int family, sys_socket_t *client, sys_socket_t *server)
{
    sys_socket_t lsn = listener(family, 8);
    if (lsn == SYS_INVALID_SOCKET) {
        return -1;
    }
    address where = local_address(lsn);
    *client = sys_socket(family, SOCK_STREAM, 0, 0);
    CHECK(*client != SYS_INVALID_SOCKET);
    CHECK_SYS(sys_connect(*client, (struct sockaddr *)&where.storage, where.len));
    address peer;
    peer.len = sizeof(peer.storage);
    *server = sys_accept(lsn, (struct sockaddr *)&peer.storage, &peer.len, 0);
    CHECK(*server != SYS_INVALID_SOCKET);
    address client_side = local_address(*client);
    CHECK(same_address(&peer, &client_side));
    sys_close(lsn);
    return 0;
}

/* Two UDP sockets on the IPv4 loopback: `rx` bound, `tx` bound too (its address is the
 * sender's). */
static void
udp_pair(sys_socket_t *tx, sys_socket_t *rx, address *rx_addr)
{
    address any = loopback(AF_INET, 0);
    *rx = sys_socket(AF_INET, SOCK_DGRAM, 0, 0);
    *tx = sys_socket(AF_INET, SOCK_DGRAM, 0, 0);
    CHECK(*rx != SYS_INVALID_SOCKET && *tx != SYS_INVALID_SOCKET);
    CHECK_SYS(sys_bind(*rx, (struct sockaddr *)&any.storage, any.len));
    CHECK_SYS(sys_bind(*tx, (struct sockaddr *)&any.storage, any.len));
    *rx_addr = local_address(*rx);
}

static int
expect_bytes(sys_socket_t fd, const char *want, int flags)
{
    char buf[64];
    size_t n = strlen(want);
    ptrdiff_t got = sys_recv(fd, buf, n, flags);
    return CHECK(got == (ptrdiff_t)n) && CHECK(memcmp(buf, want, n) == 0);
}

/* ---------------------------------------------------------------- tests */

static void
test_init(void)
{
    int err = 0;
    CHECK_SYS(sys_init(&err));
    CHECK(err == 0);
    int64_t a = sys_monotonic_ns(), b = sys_monotonic_ns();
    CHECK(a > 0 && b >= a);
}

static void
test_create_inheritance(void)
{
    sys_socket_t fd = sys_socket(AF_INET, SOCK_STREAM, 0, 0);
    CHECK(fd != SYS_INVALID_SOCKET);
    CHECK(is_inheritable(fd) == 0);          /* close-on-exec / not inheritable */
    sys_close(fd);
    fd = sys_socket(AF_INET, SOCK_DGRAM, 0, 1);  /* raw: the system's default */
    CHECK(fd != SYS_INVALID_SOCKET);
    CHECK(is_inheritable(fd) == 1);
    sys_close(fd);
#ifdef SYS_SOCK_NO_INHERIT
    /* socket2's Type::no_inherit(): the flag travels in the type, even when raw. */
    fd = sys_socket(AF_INET, SOCK_DGRAM | SYS_SOCK_NO_INHERIT, 0, 1);
    CHECK(fd != SYS_INVALID_SOCKET);
    CHECK(is_inheritable(fd) == 0);
    sys_close(fd);
#endif
#ifdef SYS_HAS_SOCKETPAIR
    sys_socket_t pair[2];
    CHECK_SYS(sys_socketpair(AF_UNIX, SOCK_STREAM, 0, 0, pair));
    CHECK(is_inheritable(pair[0]) == 0 && is_inheritable(pair[1]) == 0);
    CHECK(sys_send(pair[0], "x", 1, 0) == 1);
    expect_bytes(pair[1], "x", 0);
    sys_close(pair[0]);
    sys_close(pair[1]);
#endif
}

static void
test_nonblocking(void)
{
    sys_socket_t fd, tx;
    address where;
    udp_pair(&tx, &fd, &where);
    CHECK_SYS(sys_set_nonblocking(fd, 1));
#ifndef _WIN32
    int on = -1;
    CHECK_SYS(sys_get_nonblocking(fd, &on));
    CHECK(on == 1);
    CHECK(sys_is_blocking(fd) == 0);
#endif
    char buf[8];
    CHECK(sys_recv(fd, buf, sizeof(buf), 0) == -1);
    CHECK(sys_error_is_would_block(sys_last_error()));
    CHECK_SYS(sys_set_nonblocking(fd, 0));
#ifndef _WIN32
    CHECK_SYS(sys_get_nonblocking(fd, &on));
    CHECK(on == 0);
#endif
    CHECK(sys_is_blocking(fd) == 1);
    sys_close(fd);
    sys_close(tx);
}

static void
stream_roundtrip(int family)
{
    sys_socket_t client, server;
    if (tcp_pair(family, &client, &server) < 0) {
        return;
    }
    CHECK(is_inheritable(server) == 0);
    address peer;
    peer.len = sizeof(peer.storage);
    CHECK_SYS(sys_getpeername(client, (struct sockaddr *)&peer.storage, &peer.len));
    address server_side = local_address(server);
    CHECK(same_address(&peer, &server_side));
    CHECK(sys_send(client, "contract", 8, 0) == 8);
    expect_bytes(server, "cont", MSG_PEEK);  /* peek leaves the bytes queued */
    expect_bytes(server, "contract", 0);
    CHECK_SYS(sys_shutdown(client, SYS_SHUT_WR));
    char buf[4];
    CHECK(sys_recv(server, buf, sizeof(buf), 0) == 0);  /* end of stream */
    sys_close(client);
    sys_close(server);
}

static void test_tcp_ipv4(void) { stream_roundtrip(AF_INET); }
static void test_tcp_ipv6(void) { stream_roundtrip(AF_INET6); }

/* A non-blocking connect waited for with sys_poll_connect, as connect_timeout does. */
static int
start_connect(sys_socket_t fd, const address *to)
{
    CHECK_SYS(sys_set_nonblocking(fd, 1));
    if (sys_connect(fd, (const struct sockaddr *)&to->storage, to->len) == 0) {
        return 0;
    }
    int err = sys_last_error();
    return CHECK(sys_error_in_progress(err) || sys_error_is_would_block(err)) ? 1 : -1;
}

static void
test_connect_deadline_success(void)
{
    sys_socket_t lsn = listener(AF_INET, 8);
    if (lsn == SYS_INVALID_SOCKET) {
        return;
    }
    address where = local_address(lsn);
    sys_socket_t fd = sys_socket(AF_INET, SOCK_STREAM, 0, 0);
    if (start_connect(fd, &where) == 1) {
        CHECK(sys_poll_connect(fd, 5000) == 1);
    }
    CHECK(socket_error(fd) == 0);
    address peer;
    peer.len = sizeof(peer.storage);
    CHECK_SYS(sys_getpeername(fd, (struct sockaddr *)&peer.storage, &peer.len));
    CHECK(same_address(&peer, &where));
    sys_close(fd);
    sys_close(lsn);
}

static void
test_connect_deadline_refused(void)
{
    /* A port just released: nothing listens there. */
    sys_socket_t probe = listener(AF_INET, 1);
    if (probe == SYS_INVALID_SOCKET) {
        return;
    }
    address where = local_address(probe);
    sys_close(probe);
    sys_socket_t fd = sys_socket(AF_INET, SOCK_STREAM, 0, 0);
    int started = start_connect(fd, &where);
    if (started == 1) {
        CHECK(sys_poll_connect(fd, 10000) == 1);
        CHECK(socket_error(fd) == ERR_CONNREFUSED);
    }
    else {
        CHECK(started == -1 && sys_last_error() == ERR_CONNREFUSED);
    }
    sys_close(fd);
}

static void
test_connect_deadline_expiry(void)
{
    /* A listener that never accepts: once its queue is full the kernel drops further
     * SYNs, so a connect stays pending and the deadline expires. */
    sys_socket_t lsn = listener(AF_INET, 0);
    if (lsn == SYS_INVALID_SOCKET) {
        return;
    }
    address where = local_address(lsn);
    sys_socket_t clients[16];
    int n = 0, expired = 0;
    while (n < 16 && !expired) {
        sys_socket_t fd = clients[n++] = sys_socket(AF_INET, SOCK_STREAM, 0, 0);
        if (start_connect(fd, &where) != 1) {
            continue;
        }
        int64_t started = sys_monotonic_ns();
        int rc = sys_poll_connect(fd, 200);
        int64_t waited_ms = (sys_monotonic_ns() - started) / 1000000;
        if (rc == 0) {
            expired = 1;
            CHECK(waited_ms >= 150);  /* the wait lasted until the deadline */
        }
        else {
            CHECK(rc == 1 && socket_error(fd) == 0);
        }
    }
    if (!expired) {
        skip("the loopback completed all %d connects; none stayed pending", n);
    }
    while (n > 0) {
        sys_close(clients[--n]);
    }
    sys_close(lsn);
}

static void
test_vectored_stream(void)
{
    sys_socket_t client, server;
    if (tcp_pair(AF_INET, &client, &server) < 0) {
        return;
    }
    char a[] = "ab", b[] = "cde", c[] = "f";
    sys_iovec out[3];
    sys_iovec_set(&out[0], a, 2);
    sys_iovec_set(&out[1], b, 3);
    sys_iovec_set(&out[2], c, 1);
    sys_msg msg = {NULL, 0, out, 3, NULL, 0, 0};
    CHECK(sys_sendmsg(client, &msg, 0) == 6);
    char first[2], second[16];
    sys_iovec in[2];
    sys_iovec_set(&in[0], first, sizeof(first));
    sys_iovec_set(&in[1], second, sizeof(second));
    sys_msg rmsg = {NULL, 0, in, 2, NULL, 0, 0};
    CHECK(sys_recvmsg(server, &rmsg, 0) == 6);
    CHECK(memcmp(first, "ab", 2) == 0 && memcmp(second, "cdef", 4) == 0);
    CHECK((rmsg.flags & MSG_TRUNC) == 0);
    sys_close(client);
    sys_close(server);
}

static void
test_datagram_truncation(void)
{
    sys_socket_t tx, rx;
    address where;
    udp_pair(&tx, &rx, &where);
    char big[100];
    memset(big, 'z', sizeof(big));
    CHECK(sys_sendto(tx, big, sizeof(big), 0, (struct sockaddr *)&where.storage, where.len)
          == 100);
    CHECK(sys_sendto(tx, "next", 4, 0, (struct sockaddr *)&where.storage, where.len) == 4);
    char small[10];
    sys_iovec iov;
    sys_iovec_set(&iov, small, sizeof(small));
    address from;
    memset(&from, 0, sizeof(from));
    sys_msg msg = {(struct sockaddr *)&from.storage, sizeof(from.storage), &iov, 1, NULL, 0, 0};
    CHECK(sys_recvmsg(rx, &msg, 0) == 10);                  /* what fitted */
    CHECK((msg.flags & MSG_TRUNC) != 0);
    from.len = msg.namelen;
    address sender = local_address(tx);
    CHECK(same_address(&from, &sender));
    /* The rest of the datagram is gone; the next one arrives whole. */
    sys_iovec_set(&iov, small, sizeof(small));
    sys_msg next = {NULL, 0, &iov, 1, NULL, 0, 0};
    CHECK(sys_recvmsg(rx, &next, 0) == 4);
    CHECK(memcmp(small, "next", 4) == 0 && (next.flags & MSG_TRUNC) == 0);
    sys_close(tx);
    sys_close(rx);
}

#ifdef IP_PKTINFO
/* The IP_PKTINFO control message in a received buffer: the datagram's destination. */
static int
find_pktinfo(const unsigned char *control, size_t len, struct in_addr *dest)
{
    size_t offset = 0;
    while (offset + sys_cmsg_len(0) <= len) {
        const sys_cmsghdr *hdr = (const sys_cmsghdr *)(control + offset);
        if (hdr->cmsg_len < sys_cmsg_len(0) || offset + hdr->cmsg_len > len) {
            return 0;
        }
        if (hdr->cmsg_level == IPPROTO_IP && hdr->cmsg_type == IP_PKTINFO
            && hdr->cmsg_len >= sys_cmsg_len(sizeof(struct in_pktinfo))) {
            struct in_pktinfo info;
            memcpy(&info, control + offset + sys_cmsg_len(0), sizeof(info));
            *dest = info.ipi_addr;
            return 1;
        }
        offset += sys_cmsg_next(hdr->cmsg_len);
    }
    return 0;
}

static void
test_message_control_pktinfo(void)
{
    sys_socket_t tx, rx;
    address where;
    udp_pair(&tx, &rx, &where);
    int on = 1;
    CHECK_SYS(sys_setsockopt(rx, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)));
    /* Sent with control data: IP_PKTINFO choosing the source address (WSASendMsg). */
    union {
        sys_cmsghdr hdr;
        unsigned char bytes[128];
    } out;
    memset(&out, 0, sizeof(out));
    out.hdr.cmsg_len = sys_cmsg_len(sizeof(struct in_pktinfo));
    out.hdr.cmsg_level = IPPROTO_IP;
    out.hdr.cmsg_type = IP_PKTINFO;
    struct in_pktinfo source;
    memset(&source, 0, sizeof(source));
#ifdef _WIN32
    sys_inet_pton(AF_INET, "127.0.0.1", &source.ipi_addr);
#else
    sys_inet_pton(AF_INET, "127.0.0.1", &source.ipi_spec_dst);
#endif
    memcpy(out.bytes + sys_cmsg_len(0), &source, sizeof(source));
    char payload[] = "pktinfo";
    sys_iovec iov;
    sys_iovec_set(&iov, payload, 7);
    sys_msg msg = {(struct sockaddr *)&where.storage, where.len, &iov, 1, out.bytes,
                   sys_cmsg_space(sizeof(struct in_pktinfo)), 0};
    CHECK(sys_sendmsg(tx, &msg, 0) == 7);

    union {
        sys_cmsghdr hdr;
        unsigned char bytes[256];
    } in;
    char buf[16];
    sys_iovec_set(&iov, buf, sizeof(buf));
    sys_msg rmsg = {NULL, 0, &iov, 1, in.bytes, sizeof(in.bytes), 0};
    CHECK(sys_recvmsg(rx, &rmsg, 0) == 7);
    CHECK(memcmp(buf, "pktinfo", 7) == 0);
    struct in_addr dest, want;
    sys_inet_pton(AF_INET, "127.0.0.1", &want);
    CHECK(find_pktinfo(in.bytes, rmsg.controllen, &dest));
    CHECK(memcmp(&dest, &want, sizeof(want)) == 0);
    CHECK((rmsg.flags & (MSG_TRUNC | MSG_CTRUNC)) == 0);

    sys_close(tx);
    sys_close(rx);
}

static void
test_control_truncation(void)
{
    sys_socket_t tx, rx;
    address where;
    udp_pair(&tx, &rx, &where);
    int on = 1;
    CHECK_SYS(sys_setsockopt(rx, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)));
    union {
        sys_cmsghdr hdr;
        unsigned char bytes[256];
    } control;
    char buf[16], big[100];
    sys_iovec iov;
    /* Data cut, control whole: MSG_TRUNC and the bytes that fitted. */
    memset(big, 'y', sizeof(big));
    CHECK(sys_sendto(tx, big, sizeof(big), 0, (struct sockaddr *)&where.storage, where.len)
          == 100);
    sys_iovec_set(&iov, buf, sizeof(buf));
    sys_msg cut = {NULL, 0, &iov, 1, control.bytes, sizeof(control.bytes), 0};
    CHECK(sys_recvmsg(rx, &cut, 0) == 16);
    CHECK((cut.flags & MSG_TRUNC) != 0 && buf[0] == 'y' && buf[15] == 'y');
    /* Control cut, data whole: MSG_CTRUNC and the data's length. */
    CHECK(sys_sendto(tx, "again", 5, 0, (struct sockaddr *)&where.storage, where.len) == 5);
    sys_iovec_set(&iov, buf, sizeof(buf));
    sys_msg tiny = {NULL, 0, &iov, 1, control.bytes, sys_cmsg_len(0), 0};
    ptrdiff_t n = sys_recvmsg(rx, &tiny, 0);
    if (n == -1 && under_wine() && sys_last_error() == ERR_MSGSIZE) {
        /* sys_windows.c refuses to guess the length Wine does not report. */
        CHECK(tiny.flags == MSG_CTRUNC);
        skip("Wine reports a control-only truncation as WSAEMSGSIZE without the byte "
             "count; sys_recvmsg fails with WSAEMSGSIZE instead of returning 5 bytes");
    }
    else {
        CHECK(n == 5);
        CHECK(memcmp(buf, "again", 5) == 0);
        CHECK((tiny.flags & MSG_CTRUNC) != 0 && (tiny.flags & MSG_TRUNC) == 0);
    }
    sys_close(tx);
    sys_close(rx);
}

#else /* FreeBSD, OpenBSD: IP_RECVDSTADDR instead */
static void
test_message_control_pktinfo(void)
{
    skip("no IP_PKTINFO on this system");
}

static void
test_control_truncation(void)
{
    skip("no IP_PKTINFO on this system to make control data with");
}
#endif

static void
test_timeouts(void)
{
    sys_socket_t tx, rx;
    address where;
    udp_pair(&tx, &rx, &where);
    int64_t usec = -1;
    CHECK_SYS(sys_get_timeout(rx, SO_RCVTIMEO, &usec));
    CHECK(usec == 0);                                   /* none by default */
    CHECK_SYS(sys_set_timeout(rx, SO_RCVTIMEO, 100000));
    CHECK_SYS(sys_get_timeout(rx, SO_RCVTIMEO, &usec));
    CHECK(usec == 100000);
    /* A whole number of ticks at any kernel HZ (Linux keeps jiffies). */
    CHECK_SYS(sys_set_timeout(tx, SO_SNDTIMEO, 200000));
    CHECK_SYS(sys_get_timeout(tx, SO_SNDTIMEO, &usec));
    CHECK(usec == 200000);
    int64_t started = sys_monotonic_ns();
    char buf[8];
    CHECK(sys_recv(rx, buf, sizeof(buf), 0) == -1);
    int err = sys_last_error();
    CHECK(sys_error_is_timeout(err) && sys_is_blocking(rx));
    CHECK((sys_monotonic_ns() - started) / 1000000 >= 80);
    CHECK_SYS(sys_set_timeout(rx, SO_RCVTIMEO, 0));
    CHECK_SYS(sys_get_timeout(rx, SO_RCVTIMEO, &usec));
    CHECK(usec == 0);
    sys_close(tx);
    sys_close(rx);
}

static void
test_try_clone(void)
{
    sys_socket_t client, server;
    if (tcp_pair(AF_INET, &client, &server) < 0) {
        return;
    }
    sys_socket_t clone = sys_duplicate(client);   /* WSADuplicateSocketW on Windows */
    CHECK(clone != SYS_INVALID_SOCKET && clone != client);
    CHECK(is_inheritable(clone) == 0);
    address a = local_address(client), b = local_address(clone);
    CHECK(same_address(&a, &b));                  /* the same socket */
    CHECK_SYS(sys_close(client));
    CHECK(sys_send(clone, "clone", 5, 0) == 5);   /* still open through the clone */
    expect_bytes(server, "clone", 0);
    sys_close(clone);
    sys_close(server);
}

#if defined(_WIN32) || defined(TCP_KEEPCNT) || defined(TCP_KEEPINTVL)  /* callers */
/* Under Wine, an option its ws2_32 lacks answers WSAENOPROTOOPT: a skip, not a pass.
 * Anywhere else the same answer is a failure. */
static int
wine_lacks_it(int rc, const char *what)
{
    if (rc == -1 && under_wine() && sys_last_error() == ERR_NOPROTOOPT) {
        skip("Wine's ws2_32 has no %s (WSAENOPROTOOPT)", what);
        return 1;
    }
    return 0;
}
#endif

static void
test_keepalive(void)
{
    sys_socket_t client, server;
    if (tcp_pair(AF_INET, &client, &server) < 0) {
        return;
    }
#if !defined(_WIN32) && !(defined(PYSOCK2_TCP_KEEPIDLE) && defined(TCP_KEEPINTVL))
    /* No per-socket idle time or interval (OpenBSD): refused before anything changes. */
    CHECK(sys_set_tcp_keepalive(client, 30000, 7000, -1) == -1);
    CHECK(sys_last_error() == ERR_NOPROTOOPT);
    CHECK(int_option(client, SOL_SOCKET, SO_KEEPALIVE) == 0);
    CHECK_SYS(sys_set_tcp_keepalive(client, -1, -1, -1));  /* SO_KEEPALIVE alone */
    CHECK(int_option(client, SOL_SOCKET, SO_KEEPALIVE) != 0);
#else
    /* Time and interval: TCP_KEEPIDLE/TCP_KEEPINTVL, on Windows SIO_KEEPALIVE_VALS. */
    CHECK_SYS(sys_set_tcp_keepalive(client, 30000, 7000, -1));
    CHECK(int_option(client, SOL_SOCKET, SO_KEEPALIVE) != 0);
#ifdef _WIN32
    const int idle = TCP_KEEPALIVE;   /* Windows 10 1709+ reads them back in seconds */
#else
    const int idle = PYSOCK2_TCP_KEEPIDLE;
#endif
    int time_s = int_option(client, IPPROTO_TCP, idle);
    if (!wine_lacks_it(time_s, "getsockopt TCP_KEEPALIVE/TCP_KEEPINTVL to read them back")) {
        CHECK(time_s == 30);
        CHECK(int_option(client, IPPROTO_TCP, TCP_KEEPINTVL) == 7);
    }
#endif
    sys_close(client);
    sys_close(server);
}

static void
test_keepalive_retries(void)
{
    sys_socket_t client, server;
    if (tcp_pair(AF_INET, &client, &server) < 0) {
        return;
    }
    int rc = sys_set_tcp_keepalive(client, -1, -1, 4);
#ifdef TCP_KEEPCNT
    if (!wine_lacks_it(rc, "TCP_KEEPCNT")) {
        CHECK(rc == 0);
        CHECK(int_option(client, IPPROTO_TCP, TCP_KEEPCNT) == 4);
    }
#else
    /* No TCP_KEEPCNT (OpenBSD): refused before anything changes. */
    CHECK(rc == -1 && sys_last_error() == ERR_NOPROTOOPT);
    CHECK(int_option(client, SOL_SOCKET, SO_KEEPALIVE) == 0);
#endif
    sys_close(client);
    sys_close(server);
}

static void
test_unix_domain(void)
{
    sys_socket_t lsn = sys_socket(AF_UNIX, SOCK_STREAM, 0, 0);
    if (lsn == SYS_INVALID_SOCKET) {
        skip("no AF_UNIX stream sockets here (error %d)%s", sys_last_error(),
             under_wine() ? ": Wine does not implement AF_UNIX in ws2_32" : "");
        return;
    }
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof(un.sun_path), "pysock2-contract-%d.sock",
             (int)(sys_monotonic_ns() % 1000000));
    remove(un.sun_path);
    if (!CHECK_SYS(sys_bind(lsn, (struct sockaddr *)&un, sizeof(un)))) {
        sys_close(lsn);
        return;
    }
    CHECK_SYS(sys_listen(lsn, 1));
    sys_socket_t client = sys_socket(AF_UNIX, SOCK_STREAM, 0, 0);
    CHECK_SYS(sys_connect(client, (struct sockaddr *)&un, sizeof(un)));
    sys_socket_t server = sys_accept(lsn, NULL, NULL, 0);
    CHECK(server != SYS_INVALID_SOCKET);
    CHECK(sys_send(client, "unix", 4, 0) == 4);
    expect_bytes(server, "unix", 0);
    sys_close(client);
    sys_close(server);
    sys_close(lsn);
    remove(un.sun_path);
}

static void
test_addresses(void)
{
    unsigned char raw[16];
    char text[64];
    CHECK(sys_inet_pton(AF_INET6, "2001:db8::1", raw) == 1);
    CHECK(sys_inet_ntop(AF_INET6, raw, text, sizeof(text)) != NULL);
    CHECK(strcmp(text, "2001:db8::1") == 0);
    CHECK(sys_inet_pton(AF_INET, "300.1.1.1", raw) == 0);    /* not an address */
    CHECK(sys_if_nametoindex("no-such-interface-0") == 0);
}

/* ---- every option row this platform compiles in (csrc/options_table.h) ---- */

typedef struct {
    const char *name;
    int level, optname, readable, writable;
    const char *shape;
} option_row;

#define OPTION(getter, setter, level, optname, shape) {#getter, level, optname, 1, 1, #shape},
#define OPTION_GET(getter, level, optname, shape) {#getter, level, optname, 1, 0, #shape},
#define OPTION_SET(setter, level, optname, shape) {#setter, level, optname, 0, 1, #shape},
static const option_row option_rows[] = {
#include "options_table.h"
};
#undef OPTION
#undef OPTION_GET
#undef OPTION_SET

/* Options Wine's ws2_32 does not implement (its getsockopt/setsockopt answer
 * WSAENOPROTOOPT or WSAEINVAL): skipped under Wine only, failures anywhere else. */
static const struct {
    const char *name;
    const char *why;
} wine_lacks[] = {
    {"header_included_v6", "Wine's ws2_32 has no IPV6_HDRINCL"},
    {"tcp_keepalive_retries", "Wine's ws2_32 has no TCP_KEEPCNT"},
    {"mtu_discover_v4", "Wine's ws2_32 has no IP_MTU_DISCOVER"},
    {"mtu_discover_v6", "Wine's ws2_32 has no IPV6_MTU_DISCOVER"},
    {NULL, NULL},
};

static const char *
wine_lacks_option(const char *name)
{
    for (size_t i = 0; wine_lacks[i].name != NULL; i++) {
        if (strcmp(wine_lacks[i].name, name) == 0) {
            return wine_lacks[i].why;
        }
    }
    return NULL;
}

/* The socket an option is read on: TCP for SOL_SOCKET and IPPROTO_TCP rows, UDP for the
 * IP levels (connected for IP_MTU, which needs a peer; IPV6_V6ONLY cannot change after),
 * raw for header_included, AF_UNIX for passcred. */
static sys_socket_t
option_socket(const option_row *row)
{
    if (strcmp(row->name, "passcred") == 0) {
        return sys_socket(AF_UNIX, SOCK_STREAM, 0, 0);
    }
    int family = strstr(row->name, "_v6") ? AF_INET6 : AF_INET;
    int type = SOCK_DGRAM, protocol = 0;
    if (row->level == SOL_SOCKET || row->level == IPPROTO_TCP) {
        type = SOCK_STREAM;
    }
    if (strstr(row->name, "header_included")) {
        type = SOCK_RAW;
        protocol = IPPROTO_UDP;
    }
#if defined(SOL_DCCP) && defined(SOCK_DCCP)
    if (row->level == SOL_DCCP) {
        type = SOCK_DCCP;
        protocol = IPPROTO_DCCP;
    }
#endif
    sys_socket_t fd = sys_socket(family, type, protocol, 0);
    if (fd != SYS_INVALID_SOCKET && strncmp(row->name, "mtu_v", 5) == 0) {
        address peer = loopback(family, 9);
        sys_connect(fd, (struct sockaddr *)&peer.storage, peer.len);
    }
    return fd;
}

static int option_rows_failed, option_rows_passed;
static char option_skips[4096];

static void
note_skip(const char *name, const char *why, int err)
{
    size_t used = strlen(option_skips);
    snprintf(option_skips + used, sizeof(option_skips) - used, "\n      %s: %s (error %d)",
             name, why, err);
}

static void
check_option_row(const option_row *row)
{
    sys_socket_t fd = option_socket(row);
    if (fd == SYS_INVALID_SOCKET) {
        note_skip(row->name, "no socket of the kind it applies to here", sys_last_error());
        return;
    }
    unsigned char value[256];
    sys_socklen_t len = sizeof(value);
    int ok = 1, err = 0;
    if (!row->readable) {
        note_skip(row->name, "write-only: nothing to read back", 0);
        sys_close(fd);
        return;
    }
    memset(value, 0, sizeof(value));
    if (sys_getsockopt(fd, row->level, row->optname, value, &len) < 0) {
        ok = 0;
        err = sys_last_error();
    }
    else if (row->writable
             && sys_setsockopt(fd, row->level, row->optname, value, len) < 0) {
        ok = 0;  /* writing back what was read must be accepted */
        err = sys_last_error();
    }
    else if (strcmp(row->shape, "BOOL") == 0 && row->writable) {
        /* A switch must read back as set: flip it, read, flip it back. */
        int current = 0, flipped, got = -1;
        memcpy(&current, value, (size_t)len < sizeof(int) ? (size_t)len : sizeof(int));
        flipped = !current;
        sys_socklen_t glen = sizeof(got);
        if (sys_setsockopt(fd, row->level, row->optname, &flipped, sizeof(flipped)) < 0
            || sys_getsockopt(fd, row->level, row->optname, &got, &glen) < 0) {
            ok = 0;
            err = sys_last_error();
        }
        else {
            /* Some systems answer a one-byte BOOL (Windows' SO_* BOOL is 4 bytes). */
            int normalized = glen == 1 ? ((unsigned char *)&got)[0] : got;
            ok = (normalized != 0) == flipped;
        }
        sys_setsockopt(fd, row->level, row->optname, &current, sizeof(current));
    }
    sys_close(fd);
    const char *why = ok || !under_wine() || err != ERR_NOPROTOOPT
                          ? NULL : wine_lacks_option(row->name);
    if (ok) {
        option_rows_passed++;
    }
    else if (why) {
        note_skip(row->name, why, err);
    }
    else {
        option_rows_failed++;
        printf("    FAIL %s: option %s (level %d, name %d) error %d\n", current, row->name,
               row->level, row->optname, err);
    }
}

static void
test_option_rows(void)
{
    size_t n = sizeof(option_rows) / sizeof(option_rows[0]);
    for (size_t i = 0; i < n; i++) {
        check_option_row(&option_rows[i]);
    }
    printf("    %d of %zu option rows read, written back and (switches) flipped\n",
           option_rows_passed, n);
    if (option_skips[0]) {
        printf("    SKIPPED rows:%s\n", option_skips);
    }
    if (option_rows_failed) {
        test_failed = 1;
    }
}

/* ---------------------------------------------------------------- runner */

typedef struct {
    const char *name;
    void (*run)(void);
} test_case;

static const test_case tests[] = {
    {"init", test_init},
    {"create_inheritance", test_create_inheritance},
    {"nonblocking", test_nonblocking},
    {"tcp_ipv4", test_tcp_ipv4},
    {"tcp_ipv6", test_tcp_ipv6},
    {"connect_deadline_success", test_connect_deadline_success},
    {"connect_deadline_refused", test_connect_deadline_refused},
    {"connect_deadline_expiry", test_connect_deadline_expiry},
    {"vectored_stream", test_vectored_stream},
    {"datagram_truncation", test_datagram_truncation},
    {"message_control_pktinfo", test_message_control_pktinfo},
    {"control_truncation", test_control_truncation},
    {"timeouts", test_timeouts},
    {"try_clone", test_try_clone},
    {"keepalive", test_keepalive},
    {"keepalive_retries", test_keepalive_retries},
    {"unix_domain", test_unix_domain},
    {"addresses", test_addresses},
    {"option_rows", test_option_rows},
};

static int
selected(const char *name, int argc, char **argv)
{
    if (argc < 2) {
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("sys.h contract on %s%s\n",
#ifdef _WIN32
           "Windows (sys_windows.c)",
#else
           "Unix (sys_unix.c)",
#endif
           under_wine() ? " under Wine" : "");
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (!selected(tests[i].name, argc, argv)) {
            continue;
        }
        current = tests[i].name;
        test_failed = test_skipped = 0;
        tests[i].run();
        if (test_failed) {
            failed++;
            printf("FAIL     %s\n", current);
        }
        else if (test_skipped) {
            skipped++;
            printf("SKIPPED  %s: %s\n", current, skip_reason);
        }
        else {
            passed++;
            printf("ok       %s\n", current);
        }
    }
    sys_fini();
    printf("%d passed, %d skipped, %d failed\n", passed, skipped, failed);
    return failed ? 1 : 0;
}
