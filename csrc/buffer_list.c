/* A sequence of Python buffers as the platform's iovec array: every buffer acquired before
 * the system call, the array on the stack for a few (see buffer_list.h). */
#include "buffer_list.h"

/* A failed PyObject_GetBuffer on item i becomes a TypeError naming the call and the item. */
static void
item_error(const char *fname, const char *what, Py_ssize_t i, PyObject *item, int writable)
{
    if (args_buffer_error_is_wrong_kind()) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s() %s[%zd] must be %s, not %.100s", fname, what, i,
                     writable ? "a writable, contiguous buffer (bytearray, memoryview, ...)"
                              : "a contiguous bytes-like object",
                     Py_TYPE(item)->tp_name);
    }
}

static int
acquire_items(buffer_list *list, const char *fname, const char *what, PyObject *fast, int writable)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > SYS_IOV_MAX) {
        PyErr_Format(PyExc_ValueError, "%s() takes at most IOV_MAX = %d buffers, not %zd", fname,
                     (int)SYS_IOV_MAX, n);
        return -1;
    }
    if (n > BUFFER_LIST_INLINE) {
        list->views = PyMem_New(Py_buffer, (size_t)n);
        list->iov = PyMem_New(sys_iovec, (size_t)n);
        if (list->views == NULL || list->iov == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        /* A Python __buffer__ (3.12+) runs code that may change a list under us: read the
         * size and the item afresh each time, and hold the item while exporting. */
        if (i >= PySequence_Fast_GET_SIZE(fast)) {
            PyErr_Format(PyExc_RuntimeError, "%s() %s changed size during the call", fname, what);
            return -1;
        }
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(fast, i));
        int rc =
            PyObject_GetBuffer(item, &list->views[i], writable ? PyBUF_WRITABLE : PyBUF_SIMPLE);
        if (rc < 0) {
            item_error(fname, what, i, item, writable);
        }
        Py_DECREF(item);
        if (rc < 0) {
            return -1;
        }
        list->count = i + 1;
        sys_iovec_set(&list->iov[i], list->views[i].buf, (size_t)list->views[i].len);
    }
    return 0;
}

int
buffer_list_acquire(buffer_list *list, const char *fname, const char *what, PyObject *seq,
                    int writable)
{
    list->views = list->inline_views;
    list->iov = list->inline_iov;
    list->count = 0;
    /* A bytes-like object is also a sequence (of ints): name the likely mistake. */
    if (PyObject_CheckBuffer(seq)) {
        PyErr_Format(PyExc_TypeError,
                     "%s() %s must be a sequence of buffers, not a single "
                     "%.100s (wrap it in a list)",
                     fname, what, Py_TYPE(seq)->tp_name);
        return -1;
    }
    char message[160];
    PyOS_snprintf(message, sizeof(message), "%s() %s must be a sequence of buffers", fname, what);
    PyObject *fast = PySequence_Fast(seq, message);
    if (fast == NULL) {
        return -1;
    }
    int rc;
    /* The free-threaded build: hold the list still while its items are read. */
    Py_BEGIN_CRITICAL_SECTION(fast);
    rc = acquire_items(list, fname, what, fast, writable);
    Py_END_CRITICAL_SECTION();
    Py_DECREF(fast);
    if (rc < 0) {
        buffer_list_release(list);
    }
    return rc;
}

void
buffer_list_release(buffer_list *list)
{
    for (Py_ssize_t i = 0; i < list->count; i++) {
        PyBuffer_Release(&list->views[i]);
    }
    if (list->views != list->inline_views) {
        PyMem_Free(list->views);
    }
    if (list->iov != list->inline_iov) {
        PyMem_Free(list->iov);
    }
    list->views = list->inline_views;
    list->iov = list->inline_iov;
    list->count = 0;
}
