#!/usr/bin/env bash
# Compiles all of csrc/ (with sys_unix.c) for macOS and the BSDs with zig's clang and the
# target's own libc headers, with setup.py's flags plus -Werror, and links each target's
# _pysock2 shared object; then lists what the compiled code offers per target
# (.ci/cross_catalog.py) and compares it with socket2's cfg gates.
#
# Targets: aarch64-macos (deployment target 11.0) and x86_64-macos (10.13), the wheels'
# targets, both with -Wunguarded-availability (an API newer than the deployment target must
# be guarded); x86_64/aarch64 FreeBSD, x86_64 NetBSD, x86_64 OpenBSD.
#
# Python's headers: this machine's CPython Include/ (the interpreter in $PYTHON), with a
# pyconfig.h derived per target by .ci/cross_pyconfig.py (its docstring says how: headers
# by __has_include for the target, sizes measured by the target's compiler, feature macros
# as CPython's configure sets them on that system). Each target's changes are printed.
#
# zig comes from PyPI (`ziglang`: a self-contained clang plus macOS, FreeBSD, NetBSD and
# OpenBSD libc headers and link stubs) into a venv under $PYSOCK2_CACHE (kept; the pins
# decide when it is rebuilt). zig 0.17.1 has headers for all six targets (its
# lib/libc/include: any-darwin-any, x86_64- and aarch64-freebsd-none, x86_64-netbsd-none,
# x86_64-openbsd-none, each with the generic-<os> directory); a target without them would
# fail cross_pyconfig.py at once (its size probe includes <stdio.h> and <pthread.h>).
# Idempotent; cold about 4-7 min on 2 cores (the venv, then zig's libc stubs per target:
# 45-75 s each, two targets at a time), warm about 1 min.
# Usage: .ci/cross-unix.sh [TARGET...]     (default: all six)
set -euo pipefail

NAME="cross-unix"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$ROOT/.ci/lib.sh"
# setuptools: to read setup.py's flags (a Python >= 3.12 venv has none of its own).
TOOLS=(ziglang==0.17.1 setuptools==80.9.0)
VENV="$CACHE/zig-venv"
DEFAULT_TARGETS=(aarch64-macos.11.0 x86_64-macos.10.13 x86_64-freebsd aarch64-freebsd
                 x86_64-netbsd x86_64-openbsd)
TARGETS=("${@:-${DEFAULT_TARGETS[@]}}")

ensure_python
tool_venv "$VENV" "${TOOLS[@]}"
ZIG_CC="$VENV/bin/python -m ziglang cc"
# zig's own cache (compiled libc stubs, per target) survives between runs.
export ZIG_GLOBAL_CACHE_DIR="$CACHE/zig-cache" ZIG_LOCAL_CACHE_DIR="$CACHE/zig-cache"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
INCLUDE="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
[ -f "$INCLUDE/pyconfig.h" ] || apt_install python3-dev   # a Debian python3 without headers
[ -f "$INCLUDE/pyconfig.h" ] || { log "FAILED: no $INCLUDE/pyconfig.h"; exit 1; }

