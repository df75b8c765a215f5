"""Scalar I/O: the recv/peek/send families, zero-copy into caller buffers, sendall (sendfile:
test_stdlib_traps.py),
timeouts, non-blocking mode, signals (PEP 475) and the GIL."""

from __future__ import annotations

import array
import mmap
import os
import signal
import threading
import time

import pytest

from pysock2 import Domain, SockAddr, Socket, Type, _pysock2

from conftest import needs_linux, wait_until


class TestReceive:
    def test_recv_returns_exactly_the_bytes_received(self, udp_pair):
        a, b = udp_pair
        a.send(b"hello")
        assert b.recv(100) == b"hello"

    def test_recv_into_fills_the_callers_buffer(self, udp_pair):
        a, b = udp_pair
        buf = bytearray(64)
        a.send(b"zero-copy")
        assert b.recv_into(buf) == 9
        assert buf[:9] == b"zero-copy"

    @pytest.mark.parametrize(
        "make",
        [
            lambda: bytearray(16),
            lambda: memoryview(bytearray(32))[8:24],
            lambda: array.array("B", bytes(16)),
            lambda: mmap.mmap(-1, 16),
        ],
        ids=["bytearray", "memoryview-slice", "array", "mmap"],
    )
    def test_recv_into_any_writable_buffer(self, udp_pair, make):
        a, b = udp_pair
        target = make()
        a.send(b"0123456789")
        assert b.recv_into(target) == 10
        assert bytes(memoryview(target)[:10]) == b"0123456789"

    def test_recv_into_a_memoryview_slice_writes_only_that_slice(self, udp_pair):
        a, b = udp_pair
        backing = bytearray(b"." * 12)
        a.send(b"abcd")
        assert b.recv_into(memoryview(backing)[4:8]) == 4
        assert backing == b"....abcd...."

    def test_a_datagram_larger_than_the_buffer_is_cut(self, udp_pair):
        a, b = udp_pair
        a.send(b"x" * 100)
        assert b.recv(10) == b"x" * 10

    @needs_linux
    def test_truncated_length_with_msg_trunc(self, udp_pair):
        a, b = udp_pair
        a.send(b"x" * 100)
        assert b.recv_into(bytearray(10), flags=_pysock2.MSG_TRUNC) == 100

    def test_recv_zero_bytes_consumes_a_datagram(self, udp_pair):
        a, b = udp_pair
        a.send(b"dropped")
        a.send(b"kept")
        assert b.recv(0) == b""
        assert b.recv(10) == b"kept"

    def test_recv_from_reports_the_sender(self, udp_pair):
        a, b = udp_pair
        a.send(b"who")
        data, sender = b.recv_from(10)
        assert data == b"who" and sender == a.local_addr() and isinstance(sender, SockAddr)

    def test_recv_from_into(self, udp_pair):
        a, b = udp_pair
        buf = bytearray(10)
        a.send(b"abc")
        assert b.recv_from_into(buf) == (3, a.local_addr())

    def test_peek_leaves_the_data_queued(self, udp_pair):
        a, b = udp_pair
        a.send(b"twice")
        assert b.peek(10) == b"twice"
        buf = bytearray(10)
        assert b.peek_into(buf) == 5
        assert b.peek_from(10) == (b"twice", a.local_addr())
        assert b.peek_from_into(buf) == (5, a.local_addr())
        assert b.peek_sender() == a.local_addr()
        assert b.recv(10) == b"twice"

    def test_out_of_band(self, tcp_pair):
        client, server = tcp_pair
        client.send(b"normal")
        assert client.send_out_of_band(b"!") == 1
        time.sleep(0.05)
        assert server.recv(6) == b"normal"
        assert server.recv_out_of_band(1) == b"!"
        client.send_out_of_band(b"?")
        time.sleep(0.05)
        buf = bytearray(1)
        assert server.recv_out_of_band_into(buf) == 1 and buf == b"?"

    def test_flags_keyword(self, udp_pair):
        a, b = udp_pair
        a.send(b"peeked", flags=0)
        assert b.recv(10, flags=_pysock2.MSG_PEEK) == b"peeked"
        assert b.recv(10, flags=_pysock2.MSG_PEEK) == b"peeked"
        assert b.recv(bufsize=10) == b"peeked"


class TestSend:
    def test_send_any_bytes_like(self, udp_pair):
        a, b = udp_pair
        for data in (b"ab", bytearray(b"ab"), memoryview(b"xxab")[2:], array.array("B", b"ab")):
            assert a.send(data) == 2
            assert b.recv(10) == b"ab"

    def test_send_to(self):
        with Socket(Domain.IPV4, Type.DGRAM) as rx, Socket(Domain.IPV4, Type.DGRAM) as tx:
            rx.bind(("127.0.0.1", 0))
            assert tx.send_to(b"to", rx.local_addr()) == 2
            assert tx.send_to(b"tuple", rx.local_addr().as_socket()) == 5
            assert rx.recv(10) == b"to" and rx.recv(10) == b"tuple"

    def test_sendall_sends_everything(self, tcp_pair):
        client, server = tcp_pair
        payload = os.urandom(4 * 1024 * 1024)
        received = bytearray()

        def drain():
            while len(received) < len(payload):
                chunk = server.recv(1 << 16)
                if not chunk:
                    break
                received.extend(chunk)

        reader = threading.Thread(target=drain)
        reader.start()
        assert client.sendall(payload) is None
        reader.join(10)
        assert bytes(received) == payload

    @needs_linux
    def test_send_on_a_shut_down_socket_raises_broken_pipe(self, tcp_pair):
        client, _ = tcp_pair
        client.shutdown(1)
        with pytest.raises(BrokenPipeError):
            client.send(b"x", flags=_pysock2.MSG_NOSIGNAL)


