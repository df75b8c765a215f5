/* The platform layer for Windows (Winsock 2); see sys.h for the contract.
 *
 * What differs from Unix, as socket2 handles it:
 * - Winsock must be started (WSAStartup) before any call: sys_init, from module init.
 * - Sockets are created with WSASocketW and WSA_FLAG_OVERLAPPED (so they work with IOCP,
 *   as std's and socket2's do) and, unless raw, WSA_FLAG_NO_HANDLE_INHERIT: the Windows
 *   counterpart of close-on-exec. accept() cannot ask for it, so SetHandleInformation
 *   clears the inherit flag of each accepted socket.
 * - try_clone duplicates through WSADuplicateSocketW, set_nonblocking is FIONBIO, the
 *   connect_timeout wait is WSAPoll, keepalive is the SIO_KEEPALIVE_VALS ioctl.
 * - Errors are WSAGetLastError() codes (errors.c turns them into Python exceptions).
 * - recv/send take an int length: lengths are clamped to INT_MAX.
 * - A receive on a socket shut down for reading fails with WSAESHUTDOWN where Unix returns
 *   0 (end of stream); it is read as 0 bytes, as socket2 does.
 * - Message I/O with control data goes through the WSASendMsg/WSARecvMsg extension
 *   functions (WSAIoctl SIO_GET_EXTENSION_FUNCTION_POINTER); SIO_TCP_SET_ACK_FREQUENCY is
 *   an ioctl too. AF_UNIX needs nothing here: sys.h includes afunix.h (sockaddr_un).
 */
#include "sys.h"

#include <limits.h>
#include <string.h>

const int SYS_EBADF = WSAEBADF;
const int SYS_EINVAL = WSAEINVAL;
const int SYS_ETIMEDOUT = WSAETIMEDOUT;
const int SYS_ECONNRESET = WSAECONNRESET;
const int SYS_ENOTCONN = WSAENOTCONN;

static int
clamp_len(size_t len)
{
    return len > (size_t)INT_MAX ? INT_MAX : (int)len;
}

int
sys_last_error(void)
{
    return WSAGetLastError();
}
int
sys_error_is_interrupted(int err)
{
    return err == WSAEINTR;
}
int
sys_error_is_would_block(int err)
{
    return err == WSAEWOULDBLOCK;
}
/* Only WSAEINPROGRESS: a non-blocking connect reports WSAEWOULDBLOCK, which must stay a
 * BlockingIOError since sys_is_blocking cannot tell the mode. */
int
sys_error_in_progress(int err)
{
    return err == WSAEINPROGRESS;
}
int
sys_connect_pending(int err)
{
    return err == WSAEWOULDBLOCK || err == WSAEINPROGRESS;
}
/* An expired SO_RCVTIMEO/SO_SNDTIMEO is its own error on Windows, never WSAEWOULDBLOCK. */
int
sys_error_is_timeout(int err)
{
    return err == WSAETIMEDOUT;
}

/* For calls outside Winsock (SetHandleInformation): their GetLastError() code becomes what
 * sys_last_error() reports. */
static void
keep_last_error(void)
{
    WSASetLastError((int)GetLastError());
}

/* ---------------------------------------------------------------- start-up */

/* WSASendMsg and WSARecvMsg are Winsock extension functions: their addresses come from
 * WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER). They are looked up once per process (as Go's
 * x/sys/windows does) on a throw-away socket, and then only read: the one piece of
 * process-wide state here, written under INIT_ONCE before any Socket exists, immutable
 * afterwards, and identical for every interpreter and module instance. */
typedef struct {
    LPFN_WSASENDMSG sendmsg;
    LPFN_WSARECVMSG recvmsg;
    int error;  /* why a lookup failed, for sys_sendmsg/sys_recvmsg to report */
} extension_functions;

static INIT_ONCE extensions_once = INIT_ONCE_STATIC_INIT;
static extension_functions extensions;

static int
lookup_extension(SOCKET probe, GUID guid, void *fn, size_t fn_size)
{
    DWORD returned = 0;
    if (WSAIoctl(probe, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof(guid), fn, (DWORD)fn_size,
                 &returned, NULL, NULL)
        == SOCKET_ERROR) {
        return WSAGetLastError();
    }
    return 0;
}

