"""Property tests (hypothesis) for the surfaces that take untrusted input: raw socket
addresses, address-likes, option setters and control messages. Each property holds for
every input hypothesis finds: a valid input round-trips, an invalid one raises the
documented exception (never SystemError, never a crash). The fuzz targets in fuzz/ drive
the same surfaces with coverage guidance under ASan; these run every time.
"""

from __future__ import annotations

import ipaddress
import socket as stdlib_socket
import struct
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import pysock2
from pysock2 import SockAddr, Socket

from conftest import LINUX, needs_linux
from option_cases import CASES, make_socket

ARGUMENT_ERRORS = (TypeError, ValueError, OverflowError)
SUN_PATH_MAX = 108 if LINUX else 104
ports = st.integers(0, 65535)


# ---------------------------------------------------------------- SockAddr from raw bytes

ACCESSORS = (
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
)
OPTIONAL_ACCESSORS = ("is_unnamed", "as_abstract_namespace", "as_vsock_address")


def exercise(addr: SockAddr) -> None:
    """Every accessor of an address answers without raising."""
    for name in ACCESSORS + tuple(n for n in OPTIONAL_ACCESSORS if hasattr(addr, n)):
        getattr(addr, name)()
    repr(addr)
    hash(addr)
    assert len(addr) == addr.len == len(bytes(addr)) == len(memoryview(addr))


FAMILIES = [stdlib_socket.AF_INET, stdlib_socket.AF_INET6, stdlib_socket.AF_UNIX, 0, 0xFFFF]
if hasattr(stdlib_socket, "AF_VSOCK"):
    FAMILIES.append(stdlib_socket.AF_VSOCK)


@st.composite
def raw_addresses(draw: st.DrawFn) -> bytes:
    """Raw sockaddr bytes: mostly a known family (so that hypothesis explores each
    family's length checks), of any length up to past sockaddr_storage."""
    family = draw(st.sampled_from(FAMILIES) | st.integers(0, 0xFFFF))
    body = draw(st.binary(max_size=140))
    return struct.pack("=H", family) + body if sys.platform == "linux" else body


@given(raw_addresses() | st.binary(max_size=140))
@example(b"")
@example(b"\x01\x00")  # AF_UNIX with no path: unnamed
@example(b"\x01\x00\x00")  # an abstract name that is empty
@example(b"\x0a\x00" + b"\x00" * 26)  # AF_INET6 of exactly sizeof(sockaddr_in6)
def test_from_bytes_validates_or_round_trips(raw: bytes) -> None:
    try:
        addr = SockAddr.from_bytes(raw)
    except ValueError:
        return
    assert bytes(addr) == raw
    assert SockAddr.from_bytes(bytes(addr)) == addr
    assert hash(SockAddr.from_bytes(raw)) == hash(addr)
    exercise(addr)


@given(st.binary(max_size=140))
def test_from_bytes_accepts_any_buffer_type(raw: bytes) -> None:
    try:
        expected = SockAddr.from_bytes(raw)
    except ValueError:
        with pytest.raises(ValueError):
            SockAddr.from_bytes(memoryview(bytearray(raw)))
        return
    assert SockAddr.from_bytes(bytearray(raw)) == expected
    assert SockAddr.from_bytes(memoryview(raw)) == expected


# ---------------------------------------------------------------- SockAddr from address-likes


@given(st.ip_addresses(v=4), ports)
def test_ipv4_tuple_round_trips(ip: ipaddress.IPv4Address, port: int) -> None:
    addr = SockAddr((str(ip), port))
    assert addr.as_socket() == (str(ip), port)
    assert addr.ip() == ip and addr.port() == port
    assert SockAddr((ip, port)) == addr
    assert bytes(addr)[2:8] == struct.pack("!H", port) + ip.packed
    exercise(addr)


@given(st.ip_addresses(v=6), ports, st.integers(0, 2**20 - 1), st.integers(0, 2**32 - 1))
def test_ipv6_tuple_round_trips(
    ip: ipaddress.IPv6Address, port: int, flowinfo: int, scope_id: int
) -> None:
    addr = SockAddr((str(ip), port, flowinfo, scope_id))
    host, got_port, got_flowinfo, got_scope = addr.as_socket()
    assert ipaddress.IPv6Address(host) == ip
    assert (got_port, got_flowinfo, got_scope) == (port, flowinfo, scope_id)
    assert addr.ip() == ip
    assert SockAddr((ip, port, flowinfo, scope_id)) == addr
    exercise(addr)


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_port_out_of_range_is_overflow_error(port: int) -> None:
    if 0 <= port <= 65535:
        assert SockAddr(("127.0.0.1", port)).port() == port
    else:
        with pytest.raises(OverflowError):
            SockAddr(("127.0.0.1", port))


