/* SockAddr: an immutable raw socket address, and the conversion of every address-like
 * (tuple, ipaddress objects, Unix paths) into one. Numeric addresses only: nothing here
 * ever resolves a name. */
#include "pysock2.h"

#include <string.h>

#define UNIX_PATH_OFFSET ((sys_socklen_t)offsetof(struct sockaddr_un, sun_path))
/* Not UNIX_PATH_MAX: Windows' afunix.h defines that name itself. */
#define SUN_PATH_SIZE ((Py_ssize_t)sizeof(((struct sockaddr_un *)0)->sun_path))

#if defined(__linux__) || defined(__ANDROID__)
#  define HAVE_ABSTRACT_NAMESPACE 1
#endif

static void
set_family(struct sockaddr_storage *storage, int family, sys_socklen_t len)
{
    ((struct sockaddr *)storage)->sa_family = (sa_family_t)family;
#ifdef SYS_HAS_SA_LEN
    ((struct sockaddr *)storage)->sa_len = (uint8_t)len;
#else
    (void)len;
#endif
}

/* ---------------------------------------------------------------- IP addresses */

static int
port_from_object(PyObject *obj, uint16_t *port)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "port must be an int, not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    long value = PyLong_AsLong(obj);
    if (value == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        value = -1;
    }
    if (value < 0 || value > 0xffff) {
        PyErr_SetString(PyExc_OverflowError, "port must be 0-65535");
        return -1;
    }
    *port = (uint16_t)value;
    return 0;
}

static int
u32_from_object(PyObject *obj, const char *what, unsigned long max, uint32_t *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    unsigned long value = PyLong_AsUnsignedLong(obj);
    if ((value == (unsigned long)-1 && PyErr_Occurred()) || value > max) {
        PyErr_Clear();
        PyErr_Format(PyExc_OverflowError, "%s must be 0-%lu", what, max);
        return -1;
    }
    *out = (uint32_t)value;
    return 0;
}

/* ipaddress.IPv4Address and IPv6Address (new references) of the ipaddress module that
 * sys.modules holds now, imported on first use (`import pysock2` does not load ipaddress:
 * tests/test_import_cost.py). Looked up per call, by names interned once in the module
 * state, rather than cached: a cache would go stale when ipaddress is re-imported or
 * reloaded (its addresses then refused as "not an ipaddress address"); the per-call
 * import that the lookup replaces honoured sys.modules too. PyImport_GetModule waits for
 * an import in progress in another thread, so no half-initialized module is read. */
static int
ip_address_types(module_state *state, PyObject **v4, PyObject **v6)
{
    PyObject *ipaddress = PyImport_GetModule(state->str_ipaddress);
    if (ipaddress == Py_None) {
        Py_CLEAR(ipaddress);  /* the import below raises ModuleNotFoundError, as `import` */
    }
    if (ipaddress == NULL) {
        ipaddress = PyErr_Occurred() ? NULL : PyImport_Import(state->str_ipaddress);
        if (ipaddress == NULL) {
            return -1;
        }
    }
    *v4 = PyObject_GetAttr(ipaddress, state->str_IPv4Address);
    *v6 = *v4 == NULL ? NULL : PyObject_GetAttr(ipaddress, state->str_IPv6Address);
    Py_DECREF(ipaddress);
    if (*v6 == NULL) {
        Py_CLEAR(*v4);
        return -1;
    }
    return 0;
}

/* Whether host is an ipaddress IPv4Address or IPv6Address (or a subclass): 1, 0, -1. */
static int
is_ip_address(module_state *state, PyObject *host)
{
    PyObject *v4, *v6;
    if (ip_address_types(state, &v4, &v6) < 0) {
        return -1;
    }
    int is_ip = PyObject_IsInstance(host, v4);
    if (is_ip == 0) {
        is_ip = PyObject_IsInstance(host, v6);
    }
    Py_DECREF(v4);
    Py_DECREF(v6);
    return is_ip;
}

/* The 4 or 16 raw bytes of a numeric host: a str, or an ipaddress IPv4Address/IPv6Address.
 * For IPv6 text, an optional "%scope" (a number or an interface name) fills *scope_id. */
