#!/usr/bin/env bash
# Runs tests/c/sys_contract.c, the contract of csrc/sys.h, against both platform layers:
#  1. built with sys_unix.c by the system's cc and run here (Linux, under ASan + UBSan);
#  2. built with sys_windows.c by mingw-w64 and run under Wine (wine64, headless, in a
#     throw-away WINEPREFIX), so the Windows layer executes, not only compiles;
# then lists what `python -m pysock2 info` would show on Windows (.ci/cross_catalog.py over
# the mingw preprocessor with CPython's Windows headers, which .ci/windows-check.sh caches)
# and compares it with socket2's Windows methods.
#
# Both drivers are built with -Werror. What Wine lacks is printed as SKIPPED with the
# reason by the driver itself; a failure anywhere fails the step. Needs Debian 12, root
# (apt-get: wine64, gcc-mingw-w64-x86-64-win32). Idempotent; cold ~2 min (apt, first Wine
# prefix), warm ~40 s.
set -euo pipefail

NAME="sys-contract"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$ROOT/.ci/lib.sh"
MINGW=x86_64-w64-mingw32-gcc
WIN_HEADERS="$CACHE/windows-include-python3.11"   # filled by .ci/windows-check.sh
# What .ci/windows-check.sh compiles csrc/ with for Windows.
WIN_FLAGS=(-std=c11 -Wall -Wextra -Werror -O2 -D_WIN32_WINNT=0x0A00 -DNTDDI_VERSION=0x0A00000B)
# On Linux the driver runs under ASan and UBSan: every buffer the platform layer hands the
# kernel, and every length it reads back, is checked too.
UNIX_FLAGS=(-std=c11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE -fsanitize=address,undefined
            -fno-sanitize-recover=all -fno-omit-frame-pointer)

wine_binary() {
    if [ -x /usr/lib/wine/wine64 ]; then echo /usr/lib/wine/wine64; else command -v wine64 || command -v wine; fi
}

need=()
command -v cc >/dev/null || need+=(gcc libc6-dev)
command -v "$MINGW" >/dev/null || need+=(gcc-mingw-w64-x86-64-win32 binutils-mingw-w64)
[ -n "$(wine_binary 2>/dev/null || true)" ] || need+=(wine64)
if [ "${#need[@]}" -gt 0 ]; then
    apt_install "${need[@]}"
fi
WINE="$(wine_binary)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
status=0
DRIVER="$ROOT/tests/c/sys_contract.c"

started=$SECONDS
cc "${UNIX_FLAGS[@]}" -I"$ROOT/csrc" "$DRIVER" "$ROOT/csrc/sys_unix.c" -o "$TMP/sys_contract"
log "Linux: driver built with sys_unix.c (ASan + UBSan); running"
(cd "$TMP" && ./sys_contract) || status=1
log "Linux: done in $((SECONDS - started)) s"

started=$SECONDS
"$MINGW" "${WIN_FLAGS[@]}" -I"$ROOT/csrc" "$DRIVER" "$ROOT/csrc/sys_windows.c" \
    -lws2_32 -liphlpapi -o "$TMP/sys_contract.exe"
log "Windows: driver built with sys_windows.c by mingw-w64; running under $("$WINE" --version)"
# No display: Wine runs console programs headless. No Mono/Gecko download prompts.
export WINEPREFIX="$TMP/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
(cd "$TMP" && "$WINE" ./sys_contract.exe) || status=1
"$(dirname "$WINE")/wineserver" -k 2>/dev/null || wineserver -k 2>/dev/null || true
log "Windows: done in $((SECONDS - started)) s"

# The Windows catalog, from what the Windows build compiles.
if [ ! -f "$WIN_HEADERS/pyconfig.h" ]; then
    log "no cached Windows CPython headers: running .ci/windows-check.sh to fetch them"
    bash "$ROOT/.ci/windows-check.sh" >/dev/null
fi
"$PYTHON" "$ROOT/.ci/cross_catalog.py" --root "$ROOT" \
    "x86_64-windows-mingw32=$MINGW::${WIN_FLAGS[*]} -I$WIN_HEADERS -I$ROOT/csrc" || status=1

if [ "$status" = 0 ]; then log "OK in $SECONDS s"; else log "FAILED after $SECONDS s"; fi
exit "$status"
