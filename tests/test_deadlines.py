"""Blocking calls end where their deadline says; connects end only when connected.

- A connect that must wait (an AF_UNIX listener whose backlog is full, a TCP listener that
  drops SYNs) ends with TimeoutError at its deadline: ``write_timeout`` for ``connect()``,
  the argument for ``connect_timeout()``. Never success on a socket that is not connected.
- A signal during the wait runs its Python handler and changes nothing else (PEP 475): the
  deadline is the original one, and the connect carries on (TCP keeps connecting in the
  background; an interrupted AF_UNIX connect is made again). A handler that raises ends
  the call with its exception.
- A timeout too long for the clock waits without a deadline; it never wraps around into
  an immediate timeout.
- Every blocking receive, send and accept keeps its ``read_timeout``/``write_timeout``
  through a storm of signals: the kernel restarts a socket timeout with each call, so a
  retry after EINTR must wait only for the time left.
"""

from __future__ import annotations

import errno
import signal
import threading
import time

import pytest

from pysock2 import Domain, Socket, Type

from conftest import is_connected, needs_linux, wait_until

pytestmark = needs_linux  # backlog behaviour and SO_SNDTIMEO on connect are Linux's


class Watchdog(Exception):
    """Raised by a signal handler: the call under test waited too long."""


@pytest.fixture
def alarm():
    """alarm(first, then=None): SIGALRM after `first` seconds running a handler that does
    nothing (counted in alarm.calls), then, `then` seconds later, one that raises Watchdog."""

    class Alarm:
        calls = 0

        def __call__(self, first: float, then: float | None = None) -> None:
            self.then = then
            signal.setitimer(signal.ITIMER_REAL, first)

    state = Alarm()

    def handler(signum, frame):
        state.calls += 1
        if state.calls > 1:
            raise Watchdog
        if state.then is not None:
            signal.setitimer(signal.ITIMER_REAL, state.then)

    previous = signal.signal(signal.SIGALRM, handler)
    yield state
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def _assert_not_connected(sock) -> None:
    with pytest.raises(OSError) as caught:
        sock.peer_addr()
    assert caught.value.errno == errno.ENOTCONN


# ---------------------------------------------------------------- AF_UNIX, full backlog


def test_connect_timeout_to_a_full_unix_backlog_times_out_unconnected(full_unix_listener):
    _, path = full_unix_listener
    with Socket(Domain.UNIX, Type.STREAM) as sock:
        with pytest.raises(TimeoutError):
            sock.connect_timeout(path, 0.2)
        _assert_not_connected(sock)


def test_connect_timeout_to_a_full_unix_backlog_connects_once_there_is_room(full_unix_listener):
    listener, path = full_unix_listener
    accepted = []
    taker = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
    taker.start()
    try:
        with Socket(Domain.UNIX, Type.STREAM) as sock:
            sock.connect_timeout(path, 30)
            assert is_connected(sock)
    finally:
        taker.join()
        for conn in accepted:
            conn.close()


def test_blocking_unix_connect_past_its_write_timeout_is_timeout_error(full_unix_listener):
    _, path = full_unix_listener
    with Socket(Domain.UNIX, Type.STREAM) as sock:
        sock.set_write_timeout(0.2)
        with pytest.raises(TimeoutError):
            sock.connect(path)
        _assert_not_connected(sock)


def test_a_signal_during_a_unix_connect_keeps_its_write_timeout(full_unix_listener, alarm):
    _, path = full_unix_listener
    with Socket(Domain.UNIX, Type.STREAM) as sock:
        sock.set_write_timeout(0.5)
        alarm(0.05, then=20)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            sock.connect(path)
        assert alarm.calls == 1  # the handler ran, the watchdog did not
        assert time.monotonic() - start >= 0.45  # not cut short by the signal
        _assert_not_connected(sock)


