"""The per-call fast paths of the scalar calls (docs/performance.md), each checked to behave
exactly as the plain blocking call would:

- a datagram call is first tried with MSG_DONTWAIT while holding the GIL; only when it
  would block does it wait, GIL released, with its buffer pinned;
- stream sockets never take that path (MSG_DONTWAIT could cut a send short or ignore
  MSG_WAITALL / SO_RCVLOWAT);
- bytes are read in place, and bytearrays and memoryviews too (with a GIL) while the GIL
  is held;
- recv_from_into and friends hand out the same SockAddr while the sender is unchanged,
  and a receive into a preallocated buffer keeps no new object alive.
"""

from __future__ import annotations

import array
import errno
import sys
import threading
import time

import pytest

from pysock2 import Domain, SockAddr, Socket, Type, _pysock2

from conftest import needs_linux, wait_until

needs_dontwait = pytest.mark.skipif(
    not hasattr(_pysock2, "MSG_DONTWAIT"), reason="no MSG_DONTWAIT (Windows)"
)


class TestDatagramFastPath:
    @pytest.mark.parametrize(
        "make",
        [bytearray, lambda n: memoryview(bytearray(n)), lambda n: array.array("B", bytes(n))],
        ids=["bytearray", "memoryview", "array"],
    )
    def test_data_already_queued(self, udp_pair, make):
        a, b = udp_pair
        buf = make(16)
        assert a.send(b"queued") == 6
        assert b.recv_into(buf) == 6
        assert bytes(memoryview(buf)[:6]) == b"queued"

    @pytest.mark.parametrize(
        "data",
        [b"bytes", bytearray(b"bytearray"), memoryview(b"memoryview"), array.array("B", b"array")],
        ids=["bytes", "bytearray", "memoryview", "array"],
    )
    def test_send_every_bytes_like(self, udp_pair, data):
        a, b = udp_pair
        assert a.send(data) == len(bytes(data))
        assert b.recv(64) == bytes(data)

    def test_a_bytearray_is_pinned_once_the_call_must_wait(self, udp_pair):
        a, b = udp_pair
        buf = bytearray(8)
        result = []
        worker = threading.Thread(target=lambda: result.append(b.recv_into(buf)))
        worker.start()

        def pinned():
            try:
                buf.extend(b"?")  # succeeds only before the worker waits
            except BufferError:
                return True
            return False

        try:
            assert wait_until(pinned), "the waiting call must keep the buffer exported"
        finally:
            a.send(b"woke")
            worker.join()
        assert result == [4] and buf[:4] == b"woke"
        buf.extend(b"!")  # and let go afterwards

    def test_a_memoryview_is_pinned_once_the_call_must_wait(self, udp_pair):
        """While the call waits, view.release() must be refused: otherwise the memory
        could be freed under the kernel's feet. A release that wins the race to the call
        instead makes the call refuse the view at once, so retry until the call waits."""
        a, b = udp_pair
        for attempt in range(1, 21):
            backing = bytearray(8)
            view = memoryview(backing)[2:]
            outcome = []

            def receive():
                try:
                    outcome.append(b.recv_into(view))
                except (TypeError, ValueError) as exc:  # the view was released first
                    outcome.append(exc)

            worker = threading.Thread(target=receive)
            worker.start()
            time.sleep(0.01 * attempt)
            try:
                view.release()
            except BufferError:  # pinned by the waiting call
                a.send(b"woke")
                worker.join()
                assert outcome == [4] and backing[2:6] == b"woke"
                view.release()  # and let go afterwards
                return
            worker.join(timeout=2)
            if worker.is_alive():
                a.send(b"unblock")
                worker.join()
                pytest.fail("a waiting recv_into did not keep its memoryview exported")
            assert isinstance(outcome[0], (TypeError, ValueError))
        pytest.fail("the call never got to wait")

    @pytest.mark.parametrize("typecode", ["H", "i", "d"])
    def test_a_memoryview_of_wider_items_counts_bytes(self, udp_pair, typecode):
        a, b = udp_pair
        target = array.array(typecode, [0] * 4)
        assert a.send(memoryview(array.array(typecode, [1, 2, 3, 4]))) == 4 * target.itemsize
        assert b.recv_into(memoryview(target)) == 4 * target.itemsize
        assert target.tolist() == [1, 2, 3, 4]

    def test_a_strided_memoryview_is_refused_before_the_call(self, udp_pair):
        a, b = udp_pair
        a.send(b"kept")
        strided = memoryview(bytearray(8))[::2]
        with pytest.raises(TypeError, match="contiguous"):
            b.recv_into(strided)
        with pytest.raises(TypeError, match="contiguous"):
            a.send(memoryview(b"abcdefgh")[::2])
        assert b.recv(8) == b"kept"  # nothing was consumed

    def test_a_full_unix_datagram_queue_blocks_the_sender(self):
        """The MSG_DONTWAIT attempt sees EAGAIN; the call then waits, as a blocking send
        must, instead of raising BlockingIOError."""
        a, b = Socket.pair(Domain.UNIX, Type.DGRAM)
        with a, b:
            payload = bytearray(4096)
            sent = []

            def flood():
                for _ in range(2000):
                    sent.append(a.send(payload))

            worker = threading.Thread(target=flood)
            worker.start()
            received = 0
            while received < 2000:
                assert len(b.recv(8192)) == 4096
                received += 1
            worker.join()
            assert len(sent) == 2000 and set(sent) == {4096}

    @needs_dontwait
    def test_dontwait_is_blocking_io_error(self, udp_pair):
        _, b = udp_pair
        b.set_read_timeout(5)
        with pytest.raises(BlockingIOError) as info:
            b.recv_into(bytearray(4), flags=_pysock2.MSG_DONTWAIT)
        assert info.value.errno in (errno.EAGAIN, errno.EWOULDBLOCK)

    def test_non_blocking_socket_is_blocking_io_error_not_a_timeout(self, udp_pair):
        _, b = udp_pair
        b.set_nonblocking(True)
        b.set_read_timeout(5)
        for call in (
            lambda: b.recv_into(bytearray(4)),
            lambda: b.recv(4),
            lambda: b.recv_from_into(bytearray(4)),
            lambda: b.peek_sender(),
        ):
            with pytest.raises(BlockingIOError):
                call()

    def test_blocking_socket_with_a_read_timeout(self, udp_pair):
        _, b = udp_pair
        b.set_read_timeout(0.05)
        with pytest.raises(TimeoutError):
            b.recv_into(bytearray(4))

    def test_an_error_queued_by_icmp_is_raised(self):
        with Socket(Domain.IPV4, Type.DGRAM) as sock, Socket(Domain.IPV4, Type.DGRAM) as gone:
            gone.bind(("127.0.0.1", 0))
            sock.connect(gone.local_addr())
            gone.close()
            sock.send(b"nobody home")
            with pytest.raises(ConnectionRefusedError):
                sock.recv_into(bytearray(4))

    def test_closed_socket(self, closed_socket):
        for call in (
            lambda: closed_socket.recv_into(bytearray(4)),
            lambda: closed_socket.send(b"x"),
        ):
            with pytest.raises(OSError) as info:
                call()
            assert info.value.errno == errno.EBADF

    def test_a_released_memoryview_is_refused(self, udp_pair):
        _, b = udp_pair
        view = memoryview(bytearray(4))
        view.release()
        with pytest.raises((TypeError, ValueError)):
            b.recv_into(view)


