# shellcheck shell=bash
# The test suite run against an installed pysock2 (a wheel, or a build for another
# interpreter); sourced by harden-lib.sh and wheel-check.sh. Needs ROOT (the checkout) and
# TMP (a scratch directory) set by the caller.

# suite_dir: a directory holding a copy of tests/ and what the tests read beside it (the
# pytest configuration, docs/ and examples/ which run, fuzz/ whose saved inputs replay, the
# root pages whose links and version the docs tests check) but no pysock2/, so that
# `import pysock2` can only find the installed package. Prints its path.
suite_dir() {
    local dir="$TMP/suite" item
    rm -rf "$dir"
    mkdir -p "$dir"
    for item in tests pyproject.toml docs fuzz examples README.md SECURITY.md CONTRIBUTING.md CHANGELOG.md; do
        [ -e "$ROOT/$item" ] && cp -r "$ROOT/$item" "$dir/"
    done
    find "$dir" -name __pycache__ -prune -exec rm -rf {} +
    echo "$dir"
}

# assert_installed_copy VENV_PYTHON: fails unless pysock2 is imported from the venv.
assert_installed_copy() {
    (cd "$TMP" && "$1" -) <<'PY'
import os, sys, pysock2
where = os.path.realpath(pysock2.__file__)
prefix = os.path.realpath(sys.prefix)
assert where.startswith(prefix), f"pysock2 imported from {where}, not from {prefix}"
PY
}