int
sockaddr_parse_host(module_state *state, PyObject *host, int *family, unsigned char raw[16],
                    uint32_t *scope_id)
{
    if (!PyUnicode_Check(host)) {
        int is_ip = is_ip_address(state, host);
        if (is_ip < 0) {
            return -1;
        }
        if (!is_ip) {
            PyErr_Format(PyExc_TypeError,
                         "address host must be a str or an ipaddress address, not %.100s",
                         Py_TYPE(host)->tp_name);
            return -1;
        }
        PyObject *text = PyObject_Str(host);
        if (text == NULL) {
            return -1;
        }
        int rc = sockaddr_parse_host(state, text, family, raw, scope_id);
        Py_DECREF(text);
        return rc;
    }
    Py_ssize_t size;
    const char *text = PyUnicode_AsUTF8AndSize(host, &size);
    if (text == NULL) {
        return -1;
    }
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if ((size_t)size >= sizeof(buf) || strlen(text) != (size_t)size) {
        goto not_numeric;
    }
    memcpy(buf, text, (size_t)size + 1);
    if (sys_inet_pton(AF_INET, buf, raw) == 1) {
        *family = AF_INET;
        return 0;
    }
    char *percent = strchr(buf, '%');
    if (percent != NULL) {
        *percent = '\0';
    }
    if (sys_inet_pton(AF_INET6, buf, raw) != 1) {
        goto not_numeric;
    }
    *family = AF_INET6;
    if (percent != NULL) {
        const char *scope = percent + 1;
        char *end = NULL;
        unsigned long index = strtoul(scope, &end, 10);
        if (*scope == '\0' || *end != '\0') {
            index = sys_if_nametoindex(scope);
        }
        if (index == 0 || index > 0xffffffffUL) {
            PyErr_Format(PyExc_ValueError, "unknown IPv6 scope in %R", host);
            return -1;
        }
        *scope_id = (uint32_t)index;
    }
    return 0;
not_numeric:
    PyErr_Format(PyExc_ValueError,
                 "%R is not a numeric IPv4 or IPv6 address (pysock2 never resolves names; "
                 "use \"0.0.0.0\" or \"::\" for any address)",
                 host);
    return -1;
}

static int
ip_from_tuple(module_state *state, PyObject *tuple, struct sockaddr_storage *storage,
              sys_socklen_t *len)
{
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    if (n < 2 || n > 4) {
        PyErr_Format(PyExc_TypeError,
                     "an IP address tuple is (host, port) or (host, port, flowinfo, scope_id), "
                     "not a %zd-tuple",
                     n);
        return -1;
    }
    int family;
    unsigned char raw[16];
    uint32_t scope_id = 0, flowinfo = 0;
    uint16_t port;
    if (sockaddr_parse_host(state, PyTuple_GET_ITEM(tuple, 0), &family, raw, &scope_id) < 0
        || port_from_object(PyTuple_GET_ITEM(tuple, 1), &port) < 0) {
        return -1;
    }
    memset(storage, 0, sizeof(*storage));
    if (family == AF_INET) {
        if (n != 2) {
            PyErr_SetString(PyExc_ValueError, "an IPv4 address tuple is (host, port)");
            return -1;
        }
        struct sockaddr_in *sin = (struct sockaddr_in *)storage;
        *len = sizeof(*sin);
        set_family(storage, AF_INET, *len);
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, raw, 4);
        return 0;
    }
    if (n > 2 && u32_from_object(PyTuple_GET_ITEM(tuple, 2), "flowinfo", 0xfffff, &flowinfo) < 0) {
        return -1;
    }
    if (n > 3
        && u32_from_object(PyTuple_GET_ITEM(tuple, 3), "scope_id", 0xffffffffUL, &scope_id) < 0) {
        return -1;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)storage;
    *len = sizeof(*sin6);
    set_family(storage, AF_INET6, *len);
    sin6->sin6_port = htons(port);
    /* Stored in network byte order, as the stdlib passes it to the kernel. */
    sin6->sin6_flowinfo = htonl(flowinfo);
    sin6->sin6_scope_id = scope_id;
    memcpy(&sin6->sin6_addr, raw, 16);
    return 0;
}

/* ---------------------------------------------------------------- Unix addresses */

