# pyright: strict
"""A tour of pysock2 written as typed application code.

CI type-checks this file with ``mypy --strict`` and ``pyright`` (.ci/typed-example.sh) and
runs it, so it doubles as a test that the annotations tell the truth: every value below is
used as its declared type without a cast or an ``Any``.

    python examples/typed_usage.py
"""

from __future__ import annotations

import ipaddress
import os
import selectors
import socket
import sys
import tempfile
from datetime import timedelta

import pysock2
from pysock2 import (
    DatagramBatch,
    Domain,
    MsgFlags,
    MsgHdr,
    MsgHdrMut,
    Protocol,
    RecvFlags,
    Shutdown,
    SockAddr,
    Socket,
    SockRef,
    TcpInfo,
    TcpKeepalive,
    Type,
    cmsg,
    segments,
)

LOCALHOST = "127.0.0.1"


def addresses() -> None:
    v4 = SockAddr((LOCALHOST, 8080))
    v6 = SockAddr((ipaddress.IPv6Address("::1"), 8080, 0, 0))
    assert v4.is_ipv4() and v6.is_ipv6()
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = v4.ip()
    assert ip == ipaddress.IPv4Address(LOCALHOST) and v4.port() == 8080
    assert v4.as_socket() == (LOCALHOST, 8080)
    raw: bytes = bytes(v4)  # the raw sockaddr, as the kernel takes it
    assert SockAddr.from_bytes(raw) == v4 and len(v4) == len(raw)
    assert Domain.for_address(("::1", 1)) is Domain.IPV6 and v6.domain() is Domain.IPV6
    assert {v4: "a dict key"}[SockAddr((LOCALHOST, 8080))] == "a dict key"


def tcp() -> None:
    with Socket(Domain.IPV4, Type.STREAM, Protocol.TCP) as listener:
        listener.set_reuse_address(True)
        listener.bind((LOCALHOST, 0))
        listener.listen(8)
        bound: SockAddr = listener.local_addr()

        client = Socket(Domain.for_address(bound), Type.STREAM)
        client.connect_timeout(bound, timedelta(seconds=5))
        client.set_tcp_nodelay(True)
        client.set_tcp_keepalive(TcpKeepalive(time=60, interval=10).with_retries(5))
        client.set_read_timeout(5.0)
        timeout: float | None = client.read_timeout()
        assert timeout is not None and timeout >= 5.0

        conn, peer = listener.accept()  # a pysock2.Socket and a pysock2.SockAddr
        with conn:
            assert peer == client.local_addr() and conn.peer_addr() == peer
            assert conn.type() is Type.STREAM
            conn.sendall(b"hello, typed world")
            buf = bytearray(64)
            n: int = client.recv_into(memoryview(buf)[:5])
            assert bytes(buf[:n]) == b"hello"
            assert client.recv(64, flags=MsgFlags.PEEK) == b", typed world"
            assert client.recv(64) == b", typed world"

            # Options without an accessor: the generic getsockopt/setsockopt.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            keepalive: int = conn.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            raw_linger: bytes = conn.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)
            assert keepalive and conn.keepalive() and len(raw_linger) in (4, 8)  # Windows: 4

            # The stdlib's sendfile: until end of file, the file position advanced.
            with tempfile.TemporaryFile() as file:
                file.write(b"from a file")
                file.seek(0)
                assert conn.sendfile(file) == 11 and file.tell() == 11
            assert client.recv(11, flags=MsgFlags.WAITALL) == b"from a file"

            # Vectored I/O: one send from several buffers, one receive into several.
            conn.send_vectored([b"head", b"body"])
            head, body = bytearray(4), bytearray(4)
            got, flags = client.recv_vectored([head, body])
            assert (got, bytes(head + body)) == (8, b"headbody")
            assert isinstance(flags, RecvFlags) and not flags.is_truncated

            if hasattr(conn, "tcp_info"):  # Linux and macOS
                info: TcpInfo = conn.tcp_info()
                assert info.rtt is None or info.rtt >= 0.0

            # stdlib interop: a clone for a selector, then handed over to the stdlib.
            clone: Socket = conn.try_clone()
            with selectors.DefaultSelector() as selector:
                selector.register(clone, selectors.EVENT_WRITE)
                assert selector.select(timeout=5)
                selector.unregister(clone)
            stdlib: socket.socket = clone.into_stdlib()
            stdlib.sendall(b"!")
            stdlib.close()
            assert client.recv(1) == b"!"
            conn.shutdown(Shutdown.WRITE)
            assert client.recv(1) == b""
        client.close()


