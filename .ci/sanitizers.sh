#!/usr/bin/env bash
# The whole test suite against an ASan+UBSan build of pysock2, then a valgrind (memcheck)
# run of a representative subset against a plain build. Fails on any failing test and on
# any sanitizer or valgrind report, even one in a subprocess or a thread whose test passed.
#
#   PYTHON=python3.11 .ci/sanitizers.sh        (default: python3)
#
# Needs gcc (libasan, libubsan) and valgrind (installed from Debian if missing).
NAME=sanitizers
. "$(dirname "${BASH_SOURCE[0]}")/harden-lib.sh"
. "$ROOT/.ci/sanitizer-env.sh"

# Valgrind runs these under memcheck (about 30x slower): addresses, the I/O paths with
# their buffers, lifecycle, faults (resets, EMFILE, shutdown while blocked), and the
# saved fuzz inputs.
VALGRIND_TESTS=(tests/test_sockaddr.py tests/test_io.py tests/test_lifecycle.py
                tests/test_faults.py tests/test_fuzz_regressions.py)

apt_install gcc libc6-dev valgrind
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

# ---- ASan + UBSan: the whole suite
log "building pysock2 with ASan+UBSan for CPython $PYVER"
make_venv "$PYTHON" "$TMP/asan"
install_pysock2 "$TMP/asan" PYSOCK2_SANITIZE=address,undefined CFLAGS="$NO_WRAPV"
nm -D "$TMP"/asan/lib/python*/site-packages/pysock2/_pysock2*.so >"$TMP/symbols"
grep -q __asan_report "$TMP/symbols" && grep -q __ubsan_handle "$TMP/symbols" \
    || die "the extension is not instrumented"
suite="$(suite_dir)"
log "the whole suite under ASan+UBSan (PYTHONMALLOC=malloc)"
asan_rc=0
(
    cd "$suite"
    sanitizer_env gcc "$TMP/reports"  # reports to files: pytest's capture cannot swallow them
    # 2,000 calls per leak-test row: ASan is here for memory errors; the leak bounds are
    # held at 10,000 calls by the plain, free-threaded and debug-CPython runs.
    # 10 random state-machine sequences here: .ci/stateful.sh runs 100 under ASan+UBSan.
    PYSOCK2_STATEFUL_EXAMPLES="${PYSOCK2_STATEFUL_EXAMPLES:-10}" \
    PYSOCK2_LEAK_CALLS="${PYSOCK2_LEAK_CALLS:-2000}" \
        "$TMP/asan/bin/python" -m pytest -q -p no:cacheprovider tests
) >"$TMP/asan.log" 2>&1 || asan_rc=$?
tail -5 "$TMP/asan.log" >&2
reports="$(grep -cE "$SANITIZER_REPORT" "$TMP/asan.log" || true)"
sanitizer_reports "$TMP/reports" || reports=$((reports + 1))
if [ "$asan_rc" -ne 0 ] || [ "$reports" -ne 0 ]; then
    grep -nE '^(E  |FAILED|ERROR)' "$TMP/asan.log" | head -80 >&2 || true
    grep -nE -A30 "$SANITIZER_REPORT" "$TMP/asan.log" | head -120 >&2 || true
    die "ASan/UBSan run: pytest exit $asan_rc, $reports sanitizer report lines"
fi
log "ASan+UBSan: $(grep -E '[0-9]+ passed' "$TMP/asan.log" | tail -1); sanitizer reports: 0"

# ---- valgrind memcheck: a representative subset
log "valgrind memcheck: ${VALGRIND_TESTS[*]}"
make_venv "$PYTHON" "$TMP/plain"
install_pysock2 "$TMP/plain"
vg_rc=0
(
    cd "$suite"
    # PYTHONMALLOC=malloc: memcheck sees every object (pymalloc's arenas hide them and
    # trip its uninitialised-read checks). Leaks are test_leaks.py's job, not memcheck's.
    PYTHONMALLOC=malloc valgrind --tool=memcheck --error-exitcode=99 \
        --leak-check=no --track-origins=yes --num-callers=30 --trace-children=yes \
        --suppressions="$ROOT/.ci/valgrind-python.supp" \
        "$TMP/plain/bin/python" -m pytest -q -p no:cacheprovider "${VALGRIND_TESTS[@]}" \
        -k "not emfile"  # valgrind keeps descriptors of its own under a lowered RLIMIT_NOFILE
) >"$TMP/valgrind.log" 2>&1 || vg_rc=$?
tail -3 "$TMP/valgrind.log" >&2
errors="$(grep -E 'ERROR SUMMARY: [1-9]' "$TMP/valgrind.log" | head -5 || true)"
if [ "$vg_rc" -ne 0 ] || [ -n "$errors" ]; then
    grep -nE '^(E  |FAILED|ERROR)' "$TMP/valgrind.log" | head -80 >&2 || true
    grep -nE -B2 -A40 'Invalid (read|write)|uninitialised|Conditional jump|Syscall param|Invalid free|Mismatched' \
        "$TMP/valgrind.log" | head -150 >&2 || true
    die "valgrind: exit $vg_rc ${errors:+($errors)}"
fi
log "valgrind: $(grep -E '[0-9]+ passed' "$TMP/valgrind.log" | tail -1); $(grep -cE 'ERROR SUMMARY: 0 errors' "$TMP/valgrind.log") processes, 0 errors"
