#!/usr/bin/env bash
# Compiles and links csrc/ for Windows (x86_64 and i686) with mingw-w64, warnings as errors.
#
# This machine is Linux, so the Windows code path is checked by cross-compiling: every
# csrc/*.c except sys_unix.c, against CPython's headers with the Windows pyconfig.h, then
# linked into a real _pysock2.pyd so that a sys_* function missing from sys_windows.c, or a
# Windows library missing from setup.py, fails here and not first on GitHub Actions.
# mingw is looser than MSVC; the windows job of .github/workflows/tests.yml stays the
# real build.
#
# Needs: Debian 12, root (apt-get), deb.debian.org. Idempotent: the headers are cached in
# $PYSOCK2_CACHE (default ~/.cache/pysock2) and reused; mingw is installed only if missing.
# Usage: .ci/windows-check.sh            (from anywhere; it finds the repository itself)
set -euo pipefail

NAME="windows-check"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$ROOT/.ci/lib.sh"
PY_SOURCE_PKG=python3.11       # Debian 12's CPython; its orig tarball carries PC/pyconfig.h
HEADERS="$CACHE/windows-include-$PY_SOURCE_PKG"
TARGETS=(x86_64-w64-mingw32 i686-w64-mingw32)
# -O2 so that flow-dependent warnings (-Wmaybe-uninitialized) are checked too.
# NTDDI_VERSION: the newest mingw-w64 knows (NTDDI_WIN10_CO), as MSVC defaults to its SDK's.
CFLAGS=(-std=c11 -Wall -Wextra -Werror -O2 -D_WIN32_WINNT=0x0A00 -DNTDDI_VERSION=0x0A00000B)
# What setup.py links on Windows (libraries=...); a missing one fails the link below.
WINLIBS=(-lws2_32 -liphlpapi)

install_mingw() {
    local missing=0
    for t in "${TARGETS[@]}"; do
        command -v "$t-gcc" >/dev/null || missing=1
    done
    command -v xz >/dev/null || missing=1
    if [ "$missing" = 1 ]; then
        # The C compilers alone: the mingw-w64 metapackage also pulls in g++.
        apt_install gcc-mingw-w64-x86-64-win32 gcc-mingw-w64-i686-win32 binutils-mingw-w64 \
            xz-utils
    fi
}

