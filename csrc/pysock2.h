/* Shared declarations of the _pysock2 extension: module state, object layouts, and the
 * helpers every file uses (argument parsing, the system-call loop, error raising). */
#ifndef PYSOCK2_H
#define PYSOCK2_H

#include "compat.h"   /* Python.h and the back-ports, spelled once */
#include "sys.h"      /* the platform layer: system calls and error codes, no Python */
#include "errors.h"   /* its error codes as exceptions */

/* ---- module state (no static mutable globals; see module.c) ---- */
typedef struct {
    PyTypeObject *socket_type;    /* _pysock2.Socket, the C base type */
    PyMethodDef *socket_methods;  /* its method table, which several files contribute */
    PyTypeObject *sockaddr_type;  /* _pysock2.SockAddr */
    /* The public classes that C hands out for new objects (pysock2.Socket, pysock2.SockAddr);
     * they default to the C types until the Python package registers its subclasses. */
    PyTypeObject *socket_class;
    PyTypeObject *sockaddr_class;
    int sys_ready;                /* sys_init() succeeded, so module free calls sys_fini() */
    /* Interned names, made once: a name built per call would be kept alive by each slot of
     * CPython's type attribute cache it lands in. "total_seconds" (args.c); "ipaddress",
     * "IPv4Address", "IPv6Address" (sockaddr.c looks the classes up per call). */
    PyObject *str_total_seconds;
    PyObject *str_ipaddress;
    PyObject *str_IPv4Address;
    PyObject *str_IPv6Address;
    /* ---- vectored and message I/O (msg.c, msghdr.c, cmsg.c) ---- */
    PyTypeObject *msghdr_type;    /* _pysock2.MsgHdr */
    PyTypeObject *msghdrmut_type; /* _pysock2.MsgHdrMut */
    PyObject *recv_flags_class;   /* pysock2.RecvFlags once registered; until then ints */
    PyObject *recv_flags_cache;   /* dict: int -> RecvFlags member */
    /* ---- batch datagram I/O (batch.c) ---- */
    PyTypeObject *batch_type;     /* _pysock2.DatagramBatch */
} module_state;

extern PyModuleDef pysock2_module_def;
/* A heap type from `spec`, added to `module` under its short name (module.c). */
PyTypeObject *module_add_type(PyObject *module, PyType_Spec *spec);
/* The state of the module that defined `type` or one of its bases; NULL with TypeError. */
module_state *module_state_of_type(PyTypeObject *type);

/* ---- SockAddr ---- */
typedef struct {
    PyObject_HEAD
    sys_socklen_t len;
    Py_hash_t hash;               /* -1 until computed */
    struct sockaddr_storage storage;
} SockAddrObject;

/* Fills storage/len from a SockAddr or anything SockAddr(...) accepts; 0 or -1 (raised). */
int sockaddr_from_object(module_state *state, PyObject *obj, struct sockaddr_storage *storage,
                         sys_socklen_t *len);
/* A new SockAddr (of the registered public class) holding the first `len` bytes. */
PyObject *sockaddr_new(module_state *state, const struct sockaddr_storage *storage,
                       sys_socklen_t len);
extern PyType_Spec sockaddr_spec;
/* The 4 (AF_INET) or 16 (AF_INET6) bytes of a numeric host given as a str or an ipaddress
 * object; an IPv6 "%scope" suffix fills *scope_id. ValueError for a name. */
int sockaddr_parse_host(module_state *state, PyObject *host, int *family, unsigned char raw[16],
                        uint32_t *scope_id);
/* ipaddress.IPv4Address / IPv6Address of 4 or 16 raw bytes. */
PyObject *sockaddr_ip_object(module_state *state, int family, const void *raw);

