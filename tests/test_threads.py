"""One Socket shared by 8 threads: sending, receiving, options and close() at the same time.

On a free-threaded CPython (3.13t) the threads really run in parallel; with the GIL they
still interleave at every system call, which releases it. Each test runs ITERATIONS
operations per thread (2,000: 16,000 per test) and checks what the threads saw: no lost
or corrupted data, only the documented exceptions, a descriptor closed exactly once.
"""

from __future__ import annotations

import collections
import errno
import os
import socket as stdlib_socket
import struct
import threading
from typing import Any, Callable

import pytest

from pysock2 import Domain, Shutdown, Socket, Type

from conftest import connected_tcp_pair, open_fds

THREADS = 8
ITERATIONS = int(os.environ.get("PYSOCK2_THREAD_ITERATIONS", "2000"))
CLOSE_ROUNDS = 100
JOIN_TIMEOUT = 60.0  # a hang guard only: the tests take well under a second


def run_threads(work: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    """Runs work(0..n-1) in n threads released together; returns their results and
    re-raises the first exception a thread raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), name=f"hammer-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def udp_to_itself() -> Socket:
    sock = Socket(Domain.IPV4, Type.DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.connect(sock.local_addr())
    sock.set_recv_buffer_size(1 << 20)
    return sock


def test_datagrams_sent_and_received_by_eight_threads_arrive_once_and_intact() -> None:
    record = struct.Struct("!II")  # (thread, sequence number)
    with udp_to_itself() as sock:

        def work(i: int) -> list[bytes]:
            got = []
            buf = bytearray(64)
            for seq in range(ITERATIONS):
                assert sock.send(record.pack(i, seq)) == record.size
                try:
                    n = sock.recv_into(buf, flags=stdlib_socket.MSG_DONTWAIT)
                except BlockingIOError:  # another thread took the datagram
                    continue
                got.append(bytes(buf[:n]))
            return got

        received = [d for got in run_threads(work) for d in got]
        sock.set_nonblocking(True)
        while True:
            try:
                received.append(sock.recv(64))
            except BlockingIOError:
                break
    assert sorted(record.unpack(d) for d in received) == [
        (i, seq) for i in range(THREADS) for seq in range(ITERATIONS)
    ]


def test_a_stream_written_and_read_by_eight_threads_loses_nothing() -> None:
    """Four threads sendall() on one end, four recv_into() on the other; the last writer
    shuts the sending side down, which ends every reader with a 0-byte read."""
    chunk, writers = 1000, THREADS // 2
    client, server = connected_tcp_pair()
    lock, finished = threading.Lock(), [0]
    with client, server:
        server.set_read_timeout(JOIN_TIMEOUT)

        def work(i: int) -> collections.Counter:
            seen: collections.Counter = collections.Counter()
            if i < writers:  # each writer its own byte value
                data = bytes([65 + i]) * chunk
                for _ in range(ITERATIONS // 4):
                    client.sendall(data)
                with lock:
                    finished[0] += 1
                    if finished[0] == writers:
                        client.shutdown(Shutdown.WRITE)
                return seen
            buf = bytearray(4096)
            while True:
                n = server.recv_into(buf)
                if n == 0:
                    return seen
                seen.update(buf[:n])

        counts = sum(run_threads(work), collections.Counter())
    assert counts == {65 + i: chunk * (ITERATIONS // 4) for i in range(writers)}


def test_options_set_and_read_by_eight_threads_read_back_a_value_some_thread_set() -> None:
    with Socket(Domain.IPV4, Type.STREAM) as sock:

        def work(i: int) -> None:
            for k in range(ITERATIONS):
                ttl = 1 + (i * ITERATIONS + k) % 255
                sock.set_ttl_v4(ttl)
                assert 1 <= sock.ttl_v4() <= 255
                sock.set_tcp_nodelay(k % 2 == 0)
                assert sock.tcp_nodelay() in (True, False)
                sock.set_read_timeout(1 + i)
                assert sock.read_timeout() in {float(1 + j) for j in range(THREADS)}
                sock.set_linger(None if k % 3 else i)
                assert sock.linger() in {None} | {float(j) for j in range(THREADS)}
                assert sock.type() == Type.STREAM
                assert sock.take_error() is None

        run_threads(work)


def test_close_while_seven_threads_use_the_socket() -> None:
    """Every operation either works or raises OSError (EBADF once closed); the
    descriptor is closed exactly once and nothing else is closed by mistake."""
    allowed = {errno.EBADF, errno.EAGAIN, errno.ENOTCONN, errno.EDESTADDRREQ}
    before = len(open_fds())
    for _ in range(CLOSE_ROUNDS):
        sock = udp_to_itself()
        sock.set_nonblocking(True)

        def work(i: int) -> collections.Counter:
            outcomes: collections.Counter = collections.Counter()
            buf = bytearray(16)
            if i == 0:
                sock.close()
                return outcomes
            for k in range(ITERATIONS // 20):
                op = (i + k) % 6
                try:
                    if op == 0:
                        sock.send(b"ping")
                    elif op == 1:
                        sock.recv_into(buf)
                    elif op == 2:
                        sock.set_ttl_v4(1 + k % 200)
                    elif op == 3:
                        sock.ttl_v4()
                    elif op == 4:
                        sock.local_addr()
                    else:
                        sock.try_clone().close()
                    outcomes["ok"] += 1
                except OSError as exc:
                    assert exc.errno in allowed, exc
                    outcomes[errno.errorcode[exc.errno]] += 1
            return outcomes

        run_threads(work)
        assert sock.closed and sock.fileno() == -1
        with pytest.raises(OSError) as info:
            sock.send(b"late")
        assert info.value.errno == errno.EBADF
        sock.close()  # still idempotent
    assert len(open_fds()) == before


def test_eight_threads_closing_at_once_close_the_descriptor_once() -> None:
    before = len(open_fds())
    for _ in range(CLOSE_ROUNDS):
        sock = udp_to_itself()
        # A descriptor opened right after ours: a second close() of our number would not
        # touch it, but a close of a stale copy after reuse would, so it must survive.
        run_threads(lambda i: sock.close())
        with udp_to_itself() as survivor:
            survivor.send(b"alive")
            assert survivor.recv(16) == b"alive"
        assert sock.closed
    assert len(open_fds()) == before


def test_detach_and_close_race_leaves_exactly_one_owner() -> None:
    for _ in range(CLOSE_ROUNDS):
        sock = udp_to_itself()
        fd = sock.fileno()
        results = run_threads(lambda i: sock.detach() if i % 2 else sock.close())
        detached = [r for r in results if r is not None and r != -1]
        # Either one detach won (and owns fd now), or close won and every detach saw -1.
        assert detached in ([], [fd])
        if detached:
            os.close(fd)
        assert sock.closed