/* Keeps the DLL holding `address` (mswsock.dll) loaded for the life of the process: the last
 * WSACleanup (an embedder finalising and re-initialising Python) could otherwise unload it
 * under the cached pointers. */
static int
pin_module_of(ULONG_PTR address)
{
    HMODULE module;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                            (LPCWSTR)address, &module)) {
        return (int)GetLastError();
    }
    return 0;
}

static BOOL CALLBACK
resolve_extensions(PINIT_ONCE once, PVOID param, PVOID *context)
{
    (void)once;
    (void)param;
    (void)context;
    extension_functions found = {NULL, NULL, 0};
    SOCKET probe =
        WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (probe == INVALID_SOCKET) {
        found.error = WSAGetLastError();
    }
    else {
        GUID send_id = WSAID_WSASENDMSG, recv_id = WSAID_WSARECVMSG;
        found.error = lookup_extension(probe, send_id, &found.sendmsg, sizeof(found.sendmsg));
        if (found.error == 0) {
            found.error = lookup_extension(probe, recv_id, &found.recvmsg, sizeof(found.recvmsg));
        }
        if (found.error == 0) {
            /* Through an integer: a function pointer is not a data pointer in ISO C. */
            found.error = pin_module_of((ULONG_PTR)found.recvmsg);
        }
        closesocket(probe);
    }
    if (found.error == 0) {
        extensions = found;
    }
    else {
        extensions.error = found.error;
    }
    /* Success either way: only sendmsg/recvmsg with control data need these. */
    return TRUE;
}

int
sys_init(int *err)
{
    /* Winsock counts start-ups: each module instance (one per interpreter) starts it once
     * here and cleans up once in sys_fini, so no process-wide flag is needed. */
    WSADATA data;
    int rc = WSAStartup(MAKEWORD(2, 2), &data);
    if (rc != 0) {
        *err = rc;  /* WSAStartup returns its error; WSAGetLastError is not usable yet */
        return -1;
    }
    InitOnceExecuteOnce(&extensions_once, resolve_extensions, NULL, NULL);
    return 0;
}

void
sys_fini(void)
{
    WSACleanup();
}

/* ---------------------------------------------------------------- creation */

sys_socket_t
sys_socket(int domain, int type, int protocol, int raw)
{
    /* Overlapped even for new_raw, as socket2: IOCP-based libraries need it. */
    DWORD flags = WSA_FLAG_OVERLAPPED;
    if (!raw || (type & SYS_SOCK_NO_INHERIT)) {
        flags |= WSA_FLAG_NO_HANDLE_INHERIT;
    }
    if (type & SYS_SOCK_REGISTERED_IO) {
        flags |= WSA_FLAG_REGISTERED_IO;
    }
    type &= ~(SYS_SOCK_NO_INHERIT | SYS_SOCK_REGISTERED_IO);
    return WSASocketW(domain, type, protocol, NULL, 0, flags);
}

int
sys_close(sys_socket_t fd)
{
    return closesocket(fd) == SOCKET_ERROR ? -1 : 0;
}

sys_socket_t
sys_duplicate(sys_socket_t fd)
{
    WSAPROTOCOL_INFOW info;
    if (WSADuplicateSocketW(fd, GetCurrentProcessId(), &info) == SOCKET_ERROR) {
        return INVALID_SOCKET;
    }
    return WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                      WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
}

/* ---------------------------------------------------------------- connection */

int
sys_bind(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len)
{
    return bind(fd, addr, len) == SOCKET_ERROR ? -1 : 0;
}

int
sys_connect(sys_socket_t fd, const struct sockaddr *addr, sys_socklen_t len)
{
    return connect(fd, addr, len) == SOCKET_ERROR ? -1 : 0;
}

int
sys_listen(sys_socket_t fd, int backlog)
{
    return listen(fd, backlog) == SOCKET_ERROR ? -1 : 0;
}

sys_socket_t
sys_accept(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len, int raw)
{
    SOCKET conn = accept(fd, addr, len);
    if (conn == INVALID_SOCKET || raw) {
        return conn;
    }
    /* accept() has no WSA_FLAG_NO_HANDLE_INHERIT; mark the handle afterwards. */
    if (sys_set_no_inherit(conn, 1) < 0) {
        int saved = WSAGetLastError();
        closesocket(conn);
        WSASetLastError(saved);
        return INVALID_SOCKET;
    }
    return conn;
}