def test_a_signal_during_a_unix_connect_without_timeout_still_connects(full_unix_listener, alarm):
    listener, path = full_unix_listener
    accepted = []

    def take_after_the_signal():
        wait_until(lambda: alarm.calls >= 1, timeout=20)
        accepted.append(listener.accept()[0])

    taker = threading.Thread(target=take_after_the_signal)
    taker.start()
    try:
        with Socket(Domain.UNIX, Type.STREAM) as sock:
            alarm(0.05, then=20)
            sock.connect(path)
            assert alarm.calls >= 1
            assert is_connected(sock)
    finally:
        taker.join()
        for conn in accepted:
            conn.close()


def test_a_raising_signal_handler_ends_the_connect(full_unix_listener, alarm):
    _, path = full_unix_listener
    with Socket(Domain.UNIX, Type.STREAM) as sock:
        alarm(0.05, then=0.05)  # the second signal raises
        with pytest.raises(Watchdog):
            sock.connect(path)


# ---------------------------------------------------------------- TCP, SYN dropped


def test_a_signal_during_a_tcp_connect_keeps_its_write_timeout(full_tcp_listener, alarm):
    _, addr = full_tcp_listener
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        sock.set_write_timeout(0.3)
        alarm(0.05, then=20)  # the kernel would retry the SYN for about two minutes
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            sock.connect(addr)
        assert alarm.calls == 1
        assert time.monotonic() - start >= 0.25


def test_an_interrupted_tcp_connect_carries_on_in_the_background(full_tcp_listener, alarm):
    listener, addr = full_tcp_listener
    accepted, done = [], threading.Event()

    def make_room_after_the_signal():
        wait_until(lambda: alarm.calls >= 1, timeout=20)
        listener.set_nonblocking(True)
        while not done.is_set():  # room for every SYN the kernel retries, ours included
            try:
                accepted.append(listener.accept()[0])
            except BlockingIOError:
                done.wait(0.01)

    taker = threading.Thread(target=make_room_after_the_signal)
    taker.start()
    try:
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            alarm(0.05, then=20)
            sock.connect(addr)  # EINTR at 50 ms: wait for the handshake, not connect again
            assert alarm.calls == 1
            assert is_connected(sock)
    finally:
        done.set()
        taker.join()
        for conn in accepted:
            conn.close()


def test_connect_timeout_too_long_for_the_clock_waits_without_a_deadline(full_tcp_listener, alarm):
    _, addr = full_tcp_listener
    # 2**64 ns and a little: a nanosecond deadline computed naively wraps around to "now".
    forever = 18446744073.7096
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        alarm(0.3, then=0.01)  # the first signal is ignored, the second raises
        with pytest.raises(Watchdog):
            sock.connect_timeout(addr, forever)


@pytest.mark.parametrize(
    "timeout, exc",
    [
        (1e13, OverflowError),
        (float("inf"), OverflowError),
        (-1, ValueError),
        (float("nan"), ValueError),
    ],
)
def test_connect_timeout_rejects_durations_before_any_system_call(timeout, exc):
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        with pytest.raises(exc):
            sock.connect_timeout(("127.0.0.1", 9), timeout)
        _assert_not_connected(sock)


# ---------------------------------------------------------------- close from another thread


def _closed_while_blocked(sock, call) -> OSError:
    """What `call()` raises when another thread closes `sock` while the call sleeps in the
    kernel (Linux does not wake it: its timeout ends it)."""
    caller = threading.get_native_id()

    def close_while_blocked():
        wait_until(lambda: _sleeping(caller), timeout=5)
        sock.close()

    closer = threading.Thread(target=close_while_blocked)
    closer.start()
    try:
        with pytest.raises(OSError) as caught:
            call()
    finally:
        closer.join()
    return caught.value


