/* A sequence of Python buffers as the platform's iovec array (buffer_list.c): acquired for
 * one call (the vectored methods) or held by a message header (msghdr.c). It calls only
 * down, into pysock2.h's argument helpers. */
#ifndef PYSOCK2_BUFFER_LIST_H
#define PYSOCK2_BUFFER_LIST_H

#include "pysock2.h"

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
int buffer_list_acquire(buffer_list *list, const char *fname, const char *what, PyObject *seq,
                        int writable);
void buffer_list_release(buffer_list *list);

#endif /* PYSOCK2_BUFFER_LIST_H */