int
sys_shutdown(sys_socket_t fd, int how)
{
    return shutdown(fd, how) == SOCKET_ERROR ? -1 : 0;
}

int
sys_getsockname(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len)
{
    return getsockname(fd, addr, len) == SOCKET_ERROR ? -1 : 0;
}

int
sys_getpeername(sys_socket_t fd, struct sockaddr *addr, sys_socklen_t *len)
{
    return getpeername(fd, addr, len) == SOCKET_ERROR ? -1 : 0;
}

int
sys_poll_connect(sys_socket_t fd, int timeout_ms)
{
    /* POLLRDNORM | POLLWRNORM: WSAPoll rejects POLLPRI and POLLRDBAND (part of POLLIN).
     * Windows before 10 2004 does not report a refused connect here, so it shows as a
     * timeout there (socket2 has the same limit); the caller reads SO_ERROR when ready. */
    WSAPOLLFD pfd = {.fd = fd, .events = POLLRDNORM | POLLWRNORM, .revents = 0};
    int rc = WSAPoll(&pfd, 1, timeout_ms);
    return rc == SOCKET_ERROR ? -1 : (rc > 0);
}

int
sys_poll_ready(sys_socket_t fd, int for_write, int timeout_ms)
{
    WSAPOLLFD pfd = {.fd = fd, .events = for_write ? POLLWRNORM : POLLRDNORM, .revents = 0};
    int rc = WSAPoll(&pfd, 1, timeout_ms);
    return rc == SOCKET_ERROR ? -1 : (rc > 0);
}

/* ---------------------------------------------------------------- descriptor state */

int
sys_set_nonblocking(sys_socket_t fd, int on)
{
    u_long mode = on ? 1 : 0;
    return ioctlsocket(fd, FIONBIO, &mode) == SOCKET_ERROR ? -1 : 0;
}

int
sys_set_no_inherit(sys_socket_t fd, int on)
{
    if (!SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, on ? 0 : HANDLE_FLAG_INHERIT)) {
        keep_last_error();
        return -1;
    }
    return 0;
}

int
sys_is_blocking(sys_socket_t fd)
{
    /* Winsock cannot read FIONBIO back. */
    (void)fd;
    return 1;
}

/* ---------------------------------------------------------------- options */

int
sys_getsockopt(sys_socket_t fd, int level, int name, void *value, sys_socklen_t *len)
{
    return getsockopt(fd, level, name, (char *)value, len) == SOCKET_ERROR ? -1 : 0;
}

int
sys_setsockopt(sys_socket_t fd, int level, int name, const void *value, sys_socklen_t len)
{
    return setsockopt(fd, level, name, (const char *)value, len) == SOCKET_ERROR ? -1 : 0;
}

/* Winsock durations are DWORD milliseconds, saturating at INFINITE as socket2 does. */
static DWORD
clamp_ms(int64_t ms)
{
    return ms <= 0 ? 0 : ms >= (int64_t)INFINITE ? INFINITE : (DWORD)ms;
}

/* A timeout of 0 means none; a positive one rounds up so that it never becomes 0. */
static DWORD
usec_to_ms(int64_t usec)
{
    return usec <= 0 ? 0 : clamp_ms(usec / 1000 + (usec % 1000 != 0));
}

int
sys_set_timeout(sys_socket_t fd, int name, int64_t usec)
{
    DWORD ms = usec_to_ms(usec);
    return sys_setsockopt(fd, SOL_SOCKET, name, &ms, sizeof(ms));
}

int
sys_get_timeout(sys_socket_t fd, int name, int64_t *usec)
{
    DWORD ms = 0;
    int len = sizeof(ms);
    if (sys_getsockopt(fd, SOL_SOCKET, name, &ms, &len) < 0) {
        return -1;
    }
    *usec = (int64_t)ms * 1000;
    return 0;
}

