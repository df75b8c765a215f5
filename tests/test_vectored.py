"""Vectored I/O: send_vectored / send_to_vectored gather any sequence of bytes-like objects
into one send, recv_vectored / recv_from_vectored scatter one receive over any sequence of
writable buffers, zero-copy, up to IOV_MAX buffers, reporting RecvFlags."""

from __future__ import annotations

import array
import mmap
import socket
import sys
import threading

import pytest

from pysock2 import Domain, RecvFlags, SockAddr, Socket, Type, _pysock2

IOV_MAX = _pysock2.IOV_MAX


class TestSendVectored:
    def test_gathers_the_buffers_into_one_datagram(self, udp_pair):
        a, b = udp_pair
        assert a.send_vectored([b"one ", b"two ", b"three"]) == 13
        assert b.recv(100) == b"one two three"

    @pytest.mark.parametrize(
        "make",
        [
            lambda: [b"ab", b"cd"],
            lambda: (bytearray(b"ab"), memoryview(b"xcdx")[1:3]),
            lambda: [array.array("B", b"ab"), b"cd"],
            lambda: iter([b"a", b"bcd"]),
        ],
        ids=["list-of-bytes", "tuple-of-bytearray-and-slice", "array", "iterator"],
    )
    def test_any_sequence_of_bytes_like_objects(self, udp_pair, make):
        a, b = udp_pair
        assert a.send_vectored(make()) == 4
        assert b.recv(10) == b"abcd"

    def test_an_empty_sequence_sends_an_empty_datagram(self, udp_pair):
        a, b = udp_pair
        assert a.send_vectored([]) == 0
        assert b.recv(10) == b""

    def test_on_a_stream_socket(self, tcp_pair):
        client, server = tcp_pair
        assert client.send_vectored([b"GET ", b"/ ", b"HTTP/1.0\r\n\r\n"]) == 18
        assert server.recv(100) == b"GET / HTTP/1.0\r\n\r\n"

    def test_flags_keyword(self, unix_stream_pair):
        a, b = unix_stream_pair
        assert a.send_vectored([b"x"], flags=socket.MSG_DONTWAIT) == 1
        assert b.recv(1) == b"x"

    def test_a_single_buffer_is_a_type_error(self, udp_pair):
        a, _ = udp_pair
        with pytest.raises(TypeError, match="sequence of buffers, not a single bytes"):
            a.send_vectored(b"abc")

    def test_a_non_sequence_is_a_type_error(self, udp_pair):
        a, _ = udp_pair
        with pytest.raises(TypeError, match="sequence of buffers"):
            a.send_vectored(42)

    def test_a_non_buffer_item_is_a_type_error_naming_it(self, udp_pair):
        a, b = udp_pair
        with pytest.raises(TypeError, match=r"bufs\[1\] must be a contiguous bytes-like"):
            a.send_vectored([b"ok", "text"])
        b.set_nonblocking(True)
        with pytest.raises(BlockingIOError):
            b.recv(10)  # nothing was sent

    def test_bad_flags(self, udp_pair):
        a, _ = udp_pair
        with pytest.raises(TypeError):
            a.send_vectored([b"x"], flags="0")
        with pytest.raises(TypeError, match="unexpected keyword"):
            a.send_vectored([b"x"], flag=0)

    def test_on_a_closed_socket(self):
        sock = Socket(Domain.IPV4, Type.DGRAM)
        sock.close()
        with pytest.raises(OSError) as info:
            sock.send_vectored([b"x"])
        assert info.value.errno == 9  # EBADF


class TestSendToVectored:
    def test_sends_to_the_address(self):
        with Socket(Domain.IPV4, Type.DGRAM) as a, Socket(Domain.IPV4, Type.DGRAM) as b:
            b.bind(("127.0.0.1", 0))
            assert a.send_to_vectored([b"he", b"llo"], b.local_addr()) == 5
            data, sender = b.recv_from(10)
            assert data == b"hello"
            assert sender.port() == a.local_addr().port()

    def test_address_may_be_a_tuple_and_flags_a_keyword(self):
        with Socket(Domain.IPV4, Type.DGRAM) as a, Socket(Domain.IPV4, Type.DGRAM) as b:
            b.bind(("127.0.0.1", 0))
            port = b.local_addr().port()
            assert a.send_to_vectored([b"x"], ("127.0.0.1", port), flags=0) == 1
            assert b.recv(10) == b"x"

    def test_a_bad_address_is_rejected_before_sending(self):
        with Socket(Domain.IPV4, Type.DGRAM) as a:
            with pytest.raises(ValueError):
                a.send_to_vectored([b"x"], ("not an address", 1))
            with pytest.raises(TypeError):
                a.send_to_vectored([b"x"], 3.5)
            with pytest.raises(TypeError, match="missing required argument 'address'"):
                a.send_to_vectored([b"x"])