static int
unix_from_bytes(const char *path, Py_ssize_t n, struct sockaddr_storage *storage,
                sys_socklen_t *len)
{
    memset(storage, 0, sizeof(*storage));
    struct sockaddr_un *sun = (struct sockaddr_un *)storage;
    int abstract = n > 0 && path[0] == '\0';
    if (abstract) {
#ifndef HAVE_ABSTRACT_NAMESPACE
        PyErr_SetString(PyExc_ValueError,
                        "abstract Unix socket names (a leading NUL) exist only on Linux");
        return -1;
#endif
        if (n > SUN_PATH_SIZE) {
            PyErr_Format(PyExc_ValueError,
                         "abstract name must be at most %zd bytes with its "
                         "leading NUL",
                         SUN_PATH_SIZE);
            return -1;
        }
    }
    else {
        if (n >= SUN_PATH_SIZE) {
            PyErr_Format(PyExc_ValueError, "Unix socket path must be shorter than %zd bytes",
                         SUN_PATH_SIZE);
            return -1;
        }
        if (n > 0 && memchr(path, '\0', (size_t)n) != NULL) {
            PyErr_SetString(PyExc_ValueError, "Unix socket path must not contain NUL bytes");
            return -1;
        }
    }
    memcpy(sun->sun_path, path, (size_t)n);
    /* A pathname counts its terminating NUL, as the kernel reports it back; an unnamed
     * address (n == 0) and an abstract name do not. */
    *len = UNIX_PATH_OFFSET + (sys_socklen_t)n + (n > 0 && !abstract);
    set_family(storage, AF_UNIX, *len);
    return 0;
}

static int
unix_from_object(PyObject *obj, struct sockaddr_storage *storage, sys_socklen_t *len)
{
    /* Not PyUnicode_FSConverter: it refuses the NUL that starts an abstract name. */
    PyObject *path = PyOS_FSPath(obj);
    if (path == NULL) {
        return -1;
    }
    PyObject *encoded = PyUnicode_Check(path) ? PyUnicode_EncodeFSDefault(path) : Py_NewRef(path);
    Py_DECREF(path);
    if (encoded == NULL) {
        return -1;
    }
    int rc = unix_from_bytes(PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded), storage, len);
    Py_DECREF(encoded);
    return rc;
}

int
sockaddr_from_object(module_state *state, PyObject *obj, struct sockaddr_storage *storage,
                     sys_socklen_t *len)
{
    if (PyObject_TypeCheck(obj, state->sockaddr_type)) {
        SockAddrObject *addr = (SockAddrObject *)obj;
        memcpy(storage, &addr->storage, sizeof(*storage));
        *len = addr->len;
        return 0;
    }
    if (PyTuple_Check(obj)) {
        return ip_from_tuple(state, obj, storage, len);
    }
    if (PyUnicode_Check(obj) || PyBytes_Check(obj) || PyObject_HasAttrString(obj, "__fspath__")) {
        return unix_from_object(obj, storage, len);
    }
    PyErr_Format(PyExc_TypeError,
                 "an address must be a SockAddr, an (host, port) tuple or a Unix path, "
                 "not %.100s",
                 Py_TYPE(obj)->tp_name);
    return -1;
}

/* ---------------------------------------------------------------- the type */

static PyObject *
sockaddr_alloc(PyTypeObject *cls, const struct sockaddr_storage *storage, sys_socklen_t len)
{
    SockAddrObject *self = (SockAddrObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) {
        return NULL;
    }
    self->len = len;
    self->hash = -1;
    memset(&self->storage, 0, sizeof(self->storage));
    memcpy(&self->storage, storage, (size_t)len);
    return (PyObject *)self;
}

PyObject *
sockaddr_new(module_state *state, const struct sockaddr_storage *storage, sys_socklen_t len)
{
    if ((size_t)len > sizeof(*storage)) {
        len = sizeof(*storage);
    }
    return sockaddr_alloc(state->sockaddr_class, storage, len);
}

static PyObject *
sockaddr_tp_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    PyObject *address;
    static char *kwlist[] = {"address", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:SockAddr", kwlist, &address)) {
        return NULL;
    }
    module_state *state = module_state_of_type(cls);
    struct sockaddr_storage storage;
    sys_socklen_t len;
    if (state == NULL || sockaddr_from_object(state, address, &storage, &len) < 0) {
        return NULL;
    }
    return sockaddr_alloc(cls, &storage, len);
}