int
sys_set_tcp_keepalive(sys_socket_t fd, int64_t time_ms, int64_t interval_ms, int retries)
{
    /* One ioctl turns keepalive on and sets both times; socket2 sends an unset one as 0. */
    struct tcp_keepalive values = {
        .onoff = 1,
        .keepalivetime = clamp_ms(time_ms),
        .keepaliveinterval = clamp_ms(interval_ms),
    };
    DWORD returned = 0;
    if (WSAIoctl(fd, SIO_KEEPALIVE_VALS, &values, sizeof(values), NULL, 0, &returned, NULL, NULL)
        == SOCKET_ERROR) {
        return -1;
    }
    if (retries >= 0) {
        DWORD count = (DWORD)retries;
        return sys_setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
    }
    return 0;
}

int
sys_set_tcp_ack_frequency(sys_socket_t fd, unsigned char frequency)
{
    /* Delayed ACKs every `frequency` segments (1 acknowledges each at once); an ioctl, not
     * an option, so it cannot be read back. */
    DWORD value = frequency;
    DWORD returned = 0;
    return WSAIoctl(fd, SIO_TCP_SET_ACK_FREQUENCY, &value, sizeof(value), NULL, 0, &returned, NULL,
                    NULL)
                   == SOCKET_ERROR
               ? -1
               : 0;
}

/* ---------------------------------------------------------------- scalar I/O */

/* A receive's result (`len` bytes asked for): WSAESHUTDOWN, reading after
 * shutdown(SD_RECEIVE), is end of stream. A datagram larger than the buffer fails with
 * WSAEMSGSIZE where Unix truncates silently; socket2 keeps that error for a consuming
 * receive but not for a peek (peek_sender peeks with 8 bytes), which filled the buffer and
 * left the datagram queued, so a peek reports the buffer full, as Unix does. */
static ptrdiff_t
received(int n, int len, int flags)
{
    if (n != SOCKET_ERROR) {
        return n;
    }
    switch (WSAGetLastError()) {
    case WSAESHUTDOWN:
        return 0;
    case WSAEMSGSIZE:
        return (flags & MSG_PEEK) ? len : -1;
    default:
        return -1;
    }
}

ptrdiff_t
sys_recv(sys_socket_t fd, void *buf, size_t len, int flags)
{
    int n = clamp_len(len);
    return received(recv(fd, (char *)buf, n, flags), n, flags);
}

ptrdiff_t
sys_recvfrom(sys_socket_t fd, void *buf, size_t len, int flags, struct sockaddr *addr,
             sys_socklen_t *addrlen)
{
    int n = clamp_len(len);
    return received(recvfrom(fd, (char *)buf, n, flags, addr, addrlen), n, flags);
}

ptrdiff_t
sys_send(sys_socket_t fd, const void *buf, size_t len, int flags)
{
    int n = send(fd, (const char *)buf, clamp_len(len), flags);
    return n == SOCKET_ERROR ? -1 : n;
}

ptrdiff_t
sys_sendto(sys_socket_t fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
           sys_socklen_t addrlen)
{
    int n = sendto(fd, (const char *)buf, clamp_len(len), flags, addr, addrlen);
    return n == SOCKET_ERROR ? -1 : n;
}

/* ---------------------------------------------------------------- message I/O */

static DWORD
buffer_count(const sys_msg *msg)
{
    return msg->iovlen > ULONG_MAX ? ULONG_MAX : (DWORD)msg->iovlen;
}

static void
to_wsamsg(sys_msg *msg, WSAMSG *hdr)
{
    memset(hdr, 0, sizeof(*hdr));
    hdr->name = msg->name;
    hdr->namelen = msg->name ? msg->namelen : 0;
    hdr->lpBuffers = msg->iov;
    hdr->dwBufferCount = buffer_count(msg);
    hdr->Control.buf = (CHAR *)msg->control;
    hdr->Control.len = msg->control == NULL          ? 0
                       : msg->controllen > ULONG_MAX ? ULONG_MAX
                                                     : (ULONG)msg->controllen;
}

/* Reports a missing extension function the way a failed call would. */
static ptrdiff_t
no_extension(void)
{
    WSASetLastError(extensions.error != 0 ? extensions.error : WSAEOPNOTSUPP);
    return -1;
}

