#!/usr/bin/env bash
# The formatting and lint gate: csrc/ matches .clang-format, the Python code passes ruff's
# checks and is ruff-formatted ([tool.ruff] in pyproject.toml), and codespell finds no
# misspelling (.codespellrc). The tools are pinned in .ci/lint-requirements.txt and installed
# in a venv of their own, so the project's environment is not touched.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${PYSOCK2_LINT_VENV:-${TMPDIR:-/tmp}/pysock2-lint-venv}

log() { echo "[lint] $*"; }

if [ ! -x "$VENV/bin/ruff" ] || ! cmp -s "$ROOT/.ci/lint-requirements.txt" "$VENV/requirements.txt"; then
    python3 -m venv --clear "$VENV"
    "$VENV/bin/python" -m pip install -q -r "$ROOT/.ci/lint-requirements.txt"
    cp "$ROOT/.ci/lint-requirements.txt" "$VENV/requirements.txt"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"

log "clang-format $(clang-format --version | grep -o '[0-9][0-9.]*' | head -1): csrc/*.c csrc/*.h"
clang-format --dry-run --Werror csrc/*.c csrc/*.h
log "ruff check"
ruff check --no-cache .
log "ruff format --check"
ruff format --no-cache --check .
log "codespell"
codespell
log "all clean"
