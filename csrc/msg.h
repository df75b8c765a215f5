/* Internal interface between the files of vectored and message I/O:
 *   msg.c     the Socket methods (recv_vectored ... sendmsg, recvmsg) and module set-up,
 *   msghdr.c  the MsgHdr / MsgHdrMut types,
 *   cmsg.c    control messages: the bounds-checked walker, build/parse, constants. */
#ifndef PYSOCK2_MSG_H
#define PYSOCK2_MSG_H

#include "pysock2.h"

#ifdef MSG_DONTWAIT
#  define MSG_IS_DONTWAIT(flags) (((flags) & MSG_DONTWAIT) != 0)
#else
#  define MSG_IS_DONTWAIT(flags) 0
#endif

/* A small counter shared by threads (in-use marks of message headers). */
#if defined(_MSC_VER)
#  define ATOMIC_LOAD(p) InterlockedCompareExchange((volatile LONG *)(p), 0, 0)
#  define ATOMIC_STORE(p, v) InterlockedExchange((volatile LONG *)(p), (v))
#  define ATOMIC_ADD(p, v) InterlockedExchangeAdd((volatile LONG *)(p), (v))
#  define ATOMIC_CAS(p, expected, desired) \
      (InterlockedCompareExchange((volatile LONG *)(p), (desired), (expected)) == (expected))
#else
#  define ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#  define ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#  define ATOMIC_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#  define ATOMIC_CAS(p, expected, desired)                                              \
      __extension__({                                                                   \
          int expected_ = (expected);                                                   \
          __atomic_compare_exchange_n((p), &expected_, (desired), 0, __ATOMIC_ACQ_REL,  \
                                      __ATOMIC_ACQUIRE);                                \
      })
#endif

/* Per-object locking on the free-threaded build (a no-op with the GIL). Lexically paired. */
#ifdef Py_GIL_DISABLED
#  define OBJECT_LOCK(o) Py_BEGIN_CRITICAL_SECTION((PyObject *)(o))
#  define OBJECT_UNLOCK(o) Py_END_CRITICAL_SECTION()
#else
#  define OBJECT_LOCK(o) {
#  define OBJECT_UNLOCK(o) }
#endif

/* ---- a sequence of buffers, acquired for one call or held by a message header ---- */

#define BUFFER_LIST_INLINE 8  /* buffers kept without a heap allocation */

typedef struct {
    Py_buffer *views;        /* inline_views or PyMem */
    sys_iovec *iov;          /* inline_iov or PyMem */
    Py_ssize_t count;        /* acquired views (all released by buffer_list_release) */
    Py_buffer inline_views[BUFFER_LIST_INLINE];
    sys_iovec inline_iov[BUFFER_LIST_INLINE];
} buffer_list;

/* Acquires every buffer of the sequence `seq` (writable ones if `writable`, for receives),
 * rejecting a single buffer, a non-sequence and more than SYS_IOV_MAX items before any
 * system call. On failure everything acquired is released; 0 or -1 with an exception. */
int buffer_list_acquire(buffer_list *list, const char *fname, const char *what,
                        PyObject *seq, int writable);
void buffer_list_release(buffer_list *list);

/* ---- message headers (msghdr.c) ---- */

extern PyType_Spec msghdr_spec;
extern PyType_Spec msghdrmut_spec;

/* Fills `msg` from a MsgHdr and marks it in use; msghdr_end() unmarks it. */
int msghdr_begin(PyObject *hdr, sys_msg *msg, PyObject **addr_obj);
void msghdr_end(PyObject *hdr);
/* recvmsg into a MsgHdrMut: begin marks it in use (one receive at a time), closes the
 * descriptors of the previous receive that were not taken, and fills `msg` (the sender's
 * address goes to the caller's `name`, copied into the header by finish, so that readers
 * never see a half-written address); finish records the result of a successful call
 * (n >= 0) and unmarks it. finish returns 0, or -1 with an exception when the received
 * descriptors could not be recorded (they are then closed). */
int msghdrmut_begin(PyObject *hdr, sys_msg *msg, struct sockaddr_storage *name);
int msghdrmut_finish(PyObject *hdr, const sys_msg *msg, ptrdiff_t n);

/* ---- control messages (cmsg.c) ---- */

/* One control message found by cmsg_walk: the payload is data[0:len]. */
typedef struct {
    int level;
    int type;
    const char *data;
    size_t len;
} cmsg_item;

/* Visits each control message of buf[0:len]; stops early when visit returns non-zero and
 * returns that value. A cmsg_len smaller than a header or larger than what is left returns
 * -2 (malformed; no exception set; *where, if given, is its offset). Bytes after the last
 * message that are too few for a header are padding and ignored. Never reads outside buf;
 * the buffer needs no alignment. */
typedef int (*cmsg_visit)(const cmsg_item *item, void *ctx);
int cmsg_walk(const char *buf, size_t len, cmsg_visit visit, void *ctx, size_t *where);
/* The list of (level, type, data: bytes) in buf[0:len]; ValueError if malformed. */
PyObject *cmsg_parse_list(const char *buf, size_t len);
/* The descriptors carried in the SCM_RIGHTS messages of buf[0:len] (up to a malformed
 * message, if any): copies the first `max` into fds and returns how many there are. */
Py_ssize_t cmsg_collect_fds(const char *buf, size_t len, int *fds, Py_ssize_t max);
/* Closes the descriptors carried in the SCM_RIGHTS messages of buf[0:len] and overwrites
 * each number with -1, so that no reader of buf mistakes a closed (maybe reused) number
 * for a descriptor it owns. */
void cmsg_close_fds(char *buf, size_t len);

extern PyMethodDef cmsg_functions[];
int cmsg_add_constants(PyObject *module);

/* ---- msg.c ---- */

/* RecvFlags(flags) once the Python layer registered the class, else the int. */
PyObject *recv_flags_new(module_state *state, int flags);

#endif /* PYSOCK2_MSG_H */