static PyObject *
sockaddr_unix(PyObject *cls, PyObject *path)
{
    struct sockaddr_storage storage;
    sys_socklen_t len;
    if (unix_from_object(path, &storage, &len) < 0) {
        return NULL;
    }
    return sockaddr_alloc((PyTypeObject *)cls, &storage, len);
}

#ifdef HAVE_ABSTRACT_NAMESPACE
static PyObject *
sockaddr_abstract(PyObject *cls, PyObject *name)
{
    Py_buffer view;
    if (args_readable_buffer("abstract", name, &view) < 0) {
        return NULL;
    }
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    PyObject *result = NULL;
    if (view.len >= SUN_PATH_SIZE) {
        PyErr_Format(PyExc_ValueError, "abstract name must be shorter than %zd bytes",
                     SUN_PATH_SIZE);
    }
    else {
        struct sockaddr_storage storage;
        sys_socklen_t len;
        path[0] = '\0';
        memcpy(path + 1, view.buf, (size_t)view.len);
        if (unix_from_bytes(path, view.len + 1, &storage, &len) == 0) {
            result = sockaddr_alloc((PyTypeObject *)cls, &storage, len);
        }
    }
    PyBuffer_Release(&view);
    return result;
}
#endif

#ifdef SYS_HAS_VSOCK
static PyObject *
sockaddr_vsock(PyObject *cls, PyObject *const *args, Py_ssize_t nargs)
{
    uint32_t cid, port;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "vsock() takes 2 arguments (cid, port), %zd given", nargs);
        return NULL;
    }
    if (u32_from_object(args[0], "cid", 0xffffffffUL, &cid) < 0
        || u32_from_object(args[1], "port", 0xffffffffUL, &port) < 0) {
        return NULL;
    }
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof(storage));
    struct sockaddr_vm *svm = (struct sockaddr_vm *)&storage;
    set_family(&storage, AF_VSOCK, sizeof(*svm));
    svm->svm_cid = cid;
    svm->svm_port = port;
    return sockaddr_alloc((PyTypeObject *)cls, &storage, sizeof(*svm));
}
#endif

/* The smallest valid length of a raw address of `family` (0: unknown family). */
static sys_socklen_t
min_len_of_family(int family)
{
    switch (family) {
    case AF_INET:
        return sizeof(struct sockaddr_in);
    case AF_INET6:
        return sizeof(struct sockaddr_in6);
    case AF_UNIX:
        return UNIX_PATH_OFFSET;
#ifdef SYS_HAS_VSOCK
    case AF_VSOCK:
        return sizeof(struct sockaddr_vm);
#endif
    default:
        return 0;
    }
}

/* A SockAddr of `raw`'s bytes, validated. `strict` (from_bytes) refuses what no caller
 * should build: fewer bytes than the family field, and AF_UNSPEC. Unpickling is lenient
 * there, because the kernel hands out such addresses (the empty sender of a connected
 * stream's receive) and they must round-trip; the known families' lengths are checked
 * either way. */
static PyObject *
sockaddr_of_raw(PyObject *cls, PyObject *raw, const char *fname, int strict)
{
    Py_buffer view;
    if (args_readable_buffer(fname, raw, &view) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof(storage));
    const Py_ssize_t header = offsetof(struct sockaddr, sa_family) + sizeof(sa_family_t);
    if ((strict && view.len < header) || (size_t)view.len > sizeof(storage)) {
        PyErr_Format(PyExc_ValueError, "a raw socket address is %zd to %zu bytes, not %zd",
                     strict ? header : 0, sizeof(storage), view.len);
        goto done;
    }
    memcpy(&storage, view.buf, (size_t)view.len);
    int family = view.len < header ? AF_UNSPEC : ((struct sockaddr *)&storage)->sa_family;
    sys_socklen_t min_len = min_len_of_family(family);
    if (strict && family == AF_UNSPEC) {
        PyErr_SetString(PyExc_ValueError, "raw socket address has family AF_UNSPEC");
        goto done;
    }
    if (view.len < min_len
        || (family == AF_UNIX && view.len > (Py_ssize_t)sizeof(struct sockaddr_un))) {
        PyErr_Format(PyExc_ValueError, "%zd bytes is not a valid length for address family %d",
                     view.len, family);
        goto done;
    }
    if (view.len >= header) {
        set_family(&storage, family, (sys_socklen_t)view.len);
    }
    result = sockaddr_alloc((PyTypeObject *)cls, &storage, (sys_socklen_t)view.len);
done:
    PyBuffer_Release(&view);
    return result;
}

