"""The options that are not a single value: TCP keepalive (TcpKeepalive), classic BPF
socket filters (SockFilter), and the original destination of a redirected connection."""

from __future__ import annotations

import dataclasses
import datetime
import errno
import sys

import pytest

from pysock2 import Domain, Socket, SockFilter, TcpKeepalive, Type

needs_keepalive_getters = pytest.mark.skipif(
    not hasattr(Socket, "tcp_keepalive_interval"), reason="no keepalive getters on Windows"
)


# ---- TcpKeepalive ----------------------------------------------------------------------


def test_tcp_keepalive_builders_return_new_values() -> None:
    base = TcpKeepalive()
    built = base.with_time(60).with_interval(10).with_retries(5)
    assert base == TcpKeepalive(None, None, None)
    assert built == TcpKeepalive(time=60, interval=10, retries=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.time = 1  # type: ignore[misc]


@needs_keepalive_getters
def test_set_tcp_keepalive_sets_only_what_is_given() -> None:
    with Socket(Domain.IPV6, Type.STREAM) as sock:
        interval = sock.tcp_keepalive_interval()
        sock.set_tcp_keepalive(TcpKeepalive(time=datetime.timedelta(minutes=2), retries=3))
        assert sock.keepalive() is True
        assert sock.tcp_keepalive_time() == 120.0
        assert sock.tcp_keepalive_retries() == 3
        assert sock.tcp_keepalive_interval() == interval


def test_empty_tcp_keepalive_only_turns_keepalive_on() -> None:
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        sock.set_tcp_keepalive(TcpKeepalive())
        assert sock.keepalive() is True


@needs_keepalive_getters
def test_keepalive_times_are_whole_seconds_on_unix() -> None:
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        sock.set_tcp_keepalive(TcpKeepalive(time=5.9, interval=2.5))
        assert (sock.tcp_keepalive_time(), sock.tcp_keepalive_interval()) == (5.0, 2.0)


@pytest.mark.parametrize(
    "keepalive, exc",
    [
        (TcpKeepalive(time=-1), ValueError),
        (TcpKeepalive(interval="10"), TypeError),  # type: ignore[arg-type]
        (TcpKeepalive(time=2**32 / 1000), OverflowError),
        (TcpKeepalive(retries=-1), ValueError),
        (TcpKeepalive(retries=2**31), OverflowError),
        (TcpKeepalive(retries=1.5), TypeError),  # type: ignore[arg-type]
        (60, TypeError),
    ],
)
def test_bad_keepalive_raises_before_the_system_call(keepalive: object, exc: type) -> None:
    sock = Socket(Domain.IPV4, Type.STREAM)
    sock.close()
    with pytest.raises(exc):
        sock.set_tcp_keepalive(keepalive)  # type: ignore[arg-type]


UNIX_KEEPALIVE_LIMITS = [
    pytest.param(TcpKeepalive(time=0.5), ValueError, id="time under one second"),
    pytest.param(TcpKeepalive(interval=0), ValueError, id="interval zero"),
    pytest.param(TcpKeepalive(time=60, retries=0), ValueError, id="no probes"),
    pytest.param(TcpKeepalive(time=32768), OverflowError, id="time over Linux's 32767 s"),
    pytest.param(
        TcpKeepalive(time=60, interval=40000), OverflowError, id="interval over Linux's 32767 s"
    ),
    pytest.param(TcpKeepalive(time=60, retries=128), OverflowError, id="retries over Linux's 127"),
]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's limits")
@pytest.mark.parametrize("keepalive, exc", UNIX_KEEPALIVE_LIMITS)
def test_keepalive_the_kernel_would_refuse_changes_nothing(keepalive, exc) -> None:
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        before = (
            sock.tcp_keepalive_time(),
            sock.tcp_keepalive_interval(),
            sock.tcp_keepalive_retries(),
        )
        with pytest.raises(exc):
            sock.set_tcp_keepalive(keepalive)
        assert sock.keepalive() is False  # not half-applied
        assert (
            sock.tcp_keepalive_time(),
            sock.tcp_keepalive_interval(),
            sock.tcp_keepalive_retries(),
        ) == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's limits")
def test_keepalive_at_the_kernels_limits_is_accepted() -> None:
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        sock.set_tcp_keepalive(TcpKeepalive(time=32767.9, interval=1, retries=127))
        assert (
            sock.tcp_keepalive_time(),
            sock.tcp_keepalive_interval(),
            sock.tcp_keepalive_retries(),
        ) == (32767.0, 1.0, 127)


@pytest.mark.skipif(sys.platform == "win32", reason="Unix: TCP options on a UDP socket")
def test_keepalive_on_a_socket_without_tcp_options_changes_nothing() -> None:
    with Socket(Domain.IPV4, Type.DGRAM) as sock:
        with pytest.raises(OSError):
            sock.set_tcp_keepalive(TcpKeepalive(time=60))
        assert sock.keepalive() is False


# ---- BPF socket filters ----------------------------------------------------------------

needs_filters = pytest.mark.skipif(not hasattr(Socket, "attach_filter"), reason="Linux only")

# Drops every datagram whose first payload byte is "x" (the UDP header is 8 bytes).
DROP_X = [
    SockFilter(0x30, 0, 0, 8),  # ldb [8]
    SockFilter(0x15, 0, 1, ord("x")),  # jeq #'x', drop, keep
    SockFilter(0x06, 0, 0, 0),  # drop: ret #0
    SockFilter(0x06, 0, 0, 0xFFFFFFFF),  # keep: ret #-1 (the whole packet)
]


@needs_filters
def test_filter_drops_packets_until_detached(udp_pair) -> None:
    rx, tx = udp_pair
    rx.set_read_timeout(5)  # a wrongly dropped datagram fails the test instead of hanging it
    rx.attach_filter(DROP_X)
    tx.send(b"x dropped")
    tx.send(b"kept")
    assert rx.recv(100) == b"kept"
    rx.detach_filter()
    tx.send(b"x after detach")
    assert rx.recv(100) == b"x after detach"


@needs_filters
def test_filter_takes_plain_tuples(udp_pair) -> None:
    rx, tx = udp_pair
    rx.attach_filter([(0x06, 0, 0, 0)])  # drop everything
    tx.send(b"dropped")
    rx.set_nonblocking(True)
    with pytest.raises(BlockingIOError):
        rx.recv(100)


@needs_filters
def test_invalid_program_is_refused_by_the_kernel() -> None:
    with Socket(Domain.IPV4, Type.DGRAM) as sock:
        with pytest.raises(OSError) as info:
            sock.attach_filter([SockFilter(0x15, 5, 5, 0)])  # jumps out of the program
        assert info.value.errno == errno.EINVAL
        with pytest.raises(OSError) as info:
            sock.detach_filter()  # nothing attached
        assert info.value.errno == errno.ENOENT


@needs_filters
@pytest.mark.parametrize(
    "filters, exc",
    [
        ([], ValueError),
        ([SockFilter(6, 0, 0, 0)] * 65536, ValueError),
        ([(6, 0, 0)], ValueError),
        ([SockFilter(0x10000, 0, 0, 0)], OverflowError),
        ([SockFilter(6, 256, 0, 0)], OverflowError),
        ([SockFilter(6, 0, -1, 0)], ValueError),
        ([SockFilter(6, 0, 0, 2**32)], OverflowError),
        ([SockFilter(6, 0, 0, "0")], TypeError),  # type: ignore[arg-type]
        ([6, 0, 0, 0], TypeError),
        (None, TypeError),
    ],
)
def test_bad_filter_raises_before_the_system_call(filters: object, exc: type) -> None:
    sock = Socket(Domain.IPV4, Type.DGRAM)
    sock.close()
    with pytest.raises(exc):
        sock.attach_filter(filters)  # type: ignore[arg-type]


def test_sock_filter_unpacks_like_a_tuple() -> None:
    code, jt, jf, k = SockFilter(0x06, 1, 2, 3)
    assert (code, jt, jf, k) == (6, 1, 2, 3)


# ---- original destination --------------------------------------------------------------


@pytest.mark.skipif(not hasattr(Socket, "original_dst_v4"), reason="Linux and Windows only")
@pytest.mark.parametrize(
    "domain, host, getter",
    [
        (Domain.IPV4, "127.0.0.1", "original_dst_v4"),
        (Domain.IPV6, "::1", "original_dst_v6"),
    ],
)
def test_original_dst_of_a_connection_nat_did_not_touch(domain, host, getter) -> None:
    with Socket(domain, Type.STREAM) as listener:
        listener.bind((host, 0))
        listener.listen(1)
        with Socket(domain, Type.STREAM) as client:
            client.connect(listener.local_addr())
            conn, _ = listener.accept()
            with conn:
                with pytest.raises(OSError) as info:
                    getattr(conn, getter)()
    # ENOENT: conntrack knows no redirection; ENOPROTOOPT: netfilter is not loaded.
    assert info.value.errno in (errno.ENOENT, errno.ENOPROTOOPT)