class TestStreamsKeepBlockingSemantics:
    def test_a_large_send_on_a_blocking_stream_sends_everything(self, tcp_pair):
        client, server = tcp_pair
        payload = bytes(8 * 1024 * 1024)
        received = []

        def drain():
            total = 0
            buf = bytearray(1 << 16)
            server.set_read_timeout(2)  # a short send must fail the test, not hang it
            try:
                while total < len(payload):
                    total += server.recv_into(buf)
            except TimeoutError:
                pass
            received.append(total)

        worker = threading.Thread(target=drain)
        worker.start()
        try:
            assert client.send(payload) == len(payload)
        finally:
            worker.join()
        assert received == [len(payload)]

    @pytest.mark.skipif(not hasattr(_pysock2, "MSG_WAITALL"), reason="no MSG_WAITALL")
    def test_waitall_waits_for_the_whole_buffer(self, tcp_pair):
        client, server = tcp_pair
        client.send(b"abc")
        timer = threading.Timer(0.05, lambda: client.send(b"def"))
        timer.start()
        try:
            buf = bytearray(6)
            assert server.recv_into(buf, flags=_pysock2.MSG_WAITALL) == 6
        finally:
            timer.join()
        assert buf == b"abcdef"


class TestSenderReuse:
    def test_an_unchanged_sender_is_the_same_object(self):
        with Socket(Domain.IPV4, Type.DGRAM) as rx, Socket(Domain.IPV4, Type.DGRAM) as tx:
            rx.bind(("127.0.0.1", 0))
            tx.bind(("127.0.0.1", 0))
            buf = bytearray(8)
            tx.send_to(b"1", rx.local_addr())
            tx.send_to(b"2", rx.local_addr())
            tx.send_to(b"3", rx.local_addr())
            _, first = rx.recv_from_into(buf)
            _, second = rx.recv_from(8)
            third = rx.peek_sender()
            assert first is second is third
            assert isinstance(first, SockAddr) and first == tx.local_addr()

    def test_a_new_sender_gets_a_new_object(self):
        with (
            Socket(Domain.IPV4, Type.DGRAM) as rx,
            Socket(Domain.IPV4, Type.DGRAM) as t1,
            Socket(Domain.IPV4, Type.DGRAM) as t2,
        ):
            for sock in (rx, t1, t2):
                sock.bind(("127.0.0.1", 0))
            for tx in (t1, t2, t1):
                tx.send_to(b"x", rx.local_addr())
            buf = bytearray(8)
            senders = [rx.recv_from_into(buf)[1] for _ in range(3)]
            assert senders == [t1.local_addr(), t2.local_addr(), t1.local_addr()]
            assert senders[0] is not senders[1]

    def test_the_cache_is_per_socket(self):
        with (
            Socket(Domain.IPV4, Type.DGRAM) as r1,
            Socket(Domain.IPV4, Type.DGRAM) as r2,
            Socket(Domain.IPV4, Type.DGRAM) as tx,
        ):
            r1.bind(("127.0.0.1", 0))
            r2.bind(("127.0.0.1", 0))
            tx.send_to(b"a", r1.local_addr())
            tx.send_to(b"b", r2.local_addr())
            s1 = r1.recv_from(4)[1]
            s2 = r2.recv_from(4)[1]
            assert s1 == s2 and s1 is not s2

    @needs_linux
    def test_unix_datagram_senders(self, tmp_path):
        with Socket(Domain.UNIX, Type.DGRAM) as rx, Socket(Domain.UNIX, Type.DGRAM) as tx:
            rx.bind(str(tmp_path / "rx"))
            tx.bind(str(tmp_path / "tx"))
            tx.send_to(b"1", rx.local_addr())
            tx.send_to(b"2", rx.local_addr())
            buf = bytearray(4)
            first = rx.recv_from_into(buf)[1]
            assert rx.recv_from_into(buf)[1] is first
            assert first.as_pathname() == str(tmp_path / "tx").encode()


