"""UDP segmentation offload (GSO: UDP_SEGMENT) and receive coalescing (GRO: UDP_GRO), Linux:
Socket.send_gso, Socket.recv_gro_into / recv_gro_from_into, DatagramBatch.segment_size and
the no-copy segment iterator pysock2.segments."""

from __future__ import annotations

import errno

import pytest

from pysock2 import DatagramBatch, Domain, Socket, Type, segments

pytestmark = pytest.mark.skipif(not hasattr(Socket, "send_gso"), reason="UDP GSO/GRO is Linux only")

# What the kernel calls UDP_MAX_SEGMENTS: 64 before Linux 5.15-ish, 128 since.
SEGMENTS = 40
SEG = 1200
PAYLOAD = bytes(i % 251 for i in range(SEGMENTS * SEG - 500))  # the last segment is short


def expected_segments(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.fixture
def gro_pair(udp_pair):
    a, b = udp_pair
    b.set_udp_gro(True)
    return a, b


class TestSendGso:
    def test_kernel_cuts_one_send_into_datagrams(self, udp_pair):
        a, b = udp_pair
        assert a.send_gso(PAYLOAD, SEG) == len(PAYLOAD)
        got = [b.recv(65536) for _ in range(SEGMENTS)]
        assert got == expected_segments(PAYLOAD, SEG)
        b.set_nonblocking(True)
        with pytest.raises(BlockingIOError):
            b.recv(10)

    def test_to_an_address(self):
        with Socket(Domain.IPV4, Type.DGRAM) as rx, Socket(Domain.IPV4, Type.DGRAM) as tx:
            rx.bind(("127.0.0.1", 0))
            assert tx.send_gso(b"abcdef", 2, rx.local_addr()) == 6
            assert tx.send_gso(b"gh", segment_size=1, address=rx.local_addr().as_socket()) == 2
            assert [rx.recv(8) for _ in range(5)] == [b"ab", b"cd", b"ef", b"g", b"h"]

    def test_any_bytes_like(self, udp_pair):
        a, b = udp_pair
        assert a.send_gso(memoryview(bytearray(b"xxyy")), 2) == 4
        assert [b.recv(8), b.recv(8)] == [b"xx", b"yy"]

    def test_segment_size_larger_than_the_data_sends_one_datagram(self, udp_pair):
        a, b = udp_pair
        assert a.send_gso(b"small", 1000) == 5
        assert b.recv(100) == b"small"

    def test_too_many_segments_is_the_kernels_einval(self, udp_pair):
        a, _ = udp_pair
        with pytest.raises(OSError) as info:
            a.send_gso(bytes(1000), 1)
        assert info.value.errno == errno.EINVAL

    def test_per_socket_segmentation_applies_to_send_and_send_batch(self, udp_pair):
        a, b = udp_pair
        a.set_udp_segment(3)
        assert a.send(b"abcdefg") == 7
        assert a.send_batch([b"123456"]) == 1
        assert [b.recv(8) for _ in range(5)] == [b"abc", b"def", b"g", b"123", b"456"]

    @pytest.mark.parametrize(
        "args, exc",
        [
            ((b"x", 0), ValueError),
            ((b"x", 65536), ValueError),
            ((b"x", -1), ValueError),
            ((b"x", 1.5), TypeError),
            (("text", 2), TypeError),
            ((b"x",), TypeError),
            ((b"x", 2, 7), TypeError),
            ((b"x", 2, None, "0"), TypeError),
        ],
    )
    def test_bad_arguments(self, udp_pair, args, exc):
        a, _ = udp_pair
        with pytest.raises(exc):
            a.send_gso(*args)

    def test_closed_socket(self, closed_socket):
        with pytest.raises(OSError) as info:
            closed_socket.send_gso(b"xx", 1)
        assert info.value.errno == errno.EBADF


class TestRecvGro:
    def test_coalesced_datagrams_and_their_segment_size(self, gro_pair):
        a, b = gro_pair
        a.send_gso(PAYLOAD, SEG)
        buf = bytearray(65536)
        n, size = b.recv_gro_into(buf)
        assert (n, size) == (len(PAYLOAD), SEG)
        assert [bytes(s) for s in segments(buf, n, size)] == expected_segments(PAYLOAD, SEG)

    def test_a_plain_datagram_is_one_segment(self, gro_pair):
        a, b = gro_pair
        a.send(b"single")
        buf = bytearray(100)
        assert b.recv_gro_into(buf) == (6, 6)

    def test_without_gro_the_kernel_delivers_segments_one_by_one(self, udp_pair):
        a, b = udp_pair
        a.send_gso(b"aabbc", 2)
        buf = bytearray(100)
        assert [b.recv_gro_into(buf) for _ in range(3)] == [(2, 2), (2, 2), (1, 1)]

    def test_from_into_reports_the_sender(self, gro_pair):
        a, b = gro_pair
        a.send_gso(b"aabb", 2)
        buf = bytearray(100)
        n, size, sender = b.recv_gro_from_into(buf, flags=0)
        assert (n, size, sender) == (4, 2, a.local_addr())
        a.send(b"again")
        assert b.recv_gro_from_into(buf)[2] is sender  # the cached SockAddr

    def test_truncated(self, gro_pair):
        a, b = gro_pair
        a.send_gso(bytes(3000), 1000)
        buf = bytearray(1500)
        n, size = b.recv_gro_into(buf)
        assert (n, size) == (1500, 1000)

    def test_nonblocking_and_timeout(self, gro_pair):
        _, b = gro_pair
        buf = bytearray(10)
        b.set_read_timeout(0.05)
        with pytest.raises(TimeoutError):
            b.recv_gro_into(buf)
        b.set_nonblocking(True)
        with pytest.raises(BlockingIOError):
            b.recv_gro_into(buf)

    @pytest.mark.parametrize(
        "args, exc",
        [
            ((b"read-only",), TypeError),
            ((), TypeError),
            ((bytearray(4), "0"), TypeError),
            ((bytearray(4), 0, 1), TypeError),
        ],
    )
    def test_bad_arguments(self, gro_pair, args, exc):
        _, b = gro_pair
        with pytest.raises(exc):
            b.recv_gro_into(*args)
        with pytest.raises(exc):
            b.recv_gro_from_into(*args)


class TestBatchWithGro:
    def test_segment_size_by_index(self, gro_pair):
        a, b = gro_pair
        a.send_gso(PAYLOAD, SEG)
        a.send_gso(b"xxyyz", 2)
        a.send(b"plain")
        batch = DatagramBatch.allocate(4, 65536, control_size=64)
        assert b.recv_batch(batch) == 3
        assert [batch.length(i) for i in range(3)] == [len(PAYLOAD), 5, 5]
        assert [batch.segment_size(i) for i in range(3)] == [SEG, 2, 5]
        assert [bytes(s) for s in batch.segments(0)] == expected_segments(PAYLOAD, SEG)
        assert [bytes(s) for s in batch.segments(1)] == [b"xx", b"yy", b"z"]
        assert [bytes(s) for s in batch.segments(2)] == [b"plain"]
        assert len(batch.control(0)) > 0 and batch.control(2) == b""
        batch.release()

    def test_without_control_room_the_segment_size_is_unknown(self, gro_pair):
        a, b = gro_pair
        a.send_gso(b"aabb", 2)
        batch = DatagramBatch.allocate(1, 100)
        assert b.recv_batch(batch) == 1
        assert batch.flags(0) & batch.flags(0).CTRUNC
        assert batch.segment_size(0) == 0
        with pytest.raises(ValueError):
            list(batch.segments(0))
        batch.release()


class TestSegments:
    def test_slices_without_copying(self):
        buf = bytearray(b"aaabbbcc??")
        parts = list(segments(buf, 8, 3))
        assert [bytes(p) for p in parts] == [b"aaa", b"bbb", b"cc"]
        assert all(isinstance(p, memoryview) for p in parts)
        buf[0:1] = b"Z"
        assert bytes(parts[0]) == b"Zaa"  # a view of buf, not a copy
        for p in parts:
            p.release()

    def test_any_buffer_shape(self):
        import array

        words = array.array("H", [0x0101, 0x0202])
        assert [bytes(p) for p in segments(words, 4, 2)] == [b"\x01\x01", b"\x02\x02"]

    def test_nothing(self):
        assert list(segments(b"", 0, 0)) == []
        assert list(segments(b"abc", 0, 5)) == []

    @pytest.mark.parametrize(
        "args, exc",
        [
            ((b"abc", 4, 1), ValueError),
            ((b"abc", -1, 1), ValueError),
            ((b"abc", 3, 0), ValueError),
            ((b"abc", 3.0, 1), TypeError),
            ((b"abc", 3, "1"), TypeError),
            ((42, 1, 1), TypeError),
        ],
    )
    def test_bad_arguments(self, args, exc):
        with pytest.raises(exc):
            segments(*args)


def test_gro_receive_allocates_no_sender_per_call(gro_pair):
    a, b = gro_pair
    buf = bytearray(65536)
    senders = set()
    for _ in range(50):
        a.send_gso(b"aabb", 2)
        senders.add(id(b.recv_gro_from_into(buf)[2]))
    assert len(senders) == 1
