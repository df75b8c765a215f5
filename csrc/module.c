/* The _pysock2 module: multi-phase initialisation (PEP 489), module state, the integer
 * constants the Python layer builds its enums from, and the assembly of the Socket type
 * from the method tables of socket.c, io.c and options.c. */
#include "pysock2.h"

module_state *
module_state_of_type(PyTypeObject *type)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *module = PyType_GetModuleByDef(type, &pysock2_module_def);
#else
    PyObject *module = NULL;
    PyObject *mro = type->tp_mro;
    for (Py_ssize_t i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        PyObject *m = PyType_HasFeature(base, Py_TPFLAGS_HEAPTYPE)
                          ? ((PyHeapTypeObject *)base)->ht_module
                          : NULL;
        if (m != NULL && PyModule_GetDef(m) == &pysock2_module_def) {
            module = m;
            break;
        }
    }
    if (module == NULL) {
        PyErr_SetString(PyExc_TypeError, "not a pysock2 type");
    }
#endif
    return module == NULL ? NULL : (module_state *)PyModule_GetState(module);
}

/* ---------------------------------------------------------------- constants */

typedef struct {
    const char *name;
    long value;
} constant;

#define C(name) {#name, (long)(name)}
static const constant constants[] = {
    C(AF_INET),
    C(AF_INET6),
    C(AF_UNIX),
#ifdef AF_PACKET
    C(AF_PACKET),
#endif
#ifdef SYS_HAS_VSOCK
    C(AF_VSOCK),
#endif
    C(AF_UNSPEC),
    C(SOCK_STREAM),
    C(SOCK_DGRAM),
    C(SOCK_SEQPACKET),
    C(SOCK_RAW),
#if defined(SOCK_DCCP) && defined(__linux__)  /* gates as socket2's Type/Protocol */
    C(SOCK_DCCP),
#endif
#ifdef SOCK_NONBLOCK
    C(SOCK_NONBLOCK),
#endif
#ifdef SOCK_CLOEXEC
    C(SOCK_CLOEXEC),
#endif
#ifdef SYS_SOCK_NO_INHERIT
    /* Windows: socket2's Type::no_inherit() / registered_io() bits (see sys.h). */
    {"SOCK_NO_INHERIT", SYS_SOCK_NO_INHERIT},
    {"SOCK_REGISTERED_IO", SYS_SOCK_REGISTERED_IO},
#endif
    C(IPPROTO_ICMP),
    C(IPPROTO_ICMPV6),
    C(IPPROTO_TCP),
    C(IPPROTO_UDP),
    C(IPPROTO_IP),
    C(IPPROTO_IPV6),
#ifdef IPPROTO_MPTCP
    C(IPPROTO_MPTCP),
#elif defined(__linux__)
    {"IPPROTO_MPTCP", 262},  /* older kernel headers lack the name, not the protocol */
#endif
#if defined(IPPROTO_DCCP) && defined(__linux__)
    C(IPPROTO_DCCP),
#endif
#if defined(IPPROTO_SCTP) && (defined(__linux__) || defined(__FreeBSD__))
    C(IPPROTO_SCTP),
#endif
#if defined(IPPROTO_UDPLITE) && (defined(__linux__) || defined(__FreeBSD__))
    C(IPPROTO_UDPLITE),
#endif
#if defined(IPPROTO_DIVERT) && (defined(__FreeBSD__) || defined(__OpenBSD__))
    C(IPPROTO_DIVERT),
#endif
    {"SHUT_RD", SYS_SHUT_RD},
    {"SHUT_WR", SYS_SHUT_WR},
    {"SHUT_RDWR", SYS_SHUT_RDWR},
    C(MSG_PEEK),
    C(MSG_OOB),
#ifdef MSG_TRUNC
    C(MSG_TRUNC),
#endif
#ifdef MSG_CTRUNC
    C(MSG_CTRUNC),
#endif
#ifdef MSG_EOR
    C(MSG_EOR),
#endif
#ifdef MSG_CONFIRM
    C(MSG_CONFIRM),
#endif
#ifdef MSG_DONTROUTE
    C(MSG_DONTROUTE),
#endif
#ifdef MSG_DONTWAIT
    C(MSG_DONTWAIT),
#endif
#ifdef MSG_WAITALL
    C(MSG_WAITALL),
#endif
#ifdef MSG_NOSIGNAL
    C(MSG_NOSIGNAL),
#endif
#ifdef MSG_ERRQUEUE
    C(MSG_ERRQUEUE),
#endif
#ifdef MSG_MORE
    C(MSG_MORE),
#endif
#ifdef MSG_WAITFORONE
    C(MSG_WAITFORONE),
#endif
#ifdef MSG_ZEROCOPY
    C(MSG_ZEROCOPY),
#endif
#ifdef MSG_FASTOPEN
    C(MSG_FASTOPEN),
#endif
    C(SOL_SOCKET),
    {"BATCH_MAX", SYS_MMSG_MAX},  /* the most datagrams one batch call moves (batch.c) */
#ifdef SYS_HAS_MMSG
    {"BATCH_NATIVE",
     1},  /* batch calls are recvmmsg/sendmmsg, not a loop (python -m pysock2 info) */
#else
    {"BATCH_NATIVE", 0},
#endif
};
#undef C