class TestNoAllocation:
    """Receives into a preallocated buffer keep no new object alive: every result is kept
    here, so anything a call created would show in sys.getallocatedblocks()."""

    CALLS = 2000

    def run(self, a, b, receive):
        data = b"x" * 64
        results = [None] * self.CALLS
        a.send(data)
        receive()  # warm up: caches, lazily built state
        before = sys.getallocatedblocks()
        for i in range(self.CALLS):
            a.send(data)
            results[i] = receive()
        return sys.getallocatedblocks() - before, results

    @pytest.mark.parametrize(
        "make", [bytearray, lambda n: memoryview(bytearray(n))], ids=["bytearray", "memoryview"]
    )
    def test_recv_into(self, udp_pair, make):
        a, b = udp_pair
        buf = make(2048)
        grown, results = self.run(a, b, lambda: b.recv_into(buf))
        assert set(results) == {64}
        assert grown < 20, f"{grown} blocks for {self.CALLS} calls"

    def test_recv_from_into_builds_no_sockaddr(self, udp_pair):
        a, b = udp_pair
        buf = bytearray(2048)
        grown, results = self.run(a, b, lambda: b.recv_from_into(buf))
        assert len({id(addr) for _, addr in results}) == 1
        # Each kept result is one (int, SockAddr) tuple: one block, no SockAddr.
        assert grown < self.CALLS + 20, f"{grown} blocks for {self.CALLS} calls"

    def test_recv_from_into_unpacked_in_a_loop(self, udp_pair):
        a, b = udp_pair
        buf = bytearray(2048)
        data = b"y" * 64
        a.send(data)
        b.recv_from_into(buf)
        before = sys.getallocatedblocks()
        for _ in range(self.CALLS):
            a.send(data)
            n, sender = b.recv_from_into(buf)
        assert sys.getallocatedblocks() - before < 20
        assert n == 64 and sender == a.local_addr()