class TestBadInput:
    def test_read_only_buffer_to_an_into_call(self, udp_pair):
        a, b = udp_pair
        a.send(b"x")
        for call in (
            b.recv_into,
            b.peek_into,
            b.recv_from_into,
            b.peek_from_into,
            b.recv_out_of_band_into,
        ):
            with pytest.raises(TypeError, match="writable"):
                call(b"read-only")
            with pytest.raises(TypeError):
                call(memoryview(b"read-only"))
        assert b.recv(10) == b"x"  # nothing was consumed

    def test_non_buffer_arguments(self, udp_pair):
        a, b = udp_pair
        with pytest.raises(TypeError):
            b.recv_into([0] * 10)
        with pytest.raises(TypeError):
            a.send("text is not bytes")
        with pytest.raises(TypeError):
            a.sendall(None)

    @pytest.mark.parametrize("bufsize", [-1, -(2**40)])
    def test_negative_sizes(self, udp_pair, bufsize):
        with pytest.raises(ValueError):
            udp_pair[0].recv(bufsize)

    @pytest.mark.parametrize("bufsize", ["10", 1.5, None])
    def test_sizes_of_the_wrong_type(self, udp_pair, bufsize):
        with pytest.raises(TypeError):
            udp_pair[0].recv(bufsize)

    def test_flags_of_the_wrong_type_or_range(self, udp_pair):
        a, _ = udp_pair
        with pytest.raises(TypeError):
            a.send(b"x", flags="0")
        with pytest.raises(OverflowError):
            a.send(b"x", flags=2**40)

    def test_argument_count_and_keywords(self, udp_pair):
        a, _ = udp_pair
        with pytest.raises(TypeError):
            a.send()
        with pytest.raises(TypeError):
            a.send(b"x", 0, 0)
        with pytest.raises(TypeError, match="unexpected keyword"):
            a.send(b"x", flag=0)
        with pytest.raises(TypeError, match="multiple values"):
            a.send(b"x", data=b"y")
        with pytest.raises(TypeError):
            a.peek(10, 0)

    def test_send_to_a_bad_address(self, udp_pair):
        with pytest.raises(ValueError):
            udp_pair[0].send_to(b"x", ("no.such.host", 1))

    def test_a_bytearray_cannot_be_resized_while_it_is_being_filled(self, udp_pair):
        a, b = udp_pair
        buf = bytearray(100)
        refused = []

        def resize_during_recv():
            def resize_refused():
                try:
                    buf.extend(b"more")  # succeeds only until recv_into waits
                except BufferError as exc:
                    refused.append(exc)
                    return True
                return False

            wait_until(resize_refused)
            a.send(b"done")

        thread = threading.Thread(target=resize_during_recv)
        thread.start()
        assert b.recv_into(buf) == 4
        thread.join()
        assert refused, "the buffer must stay exported during the blocking call"
        buf.extend(b"ok")  # released afterwards


class TestBlockingBehaviour:
    def test_read_timeout_raises_timeout_error(self, udp_pair):
        _, b = udp_pair
        b.set_read_timeout(0.05)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            b.recv(10)
        assert time.monotonic() - start >= 0.04

    @needs_linux
    def test_dontwait_raises_blocking_io_error_even_with_a_timeout(self, udp_pair):
        _, b = udp_pair
        b.set_read_timeout(5)
        with pytest.raises(BlockingIOError):
            b.recv(10, flags=_pysock2.MSG_DONTWAIT)

    def test_nonblocking_socket_raises_blocking_io_error(self, udp_pair):
        _, b = udp_pair
        b.set_nonblocking(True)
        b.set_read_timeout(5)
        with pytest.raises(BlockingIOError):
            b.recv_into(bytearray(1))

    def test_the_gil_is_released_while_blocked(self, udp_pair):
        a, b = udp_pair
        ticks = []

        def count_then_send():
            for _ in range(20):
                ticks.append(1)
                time.sleep(0.005)
            a.send(b"end")

        thread = threading.Thread(target=count_then_send)
        thread.start()
        assert b.recv(10) == b"end"
        thread.join()
        assert len(ticks) == 20

    @pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no setitimer (Windows)")
    def test_a_signal_runs_the_handler_and_the_call_resumes(self, udp_pair):
        a, b = udp_pair
        calls = []

        def handler(signum, frame):
            calls.append(signum)
            if len(calls) == 2:
                a.send(b"after signals")

        old = signal.signal(signal.SIGALRM, handler)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
            assert b.recv(100) == b"after signals"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        assert len(calls) >= 2

    @pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no setitimer (Windows)")
    def test_an_exception_from_a_signal_handler_propagates(self, udp_pair):
        _, b = udp_pair

        class Interrupted(Exception):
            pass

        def handler(signum, frame):
            raise Interrupted

        old = signal.signal(signal.SIGALRM, handler)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            with pytest.raises(Interrupted):
                b.recv(100)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


@needs_linux
def test_recv_from_of_a_connected_stream_has_an_empty_address(tcp_pair):
    client, server = tcp_pair
    client.send(b"s")
    data, addr = server.recv_from(1)
    assert data == b"s" and addr.as_socket() is None