static PyObject *
sockaddr_from_bytes(PyObject *cls, PyObject *raw)
{
    return sockaddr_of_raw(cls, raw, "from_bytes", 1);
}

static PyObject *
sockaddr_unpickle(PyObject *cls, PyObject *raw)
{
    return sockaddr_of_raw(cls, raw, "_unpickle", 0);
}

/* ---------------------------------------------------------------- accessors */

#define FAMILY(self) (((struct sockaddr *)&(self)->storage)->sa_family)
#define SIN(self) ((struct sockaddr_in *)&(self)->storage)
#define SIN6(self) ((struct sockaddr_in6 *)&(self)->storage)
#define SUN(self) ((struct sockaddr_un *)&(self)->storage)

static Py_ssize_t
unix_path_len(SockAddrObject *self)
{
    return FAMILY(self) == AF_UNIX ? (Py_ssize_t)self->len - UNIX_PATH_OFFSET : -1;
}

static PyObject *
sockaddr_get_family(SockAddrObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(FAMILY(self));
}

static PyObject *
sockaddr_get_len(SockAddrObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong((long)self->len);
}

static Py_ssize_t
sockaddr_length(SockAddrObject *self)
{
    return (Py_ssize_t)self->len;
}

static PyObject *
sockaddr_domain(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromLong(FAMILY(self));
}

static PyObject *
sockaddr_is_ipv4(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(FAMILY(self) == AF_INET);
}

static PyObject *
sockaddr_is_ipv6(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(FAMILY(self) == AF_INET6);
}

static PyObject *
sockaddr_is_unix(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(FAMILY(self) == AF_UNIX);
}

#ifndef _WIN32
static PyObject *
sockaddr_is_unnamed(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    Py_ssize_t n = unix_path_len(self);
    int unnamed = n == 0;
#  ifndef HAVE_ABSTRACT_NAMESPACE
    /* Without an abstract namespace, a leading NUL can only mean "no name". */
    unnamed = unnamed || (n > 0 && SUN(self)->sun_path[0] == '\0');
#  endif
    return PyBool_FromLong(unnamed);
}
#endif

static PyObject *
ip_text(int family, const void *raw)
{
    char text[INET6_ADDRSTRLEN];
    if (sys_inet_ntop(family, raw, text, sizeof(text)) == NULL) {
        return error_set_from_sys(sys_last_error());
    }
    return PyUnicode_FromString(text);
}

static PyObject *
as_ipv4_tuple(SockAddrObject *self)
{
    PyObject *host = ip_text(AF_INET, &SIN(self)->sin_addr);
    return host == NULL ? NULL : Py_BuildValue("(Ni)", host, ntohs(SIN(self)->sin_port));
}

static PyObject *
as_ipv6_tuple(SockAddrObject *self)
{
    PyObject *host = ip_text(AF_INET6, &SIN6(self)->sin6_addr);
    return host == NULL ? NULL
                        : Py_BuildValue("(NiII)", host, ntohs(SIN6(self)->sin6_port),
                                        (unsigned int)ntohl(SIN6(self)->sin6_flowinfo),
                                        (unsigned int)SIN6(self)->sin6_scope_id);
}

static PyObject *
sockaddr_as_socket(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    switch (FAMILY(self)) {
    case AF_INET:
        return as_ipv4_tuple(self);
    case AF_INET6:
        return as_ipv6_tuple(self);
    default:
        Py_RETURN_NONE;
    }
}

static PyObject *
sockaddr_as_socket_ipv4(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    if (FAMILY(self) != AF_INET) {
        Py_RETURN_NONE;
    }
    return as_ipv4_tuple(self);
}

static PyObject *
sockaddr_as_socket_ipv6(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    if (FAMILY(self) != AF_INET6) {
        Py_RETURN_NONE;
    }
    return as_ipv6_tuple(self);
}

