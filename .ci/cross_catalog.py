"""What `python -m pysock2 info` would list on another platform, from what compiles there.

For each target, csrc/ is preprocessed by that target's compiler with the flags of the real
build (so every #ifdef is decided as it would be there) and read back:
  - the Socket method tables (socket.c's own, and those module.c adds: socket_tables[]),
  - the integer constants module.c exports (the enums are built from them).
Then pysock2's own Python layer is imported in a child process on top of a stand-in
_pysock2 module holding exactly those methods and constants, with sys.platform set to the
target's, and asked the questions `info` asks (hasattr(Socket, name) for each name of
pysock2/_catalog.py, hasattr(Enum, member)). No table here repeats one of pysock2's gates.

The result is compared with socket2's side: ../shared/socket2_methods.json (methods per OS;
socket2's `*_with_flags` twins are pysock2's `flags=` keyword on the same method) and
SOCKET2_ENUMS below. A missing socket2 method, a method socket2 gates off that is present
without a reason in DELIBERATE, or an enum that differs fails; names beyond socket2 are
listed.

Usage: cross_catalog.py --root ROOT TARGET=CC::FLAGS... (FLAGS space-separated)
"""

import argparse
import json
import os
import re
import subprocess
import sys

PLATFORM = {
    "macos": "darwin",
    "freebsd": "freebsd14",
    "netbsd": "netbsd10",
    "openbsd": "openbsd7",
    "windows": "win32",
    "mingw32": "win32",
    "linux": "linux",
}
SOCKET2_OS = {"darwin": "macos", "win32": "windows", "linux": "linux"}
# socket2 names pysock2 offers where socket2 gates them off, on purpose.
DELIBERATE = {
    "win32": {"recvmsg": "WSARecvMsg (datagram/raw sockets); socket2 has recvmsg on Unix only"}
}
# socket2's enum members per OS (its cfg gates, ../shared/SOCKET2_REFERENCE.md: "Domain,
# Type, Protocol"); the json has methods only.
_COMMON = {
    "Domain": {"IPV4", "IPV6", "UNIX"},
    "Type": {"STREAM", "DGRAM", "SEQPACKET", "RAW"},
    "Protocol": {"ICMPV4", "ICMPV6", "TCP", "UDP"},
    "Shutdown": {"READ", "WRITE", "BOTH"},
}
_EXTRA = {
    "linux": {
        "Domain": {"PACKET", "VSOCK"},
        "Type": {"DCCP"},
        "Protocol": {"MPTCP", "DCCP", "SCTP", "UDPLITE"},
    },
    "freebsd": {"Protocol": {"SCTP", "UDPLITE", "DIVERT"}},
    "openbsd": {"Protocol": {"DIVERT"}},
}
SOCKET2_ENUMS = {
    p: {e: m | _EXTRA.get(p, {}).get(e, set()) for e, m in _COMMON.items()}
    for p in ("linux", "darwin", "win32", "freebsd", "netbsd", "openbsd")
}


def preprocess(cc, flags, source):
    return subprocess.run(
        cc + flags + ["-E", "-P", source], check=True, capture_output=True, text=True
    ).stdout


def table(text, kind, name):
    """The first string of each entry of `kind name[] = {...};` in preprocessed text."""
    m = re.search(rf"\b{kind}\s+{name}\s*\[\s*\]\s*=\s*\{{(.*?)\n\s*\}};", text, re.S)
    if not m:
        sys.exit(f"cross_catalog: no table {name} in the preprocessed source")
    return re.findall(r'\{\s*"(\w+)"', m.group(1))


def compiled_names(root, cc, flags):
    csrc = os.path.join(root, "csrc")
    module = preprocess(cc, flags, os.path.join(csrc, "module.c"))
    tables = re.search(r"socket_tables\[\]\s*=\s*\{([^}]*)\}", module)
    methods = set(
        table(
            preprocess(cc, flags, os.path.join(csrc, "socket.c")), "PyMethodDef", "socket_methods"
        )
    )
    sources = {}
    for f in sorted(os.listdir(csrc)):
        if f.endswith(".c"):
            with open(os.path.join(csrc, f)) as source:
                sources[f] = source.read()
    for name in re.findall(r"\w+", tables.group(1)):
        owner = [
            f for f, text in sources.items() if re.search(rf"^PyMethodDef {name}\[\]", text, re.M)
        ]
        if len(owner) != 1:
            sys.exit(f"cross_catalog: table {name} is defined in {owner}")
        methods.update(
            table(preprocess(cc, flags, os.path.join(csrc, owner[0])), "PyMethodDef", name)
        )
    constants = table(module, "constant", "constants")
    return sorted(methods), constants


