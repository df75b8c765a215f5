"""Every Python example in docs/asyncio.md runs as written and prints what it says."""

from __future__ import annotations

import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "asyncio.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
EXPECTED = [
    "b'ping 0'\nb'ping 1'\nb'ping 2'\n",  # the echo server
    "50 5000\n",  # datagrams_received
    "b'hello' True\n",  # cancellation consumes nothing
    "b'hello world\\n'\n",  # streams over into_stdlib()
]


def test_the_page_has_its_examples():
    assert len(EXAMPLES) == len(EXPECTED)


@pytest.mark.parametrize(
    "code, expected",
    list(zip(EXAMPLES, EXPECTED)),
    ids=[f"example-{i}" for i in range(len(EXPECTED))],
)
def test_example_runs(code, expected, capsys):
    exec(compile(code, str(DOC), "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out == expected