# setup.py's Unix compile flags exactly as it computes them (setup() is stubbed out), with
# PYSOCK2_WERROR=1 adding -Werror.
mapfile -t SETUP_FLAGS < <(cd "$ROOT" && PYSOCK2_WERROR=1 "$VENV/bin/python" - <<'PY'
import setuptools
captured = {}
setuptools.setup = lambda **kw: captured.update(kw)
exec(compile(open("setup.py").read(), "setup.py", "exec"))
(ext,) = captured["ext_modules"]
print("\n".join(ext.extra_compile_args))
PY
)
[[ " ${SETUP_FLAGS[*]} " == *" -Werror "* ]] || { log "FAILED: setup.py gave no -Werror"; exit 1; }
SOURCES=()
for src in "$ROOT"/csrc/*.c; do
    [ "$(basename "$src")" = sys_windows.c ] || SOURCES+=("$src")
done

# compile_target TARGET: every source, then a link the way a user's build links.
compile_target() {
    local target="$1" out="$TMP/$1"
    mkdir -p "$out/obj"
    "$PYTHON" "$ROOT/.ci/cross_pyconfig.py" "$ZIG_CC" "$target" "$INCLUDE" "$out/include" \
        || return 1
    local flags=(-target "$target" "${SETUP_FLAGS[@]}" -O2 -fPIC -I"$out/include"
                 -I"$ROOT/csrc")
    local link=(-shared -Wl,-z,defs)   # ELF: an undefined symbol is an error, as on Mach-O
    case "$target" in
        *macos*)
            flags+=(-Wunguarded-availability)
            link=(-shared)
            ;;
    esac
    local failed=() src
    for src in "${SOURCES[@]}"; do
        $ZIG_CC "${flags[@]}" -c "$src" -o "$out/obj/$(basename "$src" .c).o" \
            2>>"$out/errors.log" || failed+=("$(basename "$src")")
    done
    if [ "${#failed[@]}" -gt 0 ]; then
        cat "$out/errors.log"
        log "$target: FAILED to compile: ${failed[*]}"
        return 1
    fi
    log "$target: ${#SOURCES[@]} files compiled with -Werror"
    link_check "$target" "$out" "${link[@]}" || return 1
    # The sys.h contract driver too (run natively on GitHub's macOS; here only built).
    $ZIG_CC -target "$target" -std=c11 -Wall -Wextra -Werror -O2 -I"$ROOT/csrc" \
        "$ROOT/tests/c/sys_contract.c" "$ROOT/csrc/sys_unix.c" -o "$out/sys_contract" \
        || { log "$target: FAILED to build tests/c/sys_contract.c"; return 1; }
    log "$target: tests/c/sys_contract.c built with -Werror"
}

# link_check TARGET OUT LINKFLAGS...: links the objects against the target's libc with no
# undefined symbol allowed, so that a call to a function the target's libc lacks (accept4,
# recvmmsg, ...) that a header happened to declare fails here. The first link names the
# undefined symbols: all must be the Python C API's (Py*, _Py*; Mach-O prefixes C names
# with "_"), which a stand-in library defining exactly those then provides for a second,
# complete link (setuptools' builds leave them to the interpreter at load time).
link_check() {
    local target="$1" out="$2" names
    shift 2
    names="$($ZIG_CC -target "$target" "$@" -o "$out/_pysock2.so" "$out"/obj/*.o 2>&1 \
             | sed -n 's/.*undefined symbol: \([^ ]*\).*/\1/p' | sort -u)"
    [[ "$target" == *macos* ]] && names="$(sed 's/^_//' <<<"$names")"
    [ -n "$names" ] || { log "$target: FAILED: the link named no Python symbols"; return 1; }
    local foreign
    foreign="$(grep -v -E '^_?Py' <<<"$names" || true)"
    if [ -n "$foreign" ]; then
        log "$target: FAILED to link: the target's libc lacks $(tr '\n' ' ' <<<"$foreign")"
        return 1
    fi
    sed 's/.*/char &;/' <<<"$names" >"$out/python_stand_in.c"
    $ZIG_CC -target "$target" -shared -o "$out/libpython_stand_in.so" "$out/python_stand_in.c" \
        && $ZIG_CC -target "$target" "$@" -o "$out/_pysock2.so" "$out"/obj/*.o \
               "$out/libpython_stand_in.so" \
        || { log "$target: FAILED to link"; return 1; }
    log "$target: linked; undefined only the $(wc -l <<<"$names") Python C-API names used"
}

# The targets run $JOBS at a time (zig's first compile for a target builds its libc stubs:
# about a minute each, cold), each with its own log, printed in order.
JOBS="$(nproc 2>/dev/null || echo 2)"
run_target() {
    local started=$SECONDS
    if compile_target "$1" >"$TMP/$1.log" 2>&1; then
        log "$1: ok in $((SECONDS - started)) s" >>"$TMP/$1.log"
        echo 0 >"$TMP/$1.rc"
    else
        echo 1 >"$TMP/$1.rc"
    fi
}
for target in "${TARGETS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
        wait -n || true
    done
    run_target "$target" &
done
wait
status=0
for target in "${TARGETS[@]}"; do
    cat "$TMP/$target.log"
    [ "$(cat "$TMP/$target.rc" 2>/dev/null)" = 0 ] || status=1
done
if [ "$status" = 0 ]; then
    # What each target's compiled code offers, against socket2's methods per OS.
    specs=()
    for target in "${TARGETS[@]}"; do
        specs+=("$target=$ZIG_CC::-target $target ${SETUP_FLAGS[*]} -I$TMP/$target/include -I$ROOT/csrc")
    done
    "$PYTHON" "$ROOT/.ci/cross_catalog.py" --root "$ROOT" "${specs[@]}" || status=1
fi
if [ "$status" = 0 ]; then log "OK in $SECONDS s"; else log "FAILED after $SECONDS s"; fi
exit "$status"
