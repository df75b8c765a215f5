/* What differs between the CPython versions (3.9+, GIL and free-threaded) and the compilers
 * (gcc, clang, MSVC) pysock2 builds with, spelled once: the rest of csrc/ writes the newest
 * CPython API and the atomics below, never an #if on a version or a compiler.
 * In the spirit of pythoncapi-compat: a back-ported name keeps CPython's name. */
#ifndef PYSOCK2_COMPAT_H
#define PYSOCK2_COMPAT_H

#ifndef PY_SSIZE_T_CLEAN
#  define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>
#include <stdint.h>

/* ---- CPython API that 3.9 lacks (3.10 added it) ---- */
#ifndef Py_TPFLAGS_IMMUTABLETYPE
#  define Py_TPFLAGS_IMMUTABLETYPE 0
#endif
#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *
compat_Py_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
static inline PyObject *
compat_Py_XNewRef(PyObject *o)
{
    Py_XINCREF(o);
    return o;
}
#  define Py_NewRef(o) compat_Py_NewRef((PyObject *)(o))
#  define Py_XNewRef(o) compat_Py_XNewRef((PyObject *)(o))
static inline int
PyModule_AddObjectRef(PyObject *m, const char *name, PyObject *value)
{
    Py_INCREF(value);
    int rc = PyModule_AddObject(m, name, value);
    if (rc < 0) {
        Py_DECREF(value);
    }
    return rc;
}
#endif

/* ---- per-object critical sections (3.13 added them) ----
 * On the free-threaded build Py_BEGIN_CRITICAL_SECTION(op) locks op until the matching
 * Py_END_CRITICAL_SECTION(); with the GIL it only opens a block, as CPython's own GIL
 * build defines it. The pair must be in the same block, and no `return` or `goto` may leave
 * the section. Before 3.13 there is no free-threaded build, so the block alone is right. */
#ifndef Py_BEGIN_CRITICAL_SECTION
#  define Py_BEGIN_CRITICAL_SECTION(op) {
#  define Py_END_CRITICAL_SECTION() }
#endif

/* ---- a METH_FASTCALL | METH_KEYWORDS entry of a PyMethodDef table ----
 * The function pointer goes through void (*)(void), which silences -Wcast-function-type
 * for a _PyCFunctionFast(WithKeywords) stored as a PyCFunction. Expands to two fields
 * (ml_meth, ml_flags); more flags may be or-ed on: FASTCALL_KW(fn) | METH_CLASS. */
#define FASTCALL_KW(fn) (PyCFunction)(void (*)(void))(fn), METH_FASTCALL | METH_KEYWORDS

/* ---- atomics on plain fields shared by threads ----
 * One set for gcc/clang (their __atomic builtins, which work on ordinary int and pointer
 * fields, where C11 <stdatomic.h> would need _Atomic types) and MSVC (Interlocked*, which
 * are full barriers, and volatile reads, which MSVC orders as acquire on x86/x64).
 *   load:  acquire (relaxed: no ordering, for a cached value any thread may recompute)
 *   store: release
 *   add, exchange: acquire and release; add returns the value before
 *   cas:   if *p == *expected, stores desired and returns 1; else copies *p into
 *          *expected and returns 0 (C11's atomic_compare_exchange_strong) */
#if defined(_MSC_VER) && !defined(__clang__)
#  include <intrin.h>
/* An acquire load: a volatile read is one on x86/x64 (the barrier stops the compiler
 * from moving later accesses above it); elsewhere a no-op compare-exchange is. */