ptrdiff_t
sys_sendmsg(sys_socket_t fd, sys_msg *msg, int flags)
{
    DWORD sent = 0;
    int rc;
    if (msg->control == NULL) {
        /* WSASendTo gathers too and, unlike WSASendMsg, works on stream sockets. */
        rc = WSASendTo(fd, msg->iov, buffer_count(msg), &sent, (DWORD)flags, msg->name,
                       msg->name ? msg->namelen : 0, NULL, NULL);
    }
    else {
        if (extensions.sendmsg == NULL) {
            return no_extension();
        }
        WSAMSG hdr;
        to_wsamsg(msg, &hdr);
        rc = extensions.sendmsg(fd, &hdr, (DWORD)flags, &sent, NULL, NULL);
    }
    return rc == SOCKET_ERROR ? -1 : (ptrdiff_t)sent;
}

/* The bytes a truncated datagram left in the buffers: all of them. */
static ptrdiff_t
capacity(const sys_msg *msg)
{
    size_t total = 0;
    for (DWORD i = 0; i < buffer_count(msg); i++) {
        total += msg->iov[i].len;
    }
    return total > PTRDIFF_MAX ? PTRDIFF_MAX : (ptrdiff_t)total;
}

ptrdiff_t
sys_recvmsg(sys_socket_t fd, sys_msg *msg, int flags)
{
    DWORD received_bytes = 0;
    DWORD out_flags = (DWORD)flags;
    int rc;
    if (msg->control == NULL) {
        /* WSARecvFrom scatters too and, unlike WSARecvMsg, works on stream sockets. */
        INT namelen = msg->name ? msg->namelen : 0;
        rc = WSARecvFrom(fd, msg->iov, buffer_count(msg), &received_bytes, &out_flags, msg->name,
                         msg->name ? &namelen : NULL, NULL, NULL);
        msg->namelen = namelen;
        msg->controllen = 0;
    }
    else {
        if (extensions.recvmsg == NULL) {
            return no_extension();
        }
        WSAMSG hdr;
        to_wsamsg(msg, &hdr);
        hdr.dwFlags = (ULONG)flags;  /* WSARecvMsg takes its input flags here */
        rc = extensions.recvmsg(fd, &hdr, &received_bytes, NULL, NULL);
        msg->namelen = hdr.namelen;
        msg->controllen = hdr.Control.len;
        out_flags = hdr.dwFlags;
    }
    if (rc != SOCKET_ERROR) {
        msg->flags = (int)out_flags;
        return (ptrdiff_t)received_bytes;
    }
    switch (WSAGetLastError()) {
    case WSAESHUTDOWN:
        msg->flags = 0;
        return 0;
    case WSAEMSGSIZE:
        if (msg->control != NULL && (out_flags & MSG_CTRUNC) && !(out_flags & MSG_TRUNC)) {
            /* Only the control data was cut (Wine reports it so, without the byte count):
             * the data fitted but its length is unknown, so fail rather than guess. */
            msg->flags = MSG_CTRUNC;
            return -1;
        }
        /* Unix reports a cut datagram as a success with MSG_TRUNC; so does socket2 here.
         * The flags word may still hold the input flags, so keep only what can be true. */
        msg->flags = MSG_TRUNC | ((int)out_flags & MSG_CTRUNC);
        return capacity(msg);
    default:
        return -1;
    }
}

/* ---------------------------------------------------------------- addresses, time */

int
sys_inet_pton(int family, const char *text, void *out)
{
    return inet_pton(family, text, out);
}

const char *
sys_inet_ntop(int family, const void *addr, char *out, size_t outlen)
{
    /* Older mingw-w64 headers declare the address parameter without const. */
    return inet_ntop(family, (void *)addr, out, outlen);
}

unsigned int
sys_if_nametoindex(const char *name)
{
    return if_nametoindex(name);
}

int64_t
sys_monotonic_ns(void)
{
    LARGE_INTEGER counter, frequency;
    QueryPerformanceCounter(&counter);
    QueryPerformanceFrequency(&frequency);  /* fixed at boot; cheap to read */
    int64_t ticks = counter.QuadPart, hz = frequency.QuadPart;
    /* Split so that ticks * 1e9 cannot overflow. */
    return ticks / hz * 1000000000 + ticks % hz * 1000000000 / hz;
}