class TestRecvVectored:
    def test_scatters_in_order_and_reports_flags(self, udp_pair):
        a, b = udp_pair
        first, second = bytearray(3), bytearray(10)
        a.send(b"abcdefg")
        n, flags = b.recv_vectored([first, second])
        assert n == 7
        assert first == b"abc"
        assert second[:4] == b"defg"
        assert isinstance(flags, RecvFlags)
        assert flags == 0
        assert not flags.is_truncated

    @pytest.mark.parametrize(
        "make",
        [
            lambda: bytearray(8),
            lambda: memoryview(bytearray(16))[4:12],
            lambda: array.array("B", bytes(8)),
            lambda: mmap.mmap(-1, 8),
        ],
        ids=["bytearray", "memoryview-slice", "array", "mmap"],
    )
    def test_into_any_writable_buffer(self, udp_pair, make):
        a, b = udp_pair
        target = make()
        a.send(b"12345678")
        assert b.recv_vectored([target])[0] == 8
        assert bytes(memoryview(target)) == b"12345678"

    def test_writes_only_the_given_slices(self, udp_pair):
        a, b = udp_pair
        backing = bytearray(b"." * 12)
        view = memoryview(backing)
        a.send(b"abcd")
        assert b.recv_vectored([view[2:4], view[8:10]])[0] == 4
        assert backing == b"..ab....cd.."

    def test_a_datagram_larger_than_the_buffers_is_truncated(self, udp_pair):
        a, b = udp_pair
        a.send(b"x" * 100)
        parts = [bytearray(10), bytearray(20)]
        n, flags = b.recv_vectored(parts)
        assert n == 30
        assert flags.is_truncated
        assert flags & RecvFlags.TRUNC

    @pytest.mark.skipif(
        not hasattr(socket, "MSG_TRUNC") or not hasattr(RecvFlags, "TRUNC"),
        reason="MSG_TRUNC is Linux-only as a request flag",
    )
    def test_msg_trunc_reports_the_real_length(self, udp_pair):
        a, b = udp_pair
        a.send(b"y" * 100)
        n, flags = b.recv_vectored([bytearray(10)], flags=socket.MSG_TRUNC)
        assert n == 100
        assert flags.is_truncated

    def test_out_of_band_data_is_flagged(self, tcp_pair):
        client, server = tcp_pair
        client.send(b"ab")
        client.send_out_of_band(b"!")
        target = bytearray(4)
        server.set_read_timeout(5)
        # The urgent byte arrives after the ordinary data; wait for it with a blocking peek.
        assert server.recv(2) == b"ab"
        n, flags = server.recv_vectored([target], flags=socket.MSG_OOB)
        assert (n, target[:1]) == (1, b"!")
        assert flags.is_out_of_band

    def test_end_of_record_is_false_for_an_ordinary_message(self, unix_dgram_pair):
        a, b = unix_dgram_pair
        a.send(b"x")
        _, flags = b.recv_vectored([bytearray(4)])
        assert not getattr(flags, "is_end_of_record", False)
        assert not flags.is_out_of_band

    def test_the_buffers_are_released_after_the_call(self, udp_pair):
        a, b = udp_pair
        target = bytearray(8)
        a.send(b"x")
        b.recv_vectored([target])
        target.extend(b"more")  # would raise BufferError while still exported

    def test_a_read_only_buffer_is_a_type_error_and_nothing_is_received(self, udp_pair):
        a, b = udp_pair
        first = bytearray(4)
        a.send(b"keep")
        with pytest.raises(TypeError, match=r"bufs\[1\] must be a writable"):
            b.recv_vectored([first, b"read-only"])
        first.extend(b"!")  # the buffer acquired before the bad one was released
        assert b.recv(10) == b"keep"

    @pytest.mark.parametrize("readonly", [b"bytes", memoryview(b"view"), bytes(0)])
    def test_read_only_buffers_of_every_kind_are_refused(self, udp_pair, readonly):
        _, b = udp_pair
        with pytest.raises(TypeError, match="writable"):
            b.recv_vectored([readonly])

    def test_a_single_buffer_is_a_type_error(self, udp_pair):
        _, b = udp_pair
        with pytest.raises(TypeError, match="not a single bytearray"):
            b.recv_vectored(bytearray(10))

    def test_on_a_stream_socket(self, tcp_pair):
        client, server = tcp_pair
        client.sendall(b"0123456789")
        head, tail = bytearray(4), bytearray(6)
        got = 0
        while got < 10:  # a stream may deliver in pieces
            n, _ = server.recv_vectored(
                [memoryview(head)[min(got, 4) :], memoryview(tail)[max(got - 4, 0) :]]
            )
            got += n
        assert head + tail == b"0123456789"

    def test_dontwait_on_an_empty_socket_raises_blocking_io_error(self, udp_pair):
        _, b = udp_pair
        with pytest.raises(BlockingIOError):
            b.recv_vectored([bytearray(4)], flags=socket.MSG_DONTWAIT)

    def test_an_expired_read_timeout_raises_timeout_error(self, udp_pair):
        _, b = udp_pair
        b.set_read_timeout(0.01)
        with pytest.raises(TimeoutError):
            b.recv_vectored([bytearray(4)])

    def test_the_gil_is_released_while_waiting(self, udp_pair):
        a, b = udp_pair
        b.set_read_timeout(10)  # a safety net: the test fails instead of hanging
        result = []
        waiter = threading.Thread(target=lambda: result.append(b.recv_vectored([bytearray(8)])))
        waiter.start()
        a.send(b"wake up")  # runs only if the waiting thread released the GIL
        waiter.join()
        assert result[0][0] == 7

    def test_on_a_closed_socket(self):
        sock = Socket(Domain.IPV4, Type.DGRAM)
        sock.close()
        target = bytearray(4)
        with pytest.raises(OSError) as info:
            sock.recv_vectored([target])
        assert info.value.errno == 9  # EBADF
        target.extend(b"!")  # released on the error path too


