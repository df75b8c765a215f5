"""``python -m pysock2``: ``--version``; ``info`` opens with a summary of the version,
platform, build, Python and GIL, then probes the running kernel (recvmmsg, UDP GSO and GRO,
SO_TIMESTAMPING, TCP_INFO: each yes or no with the reason), then prints the capability
table; ``info --json`` says the same to scripts; ``info | head`` ends without a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import pysock2
from pysock2 import Socket, _probes
from pysock2.__main__ import build_info, build_info_json, main
from pysock2._catalog import RENAMED

from conftest import child_python

PROBE_NAMES = ["recvmmsg", "UDP GSO", "UDP GRO", "SO_TIMESTAMPING", "TCP_INFO"]


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pysock2", *args],
        capture_output=True,
        text=True,
        **child_python(),
        **kwargs,
    )


def test_version():
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"pysock2 {pysock2.__version__}"


def test_info_starts_with_a_summary():
    lines = build_info(probes=[]).splitlines()
    assert lines[0] == f"pysock2 {pysock2.__version__}"
    labels = [line.split()[0] for line in lines[1:5]]
    assert labels == ["platform", "build", "Python", "GIL"]
    assert sys.version.split()[0] in lines[3]
    assert "_pysock2" in lines[2]


def test_info_lists_every_socket2_method_with_its_availability():
    table = build_info(probes=[])
    assert "  yes  send_to" in table
    assert "  yes  new" in table  # the constructor
    for line in table.splitlines():
        if line.startswith("  yes  "):
            name = RENAMED.get(line.split()[1], line.split()[1])
            assert name == "new" or hasattr(Socket, name), name
        elif line.startswith("   -   "):
            assert not hasattr(Socket, RENAMED.get(line.split()[1], line.split()[1]))


def test_info_shows_socket2_names_pysock2_spells_differently():
    table = build_info(probes=[])
    if hasattr(Socket, "sendfile_once"):
        assert "  yes  sendfile  (pysock2: sendfile_once)" in table


def test_info_lists_enum_members():
    table = build_info(probes=[])
    assert "Domain" in table and "IPV4" in table


class TestKernelProbes:
    """Each probe really tries the feature on loopback; on this machine they must agree
    with what the test suite itself observes."""

    def test_every_probe_answers_yes_or_no_with_a_reason(self):
        results = _probes.run_probes()
        assert [p.name for p in results] == PROBE_NAMES
        for p in results:
            assert isinstance(p.works, bool) and p.reason

    @pytest.mark.skipif(not hasattr(Socket, "send_gso"), reason="UDP GSO/GRO is Linux only")
    def test_gso_and_gro_work_on_linux_loopback(self):
        assert _probes.run_probe("UDP GSO").works
        gro = _probes.run_probe("UDP GRO")
        assert gro.works, gro.reason
        assert "coalesced" in gro.reason

    @pytest.mark.skipif(not hasattr(Socket, "tcp_info"), reason="no TCP_INFO here")
    def test_tcp_info(self):
        assert _probes.run_probe("TCP_INFO").works

    def test_recvmmsg_says_native_or_fallback(self):
        probe = _probes.run_probe("recvmmsg")
        assert probe.works == bool(pysock2._pysock2.BATCH_NATIVE)
        assert ("native" if probe.works else "fallback") in probe.reason

    def test_a_failing_probe_is_a_no_with_its_error(self, monkeypatch):
        def broken():
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(_probes, "PROBES", (("TCP_INFO", "fileno", "", broken),))
        [result] = _probes.run_probes()
        assert not result.works
        assert "PermissionError" in result.reason

    def test_a_build_without_the_method_is_a_no_that_says_so(self, monkeypatch):
        monkeypatch.setattr(_probes, "PROBES", (("UDP GSO", "no_such_method", "why", None),))
        [result] = _probes.run_probes()
        assert (result.works, result.reason) == (
            False,
            "this build has no Socket.no_such_method (why)",
        )

    def test_probes_appear_in_info(self):
        table = build_info(probes=[_probes.Probe("UDP GRO", False, "because")])
        assert "  UDP GRO  no   because" in table


def test_info_json_for_scripts():
    report = build_info_json()
    assert report["version"] == pysock2.__version__
    assert {"platform", "build", "python", "gil"} <= set(report)
    assert [p["name"] for p in report["probes"]] == PROBE_NAMES
    assert report["methods"]["io"]["send_to"] is True
    assert report["enums"]["Domain"]["IPV4"] is True
    json.dumps(report)  # plain data only


def test_info_runs_as_a_module():
    done = run_cli("info", check=True)
    assert done.stdout.startswith(f"pysock2 {pysock2.__version__}\n")
    assert "Kernel probes" in done.stdout and "capability table" in done.stdout
    assert json.loads(run_cli("info", "--json", check=True).stdout)["probes"]


def test_a_reader_that_goes_away_is_no_traceback():
    """``python -m pysock2 info | head -1``: the pipe closes before info has written."""
    child = subprocess.Popen(
        [sys.executable, "-m", "pysock2", "info"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **child_python(),
    )
    child.stdout.close()
    stderr = child.stderr.read()
    child.stderr.close()
    assert child.wait() == 0
    assert stderr == b""


def test_unknown_command_fails():
    result = run_cli("nonsense")
    assert result.returncode != 0


def test_main_prints_and_returns_zero(capsys):
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == pysock2.__version__
