/* Platform error codes as Python exceptions (errors.c). The platform layer (sys.h) speaks
 * only codes (sys_last_error(): errno, or a Winsock code on Windows); this is the one place
 * they become exceptions, so the layers read sys.h -> errors.h -> pysock2.h. */
#ifndef PYSOCK2_ERRORS_H
#define PYSOCK2_ERRORS_H

#ifndef PY_SSIZE_T_CLEAN
#  define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>

/* Raises the OSError subclass matching a platform error code; returns NULL. */
PyObject *error_set_from_sys(int err);
/* A new OSError instance (not raised) for a platform error code, for take_error(). */
PyObject *error_from_sys(int err);
/* The exception in flight as one object, cleared (PyErr_GetRaisedException before 3.12). */
PyObject *error_take(void);
/* Emits a ResourceWarning from a finalizer ("unclosed ..."), keeping any exception in flight:
 * a warnings filter that makes it an error is reported as unraisable, never raised. */
void error_resource_warning(PyObject *source, const char *format, ...);

#endif /* PYSOCK2_ERRORS_H */
