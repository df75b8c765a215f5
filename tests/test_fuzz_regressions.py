"""Every input saved under fuzz/regressions/<target>/ replayed through its fuzz target
(fuzz/targets.py): the seeds that start each fuzzing run and every input that ever made
a target fail. .ci/fuzz.sh saves a failing input there; the fix keeps this test green.
A target returns normally for every input (documented exceptions are caught inside)."""

from __future__ import annotations

import importlib
import pathlib
import sys

import pytest

FUZZ = pathlib.Path(__file__).resolve().parent.parent / "fuzz"
if not (FUZZ / "targets.py").exists():
    pytest.skip(
        "fuzz/ is not next to tests/ (an installed test copy without it)", allow_module_level=True
    )

sys.path.insert(0, str(FUZZ))
try:
    targets = importlib.import_module("targets")
finally:
    sys.path.remove(str(FUZZ))

INPUTS = sorted((FUZZ / "regressions").glob("*/*"))


def test_every_saved_input_belongs_to_a_target() -> None:
    assert INPUTS, "the seed inputs are missing"
    assert {p.parent.name for p in INPUTS} <= set(targets.TARGETS)


@pytest.mark.parametrize("path", INPUTS, ids=[f"{p.parent.name}/{p.name}" for p in INPUTS])
def test_saved_input_replays_cleanly(path: pathlib.Path) -> None:
    why_not = targets.available(path.parent.name)
    if why_not:
        pytest.skip(why_not)
    try:
        targets.TARGETS[path.parent.name](path.read_bytes())
    finally:
        targets._close_sockets()