PyObject *
sockaddr_ip_object(module_state *state, int family, const void *raw)
{
    int v4 = family == AF_INET;
    PyObject *v4_type, *v6_type;
    if (ip_address_types(state, &v4_type, &v6_type) < 0) {
        return NULL;
    }
    PyObject *packed = PyBytes_FromStringAndSize((const char *)raw, v4 ? 4 : 16);
    PyObject *result = packed == NULL ? NULL : PyObject_CallOneArg(v4 ? v4_type : v6_type, packed);
    Py_XDECREF(packed);
    Py_DECREF(v4_type);
    Py_DECREF(v6_type);
    return result;
}

static PyObject *
sockaddr_ip(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    int family = FAMILY(self);
    if (family != AF_INET && family != AF_INET6) {
        Py_RETURN_NONE;
    }
    module_state *state = module_state_of_type(Py_TYPE(self));
    if (state == NULL) {
        return NULL;
    }
    return sockaddr_ip_object(state, family,
                              family == AF_INET ? (const void *)&SIN(self)->sin_addr
                                                : (const void *)&SIN6(self)->sin6_addr);
}

static PyObject *
sockaddr_port(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    switch (FAMILY(self)) {
    case AF_INET:
        return PyLong_FromLong(ntohs(SIN(self)->sin_port));
    case AF_INET6:
        return PyLong_FromLong(ntohs(SIN6(self)->sin6_port));
    default:
        Py_RETURN_NONE;
    }
}

static PyObject *
sockaddr_as_pathname(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    Py_ssize_t n = unix_path_len(self);
    if (n <= 0 || SUN(self)->sun_path[0] == '\0') {
        Py_RETURN_NONE;
    }
    const char *path = SUN(self)->sun_path;
    const char *nul = memchr(path, '\0', (size_t)n);
    return PyBytes_FromStringAndSize(path, nul == NULL ? n : nul - path);
}

#ifdef HAVE_ABSTRACT_NAMESPACE
static PyObject *
sockaddr_as_abstract_namespace(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    Py_ssize_t n = unix_path_len(self);
    if (n <= 0 || SUN(self)->sun_path[0] != '\0') {
        Py_RETURN_NONE;
    }
    return PyBytes_FromStringAndSize(SUN(self)->sun_path + 1, n - 1);
}
#endif

#ifdef SYS_HAS_VSOCK
static PyObject *
sockaddr_as_vsock_address(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    if (FAMILY(self) != AF_VSOCK) {
        Py_RETURN_NONE;
    }
    struct sockaddr_vm *svm = (struct sockaddr_vm *)&self->storage;
    return Py_BuildValue("(II)", (unsigned int)svm->svm_cid, (unsigned int)svm->svm_port);
}
#endif

/* ---------------------------------------------------------------- protocols */

static PyObject *
sockaddr_repr(SockAddrObject *self)
{
    PyObject *inner = NULL, *result = NULL;
    switch (FAMILY(self)) {
    case AF_INET:
    case AF_INET6:
        inner = sockaddr_as_socket(self, NULL);
        result = inner == NULL ? NULL : PyUnicode_FromFormat("SockAddr(%R)", inner);
        break;
    case AF_UNIX: {
        Py_ssize_t n = unix_path_len(self);
        const char *path = SUN(self)->sun_path;
        if (n > 0 && path[0] == '\0') {
            inner = PyBytes_FromStringAndSize(path + 1, n - 1);
            result = inner == NULL ? NULL : PyUnicode_FromFormat("SockAddr.abstract(%R)", inner);
        }
        else {
            inner = n <= 0 ? PyBytes_FromStringAndSize("", 0) : sockaddr_as_pathname(self, NULL);
            result = inner == NULL ? NULL : PyUnicode_FromFormat("SockAddr.unix(%R)", inner);
        }
        break;
    }
#ifdef SYS_HAS_VSOCK
    case AF_VSOCK:
        return PyUnicode_FromFormat("SockAddr.vsock(%u, %u)",
                                    ((struct sockaddr_vm *)&self->storage)->svm_cid,
                                    ((struct sockaddr_vm *)&self->storage)->svm_port);
#endif
    default:
        inner = PyBytes_FromStringAndSize((const char *)&self->storage, self->len);
        result = inner == NULL ? NULL : PyUnicode_FromFormat("SockAddr.from_bytes(%R)", inner);
    }
    Py_XDECREF(inner);
    return result;
}

