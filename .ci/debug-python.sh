#!/usr/bin/env bash
# The whole suite on a debug CPython 3.13 (--with-pydebug): the C API's own assertions
# run (an exception set while a value is returned, a negative refcount, a bad argument to
# a macro), and tests/test_leaks.py also holds sys.gettotalrefcount() flat over 10,000
# calls of every public method. The interpreter is cached in $PYSOCK2_CACHE/python-3.13d.
NAME=debug-python
. "$(dirname "${BASH_SOURCE[0]}")/harden-lib.sh"

PY="$(build_cpython debug)"
"$PY" -c 'import sys; assert hasattr(sys, "gettotalrefcount")' || die "$PY is not a debug build"
make_venv "$PY" "$TMP/venv"
PYSOCK2_INSTALL_EXTRAS=0 install_pysock2 "$TMP/venv"
VPY="$TMP/venv/bin/python"
assert_installed_copy "$VPY"
suite="$(suite_dir)"
log "the whole suite on $("$VPY" -VV | head -1) (refcount checks in test_leaks.py)"
# 10 random state-machine sequences (the stateful step runs 100 under ASan+UBSan); no
# signal storms: 20,000 Python handler calls a second cost a debug interpreter minutes,
# and they run under both sanitizers, free-threaded and on the oldest and newest CPython.
(cd "$suite" && PYSOCK2_STATEFUL_EXAMPLES="${PYSOCK2_STATEFUL_EXAMPLES:-10}" \
    "$VPY" -X dev -m pytest -q -p no:cacheprovider tests --ignore=tests/test_signals.py) \
    || die "the suite failed on the debug build"
