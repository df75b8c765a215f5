"""``python -m pysock2 info``: what this platform and build offer."""
from __future__ import annotations

import argparse
import platform
import sys
from typing import Iterable

from . import _catalog, _enums
from ._socket import Socket

# Rust's Socket::new is the Python constructor, always present.
_ALWAYS = {"new"}


def _has(name: str) -> bool:
    return name in _ALWAYS or hasattr(Socket, name)


def _section(title: str, names: Iterable[str], out: list[str]) -> tuple[int, int]:
    names = sorted(names)
    present = [n for n in names if _has(n)]
    out.append(f"\n{title}: {len(present)} of {len(names)}")
    for name in names:
        out.append(f"  {'yes' if _has(name) else ' - '}  {name}")
    return len(present), len(names)


def _beyond_socket2() -> list[str]:
    """Public Socket methods socket2 does not have, other than Python's own conventions
    (ownership helpers, sendall, and the `_into` twins of socket2's receives)."""
    known = set(_catalog.LIFECYCLE) | set(_catalog.IO) | set(_catalog.OPTIONS)
    conventions = {"closed", "fileno", "detach", "close", "from_fd", "from_stdlib",
                   "into_stdlib", "sendall"}
    return sorted(
        name
        for name in dir(Socket)
        if not name.startswith("_")
        and name not in known
        and name not in conventions
        and not (name.endswith("_into") and name[: -len("_into")] in known)
    )


def build_info() -> str:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    free_threaded = bool(__import__("sysconfig").get_config_var("Py_GIL_DISABLED"))
    out = [
        "pysock2 capability table",
        f"  Python   {platform.python_implementation()} {platform.python_version()} "
        f"({'free-threaded' if free_threaded else 'with GIL'}; GIL "
        f"{'enabled' if gil else 'disabled'} at run time)",
        f"  Platform {platform.system()} {platform.release()} {platform.machine()}",
    ]
    totals = [
        _section("Socket: lifecycle", _catalog.LIFECYCLE, out),
        _section("Socket: I/O (socket2's _with_flags twins are the flags= keyword)",
                 _catalog.IO, out),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pysock2", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="print which methods and enum members exist here")
    commands.add_parser("bench", help="pysock2 vs stdlib vs C, JSON out (bench --help)",
                        add_help=False)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # its own options: see pysock2/_bench.py
        from ._bench import main as bench_main

        return bench_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "info":
        print(build_info())
    return 0


if __name__ == "__main__":
    sys.exit(main())
