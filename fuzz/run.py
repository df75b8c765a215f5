"""Runs one fuzz target under atheris (libFuzzer): ``python fuzz/run.py TARGET [libFuzzer
flags] [corpus dirs]``. Python code (pysock2's and the target's) is instrumented for
coverage; the C extension is built with ASan+UBSan by .ci/fuzz.sh, which also preloads the
sanitizer runtimes. A target that cannot run in this build (see targets.available) exits
0 after saying why."""

from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pysock2's Python layer and the targets' own branches are instrumented; the byte decoder
# (fuzzdata) is not: its branches carry no information and cost 5x the executions.
with atheris.instrument_imports(include=["pysock2", "targets"], exclude=["fuzzdata"]):
    import targets


def main() -> None:
    name = sys.argv.pop(1)
    if name == "--list":  # each target, a tab, and why this build cannot run it (or "")
        for target in targets.TARGETS:
            print(f"{target}\t{targets.available(target) or ''}")
        return
    why_not = targets.available(name)
    if why_not:
        print(f"fuzz target {name} skipped: {why_not}")
        return
    target = targets.TARGETS[name]
    atheris.Setup(sys.argv, target)
    try:
        atheris.Fuzz()
    finally:
        targets._close_sockets()


if __name__ == "__main__":
    main()
