"""Batch datagram I/O: DatagramBatch, Socket.recv_batch and Socket.send_batch (recvmmsg and
sendmmsg on Linux). Partial batches, truncation, EAGAIN part-way, buffers of different
sizes, and no Python object per datagram."""

from __future__ import annotations

import array
import errno
import gc
import mmap
import sys
import threading
import time

import pytest

from pysock2 import DatagramBatch, Domain, RecvFlags, SockAddr, Socket, Type, _pysock2

from conftest import wait_until


def unconnected_udp() -> Socket:
    sock = Socket(Domain.IPV4, Type.DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


class TestDatagramBatch:
    @pytest.mark.parametrize(
        "make",
        [
            lambda: bytearray(32),
            lambda: memoryview(bytearray(64))[16:48],
            lambda: array.array("B", bytes(32)),
            lambda: mmap.mmap(-1, 32),
        ],
        ids=["bytearray", "memoryview-slice", "array", "mmap"],
    )
    def test_slots_over_any_writable_buffer(self, udp_pair, make):
        a, b = udp_pair
        buffers = [make(), make()]
        with DatagramBatch(buffers) as batch:
            a.send(b"first")
            assert b.recv_batch(batch) == 1
            assert bytes(batch.data(0)) == b"first"
            assert batch.buffer(0) is buffers[0]
        for buf in buffers:
            if isinstance(buf, mmap.mmap):
                buf.close()

    def test_allocate_carves_slots_from_one_bytearray(self):
        batch = DatagramBatch.allocate(4, 100)
        assert isinstance(batch, DatagramBatch)
        assert (batch.capacity, batch.count, batch.control_size) == (4, 0, 0)
        assert [len(batch.buffer(i)) for i in range(4)] == [100] * 4
        assert batch.buffer(0).obj is batch.buffer(3).obj
        batch.release()

    def test_properties_and_repr(self):
        batch = DatagramBatch([bytearray(8)], control_size=24)
        assert batch.control_size == 24
        assert "0 of 1" in repr(batch)
        assert not batch.released
        batch.release()
        assert batch.released
        assert "released" in repr(batch)

    def test_buffers_are_pinned_until_release(self):
        buf = bytearray(16)
        batch = DatagramBatch([buf])
        with pytest.raises(BufferError):
            buf.extend(b"x")
        batch.release()
        batch.release()  # idempotent
        buf.extend(b"x")

    def test_with_block_releases(self):
        buf = bytearray(16)
        with DatagramBatch([buf]) as batch:
            pass
        assert batch.released
        buf.extend(b"x")

    def test_dropping_the_batch_unpins(self):
        buf = bytearray(16)
        DatagramBatch([buf])
        buf.extend(b"x")

    @pytest.mark.parametrize(
        "buffers, exc",
        [
            (bytearray(10), TypeError),  # one buffer, not a sequence of them
            (42, TypeError),
            ([b"read-only"], TypeError),
            ([bytearray(4), "text"], TypeError),
            ([], ValueError),
            ([bytearray(1)] * (_pysock2.BATCH_MAX + 1), ValueError),
        ],
        ids=["single-buffer", "int", "read-only", "str-item", "empty", "too-many"],
    )
    def test_bad_buffers(self, buffers, exc):
        with pytest.raises(exc):
            DatagramBatch(buffers)

    def test_bad_buffer_leaves_earlier_ones_unpinned(self):
        first = bytearray(4)
        with pytest.raises(TypeError):
            DatagramBatch([first, b"read-only"])
        first.extend(b"x")

    @pytest.mark.parametrize("size, exc", [(-1, ValueError), (70000, ValueError), ("8", TypeError)])
    def test_bad_control_size(self, size, exc):
        with pytest.raises(exc):
            DatagramBatch([bytearray(4)], control_size=size)

    @pytest.mark.parametrize(
        "count, size, exc",
        [
            (0, 10, ValueError),
            (_pysock2.BATCH_MAX + 1, 1, ValueError),
            (2, -1, ValueError),
            (2.0, 10, TypeError),
        ],
    )
    def test_bad_allocate(self, count, size, exc):
        with pytest.raises(exc):
            DatagramBatch.allocate(count, size)

    def test_index_checks(self, udp_pair):
        a, b = udp_pair
        batch = DatagramBatch.allocate(4, 16)
        a.send(b"one")
        a.send(b"two")
        assert b.recv_batch(batch) == 2
        assert batch.length(-1) == 3  # counted from the datagrams held
        with pytest.raises(IndexError):
            batch.length(2)  # a slot, but not a datagram held
        with pytest.raises(IndexError):
            batch.address(-3)
        with pytest.raises(TypeError):
            batch.flags("0")
        assert batch.buffer(3) is not None  # buffers go by capacity
        with pytest.raises(IndexError):
            batch.buffer(4)
        batch.release()
        with pytest.raises(ValueError, match="released"):
            batch.length(0)

    def test_set_on_a_batch_its_address_argument_released_raises(self):
        batch = DatagramBatch.allocate(2, 16)

        class ReleasingPath:
            def __fspath__(self):
                batch.release()  # Python code run while set() converts the address
                return "/tmp/pysock2-nowhere"

        with pytest.raises(ValueError, match="released"):
            batch.set(0, 4, ReleasingPath())

    def test_count_setter(self):
        batch = DatagramBatch.allocate(3, 8)
        batch.count = 3
        assert batch.count == 3
        with pytest.raises(ValueError):
            batch.count = 4
        with pytest.raises(ValueError):
            batch.count = -1
        with pytest.raises(TypeError):
            batch.count = "1"
        with pytest.raises(AttributeError):
            del batch.count
        batch.release()


class TestRecvBatch:
    def test_receives_every_queued_datagram_in_one_call(self, udp_pair):
        a, b = udp_pair
        batch = DatagramBatch.allocate(8, 64)
        payloads = [b"a", b"bb", b"ccc"]
        for p in payloads:
            a.send(p)
        assert b.recv_batch(batch) == 3
        assert batch.count == 3
        assert [batch.length(i) for i in range(3)] == [1, 2, 3]
        assert [bytes(batch.data(i)) for i in range(3)] == payloads
        assert [batch.flags(i) for i in range(3)] == [RecvFlags(0)] * 3
        assert batch.address(0) == a.local_addr()
        batch.release()

    def test_partial_batch_does_not_wait_for_more(self, udp_pair):
        """A blocking socket waits for the first datagram only (MSG_WAITFORONE)."""
        a, b = udp_pair
        b.set_read_timeout(5)
        batch = DatagramBatch.allocate(16, 8)
        a.send(b"only")
        start = time.monotonic()
        assert b.recv_batch(batch) == 1
        assert time.monotonic() - start < 2.5
        batch.release()

    def test_waits_for_the_first_datagram_with_the_gil_released(self, udp_pair):
        a, b = udp_pair
        batch = DatagramBatch.allocate(4, 16)
        sender = threading.Timer(0.05, lambda: a.send(b"late"))
        sender.start()
        try:
            assert b.recv_batch(batch) == 1  # the timer thread ran: the GIL was free
        finally:
            sender.join()
        assert bytes(batch.data(0)) == b"late"
        batch.release()

    def test_truncated_datagram(self, udp_pair):
        a, b = udp_pair
        batch = DatagramBatch([bytearray(4)])
        a.send(b"0123456789")
        assert b.recv_batch(batch) == 1
        assert batch.length(0) == 4
        assert batch.flags(0).is_truncated
        assert bytes(batch.data(0)) == b"0123"
        batch.release()

    def test_buffers_of_different_sizes(self, udp_pair):
        a, b = udp_pair
        buffers = [bytearray(2), bytearray(100), bytearray(0), bytearray(7)]
        batch = DatagramBatch(buffers)
        for _ in range(4):
            a.send(b"abcdefg")
        assert b.recv_batch(batch) == 4
        assert [batch.length(i) for i in range(4)] == [2, 7, 0, 7]
        assert [batch.flags(i).is_truncated for i in range(4)] == [True, False, True, False]
        assert buffers[0] == b"ab" and buffers[1][:7] == b"abcdefg" and buffers[3] == b"abcdefg"
        batch.release()

    def test_empty_datagrams(self, udp_pair):
        a, b = udp_pair
        batch = DatagramBatch.allocate(2, 8)
        a.send(b"")
        a.send(b"")
        assert b.recv_batch(batch) == 2
        assert batch.length(0) == batch.length(1) == 0
        batch.release()

    def test_eagain_part_way_returns_what_was_queued(self, udp_pair):
        a, b = udp_pair
        b.set_nonblocking(True)
        batch = DatagramBatch.allocate(8, 16)
        for p in (b"1", b"2", b"3"):
            a.send(p)
        assert b.recv_batch(batch) == 3
        with pytest.raises(BlockingIOError):
            b.recv_batch(batch)
        assert batch.count == 0  # a failed call holds nothing
        batch.release()

    def test_dontwait_on_a_blocking_socket(self, udp_pair):
        _, b = udp_pair
        batch = DatagramBatch.allocate(2, 16)
        with pytest.raises(BlockingIOError):
            b.recv_batch(batch, flags=_pysock2.MSG_DONTWAIT)
        batch.release()

    def test_read_timeout(self, udp_pair):
        _, b = udp_pair
        b.set_read_timeout(0.05)
        batch = DatagramBatch.allocate(2, 16)
        with pytest.raises(TimeoutError):
            b.recv_batch(batch)
        batch.release()

    def test_senders_by_index_share_one_object(self):
        with unconnected_udp() as server, unconnected_udp() as c1, unconnected_udp() as c2:
            for client in (c1, c1, c2, c1):
                client.send_to(b"hi", server.local_addr())
            batch = DatagramBatch.allocate(8, 8)
            assert server.recv_batch(batch) == 4
            addrs = [batch.address(i) for i in range(4)]
            assert addrs == [c1.local_addr(), c1.local_addr(), c2.local_addr(), c1.local_addr()]
            assert addrs[0] is addrs[1]
            assert isinstance(addrs[0], SockAddr)
            assert batch.address(0) is addrs[0]  # asked again: the same object
            batch.release()

    def test_reuse_across_calls(self, udp_pair):
        a, b = udp_pair
        batch = DatagramBatch.allocate(4, 16)
        for round_ in range(3):
            for i in range(4):
                a.send(bytes([round_, i]))
            assert b.recv_batch(batch) == 4
            assert [bytes(batch.data(i)) for i in range(4)] == [
                bytes([round_, i]) for i in range(4)
            ]
        batch.release()

    def test_no_python_object_per_datagram(self, udp_pair):
        """Moving many datagrams keeps no new object alive beyond the returned counts."""
        a, b = udp_pair
        batch = DatagramBatch.allocate(32, 64)
        datagrams = [b"x" * 64] * 32
        results = [0] * 200
        a.send_batch(datagrams)
        b.recv_batch(batch)  # warm up
        before = sys.getallocatedblocks()
        for i in range(200):
            a.send_batch(datagrams)
            results[i] = b.recv_batch(batch)
        grown = sys.getallocatedblocks() - before
        assert set(results) == {32}
        assert grown < 20, f"{grown} blocks for 6400 datagrams"
        batch.release()

    def test_bad_arguments(self, udp_pair):
        _, b = udp_pair
        with pytest.raises(TypeError):
            b.recv_batch(bytearray(10))
        with pytest.raises(TypeError):
            b.recv_batch()
        batch = DatagramBatch.allocate(1, 8)
        with pytest.raises(TypeError):
            b.recv_batch(batch, flags="0")
        with pytest.raises(TypeError):
            b.recv_batch(batch, nonsense=1)
        batch.release()
        with pytest.raises(ValueError, match="released"):
            b.recv_batch(batch)

    def test_closed_socket(self, closed_socket):
        batch = DatagramBatch.allocate(1, 8)
        with pytest.raises(OSError) as info:
            closed_socket.recv_batch(batch)
        assert info.value.errno == errno.EBADF
        batch.release()

    def test_a_batch_serves_one_call_at_a_time(self, udp_pair):
        a, b = udp_pair
        batch = DatagramBatch.allocate(2, 16)
        worker = threading.Thread(target=b.recv_batch, args=(batch,))
        worker.start()
        try:

            def batch_taken() -> bool:
                try:
                    batch.count = 0
                except RuntimeError:
                    return True
                return False

            # Wait until the worker is inside recv_batch (the batch is taken).
            assert wait_until(batch_taken)
            with pytest.raises(RuntimeError, match="in use"):
                b.recv_batch(batch)
            with pytest.raises(RuntimeError, match="in use"):
                batch.release()
        finally:
            a.send(b"go")
            worker.join()
        assert batch.count == 1
        batch.release()


class TestSendBatch:
    def test_sends_a_sequence_of_bytes_likes(self, udp_pair):
        a, b = udp_pair
        items = [
            b"bytes",
            bytearray(b"bytearray"),
            memoryview(b"..view..")[2:6],
            array.array("B", b"arr"),
        ]
        assert a.send_batch(items) == 4
        assert [b.recv(64) for _ in range(4)] == [b"bytes", b"bytearray", b"view", b"arr"]

    def test_tuple_and_generator_free_sequences(self, udp_pair):
        a, b = udp_pair
        assert a.send_batch((b"1", b"2")) == 2
        assert a.send_batch([]) == 0
        assert [b.recv(8), b.recv(8)] == [b"1", b"2"]

    def test_to_one_address(self):
        with unconnected_udp() as server, unconnected_udp() as client:
            assert client.send_batch([b"p", b"q"], server.local_addr()) == 2
            assert client.send_batch([b"r"], address=server.local_addr().as_socket()) == 1
            assert [server.recv_from(8) for _ in range(3)] == [
                (b"p", client.local_addr()),
                (b"q", client.local_addr()),
                (b"r", client.local_addr()),
            ]

    def test_sends_a_prepared_batch(self, udp_pair):
        a, b = udp_pair
        batch = DatagramBatch.allocate(4, 16)
        for i, payload in enumerate([b"zero", b"one", b"two"]):
            batch.buffer(i)[: len(payload)] = payload
            batch.set(i, len(payload))
        batch.count = 3
        assert a.send_batch(batch) == 3
        assert [b.recv(16) for _ in range(3)] == [b"zero", b"one", b"two"]
        batch.release()

    def test_set_addresses_per_slot(self):
        with unconnected_udp() as s1, unconnected_udp() as s2, unconnected_udp() as client:
            batch = DatagramBatch.allocate(2, 8)
            batch.buffer(0)[:2] = b"s1"
            batch.buffer(1)[:2] = b"s2"
            batch.set(0, 2, s1.local_addr())
            batch.set(1, 2, address=s2.local_addr().as_socket())
            batch.count = 2
            assert batch.address(1) == s2.local_addr()
            assert client.send_batch(batch) == 2
            assert s1.recv(8) == b"s1" and s2.recv(8) == b"s2"
            batch.release()

    def test_echo_sends_each_datagram_back_to_its_sender(self):
        with unconnected_udp() as server, unconnected_udp() as c1, unconnected_udp() as c2:
            c1.send_to(b"from c1", server.local_addr())
            c2.send_to(b"from c2", server.local_addr())
            batch = DatagramBatch.allocate(4, 32)
            assert server.recv_batch(batch) == 2
            assert server.send_batch(batch) == 2
            assert c1.recv(32) == b"from c1"
            assert c2.recv(32) == b"from c2"
            batch.release()

    def test_eagain_part_way_returns_how_many_were_sent(self):
        """A non-blocking sender stops where the peer's queue is full."""
        a, b = Socket.pair(Domain.UNIX, Type.DGRAM)
        with a, b:
            a.set_nonblocking(True)
            datagrams = [bytes(2000)] * _pysock2.BATCH_MAX
            sent = a.send_batch(datagrams)
            assert 0 < sent < len(datagrams)
            with pytest.raises(BlockingIOError):
                a.send_batch(datagrams)
            batch = DatagramBatch.allocate(64, 4096)
            received = 0
            b.set_nonblocking(True)
            while received < sent:
                received += b.recv_batch(batch)
            assert received == sent

    def test_a_blocking_sender_waits_for_room_for_the_whole_batch(self):
        """What fits goes at once; the rest waits for the reader, as a blocking
        sendmmsg does (the GIL released meanwhile: the reader is a thread)."""
        a, b = Socket.pair(Domain.UNIX, Type.DGRAM)
        with a, b:
            datagrams = [bytes([i % 256]) * 2000 for i in range(_pysock2.BATCH_MAX)]
            sent = []
            sender = threading.Thread(target=lambda: sent.append(a.send_batch(datagrams)))
            sender.start()
            batch = DatagramBatch.allocate(64, 4096)
            b.set_read_timeout(5)  # a short send must fail the test, not hang it
            got = []
            try:
                while len(got) < len(datagrams):
                    for i in range(b.recv_batch(batch)):
                        got.append(bytes(batch.data(i)))
            finally:
                sender.join()
                batch.release()
            assert sent == [len(datagrams)]
            assert got == datagrams

    def test_set_bad_arguments(self):
        batch = DatagramBatch.allocate(2, 8)
        with pytest.raises(ValueError):
            batch.set(0, 9)  # longer than the slot
        with pytest.raises(ValueError):
            batch.set(0, -1)
        with pytest.raises(IndexError):
            batch.set(2, 1)
        with pytest.raises(TypeError):
            batch.set(0, 1, 3.5)
        with pytest.raises(ValueError):
            batch.set(0, 1, ("example.com", 80))
        with pytest.raises(TypeError):
            batch.set(0)
        batch.release()

    @pytest.mark.parametrize(
        "datagrams, exc",
        [
            (b"one buffer", TypeError),
            ("text", TypeError),
            ([b"ok", 3], TypeError),
            ([b"ok", "text"], TypeError),
            (42, TypeError),
            ([b""] * (_pysock2.BATCH_MAX + 1), ValueError),
        ],
        ids=["bytes", "str", "int-item", "str-item", "int", "too-many"],
    )
    def test_bad_datagrams(self, udp_pair, datagrams, exc):
        a, b = udp_pair
        with pytest.raises(exc):
            a.send_batch(datagrams)
        b.set_nonblocking(True)
        with pytest.raises(BlockingIOError):
            b.recv(8)  # nothing was sent

    def test_a_bad_item_unpins_the_ones_before_it(self, udp_pair):
        a, _ = udp_pair
        first = bytearray(b"first")
        with pytest.raises(TypeError):
            a.send_batch([first, 3])
        first.extend(b"!")

    def test_error_paths_leak_nothing(self, udp_pair, closed_socket):
        a, b = udp_pair
        b.set_nonblocking(True)
        batch = DatagramBatch.allocate(4, 16)
        payload = bytearray(8)

        calls = (
            lambda: a.send_batch([payload, "x"]),
            lambda: b.recv_batch(batch),
            lambda: closed_socket.send_batch([payload]),
            lambda: DatagramBatch([payload, b"ro"]),
            lambda: batch.set(9, 1),
        )

        def errors():
            failed = 0
            for call in calls:
                try:
                    call()
                except (TypeError, OSError, IndexError):
                    failed += 1
            return failed

        assert errors() == len(calls)
        gc.collect()
        before = sys.getallocatedblocks()
        for _ in range(300):
            errors()
        gc.collect()
        assert sys.getallocatedblocks() - before < 30
        payload.extend(b"!")  # and nothing left pinned
        batch.release()

    def test_bad_address_and_flags(self, udp_pair):
        a, _ = udp_pair
        with pytest.raises(TypeError):
            a.send_batch([b"x"], 12)
        with pytest.raises(TypeError):
            a.send_batch([b"x"], flags=None)
        with pytest.raises(TypeError):
            a.send_batch([b"x"], None, 0, 1)

    def test_released_batch(self, udp_pair):
        a, _ = udp_pair
        batch = DatagramBatch.allocate(1, 8)
        batch.release()
        with pytest.raises(ValueError, match="released"):
            a.send_batch(batch)

    def test_closed_socket(self, closed_socket):
        with pytest.raises(OSError) as info:
            closed_socket.send_batch([b"x"])
        assert info.value.errno == errno.EBADF

    def test_buffers_released_after_the_call(self, udp_pair):
        a, b = udp_pair
        payload = bytearray(b"grow me")
        a.send_batch([payload])
        payload.extend(b"!")  # no export left behind
        assert b.recv(16) == b"grow me"