static Py_hash_t
sockaddr_hash(SockAddrObject *self)
{
    if (self->hash != -1) {
        return self->hash;
    }
    /* FNV-1a over the significant bytes: equal addresses hash equal. */
    uint64_t h = 14695981039346656037ULL;
    const unsigned char *p = (const unsigned char *)&self->storage;
    for (sys_socklen_t i = 0; i < self->len; i++) {
        h = (h ^ p[i]) * 1099511628211ULL;
    }
    Py_hash_t result = (Py_hash_t)h;
    self->hash = result == -1 ? -2 : result;
    return self->hash;
}

static PyObject *
sockaddr_richcompare(PyObject *a, PyObject *b, int op)
{
    /* Only equality is defined (socket2's Eq); `b` is a SockAddr (or a subclass) iff it
     * shares this comparison. */
    if ((op != Py_EQ && op != Py_NE) || Py_TYPE(b)->tp_richcompare != sockaddr_richcompare) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    SockAddrObject *x = (SockAddrObject *)a, *y = (SockAddrObject *)b;
    int equal = x->len == y->len && memcmp(&x->storage, &y->storage, (size_t)x->len) == 0;
    return PyBool_FromLong(op == Py_EQ ? equal : !equal);
}

static int
sockaddr_getbuffer(SockAddrObject *self, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)self, &self->storage, self->len, 1, flags);
}

/* bytes(addr) without the buffer protocol's detour: also what gives type checkers
   `bytes(SockAddr)` before Python 3.12 (PEP 688's __buffer__). */
static PyObject *
sockaddr_bytes(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    return PyBytes_FromStringAndSize((const char *)&self->storage, self->len);
}

/* Pickling: SockAddr._unpickle(raw), which validates the bytes again on load (as
 * from_bytes, but taking the empty and AF_UNSPEC addresses the kernel can return), so a
 * pickle cannot smuggle in a malformed address. */
static PyObject *
sockaddr_reduce(SockAddrObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *unpickle = PyObject_GetAttrString((PyObject *)Py_TYPE(self), "_unpickle");
    if (unpickle == NULL) {
        return NULL;
    }
    return Py_BuildValue("(N(y#))", unpickle, (const char *)&self->storage, (Py_ssize_t)self->len);
}

