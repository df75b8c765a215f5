"""The blocking mode crossing from_stdlib()/into_stdlib() honestly, which asyncio's
streams over a pysock2 socket rely on (that recipe runs in tests/test_aio_docs.py)."""

from __future__ import annotations

import socket
import sys

import pytest

from pysock2 import Domain, Socket, Type


@pytest.mark.skipif(sys.platform == "win32", reason="Windows cannot read the mode back")
def test_into_stdlib_of_a_non_blocking_socket_is_non_blocking():
    sock = Socket(Domain.IPV4, Type.DGRAM)
    sock.set_nonblocking(True)
    with sock.into_stdlib() as std:
        assert std.gettimeout() == 0.0
        with pytest.raises(BlockingIOError):
            std.recv(1)


def test_into_stdlib_of_a_blocking_socket_is_blocking():
    with Socket(Domain.IPV4, Type.DGRAM).into_stdlib() as std:
        assert std.gettimeout() is None


def test_from_stdlib_in_timeout_mode_keeps_the_timeout():
    std = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    std.bind(("127.0.0.1", 0))
    std.settimeout(0.25)
    sock = Socket.from_stdlib(std)
    try:
        assert sock.read_timeout() == pytest.approx(0.25, abs=0.01)  # the kernel rounds to its tick
        assert sock.write_timeout() == pytest.approx(
            0.25, abs=0.01
        )  # the kernel rounds to its tick
        if hasattr(sock, "nonblocking"):
            assert not sock.nonblocking()  # blocking, with the timeout in the kernel
        with pytest.raises(TimeoutError):
            sock.recv(1)
    finally:
        sock.close()


@pytest.mark.parametrize("timeout, blocking", [(None, True), (0.0, False)])
def test_from_stdlib_blocking_and_non_blocking(timeout, blocking):
    std = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    std.settimeout(timeout)
    sock = Socket.from_stdlib(std)
    try:
        assert sock.read_timeout() is None and sock.write_timeout() is None
        if hasattr(sock, "nonblocking"):
            assert sock.nonblocking() is not blocking
    finally:
        sock.close()
