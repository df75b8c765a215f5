"""Multicast membership on the loopback interface: join and leave by interface address and
by index, source-specific multicast, and IPv6 groups; datagrams really arrive."""

from __future__ import annotations

import errno
import ipaddress
import sys
from typing import Any

import pytest

from pysock2 import Domain, Socket, Type

from conftest import LO_INDEX

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="needs Linux's loopback to carry IPv4 multicast"
)

LO = "127.0.0.1"
GROUP = "239.255.42.1"
SSM_GROUP = "232.42.0.1"


def udp(domain: Domain = Domain.IPV4) -> Socket:
    sock = Socket(domain, Type.DGRAM)
    sock.set_read_timeout(5)
    return sock


def port_of(sock: Socket) -> int:
    port = sock.local_addr().port()
    assert port is not None
    return port


def receiver() -> Socket:
    """A UDP socket on a free port of every address that takes only the groups it joins."""
    sock = udp()
    sock.set_multicast_all_v4(False)
    sock.bind(("0.0.0.0", 0))
    return sock


def send_from(source: str, group: str, port: int, data: bytes) -> None:
    with udp() as sender:
        sender.bind((source, 0))
        sender.set_multicast_if_v4(LO)
        sender.send_to(data, (group, port))


def assert_receives_only(sock: Socket, data: bytes) -> None:
    assert sock.recv(100) == data
    sock.set_nonblocking(True)
    with pytest.raises(BlockingIOError):
        sock.recv(100)


@pytest.mark.parametrize(
    "join, leave, interface",
    [
        ("join_multicast_v4", "leave_multicast_v4", LO),
        ("join_multicast_v4", "leave_multicast_v4", ipaddress.IPv4Address(LO)),
        ("join_multicast_v4_n", "leave_multicast_v4_n", LO_INDEX),
        ("join_multicast_v4_n", "leave_multicast_v4_n", LO),
    ],
)
def test_joined_group_delivers_until_left(join: str, leave: str, interface: object) -> None:
    with receiver() as sock:
        port = port_of(sock)
        getattr(sock, join)(GROUP, interface)
        send_from(LO, GROUP, port, b"to the group")
        assert_receives_only(sock, b"to the group")
        getattr(sock, leave)(group=GROUP, interface=interface)
        send_from(LO, GROUP, port, b"after leaving")
        with pytest.raises(BlockingIOError):
            sock.recv(100)


@pytest.mark.parametrize(
    "leave, interface", [("leave_multicast_v4", LO), ("leave_multicast_v4_n", 0)]
)
def test_leaving_a_group_never_joined_fails(leave: str, interface: object) -> None:
    with udp() as sock:
        with pytest.raises(OSError) as info:
            getattr(sock, leave)(GROUP, interface)
        assert info.value.errno == errno.EADDRNOTAVAIL


def test_source_specific_membership_takes_only_that_source() -> None:
    with receiver() as sock:
        port = port_of(sock)
        sock.join_ssm_v4(LO, SSM_GROUP, LO)
        send_from("127.0.0.2", SSM_GROUP, port, b"other source")
        send_from(LO, SSM_GROUP, port, b"the source")
        assert_receives_only(sock, b"the source")
        sock.leave_ssm_v4(source=LO, group=SSM_GROUP, interface=LO)
        with pytest.raises(OSError) as info:
            sock.leave_ssm_v4(LO, SSM_GROUP, LO)
        assert info.value.errno == errno.EINVAL  # Linux's answer for no such source


@pytest.mark.parametrize("group", ["ff02::4242", ipaddress.IPv6Address("ff12::4242")])
def test_ipv6_join_and_leave_by_index(group: Any) -> None:
    with udp(Domain.IPV6) as sock:
        sock.join_multicast_v6(group, LO_INDEX)
        with pytest.raises(OSError) as info:
            sock.join_multicast_v6(group, LO_INDEX)
        assert info.value.errno == errno.EADDRINUSE  # already a member
        sock.leave_multicast_v6(group, interface=LO_INDEX)
        with pytest.raises(OSError) as info:
            sock.leave_multicast_v6(group, LO_INDEX)
        assert info.value.errno == errno.EADDRNOTAVAIL


@pytest.mark.parametrize(
    "method, args, exc",
    [
        ("join_multicast_v4", ("ff02::1", LO), ValueError),
        ("join_multicast_v4", (GROUP, "localhost"), ValueError),
        ("join_multicast_v4", (GROUP, LO_INDEX), TypeError),
        ("join_multicast_v4", (GROUP,), TypeError),
        ("join_multicast_v4_n", (GROUP, -1), ValueError),
        ("join_multicast_v4_n", (GROUP, 2**31), OverflowError),
        ("join_multicast_v4_n", (GROUP, 1.0), TypeError),
        ("join_ssm_v4", ("::1", SSM_GROUP, LO), ValueError),
        ("join_ssm_v4", (LO, SSM_GROUP), TypeError),
        ("join_multicast_v6", (GROUP, 0), ValueError),
        ("join_multicast_v6", ("ff02::1", "lo"), TypeError),
        ("join_multicast_v6", ("ff02::1", -1), ValueError),
        ("leave_multicast_v6", ("ff02::1", 2**32), OverflowError),
    ],
)
def test_bad_arguments_raise_before_the_system_call(method: str, args: tuple, exc: type) -> None:
    sock = udp(Domain.IPV6 if method.endswith("v6") else Domain.IPV4)
    sock.close()  # any system call would fail with EBADF
    with pytest.raises(exc):
        getattr(sock, method)(*args)


def test_unknown_keyword_is_a_type_error() -> None:
    with udp() as sock:
        with pytest.raises(TypeError):
            sock.join_multicast_v4(GROUP, iface=LO)  # type: ignore[call-arg]
