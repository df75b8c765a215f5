"""``Socket.getsockopt(level, optname[, buflen])`` and ``Socket.setsockopt(level, optname,
value[, optlen])``: any option, in the stdlib's shapes, for options without a typed
accessor. Every argument is checked before the system call."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from pysock2 import Domain, Socket, Type

from conftest import needs_linux


@pytest.fixture
def tcp():
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        yield sock


class TestIntegers:
    def test_round_trip_agrees_with_the_typed_accessor(self, tcp):
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert tcp.tcp_nodelay() is True
        assert tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, False)  # a bool is an int
        assert tcp.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0

    def test_reads_what_the_stdlib_reads(self, tcp):
        std = socket.socket(fileno=tcp.fileno())
        try:
            for level, name in [
                (socket.SOL_SOCKET, socket.SO_TYPE),
                (socket.SOL_SOCKET, socket.SO_RCVBUF),
            ]:
                assert tcp.getsockopt(level, name) == std.getsockopt(level, name)
        finally:
            std.detach()


class TestBytes:
    def test_buflen_returns_bytes_cut_to_the_kernels_length(self, tcp):
        raw = tcp.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE, 64)
        assert raw == struct.pack("i", socket.SOCK_STREAM)  # 4 bytes, not 64

    def test_a_struct_value(self, tcp):
        linger = struct.pack("ii", 1, 7)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        assert tcp.linger() == 7.0
        assert tcp.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, len(linger)) == linger

    def test_any_bytes_like(self, tcp):
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, memoryview(bytearray(8)))
        assert tcp.linger() is None

    @needs_linux
    def test_a_name(self, tcp):
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"reno")
        assert (
            tcp.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0") == b"reno"
        )


class TestNoneWithOptlen:
    def test_reaches_the_kernel_with_a_null_value(self, tcp):
        """The stdlib's form for AF_ALG's ALG_SET_AEAD_AUTHSIZE; a TCP socket's kernel
        refuses a NULL SO_KEEPALIVE (EFAULT or EINVAL), which shows the call was made."""
        with pytest.raises(OSError) as info:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, None, 4)
        assert info.value.errno in (errno.EFAULT, errno.EINVAL)


class TestCheckedBeforeTheCall:
    """A closed socket would raise EBADF at the system call: a TypeError or ValueError
    instead proves the argument was refused first."""

    @pytest.mark.parametrize(
        "args, exc, match",
        [
            (("1", 2), TypeError, "level must be an int"),
            ((1, 2.0), TypeError, "optname must be an int"),
            ((1, 2, 0), ValueError, "buflen must be 1-65536"),
            ((1, 2, 65537), ValueError, "buflen must be 1-65536"),
            ((1, 2, -1), ValueError, "must not be negative"),
            ((1, 2, "4"), TypeError, "buflen must be an int"),
            ((1 << 40, 2), OverflowError, "level"),
        ],
    )
    def test_getsockopt(self, closed_socket, args, exc, match):
        with pytest.raises(exc, match=match):
            closed_socket.getsockopt(*args)

    @pytest.mark.parametrize(
        "args, exc, match",
        [
            ((1, 2, 1.5), TypeError, "value must be an int, a bytes-like object or None"),
            ((1, 2, "text"), TypeError, "value must be an int"),
            ((1, 2, 1 << 40), OverflowError, "value"),
            ((1, 2, None), TypeError, "needs optlen"),
            ((1, 2, None, -1), ValueError, "optlen must not be negative"),
            ((1, 2, 1, 4), TypeError, "optlen only with value None"),
            ((1, 2, b"xx", 2), TypeError, "optlen only with value None"),
            (("1", 2, 1), TypeError, "level must be an int"),
        ],
    )
    def test_setsockopt(self, closed_socket, args, exc, match):
        with pytest.raises(exc, match=match):
            closed_socket.setsockopt(*args)

    def test_then_a_closed_socket_is_ebadf(self, closed_socket):
        for call in (
            lambda: closed_socket.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE),
            lambda: closed_socket.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        ):
            with pytest.raises(OSError) as info:
                call()
            assert info.value.errno == errno.EBADF

    def test_the_kernels_refusal_is_its_oserror(self, tcp):
        with pytest.raises(OSError) as info:
            tcp.getsockopt(socket.SOL_SOCKET, 0x7FFF)
        assert info.value.errno == errno.ENOPROTOOPT
