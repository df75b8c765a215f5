#!/usr/bin/env bash
# The whole test suite against a clang build of pysock2 with AddressSanitizer, UBSan and
# clang's integer checks (.ci/sanitizers.sh does the same with gcc). Fails on any failing
# test and on any sanitizer report, from any process.
#
#   -fsanitize=address,undefined,implicit-conversion
#
# What clang adds to gcc's run: its `undefined` includes float-cast-overflow (gcc's does
# not), the check that catches a double too large for the integer it is converted to (a
# 1.8e10 s timeout turned into int64 nanoseconds: issue 10 item 5); and implicit-conversion
# reports a conversion that changes a value (truncation to a narrower type, a sign change)
# where the code does not cast explicitly. That is clang's `integer` group without
# unsigned-integer-overflow and unsigned-shift-base: unsigned wraparound is defined C and
# pysock2 relies on it on purpose (the FNV-1a hash of SockAddr.__hash__ multiplies modulo
# 2^64; the first run with the whole group stopped there). Signed overflow, shifts and
# division by zero are in `undefined`.
#
#   PYTHON=python3.11 .ci/clang-sanitizers.sh        (default: python3)
NAME=clang-sanitizers
. "$(dirname "${BASH_SOURCE[0]}")/harden-lib.sh"
. "$ROOT/.ci/sanitizer-env.sh"

apt_install clang-14 libclang-rt-14-dev gcc libc6-dev
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
log "building pysock2 with clang-14, ASan+UBSan+implicit-conversion, for CPython $PYVER"
make_venv "$PYTHON" "$TMP/venv"
# -shared-libasan: the extension links against the shared runtime that is preloaded into
# the (uninstrumented) interpreter, instead of expecting it inside the executable.
# -fno-wrapv: see sanitizer-env.sh (CPython's -fwrapv would switch the overflow check off).
install_pysock2 "$TMP/venv" CC=clang-14 PYSOCK2_SANITIZE=address,undefined,implicit-conversion \
    CFLAGS="-shared-libasan $NO_WRAPV" LDFLAGS=-shared-libasan
nm -D "$TMP"/venv/lib/python*/site-packages/pysock2/_pysock2*.so >"$TMP/symbols"
# (implicit-conversion leaves no handler when every narrowing in the code is an explicit
# cast, which it does not check: float-cast-overflow is the clang-only marker.)
grep -q __asan_report "$TMP/symbols" && grep -q __ubsan_handle_float_cast_overflow "$TMP/symbols" \
    || die "the extension is not instrumented"
suite="$(suite_dir)"
rc=0
(
    cd "$suite"
    sanitizer_env clang "$TMP/reports"
    # 10 random state-machine sequences here: .ci/stateful.sh runs 100 under ASan+UBSan.
    PYSOCK2_STATEFUL_EXAMPLES="${PYSOCK2_STATEFUL_EXAMPLES:-10}" \
    PYSOCK2_LEAK_CALLS="${PYSOCK2_LEAK_CALLS:-2000}" \
        "$TMP/venv/bin/python" -m pytest -q -p no:cacheprovider tests
) >"$TMP/clang.log" 2>&1 || rc=$?
tail -5 "$TMP/clang.log" >&2
if [ "$rc" -ne 0 ] || ! sanitizer_reports "$TMP/reports"; then
    grep -nE '^(E  |FAILED|ERROR)' "$TMP/clang.log" | head -80 >&2 || true
    die "clang ASan/UBSan/integer run: pytest exit $rc"
fi
log "clang ASan+UBSan+integer: $(grep -E '[0-9]+ passed' "$TMP/clang.log" | tail -1); sanitizer reports: 0"
