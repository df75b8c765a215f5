/* RecvFlags: the receive calls (msg.c, msghdr.c) return msg_flags as the Python layer's
 * RecvFlags class once pysock2 registered it (_register_recv_flags), as an int before. One
 * member per distinct value is cached in module state. */
#include "msg.h"

/* Distinct flag values are few; the cap only bounds the cache against surprises. */
#define RECV_FLAGS_CACHE_MAX 256

PyObject *
recv_flags_new(module_state *state, int flags)
{
    PyObject *value = PyLong_FromLong(flags);
    if (value == NULL || state->recv_flags_class == NULL) {
        return value;
    }
    PyObject *member;
#if PY_VERSION_HEX >= 0x030D0000
    if (PyDict_GetItemRef(state->recv_flags_cache, value, &member) < 0) {
        Py_DECREF(value);
        return NULL;
    }
#else
    member = Py_XNewRef(PyDict_GetItemWithError(state->recv_flags_cache, value));
    if (member == NULL && PyErr_Occurred()) {
        Py_DECREF(value);
        return NULL;
    }
#endif
    if (member == NULL) {
        /* A miss calls the registered class (Python) once per distinct value. */
        member = PyObject_CallFunctionObjArgs(state->recv_flags_class, value, NULL);
        if (member != NULL && PyDict_GET_SIZE(state->recv_flags_cache) < RECV_FLAGS_CACHE_MAX
            && PyDict_SetItem(state->recv_flags_cache, value, member) < 0) {
            Py_CLEAR(member);
        }
    }
    Py_DECREF(value);
    return member;
}

/* _register_recv_flags(cls): the Python layer's RecvFlags, which the receive calls return. */
static PyObject *
register_recv_flags(PyObject *module, PyObject *cls)
{
    module_state *state = PyModule_GetState(module);
    if (!PyCallable_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "_register_recv_flags() takes a class");
        return NULL;
    }
    PyObject *cache = PyDict_New();
    if (cache == NULL) {
        return NULL;
    }
    Py_XSETREF(state->recv_flags_cache, cache);
    Py_XSETREF(state->recv_flags_class, Py_NewRef(cls));
    Py_RETURN_NONE;
}

PyMethodDef recv_flags_functions[] = {
    {"_register_recv_flags", (PyCFunction)register_recv_flags, METH_O,
     "Internal: the RecvFlags class the receive calls return."},
    {NULL, NULL, 0, NULL},
};