class TestRecvFromVectored:
    def test_reports_the_sender(self):
        with Socket(Domain.IPV4, Type.DGRAM) as a, Socket(Domain.IPV4, Type.DGRAM) as b:
            a.bind(("127.0.0.1", 0))
            b.bind(("127.0.0.1", 0))
            a.send_to(b"from a", b.local_addr())
            target = bytearray(16)
            n, flags, sender = b.recv_from_vectored([target])
            assert (n, bytes(target[:n])) == (6, b"from a")
            assert isinstance(flags, RecvFlags)
            assert isinstance(sender, SockAddr)
            assert sender == a.local_addr()

    def test_truncation_and_sender_together(self, udp_pair):
        a, b = udp_pair
        a.send(b"z" * 50)
        n, flags, sender = b.recv_from_vectored([bytearray(5)], flags=0)
        assert n == 5
        assert flags.is_truncated
        assert sender == a.local_addr()

    def test_the_sender_of_a_unix_socket_has_its_real_length(self, tmp_path):
        path = str(tmp_path / "sender.sock")
        with Socket(Domain.UNIX, Type.DGRAM) as a, Socket(Domain.UNIX, Type.DGRAM) as b:
            a.bind(path)
            b.bind(str(tmp_path / "receiver.sock"))
            a.send_to(b"hi", b.local_addr())
            _, _, sender = b.recv_from_vectored([bytearray(4)])
            assert sender.as_pathname() == path.encode()
            assert sender == a.local_addr()

    def test_a_read_only_buffer_is_a_type_error(self, udp_pair):
        _, b = udp_pair
        with pytest.raises(TypeError, match="writable"):
            b.recv_from_vectored([b"x"])


class HostileBuffer:
    """Exports a buffer (Python 3.12+) and empties the list it is found in meanwhile."""

    def __init__(self, victim: list):
        self.victim = victim
        self.data = bytearray(8)

    def __buffer__(self, flags):
        self.victim.clear()
        return memoryview(self.data)

    def __release_buffer__(self, view):
        view.release()


@pytest.mark.skipif(
    sys.version_info < (3, 12), reason="Python classes export buffers (__buffer__) from 3.12 on"
)
def test_a_list_changed_by_a_buffer_export_is_an_error_not_a_crash(udp_pair):
    a, _ = udp_pair
    bufs: list = []
    bufs.extend([HostileBuffer(bufs), bytearray(4), bytearray(4)])
    with pytest.raises(RuntimeError, match="changed size"):
        a.send_vectored(bufs)


class TestRecvFlagsProperties:
    def test_every_property_socket2_has_reads_false_on_a_plain_message(self, udp_pair):
        a, b = udp_pair
        a.send(b"x")
        _, flags = b.recv_vectored([bytearray(4)])
        names = ["is_truncated", "is_end_of_record", "is_out_of_band", "is_confirm", "is_dontroute"]
        present = [name for name in names if hasattr(flags, name)]
        if sys.platform.startswith("linux"):
            assert present == names
        assert [getattr(flags, name) for name in present] == [False] * len(present)


class TestIovMax:
    def test_iov_max_is_the_platform_limit(self):
        assert IOV_MAX >= 16  # POSIX's minimum (_XOPEN_IOV_MAX)

    def test_up_to_iov_max_buffers_are_accepted(self, unix_dgram_pair):
        a, b = unix_dgram_pair
        parts = [bytes([i % 256]) for i in range(IOV_MAX)]
        assert a.send_vectored(parts) == IOV_MAX
        targets = [bytearray(1) for _ in range(IOV_MAX)]
        assert b.recv_vectored(targets)[0] == IOV_MAX
        assert b"".join(targets) == b"".join(parts)

    def test_more_than_inline_buffers_work(self, udp_pair):
        a, b = udp_pair
        parts = [b"%02d" % i for i in range(40)]
        assert a.send_vectored(parts) == 80
        targets = [bytearray(2) for _ in range(40)]
        assert b.recv_vectored(targets)[0] == 80
        assert targets == [bytearray(p) for p in parts]

    def test_more_than_iov_max_buffers_is_a_value_error_before_any_call(self, udp_pair):
        a, b = udp_pair
        with pytest.raises(ValueError, match="at most IOV_MAX"):
            a.send_vectored([b"x"] * (IOV_MAX + 1))
        a.send(b"queued")
        targets = [bytearray(1) for _ in range(IOV_MAX + 1)]
        with pytest.raises(ValueError, match="at most IOV_MAX"):
            b.recv_vectored(targets)
        assert b.recv(10) == b"queued"  # the refused call received nothing
