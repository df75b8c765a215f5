#!/usr/bin/env bash
# The whole test suite on every CPython from 3.9 to 3.13 found on this machine: for each,
# a fresh venv gets `pip install ".[test]"` (built with -Werror) and pytest runs from a
# directory outside the source tree, so `import pysock2` can only find the installed copy.
#
# An interpreter is looked up as pyenv's ~/.pyenv/versions/3.X.* (newest patch release,
# not the free-threaded "t" builds), then as python3.X on PATH (Debian's python3.11).
# A version that is not found is reported loudly in the summary; it fails the run only
# with PYSOCK2_REQUIRE_ALL_VERSIONS=1 (a fresh Debian 12 has 3.11 alone, and CI may reach
# only PyPI and Debian). Any version that is found and fails fails the run.
NAME=version-matrix
. "$(dirname "${BASH_SOURCE[0]}")/harden-lib.sh"

VERSIONS=(${PYSOCK2_VERSIONS:-3.9 3.10 3.11 3.12 3.13})
# tests/test_leaks.py makes 1,000 calls per row here (10,000 in the main, free-threaded,
# debug-CPython runs): five interpreters at 10,000 would take 8 minutes for little more.
export PYSOCK2_LEAK_CALLS="${PYSOCK2_LEAK_CALLS:-1000}"
PYENV_VERSIONS="${PYENV_ROOT:-$HOME/.pyenv}/versions"

find_python() {
    local v="$1" candidate
    candidate="$(ls -d "$PYENV_VERSIONS/$v".* 2>/dev/null | grep -E "/$v\.[0-9]+$" | sort -V | tail -1 || true)"
    if [ -n "$candidate" ] && [ -x "$candidate/bin/python" ]; then
        echo "$candidate/bin/python"
        return
    fi
    command -v "python$v" 2>/dev/null || true
}

suite="$(suite_dir)"
passed=() failed=() missing=()
for v in "${VERSIONS[@]}"; do
    py="$(find_python "$v")"
    if [ -z "$py" ]; then
        missing+=("$v")
        log "!!!!! CPython $v NOT FOUND (looked in $PYENV_VERSIONS/$v.* and for python$v on PATH) !!!!!"
        continue
    fi
    started=$SECONDS
    label="$("$py" -c 'import platform; print(platform.python_version())')"
    log "CPython $label ($py)"
    make_venv "$py" "$TMP/venv-$v"
    install_pysock2 "$TMP/venv-$v"
    assert_installed_copy "$TMP/venv-$v/bin/python"
    # The random state machine and the signal storms (about a third of the suite's time)
    # run on the oldest and the newest version here, and under both sanitizers, debug and
    # free-threaded CPython; between those two versions nothing they exercise changes.
    skip=()
    if [ "$v" != "${VERSIONS[0]}" ] && [ "$v" != "${VERSIONS[-1]}" ]; then
        skip=(--ignore=tests/test_stateful.py --ignore=tests/test_signals.py)
    fi
    if (cd "$suite" && "$TMP/venv-$v/bin/python" -m pytest -q -p no:cacheprovider tests "${skip[@]}" \
            >"$TMP/pytest-$v.log" 2>&1); then
        passed+=("$label: $(grep -E '[0-9]+ passed' "$TMP/pytest-$v.log" | tail -1) [$((SECONDS - started)) s]")
    else
        tail -40 "$TMP/pytest-$v.log" >&2
        failed+=("$label: $(tail -1 "$TMP/pytest-$v.log")")
    fi
    rm -rf "$TMP/venv-$v"
done

for line in "${passed[@]}"; do log "PASSED  $line"; done
for line in "${failed[@]}"; do log "FAILED  $line"; done
for v in "${missing[@]}"; do log "MISSING CPython $v: not tested"; done
[ "${#failed[@]}" -eq 0 ] || die "the suite failed on ${#failed[@]} version(s)"
[ "${#passed[@]}" -gt 0 ] || die "no CPython 3.9-3.13 found at all"
if [ "${#missing[@]}" -gt 0 ] && [ "${PYSOCK2_REQUIRE_ALL_VERSIONS:-0}" = 1 ]; then
    die "missing: ${missing[*]} (PYSOCK2_REQUIRE_ALL_VERSIONS=1)"
fi