# CPython's Include/ with PC/pyconfig.h (the Windows one) beside it, from Debian's source
# package, fetched through a private apt configuration so the system's sources are untouched.
fetch_headers() {
    if [ -f "$HEADERS/pyconfig.h" ] && [ -f "$HEADERS/Python.h" ]; then
        return
    fi
    log "fetching $PY_SOURCE_PKG sources (deb-src) for the Windows pyconfig.h"
    local work="$TMP/apt"
    mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/src"
    cat >"$work/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
SRC
    local apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-"
                    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work"
                    -o "APT::Sandbox::User=root" -qq)
    apt-get "${apt_opts[@]}" update
    (cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only "$PY_SOURCE_PKG" >/dev/null)
    local tarballs=("$work/src/${PY_SOURCE_PKG}"_*.orig.tar.*)
    tar -xf "${tarballs[0]}" -C "$work/src" --wildcards '*/Include/*' '*/PC/pyconfig.h'
    local configs=("$work"/src/*/PC/pyconfig.h)
    local top="${configs[0]%/PC/pyconfig.h}"
    rm -rf "$HEADERS.tmp"
    mkdir -p "$HEADERS.tmp"
    cp -r "$top/Include/." "$HEADERS.tmp/"
    cp "$top/PC/pyconfig.h" "$HEADERS.tmp/pyconfig.h"
    rm -rf "$HEADERS"
    mv "$HEADERS.tmp" "$HEADERS"   # atomic: a half-written cache is never reused
}

# Compiles every Windows source for one target, then links a .pyd against an import
# library built from the Python symbols the objects use (no python3X.lib needed).
check_target() {
    local target="$1" out="$2/$1"
    mkdir -p "$out"
    local sources=()
    for src in "$ROOT"/csrc/*.c; do
        [ "$(basename "$src")" = sys_unix.c ] || sources+=("$src")
    done
    # Windows' and CPython's headers are most of the work: parse them once, into a
    # precompiled pysock2.h that every file then starts from (-Winvalid-pch: an unusable
    # one is an error, not a silent slow path).
    local flags=("${CFLAGS[@]}" -I"$HEADERS" -I"$ROOT/csrc")
    mkdir -p "$out/pch"
    cp "$ROOT/csrc/pysock2.h" "$ROOT/csrc/sys.h" "$out/pch/"
    "$target-gcc" "${flags[@]}" -x c-header "$out/pch/pysock2.h" -o "$out/pch/pysock2.h.gch" \
        || { log "$target: FAILED to compile the headers"; return 1; }
    local failed=()
    for src in "${sources[@]}"; do
        "$target-gcc" "${flags[@]}" -Winvalid-pch -include "$out/pch/pysock2.h" -c "$src" \
            -o "$out/$(basename "$src" .c).o" || failed+=("$(basename "$src")")
    done
    if [ "${#failed[@]}" -gt 0 ]; then
        log "$target: FAILED to compile: ${failed[*]}"
        return 1
    fi
    # compat.h's MSVC branch, which no compiler here takes by itself (tests/c/compat_msvc.c):
    # the x86/x64 loads, then those of the other architectures.
    for arch in "" -DCOMPAT_CHECK_OTHER_ARCH; do
        "$target-gcc" "${CFLAGS[@]}" -I"$HEADERS" -I"$ROOT/csrc" ${arch:+"$arch"} -fsyntax-only \
            "$ROOT/tests/c/compat_msvc.c" \
            || { log "$target: FAILED: compat.h's MSVC branch ($arch)"; return 1; }
    done
    # The Python C API comes from python3X.dll: every Py*/_Py* name the objects leave
    # undefined becomes an export of a stand-in import library, so only what Windows' own
    # libraries must provide can stay unresolved. A call goes through __imp_NAME; a function
    # whose address sits in a static table (Py_GenericAlias in a method table) needs the
    # import library's thunk NAME as well, as python3X.lib provides; DATA exports have none.
    # (i686 decorates C names with one more underscore.)
    local imp=__imp_ plain=
    [ "$target" = i686-w64-mingw32 ] && imp=__imp__ && plain=_
    "$target-nm" -u "$out"/*.o | awk '{print $NF}' | sort -u >"$out/undefined"
    {
        echo "LIBRARY python3.dll"
        echo "EXPORTS"
        sed -n "s/^$plain\(_\{0,1\}Py.*\)\$/\1/p" "$out/undefined"
        sed -n "s/^$imp\(_\{0,1\}Py.*\)\$/\1/p" "$out/undefined" \
            | grep -vxF -f <(sed -n "s/^$plain\(_\{0,1\}Py.*\)\$/\1/p" "$out/undefined") \
            | sed 's/$/ DATA/'
    } >"$out/python.def" || return 1
    "$target-dlltool" -d "$out/python.def" -l "$out/libpython.a" || return 1
    "$target-gcc" -shared -o "$out/_pysock2.pyd" "$out"/*.o -L"$out" -lpython "${WINLIBS[@]}" \
        || { log "$target: FAILED to link"; return 1; }
    log "$target: ${#sources[@]} files compiled, _pysock2.pyd linked, compat.h's MSVC branch checked, no warnings"
}

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
install_mingw
fetch_headers
# Both targets at once (each in the background, its output kept apart), then in order.
for t in "${TARGETS[@]}"; do
    (check_target "$t" "$TMP/build" >"$TMP/$t.log" 2>&1; echo $? >"$TMP/$t.rc") &
done
wait
status=0
for t in "${TARGETS[@]}"; do
    cat "$TMP/$t.log"
    [ "$(cat "$TMP/$t.rc")" = 0 ] || status=1
done
if [ "$status" = 0 ]; then log "OK"; else log "FAILED"; fi
exit "$status"
