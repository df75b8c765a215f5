#!/usr/bin/env bash
# The whole test suite against a clang build of pysock2 with AddressSanitizer, UBSan and
# clang's integer checks (.ci/sanitizers.sh does the same with gcc, which has no integer
# checks beyond signed overflow). Fails on any failing test and on any sanitizer report,
# from any process.
#
#   -fsanitize=address,undefined,implicit-conversion
#
# That is clang's `integer` group without unsigned-integer-overflow and unsigned-shift-base:
# unsigned wraparound is defined C, and pysock2 relies on it on purpose (the FNV-1a hash of
# SockAddr.__hash__ multiplies modulo 2^64). What stays: signed overflow, shifts out of
# range, division by zero (in `undefined`), and every implicit conversion that changes a
# value (truncation to a narrower type, a sign change): the class of issue 10 item 5.
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
install_pysock2 "$TMP/venv" CC=clang-14 PYSOCK2_SANITIZE=address,undefined,implicit-conversion \
    CFLAGS=-shared-libasan LDFLAGS=-shared-libasan
nm -D "$TMP"/venv/lib/python*/site-packages/pysock2/_pysock2*.so >"$TMP/symbols"
grep -q __asan_report "$TMP/symbols" && grep -q __ubsan_handle_implicit_conversion "$TMP/symbols" \
    || die "the extension is not instrumented"
suite="$(suite_dir)"
rc=0
(
    cd "$suite"
    sanitizer_env clang "$TMP/reports"
    PYSOCK2_LEAK_CALLS="${PYSOCK2_LEAK_CALLS:-2000}" \
        "$TMP/venv/bin/python" -m pytest -q -p no:cacheprovider tests
) >"$TMP/clang.log" 2>&1 || rc=$?
tail -5 "$TMP/clang.log" >&2
if [ "$rc" -ne 0 ] || ! sanitizer_reports "$TMP/reports"; then
    grep -nE '^(E  |FAILED|ERROR)' "$TMP/clang.log" | head -80 >&2 || true
    die "clang ASan/UBSan/integer run: pytest exit $rc"
fi
log "clang ASan+UBSan+integer: $(grep -E '[0-9]+ passed' "$TMP/clang.log" | tail -1); sanitizer reports: 0"
