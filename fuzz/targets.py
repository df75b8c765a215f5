"""Fuzz targets for the surfaces of pysock2 that take untrusted input.

Each target is a function of one ``bytes`` input that drives pysock2 with values decoded
from it and returns normally for every input: the documented exceptions (TypeError,
ValueError, OverflowError, OSError from the kernel) are caught; any other exception, an
inconsistent result, or a crash (ASan/UBSan abort) is a bug. ``run.py`` runs them under
atheris (libFuzzer); tests/test_fuzz_regressions.py replays every input saved in
``regressions/<target>/`` so that a crash once found stays fixed. Plain Python: no
atheris needed to replay.
"""

from __future__ import annotations

import ipaddress
import pickle
import socket as stdlib_socket
import struct
import sys
from typing import Any, Callable

from fuzzdata import Data  # not instrumented by run.py: see there

import pysock2
from pysock2 import Domain, SockAddr, Socket, Type

ARGUMENT_ERRORS = (TypeError, ValueError, OverflowError)


def exercise(addr: SockAddr) -> None:
    """Every accessor of an address answers, and it survives a round trip."""
    for name in (
        "as_socket",
        "as_socket_ipv4",
        "as_socket_ipv6",
        "as_pathname",
        "ip",
        "port",
        "is_ipv4",
        "is_ipv6",
        "is_unix",
        "domain",
        "is_unnamed",
        "as_abstract_namespace",
        "as_vsock_address",
    ):
        method = getattr(addr, name, None)
        if method is not None:
            method()
    repr(addr)
    raw = bytes(addr)
    assert len(raw) == len(addr) == addr.len == memoryview(addr).nbytes
    again = SockAddr.from_bytes(raw) if addr.family != 0 else addr
    assert again == addr and hash(again) == hash(addr)
    assert pickle.loads(pickle.dumps(addr)) == addr  # every address pickles
    tup = addr.as_socket()
    # The tuple describes an address that reads back as the same tuple (a raw address may
    # be longer, or carry bytes in sin_zero, that a tuple does not describe); a raw
    # flowinfo beyond the 20-bit flow label is refused by a tuple, as by the stdlib.
    if tup is not None and (len(tup) == 2 or tup[2] <= 0xFFFFF):
        assert SockAddr(tup).as_socket() == tup, (tup, raw)


# ---------------------------------------------------------------- targets

FAMILIES = [
    stdlib_socket.AF_INET,
    stdlib_socket.AF_INET6,
    stdlib_socket.AF_UNIX,
    getattr(stdlib_socket, "AF_VSOCK", 40),
    0,
    0xFFFF,
]


def sockaddr_from_bytes(data: bytes) -> None:
    """SockAddr.from_bytes of raw bytes (mostly with a known family in front)."""
    d = Data(data)
    if d.below(4) and sys.platform == "linux":
        raw = struct.pack("=H", d.pick(FAMILIES)) + d.rest()
    else:
        raw = d.rest()
    try:
        addr = SockAddr.from_bytes(raw)
    except ValueError:
        return
    assert bytes(addr) == raw or sys.platform != "linux"
    exercise(addr)


HOST_PARTS = [
    "127.0.0.1",
    "::1",
    "::",
    "0.0.0.0",
    "fe80::1",
    "::ffff:1.2.3.4",
    "255.255.255.255",
    "1.2.3",
    "01.2.3.4",
    "1::2::3",
    ":::",
    "[::1]",
    "2001:db8::1%",
    "%",
    "%lo",
    "%1",
    "%4294967296",
    "%-1",
    "\0",
    "é",
    "localhost",
]


def address_like(data: bytes) -> None:
    """SockAddr(x) for every kind of address-like x, valid or not."""
    d = Data(data)
    kind = d.below(7)
    obj: Any
    if kind <= 2:  # an IP tuple: host text built from pieces, then 1-5 fields
        host: Any = "".join(
            d.pick(HOST_PARTS) if d.below(3) else d.text(8) for _ in range(1 + d.below(3))
        )
        if d.below(5) == 0:
            try:
                host = ipaddress.ip_address(host.split("%")[0])
            except ValueError:
                pass
        obj = (host, d.integer(), d.integer(), d.integer(), d.integer())[: d.below(6)]
    elif kind == 3:
        obj = d.blob(120)  # a Unix path as bytes (NUL, too long, abstract, empty)
    elif kind == 4:
        obj = d.text(120)
    elif kind == 5:
        name = d.blob(120)
        try:
            addr = SockAddr.abstract(name) if hasattr(SockAddr, "abstract") else SockAddr.unix(name)
        except ARGUMENT_ERRORS:
            return
        exercise(addr)
        return
    else:
        if hasattr(SockAddr, "vsock"):
            try:
                exercise(SockAddr.vsock(d.integer(), d.integer()))
            except ARGUMENT_ERRORS:
                pass
        return
    try:
        addr = SockAddr(obj)
    except ARGUMENT_ERRORS:
        return
    exercise(addr)


def _setters() -> list[str]:
    names = [
        n
        for n in dir(Socket)
        if n.startswith("set_")
        or n
        in (
            "bind_device",
            "bind_device_by_index_v4",
            "bind_device_by_index_v6",
            "attach_filter",
            "join_multicast_v4",
            "join_multicast_v4_n",
            "join_ssm_v4",
            "join_multicast_v6",
            "leave_multicast_v4",
            "leave_multicast_v4_n",
            "leave_ssm_v4",
            "leave_multicast_v6",
        )
    ]
    return sorted(n for n in names if hasattr(Socket, n))


SETTERS = _setters()
_SOCKETS: dict[str, Socket] = {}
_LO_INDEX = stdlib_socket.if_nametoindex("lo") if sys.platform == "linux" else 1