#  if defined(_M_IX86) || defined(_M_X64)
#    define COMPAT_MSVC_VOLATILE_ACQUIRE 1
#  else
#    define COMPAT_MSVC_VOLATILE_ACQUIRE 0
#  endif
static inline int
compat_atomic_load_int(int *p)
{
#  if COMPAT_MSVC_VOLATILE_ACQUIRE
    int v = *(volatile int *)p;
    _ReadWriteBarrier();
    return v;
#  else
    return (int)_InterlockedCompareExchange((volatile long *)p, 0, 0);
#  endif
}
static inline void
compat_atomic_store_int(int *p, int v)
{
    _InterlockedExchange((volatile long *)p, (long)v);
}
static inline int
compat_atomic_exchange_int(int *p, int v)
{
    return (int)_InterlockedExchange((volatile long *)p, (long)v);
}
static inline int
compat_atomic_cas_int(int *p, int *expected, int desired)
{
    int was = (int)_InterlockedCompareExchange((volatile long *)p, (long)desired, (long)*expected);
    int same = was == *expected;
    *expected = was;
    return same;
}
static inline void *
compat_atomic_load_ptr(void **p)
{
#  if COMPAT_MSVC_VOLATILE_ACQUIRE
    void *v = *(void *volatile *)p;
    _ReadWriteBarrier();
    return v;
#  else
    return _InterlockedCompareExchangePointer((void *volatile *)p, NULL, NULL);
#  endif
}
static inline void
compat_atomic_store_ptr(void **p, void *v)
{
    _InterlockedExchangePointer((void *volatile *)p, v);
}
static inline void *
compat_atomic_exchange_ptr(void **p, void *v)
{
    return _InterlockedExchangePointer((void *volatile *)p, v);
}
static inline int
compat_atomic_cas_ptr(void **p, void **expected, void *desired)
{
    void *was = _InterlockedCompareExchangePointer((void *volatile *)p, desired, *expected);
    int same = was == *expected;
    *expected = was;
    return same;
}
/* uintptr_t has the size and representation of a pointer on every Windows target. */
static inline uintptr_t
compat_atomic_load_uintptr(uintptr_t *p)
{
    return (uintptr_t)compat_atomic_load_ptr((void **)p);
}
static inline void
compat_atomic_store_uintptr(uintptr_t *p, uintptr_t v)
{
    compat_atomic_store_ptr((void **)p, (void *)v);
}
static inline uintptr_t
compat_atomic_exchange_uintptr(uintptr_t *p, uintptr_t v)
{
    return (uintptr_t)compat_atomic_exchange_ptr((void **)p, (void *)v);
}
static inline int
compat_atomic_cas_uintptr(uintptr_t *p, uintptr_t *expected, uintptr_t desired)
{
    return compat_atomic_cas_ptr((void **)p, (void **)expected, (void *)desired);
}
#  undef COMPAT_MSVC_VOLATILE_ACQUIRE
static inline int
compat_atomic_load_int_relaxed(int *p)
{
    return *(volatile const int *)p;
}
static inline void
compat_atomic_store_int_relaxed(int *p, int v)
{
    *(volatile int *)p = v;
}
static inline int
compat_atomic_add_int(int *p, int v)
{
    return (int)_InterlockedExchangeAdd((volatile long *)p, (long)v);
}
#elif defined(__GNUC__) || defined(__clang__)
#  define COMPAT_ATOMICS(name, type)                                                    \
      static inline type compat_atomic_load_##name(type *p)                             \
      {                                                                                 \
          return __atomic_load_n(p, __ATOMIC_ACQUIRE);                                  \
      }                                                                                 \
      static inline void compat_atomic_store_##name(type *p, type v)                    \
      {                                                                                 \
          __atomic_store_n(p, v, __ATOMIC_RELEASE);                                     \
      }                                                                                 \
      static inline type compat_atomic_exchange_##name(type *p, type v)                 \
      {                                                                                 \
          return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL);                           \
      }                                                                                 \
      static inline int compat_atomic_cas_##name(type *p, type *expected, type desired) \
      {                                                                                 \
          return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_ACQ_REL, \
                                             __ATOMIC_ACQUIRE);                         \
      }
COMPAT_ATOMICS(int, int)
COMPAT_ATOMICS(uintptr, uintptr_t)
COMPAT_ATOMICS(ptr, void *)
#  undef COMPAT_ATOMICS
static inline int
compat_atomic_load_int_relaxed(int *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void
compat_atomic_store_int_relaxed(int *p, int v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline int
compat_atomic_add_int(int *p, int v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL);
}
#else
#  error "pysock2 needs gcc, clang or MSVC atomics (csrc/compat.h)"
#endif

/* ---- the buffer a memoryview holds, read in place ----
 * A live memoryview keeps its exporter's buffer exported, so while the GIL is held that
 * memory stays put and the view's own Py_buffer can be used directly, saving the
 * PyObject_GetBuffer + PyBuffer_Release pair of the buffer API on every call. This reads
 * PyMemoryViewObject's layout and CPython's private _Py_MEMORYVIEW_RELEASED flag: checked
 * for CPython 3.9 to 3.14 by tests/test_compat.py (through _pysock2._memoryview_in_place),
 * which fails when a version in this range changes them or when a newer one is added to
 * the range untested. Returns the view's buffer, or NULL when `obj` is no memoryview or a
 * released one, and always on other versions, the limited API, and the free-threaded
 * build (where another thread may release the view meanwhile): then the caller takes the
 * buffer API. */
#if PY_VERSION_HEX >= 0x03090000 && PY_VERSION_HEX < 0x030F0000 && !defined(Py_LIMITED_API) \
    && !defined(Py_GIL_DISABLED) && defined(_Py_MEMORYVIEW_RELEASED)
#  define COMPAT_MEMORYVIEW_IN_PLACE 1
#else
#  define COMPAT_MEMORYVIEW_IN_PLACE 0
#endif
static inline const Py_buffer *
compat_memoryview_buffer(PyObject *obj)
{
#if COMPAT_MEMORYVIEW_IN_PLACE
    if (PyMemoryView_Check(obj)
        && !(((PyMemoryViewObject *)obj)->flags & _Py_MEMORYVIEW_RELEASED)) {
        return &((PyMemoryViewObject *)obj)->view;
    }
#else
    (void)obj;
#endif
    return NULL;
}

#endif /* PYSOCK2_COMPAT_H */