def udp() -> None:
    with Socket(Domain.IPV4, Type.DGRAM) as rx, Socket(Domain.IPV4, Type.DGRAM) as tx:
        rx.bind((LOCALHOST, 0))
        rx.set_read_timeout(5)
        tx.bind((LOCALHOST, 0))
        tx.send_to(b"ping", rx.local_addr())
        data, sender = rx.recv_from(1500)
        assert (data, sender) == (b"ping", tx.local_addr())

        # Zero-copy receive into a reused buffer.
        buf = memoryview(bytearray(2048))
        tx.send_to(b"pong", rx.local_addr())
        n, sender = rx.recv_from_into(buf)
        assert bytes(buf[:n]) == b"pong" and sender.port() == tx.local_addr().port()

        # Batch I/O: many datagrams per system call.
        with DatagramBatch.allocate(8, 256) as batch:
            sent = tx.send_batch([b"a", b"bb", b"ccc"], rx.local_addr())
            received = rx.recv_batch(batch)
            assert sent == 3 and 1 <= received <= 3
            for i in range(received):
                slot: memoryview = batch.buffer(i)  # allocate() slots are memoryviews
                assert bytes(batch.data(i)) == bytes(slot[: batch.length(i)])
                assert batch.address(i) == tx.local_addr()
            while received < sent:  # the rest, if they arrived after the first call
                received += rx.recv_batch(batch)
        own = DatagramBatch([bytearray(16), bytearray(16)])
        first: bytearray = own.buffer(0)  # the buffer type given is the type returned
        assert len(first) == 16
        own.release()

        # Messages: address and flags of a receive.
        with MsgHdr(addr=rx.local_addr(), buffers=[b"msg"]) as out:
            tx.sendmsg(out)
        with MsgHdrMut(addr=True, buffers=[bytearray(2)]) as msg:
            assert rx.recvmsg(msg) == 2
            assert msg.addr == tx.local_addr() and msg.flags().is_truncated

        if sys.platform == "linux" and hasattr(rx, "set_udp_gro"):
            gro_segments()


def gro_segments() -> None:
    with Socket(Domain.IPV4, Type.DGRAM) as rx, Socket(Domain.IPV4, Type.DGRAM) as tx:
        rx.bind((LOCALHOST, 0))
        rx.set_read_timeout(5)
        rx.set_udp_gro(True)
        try:
            tx.send_gso(b"x" * 3000, 1000, rx.local_addr())
        except OSError:  # a kernel without UDP GSO
            return
        buf = bytearray(65535)
        total = 0
        while total < 3000:
            n, size = rx.recv_gro_into(buf)
            total += sum(len(piece) for piece in segments(buf, n, size))


def unix_and_control_messages() -> None:
    if not hasattr(Socket, "pair"):
        return
    a, b = Socket.pair(Domain.UNIX, Type.STREAM)
    with a, b:
        read_end, write_end = os.pipe()
        try:
            with MsgHdr(buffers=[b"F"], control=cmsg.scm_rights([read_end])) as out:
                a.sendmsg(out)
            with MsgHdrMut(buffers=[bytearray(1)], control=cmsg.space(4)) as msg:
                b.recvmsg(msg)
                levels = [level for level, _, _ in msg.control_messages()]
                fds: list[int] = msg.take_fds()
            assert levels == [socket.SOL_SOCKET] and len(fds) == 1
            os.write(write_end, b"through a passed descriptor")
            assert os.read(fds[0], 64) == b"through a passed descriptor"
            os.close(fds[0])
        finally:
            os.close(read_end)
            os.close(write_end)


def borrowed_stdlib_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as std:
        with SockRef(std) as ref:  # options pysock2 names, on a socket it does not own
            ref.set_broadcast(True)
            ref.set_recv_buffer_size(1 << 16)
            owned: Socket = ref.try_clone()
        assert std.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)
        with owned:
            assert owned.broadcast()
        adopted = Socket.from_stdlib(std.dup())
        adopted.close()


def main() -> None:
    addresses()
    tcp()
    udp()
    unix_and_control_messages()
    borrowed_stdlib_socket()
    print(f"pysock2 {pysock2.__version__}: the typed tour ran")


if __name__ == "__main__":
    main()
