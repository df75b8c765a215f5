"""Derives a pyconfig.h for a cross-compilation target from this machine's Linux one.

Used by .ci/cross-unix.sh. CPython's headers consult pyconfig.h for three kinds of facts;
each is re-established for the target by asking the target's own compiler (zig cc with
that target's libc headers), never by a hand-kept table:

1. Which system headers exist (HAVE_<NAME>_H). The Linux file says which headers Linux
   has; each stays defined only if `__has_include(<path>)` is true for the target for a
   path the name can spell (HAVE_SYS_EPOLL_H: <sys/epoll.h> or <sys_epoll.h>; every '_'
   may have been '/' or '_'). <sys/epoll.h>, <linux/*.h>, ... drop out.
2. Type sizes and alignments (SIZEOF_*, ALIGNOF_*): each is sizeof/_Alignof of the type
   it names, compiled for the target into assembly and read back (long double is 8 bytes
   on arm64 macOS and 16 on x86_64; pthread_key_t is 8 on macOS and 4 elsewhere). A
   SIZEOF_ macro whose type is not known here is an error, so nothing stays silently
   Linux-sized.
3. Feature-test macros, as CPython's configure.ac sets them per system: on Darwin it
   defines neither _POSIX_C_SOURCE nor _XOPEN_SOURCE (nor _XOPEN_SOURCE_EXTENDED), since
   they hide Apple's own API ("define_xopen_source=no" for Darwin/[12][0-9].*); on OpenBSD
   it adds _BSD_SOURCE, which OpenBSD needs next to _XOPEN_SOURCE. The x86 inline-assembly
   facts (HAVE_GCC_ASM_FOR_X87/X64) hold only on x86_64 targets.

Everything else in the file is about CPython's own build (which library functions
CPython's .c files may call); the public headers an extension includes consult only
HAVE_CLOCK_GETTIME, HAVE_FORK and HAVE_KQUEUE among those, which declare helpers that
exist on every target here. The derived file starts with a comment listing every change.

Usage: cross_pyconfig.py ZIG_CC TARGET LINUX_INCLUDE_DIR OUT_DIR
(OUT_DIR receives a copy of the include directory with the derived pyconfig.h.)
"""

import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile

# SIZEOF_/ALIGNOF_ macro -> the C expression CPython's configure measures.
MEASURES = {
    "SIZEOF_DOUBLE": "sizeof(double)",
    "SIZEOF_FLOAT": "sizeof(float)",
    "SIZEOF_FPOS_T": "sizeof(fpos_t)",
    "SIZEOF_INT": "sizeof(int)",
    "SIZEOF_LONG": "sizeof(long)",
    "SIZEOF_LONG_DOUBLE": "sizeof(long double)",
    "SIZEOF_LONG_LONG": "sizeof(long long)",
    "SIZEOF_OFF_T": "sizeof(off_t)",
    "SIZEOF_PID_T": "sizeof(pid_t)",
    "SIZEOF_PTHREAD_KEY_T": "sizeof(pthread_key_t)",
    "SIZEOF_PTHREAD_T": "sizeof(pthread_t)",
    "SIZEOF_SHORT": "sizeof(short)",
    "SIZEOF_SIZE_T": "sizeof(size_t)",
    "SIZEOF_TIME_T": "sizeof(time_t)",
    "SIZEOF_UINTPTR_T": "sizeof(uintptr_t)",
    "SIZEOF_VOID_P": "sizeof(void *)",
    "SIZEOF_WCHAR_T": "sizeof(wchar_t)",
    "SIZEOF__BOOL": "sizeof(_Bool)",
    "ALIGNOF_LONG": "_Alignof(long)",
    "ALIGNOF_SIZE_T": "_Alignof(size_t)",
}
MEASURE_PRELUDE = """\
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <wchar.h>
#include <sys/types.h>
#include <pthread.h>
"""
DARWIN_DROPPED = ("_POSIX_C_SOURCE", "_XOPEN_SOURCE", "_XOPEN_SOURCE_EXTENDED")
X86_ONLY = ("HAVE_GCC_ASM_FOR_X87", "HAVE_GCC_ASM_FOR_X64")
DEFINE = re.compile(r"^#define (\w+) (.*)$")


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs).stdout


def has_includes(compiler, paths, workdir):
    """The subset of `paths` that `#include <path>` finds with `compiler` (a list)."""
    source = os.path.join(workdir, "probe.c")
    with open(source, "w") as f:
        for i, path in enumerate(paths):
            f.write(f"#if __has_include(<{path}>)\nfound {i}\n#endif\n")
    out = run(compiler + ["-E", "-P", source])
    return {paths[int(m)] for m in re.findall(r"^found (\d+)$", out, re.M)}


