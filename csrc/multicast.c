/* Multicast group membership: join/leave by interface address (ip_mreq), by interface
 * index or address (ip_mreqn), source-specific (ip_mreq_source) and IPv6 (ipv6_mreq). Each
 * call is a row of multicast_table.h; one function parses the arguments of every row. */
#include "options.h"

#include <string.h>

/* Where join_multicast_v4_n exists: ip_mreqn, or Windows, where socket2 passes an index n
 * as the interface address 0.0.0.n in an ip_mreq (RFC 3678). */
#if defined(__linux__) || defined(__FreeBSD__) || defined(__APPLE__) || defined(__Fuchsia__) \
    || defined(__DragonFly__)
#  define PYSOCK2_HAS_MREQN 1
#  define PYSOCK2_IP_MREQN 1
#elif defined(_WIN32)
#  define PYSOCK2_HAS_MREQN 1
#endif

typedef enum {
    KIND_MREQ,    /* (group, interface): IPv4 addresses */
    KIND_MREQN,   /* (group, interface): IPv4 address; interface index or IPv4 address */
    KIND_SOURCE,  /* (source, group, interface): IPv4 addresses */
    KIND_MREQ6,   /* (group, interface): IPv6 address; interface index */
} membership_kind;

typedef struct {
    const char *name;
    int level;
    int optname;
    membership_kind kind;
} membership_row;

typedef union {
    struct ip_mreq mreq;
#ifdef PYSOCK2_IP_MREQN
    struct ip_mreqn mreqn;
#endif
#if defined(IP_ADD_SOURCE_MEMBERSHIP)
    struct ip_mreq_source source;
#endif
    struct ipv6_mreq mreq6;
} membership_request;

#ifdef PYSOCK2_HAS_MREQN
/* An InterfaceIndexOrAddress: an int index, or an IPv4 address. Only the _n calls take one
 * (NetBSD and OpenBSD have neither ip_mreqn nor those calls). */
static int
interface_index_or_address(module_state *state, const char *fname, PyObject *obj,
                           membership_request *req)
{
    unsigned long long index = 0;
    if (!PyLong_Check(obj)) {
#  ifdef PYSOCK2_IP_MREQN
        return option_ipv4_arg(state, fname, "interface", obj, &req->mreqn.imr_address);
#  else
        return option_ipv4_arg(state, fname, "interface", obj, &req->mreq.imr_interface);
#  endif
    }
    if (option_uint_arg(fname, "interface index", obj, INT_MAX, &index) < 0) {
        return -1;
    }
#  ifdef PYSOCK2_IP_MREQN
    req->mreqn.imr_ifindex = (int)index;
#  else
    req->mreq.imr_interface.s_addr = htonl((uint32_t)index);
#  endif
    return 0;
}
#endif

/* Fills the request of `kind` from the arguments; sets *len to its size. */
static int
membership_request_from_args(module_state *state, const membership_row *row, PyObject **argv,
                             membership_request *req, sys_socklen_t *len)
{
    const char *fname = row->name;
    unsigned long long index = 0;
    switch (row->kind) {
    case KIND_MREQ:
        *len = sizeof(req->mreq);
        return option_ipv4_arg(state, fname, "group", argv[0], &req->mreq.imr_multiaddr) < 0
                       || option_ipv4_arg(state, fname, "interface", argv[1],
                                          &req->mreq.imr_interface)
                              < 0
                   ? -1
                   : 0;
#ifdef PYSOCK2_HAS_MREQN
    case KIND_MREQN:
#  ifdef PYSOCK2_IP_MREQN
        *len = sizeof(req->mreqn);
        if (option_ipv4_arg(state, fname, "group", argv[0], &req->mreqn.imr_multiaddr) < 0) {
            return -1;
        }
#  else
        *len = sizeof(req->mreq);
        if (option_ipv4_arg(state, fname, "group", argv[0], &req->mreq.imr_multiaddr) < 0) {
            return -1;
        }
#  endif
        return interface_index_or_address(state, fname, argv[1], req);
#endif
#if defined(IP_ADD_SOURCE_MEMBERSHIP)
    case KIND_SOURCE:
        *len = sizeof(req->source);
        return option_ipv4_arg(state, fname, "source", argv[0], &req->source.imr_sourceaddr) < 0
                       || option_ipv4_arg(state, fname, "group", argv[1],
                                          &req->source.imr_multiaddr)
                              < 0
                       || option_ipv4_arg(state, fname, "interface", argv[2],
                                          &req->source.imr_interface)
                              < 0
                   ? -1
                   : 0;
#endif
    case KIND_MREQ6:
        *len = sizeof(req->mreq6);
        if (option_ipv6_arg(state, fname, "group", argv[0], &req->mreq6.ipv6mr_multiaddr) < 0
            || option_uint_arg(fname, "interface", argv[1], UINT32_MAX, &index) < 0) {
            return -1;
        }
        req->mreq6.ipv6mr_interface = (unsigned int)index;
        return 0;
    default:
        PyErr_Format(PyExc_SystemError, "%s(): unknown membership kind", fname);
        return -1;
    }
}

static PyObject *
membership(SocketObject *self, const membership_row *row, PyObject *const *args, Py_ssize_t nargs,
           PyObject *kwnames)
{
    static const char *const pair[] = {"group", "interface"};
    static const char *const triple[] = {"source", "group", "interface"};
    int three = row->kind == KIND_SOURCE;
    PyObject *argv[3];
    membership_request req;
    sys_socklen_t len = 0;
    memset(&req, 0, sizeof(req));
    if (args_parse(row->name, args, nargs, kwnames, three ? triple : pair, 2 + three, 2 + three,
                   argv)
            < 0
        || membership_request_from_args(self->state, row, argv, &req, &len) < 0
        || option_setsockopt(self, row->level, row->optname, &req, len) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

#define MEMBERSHIP(name, level, optname, kind)                                              \
    static PyObject *mc_##name(SocketObject *self, PyObject *const *args, Py_ssize_t nargs, \
                               PyObject *kwnames)                                           \
    {                                                                                       \
        static const membership_row row = {#name, level, optname, KIND_##kind};             \
        return membership(self, &row, args, nargs, kwnames);                                \
    }
#include "multicast_table.h"
#undef MEMBERSHIP

#define DOC_MREQ                                                          \
    "(group, interface): group and interface are IPv4 addresses (str or " \
    "ipaddress.IPv4Address); interface 0.0.0.0 lets the system choose."
#define DOC_MREQN                                                           \
    "(group, interface): group is an IPv4 address; interface an interface " \
    "index (int, 0: any) or the IPv4 address of one."
#define DOC_SOURCE                                                      \
    "(source, group, interface): source-specific membership; all IPv4 " \
    "addresses."
#define DOC_MREQ6                                           \
    "(group, interface): group is an IPv6 address (str or " \
    "ipaddress.IPv6Address); interface an interface index (0: any)."
#define SIGNATURE_MREQ "($self, /, group, interface)"
#define SIGNATURE_MREQN SIGNATURE_MREQ
#define SIGNATURE_MREQ6 SIGNATURE_MREQ
#define SIGNATURE_SOURCE "($self, /, source, group, interface)"

PyMethodDef socket_multicast_methods[] = {
#define MEMBERSHIP(name, level, optname, kind)                                     \
    {#name, (PyCFunction)(void (*)(void))mc_##name, METH_FASTCALL | METH_KEYWORDS, \
     #name SIGNATURE_##kind "\n--\n\n" #optname " " DOC_##kind},
#include "multicast_table.h"
#undef MEMBERSHIP
    {NULL, NULL, 0, NULL},
};