@given(st.integers(min_value=-(2**40), max_value=2**40), st.integers(-(2**40), 2**40))
def test_flowinfo_and_scope_ranges(flowinfo: int, scope_id: int) -> None:
    valid = 0 <= flowinfo < 2**20 and 0 <= scope_id < 2**32
    if valid:
        assert SockAddr(("::1", 1, flowinfo, scope_id)).as_socket()[2:] == (flowinfo, scope_id)
    else:
        with pytest.raises(OverflowError):
            SockAddr(("::1", 1, flowinfo, scope_id))


def host_texts() -> st.SearchStrategy[str]:
    """Text that is sometimes a numeric address, often almost one."""
    return (
        st.ip_addresses().map(str)
        | st.text(alphabet="0123456789abcdefABCDEF.:%x", max_size=50)
        | st.text(max_size=70)
    )


@given(host_texts(), ports)
@example("1.2.3.4%1", 80)
@example("::1%", 80)
@example("::1%" + "9" * 30, 80)
@example("1.2.3.4\x00", 80)
@example("", 80)
def test_host_text_agrees_with_ipaddress(host: str, port: int) -> None:
    """A host is accepted iff it is a numeric address (ipaddress agrees on the value);
    names are a ValueError, never resolved."""
    try:
        addr = SockAddr((host, port))
    except ValueError:
        if "%" not in host and "\x00" not in host:
            try:
                ipaddress.ip_address(host)
            except ValueError:
                return
            # ipaddress accepts a few spellings inet_pton does not (none known today).
            pytest.fail(f"ipaddress accepts {host!r} but SockAddr does not")
        return
    exercise(addr)
    text = host.split("%", 1)[0]
    assert addr.ip() == ipaddress.ip_address(text)


@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.floats(),
        st.dictionaries(st.text(), st.text()),
        st.lists(st.integers(), max_size=5),
        st.tuples(st.integers()),
    )
)
def test_other_address_likes_are_type_errors(obj: object) -> None:
    """Only a SockAddr, a tuple or a path (str, bytes, PathLike) is an address."""
    with pytest.raises((TypeError, ValueError)):
        SockAddr(obj)  # type: ignore[arg-type]


@given(
    st.tuples(host_texts(), ports, st.integers(0, 3), st.integers(0, 3)).flatmap(
        lambda t: st.integers(0, 4).map(lambda n: t[:n])
    )
)
def test_tuples_of_any_length(t: tuple) -> None:
    try:
        addr = SockAddr(t)
    except ARGUMENT_ERRORS:
        return
    assert len(t) in (2, 3, 4)
    exercise(addr)


@given(st.binary(max_size=SUN_PATH_MAX + 4).filter(lambda b: not b.startswith(b"\0")))
def test_unix_path_round_trips_or_is_rejected(path: bytes) -> None:
    try:
        addr = SockAddr.unix(path)
    except ValueError:
        assert len(path) >= SUN_PATH_MAX or b"\0" in path
        return
    assert len(path) < SUN_PATH_MAX and b"\0" not in path
    assert addr.as_pathname() == (path or None)
    assert SockAddr.from_bytes(bytes(addr)) == addr
    exercise(addr)


@needs_linux
@given(st.binary(max_size=SUN_PATH_MAX + 2))
def test_abstract_name_round_trips_or_is_rejected(name: bytes) -> None:
    try:
        addr = SockAddr.abstract(name)
    except ValueError:
        assert len(name) >= SUN_PATH_MAX
        return
    assert addr.as_abstract_namespace() == name
    assert SockAddr.unix(b"\0" + name) == addr
    assert addr.as_pathname() is None
    exercise(addr)


@needs_linux
@given(st.integers(-(2**33), 2**33), st.integers(-(2**33), 2**33))
def test_vsock_ranges(cid: int, port: int) -> None:
    if 0 <= cid < 2**32 and 0 <= port < 2**32:
        addr = SockAddr.vsock(cid, port)
        assert addr.as_vsock_address() == (cid, port)
        exercise(addr)
    else:
        with pytest.raises(OverflowError):
            SockAddr.vsock(cid, port)


# ---------------------------------------------------------------- option setters

# Anything a caller might pass: the setter accepts it or raises an argument error before
# the system call, or the kernel refuses it (OSError). Nothing else.
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(-2, 70000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.timedeltas(),
    st.ip_addresses().map(str),
    st.tuples(st.integers(), st.integers()),
)

