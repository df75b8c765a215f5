"""The documentation runs and agrees with itself (README.md, SECURITY.md, CONTRIBUTING.md,
CHANGELOG.md, docs/*.md).

Code blocks (the convention is in README.md, "Writing the docs"):

* ```` ```python ```` is a complete program: it runs, in a fresh interpreter, and must exit
  cleanly without a warning on stderr (an unclosed socket's ``ResourceWarning``).
* ```` ```python fragment ```` is a piece of a larger program: it only has to compile.
* ```` ```sh ```` (or ``console``/``bash``) is shell commands: a block whose commands are all
  ``python -m pysock2 ...`` runs, each must exit 0; any other must be marked.
* ```` ```text ````, ```` ```json ```` ... are output or data, never run.
* A block is marked not to run by a ``fragment`` word after its language, or by an HTML
  comment ``<!-- not run: why -->`` on the line before it. A block with no language is an
  error: nobody can tell what it is.
* ``linux`` or ``unix`` after the language runs the block on those platforms only.

Links: every relative link ``[text](path#anchor)`` names a file of the repository and a
heading of it; a code span that looks like a repository path (``bench/run.py``) must exist.

Figures: the benchmark figures quoted in README.md, docs/performance.md and
``python -m pysock2 bench --help`` agree with each other and with docs/performance.json.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    path
    for path in [
        ROOT / "README.md",
        ROOT / "SECURITY.md",
        ROOT / "CONTRIBUTING.md",
        ROOT / "CHANGELOG.md",
        *ROOT.glob("docs/*.md"),
    ]
    if path.exists()
)
# A source checkout, as opposed to the copy of tests/ and docs/ that wheel and sanitizer
# runs test against: only there can links into csrc/, bench/, ... be checked.
SOURCE_CHECKOUT = (ROOT / "setup.py").exists() and (ROOT / "csrc").is_dir()

PYTHON = {"python", "py"}
SHELL = {"sh", "bash", "console", "shell"}
PLATFORM_TAGS = {"linux": sys.platform.startswith("linux"), "unix": sys.platform != "win32"}
# Pages whose examples all need a platform, as if each block carried the tag.
PAGE_PLATFORMS = {"messages.md": "linux"}  # Linux control messages and os.fork
# Examples known to fail, fixed by another change (findings.md): keyed by the block's text
# (sha256, 12 digits), so an entry stops applying as soon as the block is rewritten. Delete
# entries that no block matches any more.
KNOWN_BROKEN = {
    "ef1e897a75ef": ("docs/batch.md: `handle` is undefined; the server loops forever", False),
    "6595bf635835": ("docs/batch.md: `sock`, `handle` and `pysock2` are undefined", True),
}
# Paths that another change's pages still name and that are gone (tests/test_docs_messages.py
# became this file). Delete an entry once no page names the path.
KNOWN_DEAD = {("messages.md", "tests/test_docs_messages.py")}


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, from 1
    lang: str
    tags: set[str]
    code: str
    not_run: str | None = None  # the reason given in a <!-- not run: ... --> comment
    id: str = field(init=False)

    def __post_init__(self) -> None:
        self.id = f"{self.page.name}:{self.line}"

    @property
    def marked(self) -> bool:
        return "fragment" in self.tags or self.not_run is not None


FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`]*)$")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.*?)\s*-->$")


def blocks_of(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, info = match.group(1), match.group(2).split()
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        before = next((line.strip() for line in reversed(lines[:start]) if line.strip()), "")
        comment = NOT_RUN.match(before)
        found.append(
            Block(
                page,
                start + 1,
                info[0] if info else "",
                set(info[1:]),
                "\n".join(body) + "\n",
                comment.group(1) if comment else None,
            )
        )
    return found


BLOCKS = [block for page in PAGES for block in blocks_of(page)]


def shell_commands(block: Block) -> list[str]:
    commands = []
    for line in block.code.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        line = re.sub(r"\s+#.*$", "", line)
        if line and not line.startswith("#"):
            commands.append(line)
    return commands


def _needs(block: Block) -> str | None:
    for tag in block.tags | {PAGE_PLATFORMS.get(block.page.name, "")}:
        if tag in PLATFORM_TAGS and not PLATFORM_TAGS[tag]:
            return tag
    return None


def _params(kind: str):
    params = []
    for block in BLOCKS:
        runnable = block.lang in PYTHON and not block.marked
        if kind == "python" and not runnable:
            continue
        if kind == "shell" and (block.lang not in SHELL or block.marked):
            continue
        marks = []
        broken = KNOWN_BROKEN.get(hashlib.sha256(block.code.encode()).hexdigest()[:12])
        if broken and kind == "python":
            reason, run = broken
            marks.append(pytest.mark.xfail(reason=reason, run=run, strict=True))
        params.append(pytest.param(block, id=block.id, marks=marks))
    return params


def test_the_pages_have_examples():
    assert sum(block.lang in PYTHON for block in BLOCKS) >= 8


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in BLOCKS])
def test_every_block_says_what_it_is(block):
    assert block.lang, f"{block.id}: a code block needs a language (```python, ```text, ...)"
    if block.not_run is not None:
        assert block.not_run, f"{block.id}: <!-- not run: --> needs a reason"
    if block.lang in PYTHON:  # fragments too must at least be Python
        compile(block.code, block.id, "exec")
    if block.lang in SHELL and not block.marked:
        others = [c for c in shell_commands(block) if not c.startswith("python -m pysock2")]
        assert not others, (
            f"{block.id}: runs only `python -m pysock2` commands; mark the block "
            f"(```sh fragment or <!-- not run: why -->) for {others}"
        )


@pytest.mark.parametrize("block", _params("python"))
def test_python_example_runs(block, tmp_path):
    platform = _needs(block)
    if platform:
        pytest.skip(f"the example needs {platform}")
    script = tmp_path / "example.py"
    script.write_text(block.code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-X", "dev", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{block.id} failed:\n{done.stderr}"
    assert "Warning" not in done.stderr, f"{block.id} warned:\n{done.stderr}"


@pytest.mark.parametrize("block", _params("shell"))
def test_shell_example_runs(block, tmp_path):
    platform = _needs(block)
    if platform:
        pytest.skip(f"the example needs {platform}")
    for command in shell_commands(block):
        # Through the shell (a pipe to `head` is a fair example), with this interpreter as
        # `python`.
        line = re.sub(
            r"(^|[|&;(]\s*)python(?=\s)",
            lambda m: m.group(1) + shlex.quote(sys.executable),
            command,
        )
        done = subprocess.run(
            line, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{block.id}: {command} failed:\n{done.stderr}"
        assert "Traceback" not in done.stderr, f"{block.id}: {command}:\n{done.stderr}"


EXAMPLE_PROGRAMS = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("program", EXAMPLE_PROGRAMS, ids=[p.name for p in EXAMPLE_PROGRAMS])
def test_example_program_runs(program, tmp_path):
    """examples/*.py (.ci/typed-example.sh also type-checks typed_usage.py)."""
    done = subprocess.run(
        [sys.executable, "-X", "dev", str(program)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{program.name} failed:\n{done.stderr}"
    assert "Warning" not in done.stderr, f"{program.name} warned:\n{done.stderr}"


def test_the_readme_commands_are_what_ci_runs():
    """The README's install-and-test commands are not run here (they install): CI runs
    them verbatim, which this checks."""
    readme = ROOT / "README.md"
    if not (readme.exists() and SOURCE_CHECKOUT):
        pytest.skip("needs the source checkout")
    ci = "\n".join(path.read_text() for path in sorted((ROOT / ".ci").iterdir()) if path.is_file())
    commands = [c for b in blocks_of(readme) if b.lang in SHELL for c in shell_commands(b)]
    assert commands
    for command in commands:
        assert command in ci, f"README's `{command}` is not what .ci/ runs"


# ---------------------------------------------------------------- links


def github_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped,
    spaces to hyphens, -1, -2, ... for repeats."""
    anchors: set[str] = set()
    inside_fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            inside_fence = not inside_fence
        if inside_fence or not line.startswith("#"):
            continue
        text = line.lstrip("#").strip()
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text only
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def _prose(page: Path) -> str:
    """The page without its code blocks (a link in an example is not a link)."""
    return re.sub(
        r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1\s*$",
        "",
        page.read_text(encoding="utf-8"),
        flags=re.S | re.M,
    )


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REPO_PATH = re.compile(r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|c|h|md|json|toml|sh|yml|yaml|txt|in))`")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_links_and_anchors_resolve(page):
    dead = []
    for target in LINK.findall(_prose(page)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if ROOT not in resolved.parents and resolved != ROOT:
            dead.append(f"{target}: outside the repository")
            continue
        if not resolved.exists():
            if SOURCE_CHECKOUT or resolved.parent == page.parent:
                dead.append(f"{target}: no such file")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in github_anchors(resolved):
            dead.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert dead == []


@pytest.mark.skipif(not SOURCE_CHECKOUT, reason="needs the source checkout")
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_repository_paths_named_in_code_spans_exist(page):
    missing = {
        path
        for path in REPO_PATH.findall(_prose(page))
        if not (ROOT / path).exists() and not (page.parent / path).exists()
    }
    known = {path for name, path in KNOWN_DEAD if name == page.name}
    assert missing <= known


@pytest.mark.skipif(not SOURCE_CHECKOUT, reason="needs the source checkout")
def test_contributing_maps_every_source_file():
    """CONTRIBUTING.md's file map has one row per file of csrc/ and pysock2/, and no row for
    a file that is gone: a file added, moved or removed changes the map in the same commit."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    first_cells = re.findall(r"^\| (`[^|]+`) \|", text, re.M)
    mapped = {name for cell in first_cells for name in re.findall(r"`([^`]+)`", cell)}
    files = {
        p.name
        for p in [
            *ROOT.glob("csrc/*.[ch]"),
            *ROOT.glob("pysock2/*.py"),
            *ROOT.glob("pysock2/*.pyi"),
        ]
    }
    assert {"missing": files - mapped, "stale": mapped - files} == {
        "missing": set(),
        "stale": set(),
    }


def test_the_anchor_rule_matches_github():
    page = ROOT / "docs" / "options.md"
    if not page.exists():
        pytest.skip("docs/ not copied")
    assert "beyond-socket2" in github_anchors(page)


# ---------------------------------------------------------------- figures

RESULTS = ROOT / "docs" / "performance.json"
PERFORMANCE = ROOT / "docs" / "performance.md"
README = ROOT / "README.md"


def _runs() -> list[dict]:
    return json.loads(RESULTS.read_text())["runs"]


def _across_runs(path: str) -> tuple[float, float, float]:
    """The median, minimum and maximum of one figure over the recorded runs."""
    values = []
    for run in _runs():
        value = run
        for key in path.split("/"):
            value = value[key]
        values.append(value)
    return statistics.median(values), min(values), max(values)


def _figure(text: str, pattern: str) -> str:
    match = re.search(pattern, text, re.S)
    assert match, f"the figure {pattern!r} is not quoted any more: update tests/test_docs.py"
    return match.group(1)


def _agrees(quoted: str, value: float) -> bool:
    """`quoted` is `value` rounded (half up) to as many decimals as it shows."""
    decimals = len(quoted.partition(".")[2])
    return abs(float(quoted) - value) <= 0.5 * 10**-decimals + 1e-9


# (json path, README pattern, docs/performance.md pattern): the headline ratios.
RATIOS = [
    (
        "roundtrip/ratios/stdlib_vs_pysock2",
        r"`recv_into` \| ([\d.]+)x faster",
        r"stdlib / pysock2 \*\*([\d.]+)\*\* \[",
    ),
    (
        "roundtrip/ratios/pysock2_vs_c",
        r"([\d.]+)x the C loop's time",
        r"\| pysock2 / C \*\*([\d.]+)\*\* \[",
    ),
    (
        "batch/ratios/stdlib_vs_pysock2",
        r"`recv_batch` \(64 B\) \| ([\d.]+)x faster",
        r"`recv_batch`.*?stdlib / pysock2 \*\*([\d.]+)\*\*",
    ),
    (
        "batch/ratios/pysock2_vs_c",
        r"\| ([\d.]+)x `sendmmsg`\+`recvmmsg`",
        r"`recv_batch`.*?pysock2 / C \*\*([\d.]+)\*\*",
    ),
    ("gso/ratios/stdlib_loop_vs_pysock2", r"`recv_gro_into` \| ([\d.]+)x faster", None),
    (
        "gso/ratios/c_loop_vs_pysock2",
        r"\| ([\d.]+)x faster than C sending one",
        r"C one-per-call / pysock2 \*\*([\d.]+)\*\*",
    ),
    (
        "import/default/ratio",
        r"`import socket` \| ([\d.]+)x the time",
        r"pysock2 / socket \*\*([\d.]+)\*\*",
    ),
    ("import/no_site/ratio", r"\(([\d.]+)x with `-S`\)", r"`-S` \*\*([\d.]+)\*\*"),
]


@pytest.mark.parametrize("path,in_readme,in_performance", RATIOS, ids=[r[0] for r in RATIOS])
def test_quoted_ratios_are_the_recorded_medians(path, in_readme, in_performance):
    if not RESULTS.exists():
        pytest.skip("docs/ not copied")
    median, low, high = _across_runs(path)
    if README.exists():
        quoted = _figure(README.read_text(), in_readme)
        assert _agrees(quoted, median), f"README says {quoted}, the runs' median is {median}"
    if in_performance:
        text = PERFORMANCE.read_text()
        quoted = _figure(text, in_performance)
        assert _agrees(quoted, median), f"performance.md says {quoted}, median {median}"
        first, _, last = _figure(
            text, re.escape(f"**{quoted}**") + r" \[([\d.]+-[\d.]+)\]"
        ).partition("-")
        assert _agrees(first, low) and _agrees(last, high), (
            f"performance.md's range [{first}-{last}] is not the runs' [{low}-{high}]"
        )


def _bench_help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pysock2", "bench", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bench_durations_agree():
    """How long `python bench/run.py` (the full profile) and `python -m pysock2 bench`
    (the short one) take: the same figure wherever it is quoted, and the full one near
    what the recorded runs took."""
    full, short = set(), set()
    help_text = _bench_help()
    full.add(_figure(help_text, r"--full\s+the full run \(~(\d+) s\)"))
    short.add(_figure(help_text, r"--quick\s+the short run \(~(\d+) s\)"))
    if README.exists():
        full.add(_figure(README.read_text(), r"`python bench/run.py`[^.]*?about (\d+) s"))
    if PERFORMANCE.exists():
        text = PERFORMANCE.read_text()
        full.add(_figure(text, r"python bench/run\.py +# full: ~(\d+) s"))
        short.add(_figure(text, r"python -m pysock2 bench +# short: ~(\d+) s"))
        short.add(_figure(text, r"is the short version \(\d+ rounds, ~(\d+) s\)"))
    assert len(full) == 1 and len(short) == 1, (full, short)
    if RESULTS.exists():
        recorded = _across_runs("seconds")[0]
        assert 0.67 * recorded <= int(full.pop()) <= 1.5 * recorded


def test_round_counts_agree():
    from pysock2 import _bench

    if not PERFORMANCE.exists():
        pytest.skip("docs/ not copied")
    text = PERFORMANCE.read_text()
    assert int(_figure(text, r"short version \((\d+) rounds")) == _bench.PROFILES["quick"]["rounds"]
    assert (
        int(_figure(text, r"\((\d+) rounds for a full run\)")) == _bench.PROFILES["full"]["rounds"]
    )
    assert {run["settings"]["rounds"] for run in _runs()} == {_bench.PROFILES["full"]["rounds"]}