def test_a_receive_whose_socket_another_thread_closed_raises_ebadf():
    sock = Socket(Domain.IPV4, Type.DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.set_read_timeout(1.0)  # room for the closer to run on a loaded machine
    error = _closed_while_blocked(sock, lambda: sock.recv(16))
    assert type(error) is OSError and error.errno == errno.EBADF


def test_a_connect_whose_socket_another_thread_closed_raises_ebadf(full_unix_listener):
    _, path = full_unix_listener
    sock = Socket(Domain.UNIX, Type.STREAM)
    sock.set_write_timeout(1.0)
    error = _closed_while_blocked(sock, lambda: sock.connect(path))
    assert type(error) is OSError and error.errno == errno.EBADF


def _sleeping(tid: int) -> bool:
    with open(f"/proc/self/task/{tid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "S"


# ---------------------------------------------------------------- signal storms


@pytest.fixture
def storm():
    """A SIGALRM every 10 ms running a Python handler (counted); after 2,000 of them (20 s)
    the handler raises Watchdog, so that a deadline that is never kept fails the test."""

    class Storm:
        signals = 0

    def handler(signum, frame):
        Storm.signals += 1
        if Storm.signals == 2000:
            signal.setitimer(signal.ITIMER_REAL, 0)  # once: the test fails, nothing else
            raise Watchdog

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
    yield Storm
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def _udp():
    sock = Socket(Domain.IPV4, Type.DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def _full_tcp_sender(listener):
    """A connected TCP socket whose send buffer and the peer's receive buffer are full."""
    sock = Socket(Domain.IPV4, Type.STREAM)
    sock.connect(listener.local_addr())
    conn, _ = listener.accept()
    sock.set_nonblocking(True)
    try:
        while True:
            sock.send(b"x" * 65536)
    except BlockingIOError:
        pass
    sock.set_nonblocking(False)
    return sock, conn


def _batch():
    from pysock2 import DatagramBatch

    return DatagramBatch.allocate(2, 16)


def _msg():
    from pysock2 import MsgHdrMut

    return MsgHdrMut(buffers=[bytearray(16)])


BLOCKING_RECEIVES = {
    "recv": lambda s: s.recv(16),
    "recv_into": lambda s: s.recv_into(bytearray(16)),
    "recv_from": lambda s: s.recv_from(16),
    "recv_vectored": lambda s: s.recv_vectored([bytearray(16)]),
    "recvmsg": lambda s: s.recvmsg(_msg()),
    "recv_batch": lambda s: s.recv_batch(_batch()),
    "peek": lambda s: s.peek(16),
}


@pytest.mark.parametrize("call", BLOCKING_RECEIVES)
def test_a_receive_keeps_its_read_timeout_through_a_signal_storm(storm, call):
    with _udp() as sock:
        sock.set_read_timeout(0.2)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            BLOCKING_RECEIVES[call](sock)
        assert time.monotonic() - start >= 0.19
        assert storm.signals > 0


def test_accept_keeps_its_read_timeout_through_a_signal_storm(storm, listener):
    listener.set_read_timeout(0.2)
    with pytest.raises(TimeoutError):
        listener.accept()
    assert storm.signals > 0


@pytest.mark.parametrize("call", ["send", "sendall", "send_vectored"])
def test_a_send_keeps_its_write_timeout_through_a_signal_storm(storm, listener, call):
    sock, conn = _full_tcp_sender(listener)
    with sock, conn:
        sock.set_write_timeout(0.2)
        data = b"y" * 65536
        with pytest.raises(TimeoutError):
            if call == "send_vectored":
                sock.send_vectored([data])
            else:
                getattr(sock, call)(data)
        assert storm.signals > 0


def test_a_storm_does_not_stop_data_arriving_in_time(storm):
    with _udp() as a, _udp() as b:
        a.connect(b.local_addr())
        b.set_read_timeout(10)
        sender = threading.Thread(
            target=lambda: wait_until(lambda: storm.signals >= 5) and a.send(b"late")
        )
        sender.start()
        try:
            assert b.recv(16) == b"late"
        finally:
            sender.join()


# ---------------------------------------------------------------- durations set elsewhere


def test_a_huge_timeout_set_by_another_program_reads_back_without_overflow():
    import socket
    import struct

    from pysock2 import SockRef

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as std:
        # 10**15 s: Linux accepts it (it counts jiffies); int64 microseconds do not hold it.
        std.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ql", 10**15, 0))
        assert SockRef(std).read_timeout() >= 9e12  # saturated, not wrapped around