def spellings(macro):
    """HAVE_SYS_EPOLL_H -> sys_epoll.h, sys/epoll.h: each '_' may have been '/' or '_'."""
    words = macro[len("HAVE_") : -len("_H")].lower().split("_")
    for seps in itertools.product("/_", repeat=len(words) - 1):
        yield "".join(w + s for w, s in zip(words, seps + ("",))) + ".h"


def measure(compiler, names, workdir):
    """SIZEOF_/ALIGNOF_ name -> its value for the target, read from compiled assembly."""
    source = os.path.join(workdir, "sizes.c")
    with open(source, "w") as f:
        f.write(MEASURE_PRELUDE)
        for name in names:
            f.write(f"const unsigned long pyconfig_{name} = {MEASURES[name]};\n")
    run(compiler + ["-S", "-O0", "-g0", "-o", source + ".s", source])
    with open(source + ".s") as f:
        asm = f.read()
    values = {}
    for name in names:
        # ELF: "pyconfig_X:", Mach-O: "_pyconfig_X:", then ".quad N" (or ".xword N").
        m = re.search(rf"^_?pyconfig_{name}:\s*\n\s*\.(?:quad|xword|8byte)\s+(\d+)", asm, re.M)
        if not m:
            sys.exit(f"cross_pyconfig: could not read {name} from the assembly")
        values[name] = m.group(1)
    return values


def derive(zig_cc, target, include_dir, out_dir):
    with open(os.path.join(include_dir, "pyconfig.h")) as f:
        lines = f.read().splitlines()
    defines = {m.group(1): m.group(2) for m in map(DEFINE.match, lines) if m}
    unknown = [n for n in defines if n.startswith(("SIZEOF_", "ALIGNOF_")) and n not in MEASURES]
    if unknown:
        sys.exit(f"cross_pyconfig: no measurement for {', '.join(unknown)}")
    compiler = zig_cc + ["-target", target]
    with tempfile.TemporaryDirectory() as workdir:
        headers = {n: list(spellings(n)) for n in defines if re.fullmatch(r"HAVE_\w+_H", n)}
        present = has_includes(compiler, sorted({p for s in headers.values() for p in s}), workdir)
        sizes = measure(compiler, [n for n in defines if n in MEASURES], workdir)

    undefine = {
        m: f"no <{'> or <'.join(s)}>" for m, s in headers.items() if not present.intersection(s)
    }
    if "macos" in target or "darwin" in target:
        undefine.update({m: "Darwin: configure defines no X/Open level" for m in DARWIN_DROPPED})
    if not target.startswith("x86_64"):
        undefine.update({m: "x86 only" for m in X86_ONLY})
    redefine = {n: v for n, v in sizes.items() if defines[n] != v}
    add = {"_BSD_SOURCE": "1"} if "openbsd" in target else {}

    out = []
    for line in lines:
        m = DEFINE.match(line)
        if m and m.group(1) in undefine:
            line = f"/* #undef {m.group(1)} ({undefine[m.group(1)]}) */"
        elif m and m.group(1) in redefine:
            line = f"#define {m.group(1)} {redefine[m.group(1)]}"
        out.append(line)
    changes = [f"undefined {n}: {why}" for n, why in sorted(undefine.items()) if n in defines]
    changes += [f"{n}: {defines[n]} -> {v}" for n, v in sorted(redefine.items())]
    changes += [f"added {n} {v}" for n, v in add.items()]
    header = (
        [
            f"/* Derived for {target} by .ci/cross_pyconfig.py from this machine's Linux",
            " * pyconfig.h; changes:",
        ]
        + [f" *   {c}" for c in changes]
        + [" */"]
    )
    body = "\n".join(out)
    if add:  # before the include guard's end: after the first line defining Py_PYCONFIG_H
        extra = "".join(f"#define {n} {v}\n" for n, v in add.items())
        body = body.replace("#define Py_PYCONFIG_H\n", "#define Py_PYCONFIG_H\n" + extra, 1)
    shutil.rmtree(out_dir, ignore_errors=True)
    shutil.copytree(include_dir, out_dir)
    with open(os.path.join(out_dir, "pyconfig.h"), "w") as f:
        f.write("\n".join(header) + "\n" + body + "\n")
    return changes


if __name__ == "__main__":
    zig, target, include_dir, out_dir = sys.argv[1:5]
    changes = derive(zig.split(), target, include_dir, out_dir)
    dropped = [
        c.split()[1].rstrip(":") for c in changes if c.startswith("undefined HAVE_") and "no <" in c
    ]
    print(f"  {target} pyconfig.h: {len(dropped)} headers absent: {' '.join(dropped)}")
    for change in changes:
        if not (change.startswith("undefined HAVE_") and "no <" in change):
            print(f"  {target} pyconfig.h: {change}")
