/* Internal interface between the files of vectored and message I/O. Calls point one way:
 *   offload.c      UDP GSO/GRO (send_gso, recv_gro_into, ...) -> msg.c's message path
 *   msg.c          the Socket methods (recv_vectored ... sendmsg, recvmsg), the message path
 *                  (msg_send_attempt, msg_recv_attempt) and this family's module set-up
 *                  -> msghdr.c, buffer_list.c, recv_flags.c, cmsg.c
 *   msghdr.c       the MsgHdr / MsgHdrMut types -> buffer_list.c, recv_flags.c, cmsg.c
 *   recv_flags.c   msg_flags as RecvFlags
 *   buffer_list.c  a sequence of buffers as an iovec array (buffer_list.h)
 *   cmsg.c         control messages: the bounds-checked walker, build/parse, constants.
 * batch.c (DatagramBatch) uses the receive-flag rules below and offload.c's segment size. */
#ifndef PYSOCK2_MSG_H
#define PYSOCK2_MSG_H

#include "buffer_list.h"

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

/* ---- RecvFlags (recv_flags.c) ---- */

/* RecvFlags(flags) once the Python layer registered the class, else the int. */
PyObject *recv_flags_new(module_state *state, int flags);
/* _register_recv_flags, added to the module by msg_module_exec. */
extern PyMethodDef recv_flags_functions[];

/* ---- the message path (msg.c) ---- */

/* One sendmsg or recvmsg for socket_call()/socket_call_flags(): `ctx` is a msg_call. */
typedef struct {
    sys_msg msg;
    int flags;               /* request flags (the fast path may add MSG_DONTWAIT) */
    sys_socklen_t namecap;   /* the room behind msg.name, restored before each attempt */
    size_t controlcap;       /* the room behind msg.control, likewise */
} msg_call;
ptrdiff_t msg_send_attempt(sys_socket_t fd, void *ctx);
/* Restores the name and control room and clears msg.flags before the attempt (a retry
 * must not see what a failed one left), and leaves msg.flags as msg_received_flags(). */
ptrdiff_t msg_recv_attempt(sys_socket_t fd, void *ctx);

/* Request flags for a receive: with control room, descriptors a peer sends arrive
 * close-on-exec (MSG_CMSG_CLOEXEC), as every socket pysock2 makes, so that no exec() in
 * another thread inherits them before they are taken or closed. */
static inline int
msg_recv_request(int flags, int has_control)
{
#ifdef MSG_CMSG_CLOEXEC
    return has_control ? flags | MSG_CMSG_CLOEXEC : flags;
#else
    (void)has_control;
    return flags;
#endif
}

/* A received msg_flags without the request flag Linux echoes in it (it says nothing about
 * the message). */
static inline int
msg_received_flags(int msg_flags)
{
#ifdef MSG_CMSG_CLOEXEC
    return msg_flags & ~MSG_CMSG_CLOEXEC;
#else
    return msg_flags;
#endif
}

/* ---- UDP offloads (offload.c) ---- */

/* The GRO segment size of a received datagram of `len` bytes with the given control
 * messages and msg_flags: the size each coalesced segment has (all but the last), `len`
 * when the kernel did not coalesce, 0 when it cannot be known (MSG_CTRUNC: the control
 * messages were cut short). */
size_t offload_segment_size(size_t len, void *control, size_t controllen, int msg_flags);

#endif /* PYSOCK2_MSG_H */