/* ---- Socket ---- */
typedef struct {
    PyObject_HEAD
    /* The descriptor; SYS_INVALID_SOCKET once closed or detached. Read and swapped
     * atomically so that a free-threaded close() cannot close it twice. */
    sys_socket_t fd;
    /* NULL for an owning Socket; for a borrowed one (SockRef) the object kept alive. */
    PyObject *owner;
    module_state *state;          /* the defining module's state (alive while our type is) */
    PyObject *weakreflist;
    /* ---- per-call fast paths (call.c, io.c) ---- */
    /* SOCK_KIND_*: whether calls may first be tried with MSG_DONTWAIT; read lazily from
     * SO_TYPE once, the type of a descriptor never changes. */
    int kind;
    /* The SockAddr last returned as a sender: handed out again while the sender's raw
     * bytes are unchanged, so a steady peer costs no new object (io.c). */
    PyObject *sender_cache;
    /* The address family, read once when an address argument needs it (AF_UNSPEC: not
     * read yet); see socket_address_arg. */
    int family;
} SocketObject;

extern PyType_Spec socket_spec;
/* Method tables contributed by other files: module.c creates the Socket type with them
 * and socket.c's own table as one. */
extern PyMethodDef socket_io_methods[];
extern PyMethodDef socket_option_methods[];
extern PyMethodDef socket_multicast_methods[];       /* multicast.c */
extern PyMethodDef socket_special_option_methods[];  /* options_special.c */
extern PyMethodDef socket_msg_methods[];       /* msg.c */
extern PyMethodDef socket_sockopt_methods[];   /* sockopt.c: generic getsockopt/setsockopt */

/* msg.c: MsgHdr, MsgHdrMut, the cmsg functions and constants, and their module state. */
int msg_module_exec(PyObject *module, module_state *state);
int msg_module_traverse(module_state *state, visitproc visit, void *arg);
void msg_module_clear(module_state *state);
/* batch.c: recv_batch/send_batch and the DatagramBatch type. */
extern PyMethodDef socket_batch_methods[];
/* offload.c: send_gso, recv_gro_into, recv_gro_from_into (Linux; else an empty table). */
extern PyMethodDef socket_offload_methods[];
extern PyType_Spec batch_spec;
/* The batch calls without argument parsing, for aio_transport.c. `batch` is a
 * DatagramBatch; batch_recv returns the count or -1 raised (BlockingIOError on a
 * non-blocking socket with nothing queued); batch_send_msgs sends msgs[0..n), returning
 * how many went or -1 raised when the first failed. The slot accessors take an index
 * below the count batch_recv returned. */
ptrdiff_t batch_recv(SocketObject *sock, PyObject *batch, int flags);
ptrdiff_t batch_send_msgs(SocketObject *sock, sys_mmsg *msgs, size_t n, int flags);
const char *batch_slot_data(PyObject *batch, Py_ssize_t i, size_t *len);
PyObject *batch_slot_sender(PyObject *batch, Py_ssize_t i);
size_t batch_slot_segment(PyObject *batch, Py_ssize_t i);
/* aio_transport.c: the C half of pysock2.aio's datagram transport. */
extern PyType_Spec aio_engine_spec;

/* The descriptor of a Socket, read (acquire) and swapped atomically: see SocketObject.fd. */
#ifdef _WIN32 /* SOCKET is a UINT_PTR */
#  define SOCK_FD(s) ((sys_socket_t)compat_atomic_load_uintptr((uintptr_t *)&(s)->fd))
#  define SOCK_FD_SWAP(s, v) \
      ((sys_socket_t)compat_atomic_exchange_uintptr((uintptr_t *)&(s)->fd, (uintptr_t)(v)))
#else
#  define SOCK_FD(s) compat_atomic_load_int(&(s)->fd)
#  define SOCK_FD_SWAP(s, v) compat_atomic_exchange_int(&(s)->fd, (v))
#endif

/* A new Socket of the registered public class owning `fd`; closes fd on failure. */
PyObject *socket_wrap_fd(module_state *state, sys_socket_t fd);
/* An address argument of a method of `self` into storage/len, as sockaddr_from_object,
 * but a Unix path (str, bytes, os.PathLike) given to a socket of another family is a
 * TypeError naming that family, before any system call on the address. */
