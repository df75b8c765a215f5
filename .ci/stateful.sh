#!/usr/bin/env bash
# The long run of tests/test_stateful.py (random call sequences over the whole public
# surface with hostile arguments) against an ASan+UBSan build of pysock2: the suite runs
# 30 sequences; this runs PYSOCK2_STATEFUL_EXAMPLES (default 100) of up to 40 steps, with
# a fresh random seed each time. Fails on a failing sequence (hypothesis prints it, shrunk)
# and on any sanitizer report. Prints sequences, steps and duration.
#
#   PYSOCK2_STATEFUL_EXAMPLES=1000 PYTHON=python3.11 .ci/stateful.sh
NAME=stateful
. "$(dirname "${BASH_SOURCE[0]}")/harden-lib.sh"
. "$ROOT/.ci/sanitizer-env.sh"

EXAMPLES="${PYSOCK2_STATEFUL_EXAMPLES:-100}"
apt_install gcc libc6-dev
make_venv "$PYTHON" "$TMP/asan"
install_pysock2 "$TMP/asan" PYSOCK2_SANITIZE=address,undefined CFLAGS="$NO_WRAPV"
suite="$(suite_dir)"
log "$EXAMPLES sequences under ASan+UBSan"
rc=0
(
    cd "$suite"
    sanitizer_env gcc "$TMP/reports"
    PYSOCK2_STATEFUL_EXAMPLES="$EXAMPLES" "$TMP/asan/bin/python" -m pytest -q -s \
        -p no:cacheprovider tests/test_stateful.py
) >"$TMP/stateful.log" 2>&1 || rc=$?
grep -E '^\[test_stateful\]' "$TMP/stateful.log" >&2 || true
if [ "$rc" -ne 0 ] || ! sanitizer_reports "$TMP/reports"; then
    tail -80 "$TMP/stateful.log" >&2
    die "stateful run: pytest exit $rc"
fi
log "$(grep -E '[0-9]+ passed' "$TMP/stateful.log" | tail -1); sanitizer reports: 0"