# Runs in the child: imports pysock2 from ROOT over a stand-in _pysock2.
CHILD = r"""
import json, sys, types
root, platform, methods, constants = json.loads(sys.stdin.read())
import enum, dataclasses, errno, os, socket, selectors, ipaddress, datetime, typing
fake = types.ModuleType("pysock2._pysock2")
fake.Socket = type("Socket", (), {n: (lambda *a, **k: None) for n in methods})
for i, name in enumerate(constants):
    setattr(fake, name, 1 << 20 | i)   # distinct values: no enum member becomes an alias
def __getattr__(name):  # other types and functions the Python layer names at import
    if name.isupper():
        raise AttributeError(name)
    # Generic like the real types (DatagramBatch[...] appears in class statements).
    value = type(name, (), {"__init__": lambda self, *a, **k: None,
                            "__class_getitem__": classmethod(lambda cls, item: cls)})
    setattr(fake, name, value)
    return value
fake.__getattr__ = __getattr__
sys.modules["pysock2._pysock2"] = fake
sys.platform = platform
sys.path.insert(0, root)
from pysock2 import _catalog, _enums
from pysock2._socket import Socket
names = set(_catalog.LIFECYCLE) | set(_catalog.IO) | set(_catalog.OPTIONS)
public = {n for n in dir(Socket) if not n.startswith("_")}
enums = {e: [m for m in ms if hasattr(getattr(_enums, e), m)]
         for e, ms in _catalog.ENUM_MEMBERS.items()}
print(json.dumps({"socket2": sorted(n for n in names
                             if n == "new" or hasattr(Socket, _catalog.RENAMED.get(n, n))),
                  "public": sorted(public), "enums": enums}))
"""


def catalog(root, platform, methods, constants):
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        check=True,
        capture_output=True,
        text=True,
        input=json.dumps([root, platform, methods, constants]),
        cwd="/",
    )
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("targets", nargs="+", help="TARGET=CC::FLAGS")
    args = parser.parse_args()
    with open(os.path.join(args.root, "..", "shared", "socket2_methods.json")) as f:
        socket2 = {
            os_: {re.sub(r"_with_flags$", "", n) for n in names}
            for os_, names in json.load(f).items()
        }
    status = 0
    for spec in args.targets:
        target, rest = spec.split("=", 1)
        cc, flags = rest.split("::", 1)
        platform = next(p for key, p in PLATFORM.items() if key in target)
        methods, constants = compiled_names(args.root, cc.split(), flags.split())
        result = catalog(args.root, platform, methods, constants)
        have = set(result["socket2"])
        line = f"[cross-catalog] {target}: {len(have)} socket2 methods"
        expected = socket2.get(SOCKET2_OS.get(platform, ""))
        if expected is not None:
            deliberate = DELIBERATE.get(platform, {})
            missing = sorted(expected - have)
            extra = sorted(have - expected - set(deliberate))
            line += (
                f" (socket2 on {SOCKET2_OS[platform]}: {len(expected)} after folding "
                f"*_with_flags into flags=)"
            )
            print(line)
            print(f"    missing from socket2's list: {' '.join(missing) or 'none'}")
            print(
                f"    socket2 names present here that socket2 gates off: "
                f"{' '.join(extra) or 'none'}"
            )
            for name, why in deliberate.items():
                if name in have:
                    print(f"    beyond socket2 on purpose: {name}: {why}")
            status |= bool(missing) or bool(extra)
        else:
            print(line + " (socket2_methods.json has no list for this OS)")
        beyond = sorted(set(result["public"]) - have - {"new"})
        print(f"    public Socket names beyond socket2's: {len(beyond)}: {' '.join(beyond)}")
        print("    enums: " + "; ".join(f"{e} {' '.join(m)}" for e, m in result["enums"].items()))
        expected_enums = SOCKET2_ENUMS[
            platform if platform == "win32" else re.sub(r"\d+$", "", platform)
        ]
        for enum_name, members in result["enums"].items():
            if set(members) != expected_enums[enum_name]:
                print(
                    f"    {enum_name} differs from socket2's: has {sorted(members)}, socket2 "
                    f"{sorted(expected_enums[enum_name])}"
                )
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