SETTER_CASES = [c for c in CASES if not c.socket.startswith("dccp")]


@pytest.mark.parametrize("case", SETTER_CASES, ids=[c.setter for c in SETTER_CASES])
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(value=ANY_VALUE)
def test_setter_accepts_or_raises_a_documented_error(case, value: object) -> None:
    if not hasattr(Socket, case.setter):
        pytest.skip(f"Socket.{case.setter} does not exist on {sys.platform}")
    with make_socket(case.socket) as sock:
        try:
            result = getattr(sock, case.setter)(value)
        except ARGUMENT_ERRORS + (OSError,):
            return
        assert result is None
        if case.getter is not None:
            getattr(sock, case.getter)()  # the value set reads back without error


@pytest.mark.parametrize("case", SETTER_CASES, ids=[c.setter for c in SETTER_CASES])
@settings(max_examples=30)
@given(value=ANY_VALUE)
def test_setter_checks_arguments_before_the_system_call(case, value: object) -> None:
    """On a closed socket a value is either refused as an argument or reaches the system
    call, which then says EBADF: the same value on an open socket is refused the same way."""
    if not hasattr(Socket, case.setter):
        pytest.skip(f"Socket.{case.setter} does not exist on {sys.platform}")
    sock = make_socket(case.socket)
    sock.close()
    try:
        getattr(sock, case.setter)(value)
    except ARGUMENT_ERRORS as exc:
        with make_socket(case.socket) as live, pytest.raises(type(exc)):
            getattr(live, case.setter)(value)
    except OSError as exc:
        assert exc.errno == 9  # EBADF: the argument itself was acceptable
    else:
        pytest.fail(f"{case.setter}({value!r}) on a closed socket did not raise")


@given(
    st.one_of(st.none(), st.floats(allow_nan=True), st.integers(-(2**70), 2**70)),
    st.one_of(st.none(), st.floats(allow_nan=True), st.integers(-(2**70), 2**70)),
    st.one_of(st.none(), st.integers(-(2**70), 2**70)),
)
def test_tcp_keepalive_values(time: object, interval: object, retries: object) -> None:
    with make_socket("tcp4") as sock:
        try:
            sock.set_tcp_keepalive(pysock2.TcpKeepalive(time, interval, retries))  # type: ignore[arg-type]
        except ARGUMENT_ERRORS + (OSError,):
            return
        assert sock.keepalive() is True


# ---------------------------------------------------------------- control messages


def _own_module(name: str):  # type: ignore[no-untyped-def]
    """pysock2.<name> if this pysock2 ships it, else None. (Checked by file, not by a bare
    import: an editable install of another checkout could otherwise supply a stray one.)"""
    import importlib
    import os

    if not os.path.exists(os.path.join(os.path.dirname(pysock2.__file__), f"{name}.py")):
        return None
    return importlib.import_module(f"pysock2.{name}")


cmsg = _own_module("cmsg")  # the message-I/O work adds pysock2.cmsg

needs_cmsg = pytest.mark.skipif(
    cmsg is None, reason="pysock2.cmsg (control messages) does not exist yet in this build"
)
levels = st.integers(-(2**31), 2**31 - 1)


@needs_cmsg
@given(st.lists(st.tuples(levels, levels, st.binary(max_size=64)), max_size=6))
def test_cmsg_build_then_parse_round_trips(messages: list) -> None:
    control = b"".join(cmsg.build(level, type_, data) for level, type_, data in messages)
    assert len(control) == sum(cmsg.space(len(d)) for _, _, d in messages)
    assert cmsg.parse(control) == [(level, type_, data) for level, type_, data in messages]


@needs_cmsg
@given(st.binary(max_size=256))
def test_cmsg_parse_of_any_bytes_is_a_list_or_value_error(control: bytes) -> None:
    try:
        messages = cmsg.parse(control)
    except ValueError:
        return
    assert sum(cmsg.length(len(data)) for _, _, data in messages) <= len(control)
    for level, type_, data in messages:
        assert isinstance(level, int) and isinstance(type_, int) and isinstance(data, bytes)


@needs_cmsg
@given(st.binary(max_size=64))
def test_cmsg_typed_parsers_decode_or_raise_value_error(data: bytes) -> None:
    parsers = [getattr(cmsg, name) for name in dir(cmsg) if name.startswith("parse_")]
    assert parsers
    for parse in parsers:
        try:
            parse(data)
        except ValueError:
            pass