static int
add_constants(PyObject *module)
{
    for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++) {
        if (PyModule_AddIntConstant(module, constants[i].name, constants[i].value) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- types */

PyTypeObject *
module_add_type(PyObject *module, PyType_Spec *spec)
{
    PyTypeObject *type = (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, NULL);
    if (type == NULL
        || PyModule_AddObjectRef(module, strrchr(spec->name, '.') + 1, (PyObject *)type) < 0) {
        Py_XDECREF(type);
        return NULL;
    }
    return type;
}

static size_t
methods_count(const PyMethodDef *defs)
{
    size_t n = 0;
    while (defs[n].ml_name != NULL) {
        n++;
    }
    return n;
}

/* A NULL-terminated table in PyMem: `own` followed by the n tables of `more`; NULL with
 * MemoryError. */
static PyMethodDef *
methods_concat(const PyMethodDef *own, const PyMethodDef *const *more, size_t n)
{
    size_t total = methods_count(own);
    for (size_t i = 0; i < n; i++) {
        total += methods_count(more[i]);
    }
    PyMethodDef *all = PyMem_Calloc(total + 1, sizeof(PyMethodDef));  /* zeroed sentinel */
    if (all == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    size_t at = methods_count(own);
    memcpy(all, own, at * sizeof(PyMethodDef));
    for (size_t i = 0; i < n; i++) {
        size_t count = methods_count(more[i]);
        memcpy(all + at, more[i], count * sizeof(PyMethodDef));
        at += count;
    }
    return all;
}

/* The Socket type, whose methods several files contribute so that each file owns its
 * methods: socket.c's own table (socket_spec's Py_tp_methods slot) and the others,
 * concatenated into the one table the type is created with. That table must outlive the
 * type, so the module state keeps it (the type holds the module) and module_free frees
 * it. The spec and its slots are only read during the call. */
static PyTypeObject *
add_socket_type(PyObject *module, module_state *state)
{
    PyType_Slot slots[16];
    size_t nslots = 0;
    const PyMethodDef *own = NULL;
    for (const PyType_Slot *slot = socket_spec.slots; slot->slot != 0; slot++) {
        if (nslots == sizeof(slots) / sizeof(slots[0]) - 1) {
            PyErr_SetString(PyExc_SystemError, "socket_spec has too many slots");
            return NULL;
        }
        if (slot->slot == Py_tp_methods) {
            own = slot->pfunc;
        }
        slots[nslots++] = *slot;
    }
    slots[nslots] = (PyType_Slot){0, NULL};
    /* .ci/cross_catalog.py reads this list by its name. */
    const PyMethodDef *const socket_tables[] = {
        socket_io_methods,        socket_option_methods,
        socket_multicast_methods, socket_special_option_methods,
        socket_msg_methods,       socket_batch_methods,
        socket_offload_methods,   socket_sockopt_methods,
    };
    assert(own != NULL);
    state->socket_methods =
        methods_concat(own, socket_tables, sizeof(socket_tables) / sizeof(socket_tables[0]));
    if (state->socket_methods == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < nslots; i++) {
        if (slots[i].slot == Py_tp_methods) {
            slots[i].pfunc = state->socket_methods;
        }
    }
    PyType_Spec spec = socket_spec;
    spec.slots = slots;
    return module_add_type(module, &spec);
}


/* _register_classes(socket_class, sockaddr_class): the Python layer's subclasses, which C
 * then uses for every Socket and SockAddr it creates (accept, recv_from, ...). */
static PyObject *
register_classes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    module_state *state = PyModule_GetState(module);
    if (nargs != 2 || !PyType_Check(args[0]) || !PyType_Check(args[1])
        || !PyType_IsSubtype((PyTypeObject *)args[0], state->socket_type)
        || !PyType_IsSubtype((PyTypeObject *)args[1], state->sockaddr_type)) {
        PyErr_SetString(PyExc_TypeError,
                        "_register_classes(socket_class, sockaddr_class) takes subclasses of "
                        "Socket and SockAddr");
        return NULL;
    }
    Py_SETREF(state->socket_class, (PyTypeObject *)Py_NewRef(args[0]));
    Py_SETREF(state->sockaddr_class, (PyTypeObject *)Py_NewRef(args[1]));
    Py_RETURN_NONE;
}

/* _memoryview_in_place(obj): what compat_memoryview_buffer() reads from obj, as
 * (address, nbytes, readonly), or None when it reads nothing; tests/test_compat.py holds
 * it against what Python says about the same memory. */
static PyObject *
memoryview_in_place(PyObject *module, PyObject *obj)
{
    (void)module;
    const Py_buffer *view = compat_memoryview_buffer(obj);
    if (view == NULL) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(NnO)", PyLong_FromVoidPtr(view->buf), view->len,
                         view->readonly ? Py_True : Py_False);
}

static int
module_exec(PyObject *module)
{
    module_state *state = PyModule_GetState(module);
    int err = 0;
    if (sys_init(&err) < 0) {
        error_set_from_sys(err);
        return -1;
    }
    state->sys_ready = 1;
    state->str_total_seconds = PyUnicode_InternFromString("total_seconds");
    state->str_ipaddress = PyUnicode_InternFromString("ipaddress");
    state->str_IPv4Address = PyUnicode_InternFromString("IPv4Address");
    state->str_IPv6Address = PyUnicode_InternFromString("IPv6Address");
    if (state->str_total_seconds == NULL || state->str_ipaddress == NULL
        || state->str_IPv4Address == NULL || state->str_IPv6Address == NULL) {
        return -1;
    }
    state->socket_type = add_socket_type(module, state);
    if (state->socket_type == NULL) {
        return -1;
    }
    state->sockaddr_type = module_add_type(module, &sockaddr_spec);
    if (state->sockaddr_type == NULL) {
        return -1;
    }
    state->socket_class = (PyTypeObject *)Py_NewRef(state->socket_type);
    state->sockaddr_class = (PyTypeObject *)Py_NewRef(state->sockaddr_type);
    state->batch_type = module_add_type(module, &batch_spec);
    if (state->batch_type == NULL || msg_module_exec(module, state) < 0) {
        return -1;
    }
    PyTypeObject *aio_engine = module_add_type(module, &aio_engine_spec); /* the module holds it */
    if (aio_engine == NULL) {
        return -1;
    }
    Py_DECREF(aio_engine);
    return add_constants(module);
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    module_state *state = PyModule_GetState(module);
    Py_VISIT(state->socket_type);
    Py_VISIT(state->sockaddr_type);
    Py_VISIT(state->socket_class);
    Py_VISIT(state->sockaddr_class);
    Py_VISIT(state->batch_type);
    Py_VISIT(state->str_total_seconds);
    Py_VISIT(state->str_ipaddress);
    Py_VISIT(state->str_IPv4Address);
    Py_VISIT(state->str_IPv6Address);
    return msg_module_traverse(state, visit, arg);
}

static int
module_clear(PyObject *module)
{
    module_state *state = PyModule_GetState(module);
    Py_CLEAR(state->socket_type);
    Py_CLEAR(state->sockaddr_type);
    Py_CLEAR(state->socket_class);
    Py_CLEAR(state->sockaddr_class);
    msg_module_clear(state);
    Py_CLEAR(state->batch_type);
    Py_CLEAR(state->str_total_seconds);
    Py_CLEAR(state->str_ipaddress);
    Py_CLEAR(state->str_IPv4Address);
    Py_CLEAR(state->str_IPv6Address);
    return 0;
}

static void
module_free(void *module)
{
    module_state *state = PyModule_GetState((PyObject *)module);
    module_clear((PyObject *)module);
    if (state->sys_ready) {
        sys_fini();
    }
    PyMem_Free(state->socket_methods);
}

static PyMethodDef module_methods[] = {
    {"_register_classes", (PyCFunction)(void (*)(void))register_classes, METH_FASTCALL,
     "Internal: the public subclasses C uses for new Socket and SockAddr objects."},
    {"_memoryview_in_place", memoryview_in_place, METH_O,
     "Internal, for tests: (address, nbytes, readonly) of the buffer a memoryview's fast "
     "path reads in place (csrc/compat.h), or None."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

PyModuleDef pysock2_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pysock2",
    .m_doc = "The C core of pysock2: socket2's API over raw descriptors, integers in and out.",
    .m_size = sizeof(module_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__pysock2(void)
{
    return PyModuleDef_Init(&pysock2_module_def);
}
