/* What the option files (options.c, multicast.c, options_special.c) share: value
 * conversion with the range checks every option setter makes before the system call, and
 * get/setsockopt on a Socket that raise on failure. */
#ifndef PYSOCK2_OPTIONS_H
#define PYSOCK2_OPTIONS_H

#include "pysock2.h"
#include "options_compat.h"

/* An int in [0, max]: TypeError for a non-int, ValueError below 0, OverflowError above
 * max. `what` names the argument in the message. */
int option_uint_arg(const char *fname, const char *what, PyObject *obj, unsigned long long max,
                    unsigned long long *out);
/* A numeric IPv4 / IPv6 address: a str or an ipaddress object of that family. */
int option_ipv4_arg(module_state *state, const char *fname, const char *what, PyObject *obj,
                    struct in_addr *out);
int option_ipv6_arg(module_state *state, const char *fname, const char *what, PyObject *obj,
                    struct in6_addr *out);

/* 0 when a platform call's result rc is >= 0; else -1 with its OSError raised. */
int option_checked(int rc);
/* getsockopt / setsockopt on the socket's descriptor: 0, or -1 with OSError raised
 * (EBADF when it is closed). */
int option_getsockopt(SocketObject *self, int level, int name, void *value, sys_socklen_t *len);
int option_setsockopt(SocketObject *self, int level, int name, const void *value,
                      sys_socklen_t len);

#endif /* PYSOCK2_OPTIONS_H */
