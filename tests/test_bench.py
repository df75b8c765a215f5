"""The benchmark suite's plumbing (python -m pysock2 bench, bench/run.py): the report's shape
and arithmetic. Timings are never asserted: the figures belong to the machine."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pysock2 import _bench
from pysock2.__main__ import main as cli_main


def test_summarise_takes_medians_and_per_round_ratios():
    samples = {"a": [10.0, 30.0, 20.0], "b": [5.0, 10.0, 10.0]}
    result = _bench.summarise(samples, {"a_vs_b": ("a", "b")})
    assert result["ns"] == {"a": 20.0, "b": 10.0}
    assert result["ratios"]["a_vs_b"] == 2.0  # median of 2.0, 3.0, 2.0
    assert result["ratio_of_medians"]["a_vs_b"] == 2.0
    assert result["rounds"] == 3


def test_summarise_with_a_missing_implementation():
    result = _bench.summarise({"a": [1.0], "c": [None]}, {"a_vs_c": ("a", "c")})
    assert result["ns"]["c"] is None
    assert result["ratios"]["a_vs_c"] is None


def test_interleave_rotates_the_order():
    order = []
    runners = {name: (lambda name=name: order.append(name) or 1.0) for name in "xyz"}
    samples = _bench.interleave(3, runners)
    assert order == list("xyzxyzyzxzxy")  # a discarded warm-up round first
    assert samples == {name: [1.0] * 3 for name in "xyz"}


def test_bench_help_through_the_cli(capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["bench", "--help"])
    assert info.value.code == 0
    assert "--full" in capsys.readouterr().out


def test_bench_rejects_too_few_rounds():
    with pytest.raises(SystemExit):
        _bench.main(["--rounds", "2"])


def test_a_tiny_run_reports_every_workload_and_target(monkeypatch, tmp_path):
    tiny = {
        "rounds": 5,
        "rt_iters": 20,
        "batch_iters": 2,
        "gso_iters": 2,
        "import_runs": 5,
        "alloc_calls": 200,
    }
    monkeypatch.setitem(_bench.PROFILES, "tiny", tiny)
    out = tmp_path / "report.json"
    assert _bench.main(["--rounds", "5", "--output", str(out)], default_profile="tiny") == 0
    report = json.loads(out.read_text())
    assert set(report) >= {
        "machine",
        "settings",
        "roundtrip",
        "alloc",
        "batch",
        "gso",
        "import",
        "targets",
        "command",
    }
    assert report["settings"]["rounds"] == 5
    for name, (op, limit) in _bench.TARGETS.items():
        assert report["targets"][name]["target"] == f"{op} {limit}"
    assert report["alloc"]["pysock2.recv_from_into.new_sockaddrs"] == 1
    assert report["import"]["pysock2_imported_from"].endswith("__init__.py")


def tiny_report(**targets_met) -> dict:
    """A report of the shape run() returns, with chosen verdicts."""
    ns = {"stdlib": 4000.0, "pysock2": 3500.0, "c": 3300.0}
    targets = {
        key: {"value": 1.0, "target": f"{op} {limit}", "met": True}
        for key, (op, limit) in _bench.TARGETS.items()
    }
    targets["zero_allocation"] = {"met": True}
    for key, met in targets_met.items():
        targets[key]["met"] = met
    return {
        "profile": "quick",
        "settings": {"rounds": 5},
        "seconds": 1.0,
        "machine": {
            "python": "CPython 3.x",
            "platform": "Linux",
            "cpus": 2,
            "load_average_at_start": [0.1],
            "c_reference": "cc -O2",
        },
        "roundtrip": {"ns": ns},
        "batch": {"ns": ns},
        "gso": {"ns": {"stdlib_loop": 4000.0, "pysock2_gso": 200.0, "c_loop": 3500.0}},
        "import": {"default": {"import_only_ms": {"socket": 2.0, "pysock2": 1.5}}},
        "targets": targets,
    }


def test_the_table_shows_every_workload_and_every_target():
    table = _bench.format_table(tiny_report(batch_pysock2_vs_c=False))
    assert "roundtrip: send + recv_into" in table and "3,500" in table
    for key in _bench.TARGETS:
        assert key in table
    assert "batch_pysock2_vs_c" in [
        line.split()[0] for line in table.splitlines() if line.endswith("MISSED")
    ]


def test_missed_targets_are_the_measured_misses():
    assert _bench.missed_targets(tiny_report()) == []
    report = tiny_report(import_pysock2_vs_socket=False, batch_pysock2_vs_c=None)
    assert _bench.missed_targets(report) == ["import_pysock2_vs_socket"]  # None: unmeasured


@pytest.mark.parametrize("met, status", [(True, 0), (False, 1)])
def test_check_exits_non_zero_when_a_target_is_missed(monkeypatch, capsys, met, status):
    monkeypatch.setattr(
        _bench, "run", lambda profile, rounds: tiny_report(roundtrip_pysock2_vs_c=met)
    )
    assert _bench.main(["--check"]) == status
    assert _bench.main([]) == 0  # without --check a miss is only reported
    out = capsys.readouterr().out
    assert out.startswith("pysock2 bench:")


def test_json_prints_the_whole_report(monkeypatch, capsys):
    monkeypatch.setattr(_bench, "run", lambda profile, rounds: tiny_report())
    assert _bench.main(["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["targets"]["zero_allocation"] == {"met": True}
    assert report["command"] == "python -m pysock2 bench --json"


@pytest.mark.skipif(_bench.source_dir() is None, reason="needs the source checkout's bench/")
def test_bench_run_script_help():
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--help"],
        capture_output=True,
        text=True,
        cwd=_bench.source_dir() + "/..",
    )
    assert done.returncode == 0 and "python bench/run.py" in done.stdout
