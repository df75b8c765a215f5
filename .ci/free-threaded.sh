#!/usr/bin/env bash
# pysock2 on free-threaded CPython 3.13t: build (or reuse) the interpreter, install
# pysock2 and its test dependencies into a venv, check that importing pysock2 leaves the
# GIL disabled (the extension declares Py_MOD_GIL_NOT_USED; a module that does not makes
# CPython re-enable the GIL with a RuntimeWarning), then run the whole suite there,
# tests/test_threads.py included, from outside the source tree.
#
# The interpreter is cached in $PYSOCK2_CACHE/python-3.13t (built from Debian trixie's
# python3.13 source, ~3 min on 2 cores; see harden-lib.sh).
NAME=free-threaded
. "$(dirname "${BASH_SOURCE[0]}")/harden-lib.sh"

PY="$(build_cpython freethreaded)"
"$PY" -c 'import sys, sysconfig
assert sysconfig.get_config_var("Py_GIL_DISABLED") == 1, "not a free-threaded build"
assert not sys._is_gil_enabled()' || die "$PY is not a free-threaded CPython"

make_venv "$PY" "$TMP/venv"
PYSOCK2_INSTALL_EXTRAS=0 install_pysock2 "$TMP/venv"
VPY="$TMP/venv/bin/python"

log "import pysock2 must not re-enable the GIL"
# PYTHON_GIL unset: the interpreter decides from the modules' Py_mod_gil slots alone;
# -W error turns CPython's "GIL has been enabled" RuntimeWarning into a failure.
(cd "$TMP" && env -u PYTHON_GIL "$VPY" -W error -X dev -) <<'PY' || die "importing pysock2 enabled the GIL"
import importlib, pkgutil, sys
assert not sys._is_gil_enabled(), "the GIL is on before importing pysock2"
import pysock2
for info in pkgutil.iter_modules(pysock2.__path__, "pysock2."):
    if info.name != "pysock2.__main__":
        importlib.import_module(info.name)
for name in pysock2.__all__:
    getattr(pysock2, name)
assert not sys._is_gil_enabled(), "importing pysock2 re-enabled the GIL"
print("[free-threaded] GIL still disabled after importing", sorted(m for m in sys.modules if m.startswith("pysock2")))
PY
assert_installed_copy "$VPY"
suite="$(suite_dir)"
log "the whole suite on $("$VPY" -VV | head -1)"
(cd "$suite" && env -u PYTHON_GIL "$VPY" -m pytest -q -p no:cacheprovider tests \
    -W "error:The global interpreter lock:RuntimeWarning") \
    || die "the suite failed on the free-threaded build"
(cd "$TMP" && env -u PYTHON_GIL "$VPY" -c 'import sys, pysock2; assert not sys._is_gil_enabled()')