int socket_address_arg(SocketObject *self, const char *fname, PyObject *obj,
                       struct sockaddr_storage *storage, sys_socklen_t *len);
/* The descriptor of an open socket, or SYS_INVALID_SOCKET with OSError(EBADF) raised. */
sys_socket_t socket_checked_fd(SocketObject *self);

/* ---- the one system-call loop (call.c) ---- */
/* Runs fn(fd, ctx) without the GIL, retrying on EINTR after running signal handlers
 * (PEP 475) within the call's first deadline (the socket's read or write timeout, which
 * the kernel would restart with each retry), and raises the right exception on failure:
 * TimeoutError when a blocking socket's SO_RCVTIMEO/SO_SNDTIMEO expired (unless
 * SOCKET_DONTWAIT), OSError(EBADF) when another thread closed the socket meanwhile, else
 * the OSError subclass. Returns the call's non-negative result or -1 with an exception
 * set. `how` is SOCKET_DONTWAIT (1: the caller asked for MSG_DONTWAIT, as IS_DONTWAIT()
 * gives it) and/or SOCKET_SENDS (the call sends: SO_SNDTIMEO bounds it, else SO_RCVTIMEO). */
typedef ptrdiff_t (*sys_call_fn)(sys_socket_t fd, void *ctx);
#define SOCKET_DONTWAIT 1
#define SOCKET_SENDS 2
ptrdiff_t socket_call(SocketObject *self, sys_call_fn fn, void *ctx, int how);
/* Raises for a failed call on `fd` with error `err` (the classification above). */
void socket_raise(sys_socket_t fd, int err, int dontwait);
/* The one timeout every method raises: TimeoutError(ETIMEDOUT, "timed out"), so that
 * `except TimeoutError` (the stdlib's socket.timeout) and `e.errno == ETIMEDOUT` both work. */
void socket_raise_timeout(void);
/* The fast path of datagram calls: tries fn once with the GIL held where it provably cannot
 * block (the caller's flags ask for MSG_DONTWAIT, or the socket is a datagram socket and
 * fn runs with MSG_DONTWAIT added through *flags, which fn must read from ctx). Returns
 * the result, -1 with an exception set, or SOCKET_MUST_WAIT: then the caller (after
 * pinning any buffer it borrowed for the attempt) runs the blocking call with
 * socket_call(). */
#define SOCKET_MUST_WAIT (-2)
#define SOCK_KIND_UNKNOWN 0
#define SOCK_KIND_DATAGRAM 1      /* SOCK_DGRAM, SOCK_RAW: one message per call */
#define SOCK_KIND_OTHER 2
ptrdiff_t socket_try_call_slow(SocketObject *self, sys_call_fn fn, void *ctx, int *flags);
#ifdef MSG_DONTWAIT
/* The failure of a socket_try_call attempt (error `err`): SOCKET_MUST_WAIT or -1 raised. */
ptrdiff_t socket_try_failed(sys_socket_t fd, int err, int asked);
#endif
static inline ptrdiff_t
socket_try_call(SocketObject *self, sys_call_fn fn, void *ctx, int *flags)
{
#ifdef MSG_DONTWAIT
    /* Inline for the common case: an open datagram socket whose kind is known. */
    int asked = *flags;
    sys_socket_t fd = SOCK_FD(self);
    if (fd != SYS_INVALID_SOCKET && (asked & MSG_WAITALL) == 0
        && (compat_atomic_load_int_relaxed(&self->kind) == SOCK_KIND_DATAGRAM
            || (asked & MSG_DONTWAIT))) {
        *flags = asked | MSG_DONTWAIT;
        ptrdiff_t result = fn(fd, ctx);
        *flags = asked;
        return result >= 0 ? result : socket_try_failed(fd, sys_last_error(), asked);
    }
#endif
    return socket_try_call_slow(self, fn, ctx, flags);
}
/* socket_try_call(), then socket_call() when the call must wait; `sends` as SOCKET_SENDS. */
ptrdiff_t socket_call_flags(SocketObject *self, sys_call_fn fn, void *ctx, int *flags, int sends);
#ifdef MSG_DONTWAIT
#  define IS_DONTWAIT(flags) (((flags) & MSG_DONTWAIT) != 0)
#else
#  define IS_DONTWAIT(flags) 0
#endif
/* The SockAddr for a sender: the socket's cached one when the raw bytes are equal. */
PyObject *socket_sender(SocketObject *self, const struct sockaddr_storage *from, sys_socklen_t len);