def _socket(kind: str) -> Socket:
    sock = _SOCKETS.get(kind)
    if sock is None or sock.closed:
        domain = {"4": Domain.IPV4, "6": Domain.IPV6, "u": Domain.UNIX}[kind[-1]]
        sock = _SOCKETS[kind] = Socket(
            domain, Type.STREAM if kind.startswith("tcp") else Type.DGRAM
        )
    return sock


def _close_sockets() -> None:
    for sock in _SOCKETS.values():
        sock.close()
    _SOCKETS.clear()


def _args_for(d: Data, name: str) -> tuple:
    """Random arguments, with the parts that would reach beyond this host pinned: the
    multicast interface is always loopback (no IGMP on real networks), and congestion
    control names come from a fixed list (an unknown name makes the kernel run modprobe)."""
    if name in ("join_multicast_v4", "leave_multicast_v4"):
        return (d.value(), "127.0.0.1")
    if name in ("join_multicast_v4_n", "leave_multicast_v4_n"):
        return (d.value(), d.pick([_LO_INDEX, "127.0.0.1", d.value()]))
    if name in ("join_ssm_v4", "leave_ssm_v4"):
        return (d.value(), d.value(), "127.0.0.1")
    if name in ("join_multicast_v6", "leave_multicast_v6"):
        return (d.value(), _LO_INDEX)
    if name == "set_tcp_congestion":
        return (d.pick([b"reno", b"cubic", "reno", b"x" * 16, b"re\0no", 1, None]),)
    if name == "attach_filter":
        return (
            [tuple(d.integer() for _ in range(d.pick([4, 4, 4, 3, 5]))) for _ in range(d.below(6))]
            if d.below(4)
            else d.value(),
        )
    if name == "set_tcp_keepalive":
        return (pysock2.TcpKeepalive(d.value(), d.value(), d.value()) if d.below(4) else d.value(),)
    return tuple(d.value() for _ in range(d.pick([1, 1, 1, 1, 0, 2])))


def option_setters(data: bytes) -> None:
    """Random values (of random types) into every setter of a real socket of each kind,
    then the matching getter reads back whatever was set."""
    d = Data(data)
    for _ in range(1 + d.below(8)):
        kind = d.pick(["tcp4", "udp4", "tcp6", "udp6", "udpu"])
        sock = _socket(kind)
        name = d.pick(SETTERS)
        args = _args_for(d, name)
        try:
            getattr(sock, name)(*args)
        except ARGUMENT_ERRORS + (OSError,):
            continue
        getter = getattr(sock, name[4:], None) if name.startswith("set_") else None
        if getter is not None and name[4:] not in ("nonblocking", "cloexec"):
            try:
                getter()
            except OSError:
                pass
        elif name == "set_nonblocking":
            sock.nonblocking()


def _own_module(name: str):  # type: ignore[no-untyped-def]
    """pysock2.<name> if this pysock2 ships it, else None. (Checked by file, not by a bare
    import: an editable install of another checkout could otherwise supply a stray one.)"""
    import importlib
    import os

    if not os.path.exists(os.path.join(os.path.dirname(pysock2.__file__), f"{name}.py")):
        return None
    return importlib.import_module(f"pysock2.{name}")


cmsg = _own_module("cmsg")  # the message-I/O work adds pysock2.cmsg
# Looked up once, not per execution (dir() of the module sorted ~80 names every time).
PARSERS = [getattr(cmsg, n) for n in dir(cmsg) if n.startswith("parse_")] if cmsg else []
CMSGHDR = struct.Struct("=" + ("Q" if struct.calcsize("N") == 8 else "I") + "ii")


def control_messages(data: bytes) -> None:
    """cmsg.parse of any bytes, then every typed parser on every payload it yields, and
    the typed parsers on the raw bytes too; build() of what parse() returns round-trips."""
    if cmsg is None:
        return
    d = Data(data)
    if d.below(2):  # a chain of headers whose cmsg_len fields are chosen to hit the edges
        header = CMSGHDR
        chunks = []
        for _ in range(1 + d.below(4)):
            payload = d.blob(24)
            length = d.pick(
                [
                    header.size + len(payload),
                    0,
                    1,
                    header.size - 1,
                    header.size,
                    cmsg.length(len(payload)),
                    cmsg.space(len(payload)) + 8,
                    2**31,
                    2**32 + header.size,
                    2 ** (8 * struct.calcsize("N")) - 1,
                ]
            )
            chunk = (
                header.pack(
                    length % 2 ** (8 * struct.calcsize("N")),
                    d.integer() % 2**31,
                    d.integer() % 2**31,
                )
                + payload
            )
            chunks.append(chunk.ljust(cmsg.space(len(payload)), b"\0") if d.below(4) else chunk)
        data = b"".join(chunks)
    parsers = PARSERS
    try:
        messages = cmsg.parse(data)
    except ValueError:
        messages = []
    payloads = [payload for _, _, payload in messages] + [data[:64]]
    for payload in payloads:
        for parse in parsers:
            try:
                parse(payload)
            except ValueError:
                pass
    if messages:
        rebuilt = b"".join(cmsg.build(level, type_, payload) for level, type_, payload in messages)
        assert cmsg.parse(rebuilt) == messages


TARGETS: dict[str, Callable[[bytes], None]] = {
    "sockaddr_from_bytes": sockaddr_from_bytes,
    "address_like": address_like,
    "option_setters": option_setters,
    "control_messages": control_messages,
}


def available(name: str) -> str | None:
    """None when the target can run in this build, else why not."""
    if name == "control_messages" and cmsg is None:
        return "pysock2.cmsg does not exist in this build yet (message I/O work)"
    return None
