/* csrc/compat.h's MSVC branch, compiled by .ci/windows-check.sh with mingw-w64 posing as
 * MSVC: only the windows job of GitHub Actions has MSVC itself, so this catches a type or
 * qualifier slip in the Interlocked code on every run. _MSC_VER is defined after Python.h
 * (whose Windows pyconfig.h would take it for a real MSVC) so that only compat.h sees it.
 * With COMPAT_CHECK_OTHER_ARCH the x86/x64 macros are dropped too, for the loads of the
 * other architectures (ARM64). Checked with -fsyntax-only: nothing runs or links. */
#include <Python.h>
#ifdef COMPAT_CHECK_OTHER_ARCH
#  undef _M_IX86
#  undef _M_X64
#  undef _M_AMD64
#endif
#ifndef _MSC_VER
#  define _MSC_VER 1930
#endif
#include "compat.h"

#if !defined(_MSC_VER) || defined(__clang__)
#  error "compat_msvc.c must compile compat.h's MSVC branch"
#endif

/* Every atomic compat.h offers, with the types call sites use. */
int compat_msvc_check(int *i, uintptr_t *u, void **p);

int
compat_msvc_check(int *i, uintptr_t *u, void **p)
{
    int expected = 0;
    uintptr_t u_expected = 0;
    void *p_expected = NULL;
    int r = compat_atomic_load_int(i) + compat_atomic_load_int_relaxed(i)
            + compat_atomic_add_int(i, 1) + compat_atomic_exchange_int(i, 2)
            + compat_atomic_cas_int(i, &expected, 3);
    compat_atomic_store_int(i, 1);
    compat_atomic_store_int_relaxed(i, 0);
    r += compat_atomic_load_uintptr(u) == 0 ? 0 : 1;
    r += compat_atomic_exchange_uintptr(u, 1) == 0 ? 0 : 1;
    r += compat_atomic_cas_uintptr(u, &u_expected, 2);
    compat_atomic_store_uintptr(u, 0);
    r += compat_atomic_load_ptr(p) != NULL;
    r += compat_atomic_exchange_ptr(p, NULL) != NULL;
    r += compat_atomic_cas_ptr(p, &p_expected, NULL);
    compat_atomic_store_ptr(p, NULL);
    return r;
}
