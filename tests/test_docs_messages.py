"""Every Python example in docs/messages.md runs as written."""
from __future__ import annotations

import pathlib
import re
import sys

import pytest


DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "messages.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_page_has_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="the examples use Linux control messages and os.fork")
@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_example_runs(code, capsys):
    exec(compile(code, str(DOC), "exec"), {"__name__": "__docs__"})