/* The monotonic deadline `usec` microseconds after `start_ns`, or -1 (none) when usec is
 * 0 or the sum is past what the clock can count (about 292 years: no one could tell the
 * difference). Never overflows. */
static inline int64_t
deadline_after(int64_t start_ns, int64_t usec)
{
    if (usec <= 0 || usec > (INT64_MAX - start_ns) / 1000) {
        return -1;
    }
    return start_ns + usec * 1000;
}

/* ---- connecting (connect.c): 0 connected, -1 with the exception raised ---- */
/* connect() as the socket's mode has it; after a signal the call carries on to its
 * outcome within the socket's write_timeout (PEP 475). */
int connect_blocking(SocketObject *self, const struct sockaddr *addr, sys_socklen_t len);
/* connect() within `usec` microseconds (a blocking socket afterwards, as socket2). Either
 * raises OSError(EBADF) when another thread closes the socket meanwhile. */
int connect_with_timeout(SocketObject *self, const struct sockaddr *addr, sys_socklen_t len,
                         int64_t usec);

/* ---- argument helpers (args.c) ---- */
/* Parses FASTCALL positional + keyword arguments by name into out[]; missing optional ones
 * stay NULL. No tuple or dict is built. The first `positional` names may be passed by
 * position, the rest only by keyword. */
int args_parse_kwonly(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                      const char *const *names, Py_ssize_t required, Py_ssize_t positional,
                      Py_ssize_t total, PyObject **out);
static inline int
args_parse(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
           const char *const *names, Py_ssize_t required, Py_ssize_t total, PyObject **out)
{
    return args_parse_kwonly(fname, args, nargs, kwnames, names, required, total, total, out);
}
/* The shape of every send and receive method: (names..., *, flags=0). names[] ends with
 * "flags", which is keyword-only (issue 13: the stdlib's recv_into(buf, nbytes) must not
 * silently pass nbytes as flags). Fills out[0..total-1] (flags' object last) and *flags;
 * a call without keywords is parsed inline with no loop. */
int args_parse_flags_slow(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames, const char *const *names, Py_ssize_t required,
                          Py_ssize_t total, PyObject **out, int *flags);
static inline int
args_parse_flags(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                 const char *const *names, Py_ssize_t required, Py_ssize_t total, PyObject **out,
                 int *flags)
{
    if (kwnames == NULL && nargs >= required && nargs < total) {
        for (Py_ssize_t i = 0; i < total; i++) {
            out[i] = i < nargs ? args[i] : NULL;
        }
        *flags = 0;
        return 0;
    }
    return args_parse_flags_slow(fname, args, nargs, kwnames, names, required, total, out, flags);
}
int args_int(const char *fname, const char *what, PyObject *obj, int *out);
int args_size(const char *fname, const char *what, PyObject *obj, Py_ssize_t *out);
/* A duration in seconds (float, int or datetime.timedelta), finite and >= 0, as
 * microseconds rounded up so that a tiny positive value never becomes zero. */
int args_duration(module_state *state, const char *fname, PyObject *obj, int64_t *usec);
/* Acquires a writable, C-contiguous buffer; a read-only or non-contiguous object is a
 * TypeError naming the method. */
int args_buffer_error_is_wrong_kind(void);
int args_writable_buffer(const char *fname, PyObject *obj, Py_buffer *view);
int args_readable_buffer(const char *fname, PyObject *obj, Py_buffer *view);
PyObject *args_seconds_from_usec(int64_t usec);  /* None for 0 */

#endif /* PYSOCK2_H */
