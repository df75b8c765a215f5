#!/usr/bin/env python3
"""The full pysock2 benchmark suite, from a source checkout, in one command:

    python bench/run.py [--rounds N] [--output results.json]

Builds the extension in place first if it is not built, compiles the C reference loops
(bench/ref_udp.c) with the system compiler into a temporary directory, runs every workload
interleaved (stdlib, pysock2, C) and prints a table (`--json`: the whole report as one JSON
document; `--check`: exit 1 when a target is missed). `python -m pysock2 bench`
is the short version. docs/performance.md explains the workloads and the figures.
"""

import os
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# Look for this checkout's own build (an import could find another installed pysock2's).
EXTENSION = os.path.join(ROOT, "pysock2", "_pysock2" + sysconfig.get_config_var("EXT_SUFFIX"))
if not os.path.exists(EXTENSION):
    print("bench/run.py: building pysock2 in place ...", file=sys.stderr)
    subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace", "-q"],
        cwd=ROOT,
        check=True,
        stdout=sys.stderr,
    )  # stdout carries only the report

from pysock2._bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default_profile="full", prog="python bench/run.py"))
