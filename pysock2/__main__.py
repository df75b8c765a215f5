"""``python -m pysock2``: ``info`` says what this platform, build and running kernel offer;
``bench`` measures pysock2 against the stdlib and C; ``--version``."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any, Iterable

from . import _catalog, _enums
from ._socket import Socket

# Rust's Socket::new is the Python constructor, always present.
_ALWAYS = {"new"}


def _has(name: str) -> bool:
    return name in _ALWAYS or hasattr(Socket, _catalog.RENAMED.get(name, name))


def _section(title: str, names: Iterable[str], out: list[str]) -> tuple[int, int]:
    names = sorted(names)
    present = [n for n in names if _has(n)]
    out.append(f"\n{title}: {len(present)} of {len(names)}")
    for name in names:
        renamed = f"  (pysock2: {_catalog.RENAMED[name]})" if name in _catalog.RENAMED else ""
        out.append(f"  {'yes' if _has(name) else ' - '}  {name}{renamed}")
    return len(present), len(names)


def _beyond_socket2() -> list[str]:
    """Public Socket methods socket2 does not have, other than Python's own conventions
    (ownership helpers, sendall, and the `_into` twins of socket2's receives)."""
    known = (
        set(_catalog.LIFECYCLE)
        | set(_catalog.IO)
        | set(_catalog.OPTIONS)
        | set(_catalog.RENAMED.values())
    )
    conventions = {
        "closed",
        "fileno",
        "detach",
        "close",
        "from_fd",
        "from_stdlib",
        "into_stdlib",
        "sendall",
    }
    return sorted(
        name
        for name in dir(Socket)
        if not name.startswith("_")
        and name not in known
        and name not in conventions
        and not (name.endswith("_into") and name[: -len("_into")] in known)
    )


def summary() -> dict[str, str]:
    """Version, platform, build, CPython and GIL: the first lines of ``info``."""
    import os
    import sysconfig

    from . import __version__, _pysock2

    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    if not free_threaded:
        gil = "enabled (a default, non-free-threaded build)"
    elif getattr(sys, "_is_gil_enabled", lambda: True)():
        gil = (
            "enabled at run time in a free-threaded build (PYTHON_GIL=1, or an "
            "extension without free-threading support re-enabled it)"
        )
    else:
        gil = "disabled (free-threaded build)"
    libc = " ".join(part for part in platform.libc_ver() if part)
    return {
        "version": __version__,
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}"
        + (f" ({libc})" if libc else ""),
        "build": f"{os.path.basename(_pysock2.__file__)} in "
        f"{os.path.dirname(os.path.abspath(_pysock2.__file__))}",
        "python": f"{platform.python_implementation()} {platform.python_version()}"
        f"{' free-threaded' if free_threaded else ''}"
        f"{' debug' if hasattr(sys, 'gettotalrefcount') else ''}",
        "gil": gil,
    }


def _capabilities() -> tuple[dict[str, dict[str, bool]], dict[str, dict[str, bool]]]:
    sections = {"lifecycle": _catalog.LIFECYCLE, "io": _catalog.IO, "options": _catalog.OPTIONS}
    methods = {key: {name: _has(name) for name in sorted(names)} for key, names in sections.items()}
    enums = {
        enum_name: {m: hasattr(getattr(_enums, enum_name), m) for m in members}
        for enum_name, members in _catalog.ENUM_MEMBERS.items()
    }
    return methods, enums


def build_info(probes: list[Any] | None = None) -> str:
    """The text of ``python -m pysock2 info``: the summary, the kernel probes (``probes``:
    already run, or None to run them now), then the capability table."""
    if probes is None:
        from ._probes import run_probes

        probes = run_probes()
    facts = summary()
    out = [
        f"pysock2 {facts['version']}",
        f"  platform  {facts['platform']}",
        f"  build     {facts['build']}",
        f"  Python    {facts['python']}",
        f"  GIL       {facts['gil']}",
        "",
        "Kernel probes (tried on loopback just now)",
    ]
    width = max((len(p.name) for p in probes), default=0)
    out.extend(f"  {p.name:<{width}}  {'yes' if p.works else 'no ':<3}  {p.reason}" for p in probes)
    out.append("\npysock2 capability table")
    totals = [
        _section("Socket: lifecycle", _catalog.LIFECYCLE, out),
        _section(
            "Socket: I/O (socket2's _with_flags twins are the flags= keyword)", _catalog.IO, out
        ),
        _section("Socket: options", _catalog.OPTIONS, out),
    ]
    extras = _beyond_socket2()
    out.append(f"\nBeyond socket2: {len(extras)}")
    out.extend(f"  yes  {name}" for name in extras)
    out.append("\nEnums")
    for enum_name, members in _catalog.ENUM_MEMBERS.items():
        enum_class = getattr(_enums, enum_name)
        shown = [m if hasattr(enum_class, m) else f"({m})" for m in members]
        out.append(f"  {enum_name:<9} {' '.join(shown)}")
    out.append("  (a name in parentheses does not exist on this platform)")
    present = sum(p for p, _ in totals)
    known = sum(n for _, n in totals)
    out.append(f"\nsocket2 methods here: {present} of {known} known on any platform")
    return "\n".join(out)


def build_info_json() -> dict[str, Any]:
    """``info --json``: the same facts for scripts."""
    from ._probes import run_probes

    methods, enums = _capabilities()
    return {
        **summary(),
        "probes": [p.as_dict() for p in run_probes()],
        "methods": methods,
        "beyond_socket2": _beyond_socket2(),
        "enums": enums,
    }


def emit(text: str) -> int:
    """Prints ``text``; a reader that went away (``info | head``) ends the command quietly
    instead of with a BrokenPipeError traceback."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at devnull so that fails silently.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 0


def main(argv: list[str] | None = None) -> int:
    from . import __version__

    parser = argparse.ArgumentParser(prog="python -m pysock2", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pysock2 {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser(
        "info", help="summary, kernel probes, and which methods and enum members exist here"
    )
    info.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    commands.add_parser(
        "bench",
        help="pysock2 vs stdlib vs C: a table (--json, --check; bench --help)",
        add_help=False,
    )
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # its own options: see pysock2/_bench.py
        from ._bench import main as bench_main

        return bench_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "info":
        if args.json:
            import json

            return emit(json.dumps(build_info_json(), indent=2))
        return emit(build_info())
    return 0


if __name__ == "__main__":
    sys.exit(main())
