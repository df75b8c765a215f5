#!/usr/bin/env bash
# The typed example (examples/typed_usage.py) against the README's development install:
# a fresh venv gets the README's first command verbatim (an editable install, which type
# checkers must be able to see through), then the example and tests/typecheck/ (the types
# checkers must infer, assert_type, and the mistakes they must reject) are checked with
# mypy --strict and pyright (strict, from each file's `# pyright: strict`) at the oldest and
# newest Python each supports, from a directory outside the checkout so that only the
# install can supply `pysock2`, with zero errors; then the example runs.
#
# pyright's PyPI wheel carries pyright's JavaScript (the npm package of the same version);
# it runs on the machine's Node.js (Debian's nodejs when there is none). Should a wheel
# without it be picked, it installs that npm package on first use, into PYSOCK2_CACHE.
NAME=typed-example
. "$(dirname "${BASH_SOURCE[0]}")/harden-lib.sh"

MYPY_VERSION=2.4.1
PYRIGHT_VERSION=1.1.414
EXAMPLE="$ROOT/examples/typed_usage.py"
CHECKED=("$EXAMPLE" "$ROOT/tests/typecheck")

command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
make_venv "$PYTHON" "$TMP/venv"
export PATH="$TMP/venv/bin:$PATH" PYRIGHT_PYTHON_CACHE_DIR="$CACHE/pyright"

log "README's development install, verbatim"
(
    cd "$ROOT"
    python -m pip install -e . && python -m pysock2 info
) >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; die "the README's install command"; }
python -m pip install -q "mypy==$MYPY_VERSION" "pyright==$PYRIGHT_VERSION" >"$TMP/pip.log" 2>&1 \
    || { cat "$TMP/pip.log" >&2; die "pip install mypy pyright"; }

cd "$TMP"
checked=()
for version in 3.10 3.13; do
    started=$SECONDS
    python -m mypy --strict --no-incremental --python-version "$version" "${CHECKED[@]}"
    checked+=("mypy $MYPY_VERSION --strict, Python $version: 0 errors in $((SECONDS - started)) s")
done
for version in 3.9 3.13; do
    started=$SECONDS
    python -m pyright --pythonversion "$version" "${CHECKED[@]}"
    checked+=("pyright $PYRIGHT_VERSION strict, Python $version: 0 errors in $((SECONDS - started)) s")
done
started=$SECONDS
python -X dev -W error "$EXAMPLE"
checked+=("the example ran in $((SECONDS - started)) s")
for line in "${checked[@]}"; do
    log "$line"
done
