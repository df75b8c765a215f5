"""``python -m pysock2 info`` prints the capability table of this platform and build."""
from __future__ import annotations

import subprocess
import sys

from pysock2 import Socket
from pysock2.__main__ import build_info

from conftest import child_python


def test_info_lists_every_socket2_method_with_its_availability():
    table = build_info()
    assert "  yes  send_to" in table
    assert "  yes  new" in table  # the constructor
    for line in table.splitlines():
        if line.startswith("  yes  "):
            name = line.split()[-1]
            assert name == "new" or hasattr(Socket, name), name
        elif line.startswith("   -   "):
            assert not hasattr(Socket, line.split()[-1])


def test_info_names_the_build():
    table = build_info()
    assert sys.version.split()[0] in table
    assert "GIL" in table


def test_info_lists_enum_members():
    assert "Domain" in build_info() and "IPV4" in build_info()


def test_info_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "pysock2", "info"], capture_output=True,
                         text=True, check=True, **child_python()).stdout
    assert out.startswith("pysock2 capability table")


def test_unknown_command_fails():
    result = subprocess.run([sys.executable, "-m", "pysock2", "nonsense"], capture_output=True,
                            **child_python())
    assert result.returncode != 0
