"""A signal storm around every blocking call (PEP 475).

SIGALRM fires every 50 µs (``setitimer(ITIMER_REAL)``) and runs a Python handler while the
main thread sits in a blocking pysock2 call; peers run in threads that block SIGALRM, so
every signal interrupts the call under test. Each call must come out as if no signal had
come: the same bytes, none lost or repeated; a timeout ends near its deadline (the
deadline of the call, not of the last retry); a handler that raises ends the call with
its exception, and the socket is still usable.

The upper bounds on elapsed time are generous (5x the timeout, plus a second) so that a
loaded 2-core CI machine passes; what they catch is a deadline restarted after each
signal, which under this storm never expires at all: a watchdog in the handler turns
that hang into a failure (``Watchdog``) after 5 s.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from contextlib import contextmanager

import pytest

from pysock2 import DatagramBatch, Domain, MsgHdr, MsgHdrMut, Socket, Type
from pysock2 import _pysock2 as C

from conftest import connected_tcp_pair, connected_udp_pair, idle_socket, needs_linux, pattern

pytestmark = needs_linux

INTERVAL = 50e-6
TIMEOUT = 0.3
SLACK = 5  # upper bound: SLACK * TIMEOUT + 1 s
WATCHDOG = 5.0
TOTAL = {"signals": 0}  # signals delivered over the whole module (printed at its end)


class Watchdog(Exception):
    """The call under test outlived the watchdog: a deadline that never expires."""


class Raised(Exception):
    """What the raising handler raises."""


class Storm:
    def __init__(self) -> None:
        self.count = 0
        self.raise_after: int | None = None
        self.deadline = time.monotonic() + WATCHDOG

    def handler(self, signum, frame) -> None:
        self.count += 1
        if self.raise_after is not None and self.count >= self.raise_after:
            self.raise_after = None
            raise Raised
        if time.monotonic() > self.deadline:
            self.deadline = float("inf")
            raise Watchdog


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    print(f"\n[test_signals] SIGALRM handlers run during blocking calls: {TOTAL['signals']}")


@pytest.fixture
def storm():
    """A fresh Storm; `with storm_on(storm):` runs the timer around one blocking call."""
    s = Storm()
    previous = signal.signal(signal.SIGALRM, s.handler)
    yield s
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)
    TOTAL["signals"] += s.count


@contextmanager
def storming(s: Storm, must_wait: bool = True):
    """The storm around one call; with must_wait (the call cannot complete without
    waiting for a peer), at least one signal must have come, or the test tested nothing."""
    s.deadline = time.monotonic() + WATCHDOG
    before = s.count
    signal.setitimer(signal.ITIMER_REAL, INTERVAL, INTERVAL)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    assert s.count > before or not must_wait, "no signal arrived during the call"


def in_thread(fn, *args) -> threading.Thread:
    """Runs fn in a thread that blocks SIGALRM, so every signal hits the main thread."""

    def run():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        fn(*args)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def stream_pair(kind: str):
    return Socket.pair(Domain.UNIX, Type.STREAM) if kind == "unix" else connected_tcp_pair()


def udp_pair():
    a, b = connected_udp_pair()
    b.set_recv_buffer_size(1 << 20)
    return a, b


def trickle(sock: Socket, data: bytes, chunk: int = 997) -> None:
    """Sends data in pieces with pauses, so the receiver blocks (and is interrupted) often."""
    for start in range(0, len(data), chunk):
        sock.sendall(data[start : start + chunk])
        time.sleep(0.0005)


# ------------------------------------------------------------------ receives


def _recv_some(sock: Socket, how: str, n: int) -> bytes:
    buf = bytearray(n)
    if how == "recv":
        return sock.recv(n)
    if how == "recv_waitall":
        return sock.recv(n, flags=C.MSG_WAITALL)
    if how == "recv_into":
        return bytes(buf[: sock.recv_into(buf)])
    if how == "recv_from":
        return sock.recv_from(n)[0]
    if how == "recv_from_into":
        return bytes(buf[: sock.recv_from_into(buf)[0]])
    if how == "recv_vectored":
        half = n // 2
        got, _ = sock.recv_vectored([memoryview(buf)[:half], memoryview(buf)[half:]])
        return bytes(buf[:got])
    if how == "recvmsg":
        with MsgHdrMut(buffers=[buf]) as msg:
            return bytes(buf[: sock.recvmsg(msg)])
    raise AssertionError(how)


STREAM_RECEIVES = [
    "recv",
    "recv_waitall",
    "recv_into",
    "recv_from",
    "recv_from_into",
    "recv_vectored",
    "recvmsg",
]


@pytest.mark.parametrize("kind", ["unix", "tcp"])
@pytest.mark.parametrize("how", STREAM_RECEIVES)
def test_stream_receives_keep_every_byte(storm, kind, how):
    a, b = stream_pair(kind)
    with a, b:
        data = pattern(0, 200_000)
        feeder = in_thread(trickle, a, data)
        got = bytearray()
        with storming(storm):
            while len(got) < len(data):
                piece = _recv_some(b, how, min(4096, len(data) - len(got)))
                assert piece, "EOF before all data arrived"
                got += piece
        feeder.join()
        assert bytes(got) == data


@pytest.mark.parametrize("how", ["send", "sendall", "send_vectored", "sendmsg", "sendfile"])
def test_stream_sends_keep_every_byte(storm, how):
    a, b = Socket.pair(Domain.UNIX, Type.STREAM)
    a.set_send_buffer_size(4096)  # a small buffer: the sender blocks many times
    data = pattern(0, 300_000)
    received = bytearray()

    def drain():
        while True:
            piece = b.recv(65536)
            if not piece:
                return
            received.extend(piece)
            time.sleep(0.0002)

    with a, b:
        reader = in_thread(drain)
        with storming(storm):
            if how == "sendall":
                a.sendall(data)
            elif how == "sendfile":
                with tempfile.TemporaryFile() as f:
                    f.write(data)
                    f.flush()
                    sent = 0
                    while sent < len(data):
                        n = a.sendfile(f, sent)
                        assert 0 < n <= len(data) - sent
                        sent += n
            else:
                view = memoryview(data)
                sent = 0
                while sent < len(data):
                    rest = view[sent : sent + 65536]
                    if how == "send":
                        n = a.send(rest)
                    elif how == "send_vectored":
                        n = a.send_vectored([rest[:100], rest[100:]])
                    else:
                        n = a.sendmsg(MsgHdr(buffers=[rest]))
                    assert 0 < n <= len(rest)
                    sent += n
        a.shutdown(C.SHUT_WR)
        reader.join(WATCHDOG)
        assert bytes(received) == data


DATAGRAM_RECEIVES = [
    "recv",
    "recv_from",
    "recv_into",
    "recvmsg",
    "recv_batch",
    "recv_gro_into",
    "recv_gro_from_into",
]


@pytest.mark.parametrize("how", DATAGRAM_RECEIVES)
def test_datagram_receives_lose_and_repeat_nothing(storm, how):
    a, b = udp_pair()
    count = 300
    with a, b:
        if how.startswith("recv_gro"):
            b.set_udp_gro(True)

        def feed():
            for seq in range(count):
                a.send(seq.to_bytes(4, "big") + pattern(seq, 40))
                time.sleep(0.0003)

        feeder = in_thread(feed)
        seen: list[int] = []
        buf = bytearray(65536)
        with storming(storm), DatagramBatch.allocate(16, 128) as batch:
            while len(seen) < count:
                if how == "recv_batch":
                    n = b.recv_batch(batch)
                    datagrams = [bytes(batch.data(i)) for i in range(n)]
                elif how.startswith("recv_gro"):
                    got = getattr(b, how)(buf)
                    nbytes, segment = got[0], got[1]
                    step = segment or nbytes
                    datagrams = [
                        bytes(buf[i : min(i + step, nbytes)]) for i in range(0, nbytes, step)
                    ]
                else:
                    datagrams = [_recv_some(b, how, 2048)]
                for datagram in datagrams:
                    seq = int.from_bytes(datagram[:4], "big")
                    assert datagram[4:] == pattern(seq, 40)
                    seen.append(seq)
        feeder.join()
        assert seen == list(range(count)), "datagrams lost, repeated or reordered"


@pytest.mark.parametrize("how", ["send_batch", "send_gso", "send_to"])
def test_datagram_sends_lose_and_repeat_nothing(storm, how):
    a, b = udp_pair()
    a.set_send_buffer_size(4096)  # blocking sends wait for room, interrupted many times
    count = 256
    datagrams = [seq.to_bytes(4, "big") + pattern(seq, 60) for seq in range(count)]
    seen: list[bytes] = []

    def drain():
        while len(seen) < count:
            seen.append(b.recv(2048))

    with a, b:
        reader = in_thread(drain)
        with storming(storm):
            if how == "send_batch":
                for start in range(0, count, 32):
                    chunk = datagrams[start : start + 32]
                    sent = 0
                    while sent < len(chunk):
                        n = a.send_batch(chunk[sent:])
                        assert 0 < n <= len(chunk) - sent
                        sent += n
            elif how == "send_gso":
                for start in range(0, count, 8):  # 8 equal segments per call
                    assert a.send_gso(b"".join(datagrams[start : start + 8]), 64) == 8 * 64
            else:
                for datagram in datagrams:
                    assert a.send_to(datagram, b.local_addr()) == len(datagram)
        reader.join(WATCHDOG)
        assert seen == datagrams


# ------------------------------------------------------------------ accept, connect


def test_accept_and_connect(storm):
    with Socket(Domain.IPV4, Type.STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        clients = []

        def connect_later():
            for _ in range(5):
                time.sleep(0.01)
                sock = Socket(Domain.IPV4, Type.STREAM)
                sock.connect(listener.local_addr())
                clients.append(sock)

        thread = in_thread(connect_later)
        accepted = []
        with storming(storm):
            for _ in range(5):
                accepted.append(listener.accept()[0])
            with Socket(Domain.IPV4, Type.STREAM) as mine:
                mine.connect(listener.local_addr())
                accepted.append(listener.accept()[0])
                mine.sendall(b"ping")
                assert accepted[-1].recv(4, flags=C.MSG_WAITALL) == b"ping"
        thread.join()
        for sock in accepted + clients:
            sock.close()


@pytest.mark.parametrize("how", ["connect_timeout", "write_timeout"])
def test_a_connect_that_must_wait_times_out_on_time(storm, full_unix_listener, how):
    _, path = full_unix_listener
    with Socket(Domain.UNIX, Type.STREAM) as sock:
        start = time.monotonic()
        with storming(storm), pytest.raises(TimeoutError):
            if how == "connect_timeout":
                sock.connect_timeout(path, TIMEOUT)
            else:
                sock.set_write_timeout(TIMEOUT)
                sock.connect(path)
        elapsed = time.monotonic() - start
        assert TIMEOUT * 0.9 <= elapsed < SLACK * TIMEOUT + 1, elapsed


@pytest.mark.parametrize("how", ["connect_timeout", "connect"])
def test_a_connect_that_waits_for_room_connects(storm, full_unix_listener, how):
    listener, path = full_unix_listener
    accepted = []

    def accept_later():
        time.sleep(0.05)
        accepted.append(listener.accept()[0])

    with Socket(Domain.UNIX, Type.STREAM) as sock:
        thread = in_thread(accept_later)
        with storming(storm):
            if how == "connect_timeout":
                sock.connect_timeout(path, 5.0)
            else:
                sock.connect(path)
        thread.join()
        sock.peer_addr()  # connected, not just returned
        for other in accepted:
            other.close()


def test_connect_timeout_over_tcp_connects(storm):
    with Socket(Domain.IPV4, Type.STREAM) as listener, Socket(Domain.IPV4, Type.STREAM) as sock:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with storming(storm, must_wait=False):  # loopback TCP may connect within 50 µs
            sock.connect_timeout(listener.local_addr(), 5.0)
        server, _ = listener.accept()
        with server:
            sock.sendall(b"x")
            assert server.recv(1) == b"x"


# ------------------------------------------------------------------ timeouts


def _wait_in(sock: Socket, how: str) -> None:
    if how == "accept":
        sock.accept()
    elif how == "recv_batch":
        with DatagramBatch.allocate(4, 64) as batch:
            sock.recv_batch(batch)
    elif how in ("recv_gro_into", "recv_gro_from_into"):
        getattr(sock, how)(bytearray(64))
    else:
        _recv_some(sock, how, 64)


@pytest.mark.parametrize(
    "how",
    [
        "recv",
        "recv_into",
        "recv_from",
        "recv_from_into",
        "recv_vectored",
        "recvmsg",
        "recv_batch",
        "recv_gro_into",
        "recv_gro_from_into",
        "accept",
    ],
)
def test_a_read_timeout_ends_on_time(storm, how):
    with idle_socket("listener" if how == "accept" else "udp") as sock:
        sock.set_read_timeout(TIMEOUT)
        start = time.monotonic()
        with storming(storm), pytest.raises(TimeoutError):
            _wait_in(sock, how)
        elapsed = time.monotonic() - start
        assert TIMEOUT * 0.9 <= elapsed < SLACK * TIMEOUT + 1, elapsed


@pytest.mark.parametrize("how", ["send", "sendall", "send_vectored", "sendmsg", "sendfile"])
def test_a_write_timeout_ends_on_time(storm, how):
    a, b = Socket.pair(Domain.UNIX, Type.STREAM)
    with a, b:
        a.set_send_buffer_size(4096)
        a.set_nonblocking(True)
        try:
            while True:
                a.send(bytes(4096))
        except BlockingIOError:
            pass
        a.set_nonblocking(False)
        a.set_write_timeout(TIMEOUT)
        start = time.monotonic()
        with storming(storm), pytest.raises(TimeoutError):
            if how == "sendall":
                a.sendall(bytes(100_000))
            elif how == "send_vectored":
                a.send_vectored([bytes(4096)])
            elif how == "sendmsg":
                a.sendmsg(MsgHdr(buffers=[bytes(4096)]))
            elif how == "sendfile":
                with tempfile.TemporaryFile() as f:
                    f.write(bytes(100_000))
                    f.flush()
                    a.sendfile(f)
            else:
                a.send(bytes(4096))
        elapsed = time.monotonic() - start
        assert TIMEOUT * 0.9 <= elapsed < SLACK * TIMEOUT + 1, elapsed


# ------------------------------------------------------------------ a raising handler


@pytest.mark.parametrize(
    "how", ["recv", "recvmsg", "recv_batch", "accept", "sendall", "connect_timeout"]
)
def test_a_raising_handler_ends_the_call_with_its_exception(storm, how, full_unix_listener):
    _, path = full_unix_listener
    a, b = Socket.pair(Domain.UNIX, Type.DGRAM if how == "recv_batch" else Type.STREAM)
    with a, b, Socket(Domain.UNIX, Type.STREAM) as listener:
        listener.bind(path + "-2")
        listener.listen(1)
        storm.raise_after = 200
        with storming(storm), pytest.raises(Raised):
            if how == "recv":
                b.recv(10)
            elif how == "recvmsg":
                with MsgHdrMut(buffers=[bytearray(10)]) as msg:
                    b.recvmsg(msg)
            elif how == "recv_batch":
                with DatagramBatch.allocate(2, 10) as batch:
                    b.recv_batch(batch)
            elif how == "accept":
                listener.accept()
            elif how == "sendall":
                a.sendall(bytes(10_000_000))
            else:
                with Socket(Domain.UNIX, Type.STREAM) as c:
                    c.connect_timeout(path, 60.0)
        os.unlink(path + "-2")
        # The socket is still usable: the interrupted call left nothing half-done.
        if how == "recv":
            a.sendall(b"after")
            assert b.recv(5) == b"after"