/* An immutable value: a copy, shallow or deep, is the object itself. */
static PyObject *
sockaddr_copy(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static void
sockaddr_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef sockaddr_methods[] = {
    {"__bytes__", (PyCFunction)sockaddr_bytes, METH_NOARGS,
     "__bytes__($self, /)\n--\n\nThe raw sockaddr bytes (len of them), as the kernel takes them."},
    {"unix", (PyCFunction)sockaddr_unix, METH_O | METH_CLASS,
     "unix($type, path, /)\n--\n\nReturns SockAddr: a Unix address; a leading NUL makes an "
     "abstract name, "
     "'' an unnamed one."},
#ifdef HAVE_ABSTRACT_NAMESPACE
    {"abstract", (PyCFunction)sockaddr_abstract, METH_O | METH_CLASS,
     "abstract($type, name, /)\n--\n\nReturns SockAddr: a name in Linux's abstract Unix "
     "namespace."},
#endif
#ifdef SYS_HAS_VSOCK
    {"vsock", (PyCFunction)(void (*)(void))sockaddr_vsock, METH_FASTCALL | METH_CLASS,
     "vsock($type, cid, port, /)\n--\n\nReturns SockAddr: a VM socket address."},
#endif
    {"_unpickle", (PyCFunction)sockaddr_unpickle, METH_O | METH_CLASS,
     "_unpickle($type, raw, /)\n--\n\nInternal: the SockAddr a pickle holds (from_bytes, also "
     "taking the empty and AF_UNSPEC addresses the kernel returns)."},
    {"from_bytes", (PyCFunction)sockaddr_from_bytes, METH_O | METH_CLASS,
     "from_bytes($type, raw, /)\n--\n\nReturns SockAddr: a raw sockaddr, length and family "
     "validated."},
    {"domain", (PyCFunction)sockaddr_domain, METH_NOARGS,
     "domain($self, /)\n--\n\nThe address family."},
    {"is_ipv4", (PyCFunction)sockaddr_is_ipv4, METH_NOARGS,
     "is_ipv4($self, /)\n--\n\nWhether this is AF_INET."},
    {"is_ipv6", (PyCFunction)sockaddr_is_ipv6, METH_NOARGS,
     "is_ipv6($self, /)\n--\n\nWhether this is AF_INET6."},
    {"is_unix", (PyCFunction)sockaddr_is_unix, METH_NOARGS,
     "is_unix($self, /)\n--\n\nWhether this is AF_UNIX."},
#ifndef _WIN32
    {"is_unnamed", (PyCFunction)sockaddr_is_unnamed, METH_NOARGS,
     "is_unnamed($self, /)\n--\n\nWhether this is an unnamed Unix address."},
#endif
    {"as_socket", (PyCFunction)sockaddr_as_socket, METH_NOARGS,
     "as_socket($self, /)\n--\n\nThe stdlib-style tuple of an IP address, or None."},
    {"as_socket_ipv4", (PyCFunction)sockaddr_as_socket_ipv4, METH_NOARGS,
     "as_socket_ipv4($self, /)\n--\n\n(host, port) of an IPv4 address, or None."},
    {"as_socket_ipv6", (PyCFunction)sockaddr_as_socket_ipv6, METH_NOARGS,
     "as_socket_ipv6($self, /)\n--\n\n(host, port, flowinfo, scope_id) of an IPv6 address, or "
     "None."},
    {"as_pathname", (PyCFunction)sockaddr_as_pathname, METH_NOARGS,
     "as_pathname($self, /)\n--\n\nThe path of a pathname Unix address, or None."},
#ifdef HAVE_ABSTRACT_NAMESPACE
    {"as_abstract_namespace", (PyCFunction)sockaddr_as_abstract_namespace, METH_NOARGS,
     "as_abstract_namespace($self, /)\n--\n\nThe name of an abstract Unix address (without the "
     "leading NUL), or None."},
#endif
#ifdef SYS_HAS_VSOCK
    {"as_vsock_address", (PyCFunction)sockaddr_as_vsock_address, METH_NOARGS,
     "as_vsock_address($self, /)\n--\n\n(cid, port) of a VM socket address, or None."},
#endif
    {"ip", (PyCFunction)sockaddr_ip, METH_NOARGS,
     "ip($self, /)\n--\n\nThe ipaddress.IPv4Address/IPv6Address of an IP address, or None."},
    {"port", (PyCFunction)sockaddr_port, METH_NOARGS,
     "port($self, /)\n--\n\nThe port of an IP address, or None."},
    {"__reduce__", (PyCFunction)sockaddr_reduce, METH_NOARGS,
     "__reduce__($self, /)\n--\n\nPickles as the raw bytes, validated again on load."},
    {"__copy__", (PyCFunction)sockaddr_copy, METH_NOARGS,
     "__copy__($self, /)\n--\n\nReturns self: a SockAddr is immutable."},
    {"__deepcopy__", (PyCFunction)sockaddr_copy, METH_O,
     "__deepcopy__($self, memo, /)\n--\n\nReturns self: a SockAddr is immutable."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sockaddr_getset[] = {
    {"family", (getter)sockaddr_get_family, NULL, "The address family (an int).", NULL},
    {"len", (getter)sockaddr_get_len, NULL, "The length of the raw address in bytes.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot sockaddr_slots[] = {
    {Py_tp_new, sockaddr_tp_new},
    {Py_tp_dealloc, sockaddr_dealloc},
    {Py_tp_repr, sockaddr_repr},
    {Py_tp_hash, sockaddr_hash},
    {Py_tp_richcompare, sockaddr_richcompare},
    {Py_tp_methods, sockaddr_methods},
    {Py_tp_getset, sockaddr_getset},
    {Py_sq_length, sockaddr_length},
    {Py_mp_length, sockaddr_length},
    {Py_bf_getbuffer, sockaddr_getbuffer},
    {Py_tp_doc, "SockAddr(address)\n--\n\nAn immutable socket address (the raw sockaddr bytes).\n\n"
                "address is an (host, port[, flowinfo, scope_id]) tuple with a numeric host "
                "(str or ipaddress object), a Unix path (str, bytes, os.PathLike) or a "
                "SockAddr."},
    {0, NULL},
};

PyType_Spec sockaddr_spec = {
    .name = "pysock2.SockAddr",
    .basicsize = sizeof(SockAddrObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = sockaddr_slots,
};
