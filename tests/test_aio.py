"""pysock2.aio's coroutines on asyncio's default loop and on uvloop, debug mode on: each
tries its call first, waits only when it would block, leaves no reader or writer
registered on any path, and a cancelled receive consumes nothing."""

from __future__ import annotations

import asyncio
import sys

import pytest
from aio_support import LOOPS, Runner, udp, until  # noqa: F401

from pysock2 import DatagramBatch, Domain, Socket, Type, aio


@pytest.fixture
def pair(udp_pair):
    """conftest's connected UDP pair, non-blocking."""
    for sock in udp_pair:
        sock.set_nonblocking(True)
    return udp_pair


@pytest.fixture
def tcp(run):
    """A connected, non-blocking TCP pair made with sock_connect and sock_accept."""
    listener = Socket(Domain.IPV4, Type.STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.set_nonblocking(True)
    client = Socket(Domain.IPV4, Type.STREAM)
    client.set_nonblocking(True)

    async def connect():
        accepted = asyncio.ensure_future(aio.sock_accept(listener))
        await aio.sock_connect(client, listener.local_addr())
        return await accepted

    server, address = run(connect())
    assert address == client.local_addr()
    assert server.nonblocking() if hasattr(server, "nonblocking") else True
    assert not run.registered(listener) and not run.registered(client)
    yield client, server
    for s in (listener, client, server):
        s.close()


# ---------------------------------------------------------------- datagrams


def test_send_to_and_recv_from_into_wait_for_the_datagram(run, pair):
    a, b = pair

    async def main():
        buf = bytearray(64)
        receiving = asyncio.ensure_future(aio.sock_recv_from_into(b, buf))
        await asyncio.sleep(0)
        assert not receiving.done()  # nothing yet: it waits
        assert await aio.sock_send_to(a, b"ping", b.local_addr()) == 4
        n, sender = await receiving
        return bytes(buf[:n]), sender

    assert run(main()) == (b"ping", a.local_addr())
    assert not run.registered(a) and not run.registered(b)


def test_a_call_that_need_not_wait_does_not_register(run, pair):
    a, b = pair
    a.send(b"ready")
    assert run(aio.sock_recv(b, 64)) == b"ready"
    assert ("reader", b.fileno()) not in run.loop.watched and run.loop.watched == set()


def test_sock_recv_into(run, pair):
    a, b = pair

    async def main():
        buf = bytearray(16)
        task = asyncio.ensure_future(aio.sock_recv_into(b, buf))
        await asyncio.sleep(0)
        a.send(b"into")
        return bytes(buf[: await task])

    assert run(main()) == b"into"


def test_recv_batch_and_send_batch(run, pair):
    a, b = pair

    async def main():
        batch = DatagramBatch.allocate(8, 64)
        receiving = asyncio.ensure_future(aio.recv_batch(b, batch))
        await asyncio.sleep(0)
        assert await aio.send_batch(a, [b"one", b"two", b"three"]) == 3
        n = await receiving
        while n < 3:  # recv_batch waits only for the first
            n += await aio.recv_batch(b, batch)
        got = [bytes(batch.buffer(i)[: batch.length(i)]) for i in range(batch.count)]
        batch.release()
        return got

    got = run(main())
    assert got[-1] == b"three"


def test_a_cancelled_receive_leaves_the_datagram(run, pair):
    a, b = pair

    async def main():
        buf = bytearray(64)
        for _ in range(20):
            task = asyncio.ensure_future(aio.sock_recv_from_into(b, buf))
            await asyncio.sleep(0)
            a.send(b"kept")
            task.cancel()  # whether or not the socket became readable meanwhile
            try:
                await task
            except asyncio.CancelledError:
                n, _ = await aio.sock_recv_from_into(b, buf)  # still there
            else:
                n = len(b"kept")
            assert bytes(buf[:n]) == b"kept"
        assert not run.registered(b)

    run(main())


def test_cancelling_a_wait_removes_the_reader(run, pair):
    _, b = pair

    async def main():
        task = asyncio.ensure_future(aio.sock_recv(b, 64))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not run.registered(b)

    run(main())


def test_closing_the_socket_while_waiting(run, pair):
    a, b = pair

    async def main():
        task = asyncio.ensure_future(aio.sock_recv(b, 64))
        await asyncio.sleep(0.01)
        task.cancel()  # asyncio's rule: remove the reader (cancel) before closing
        with pytest.raises(asyncio.CancelledError):
            await task
        b.close()
        with pytest.raises(OSError):
            await aio.sock_recv(b, 64)

    run(main())


# ---------------------------------------------------------------- streams


def test_connect_accept_sendall_recv(run, tcp):
    client, server = tcp
    payload = bytes(range(256)) * 16384  # 4 MiB: sock_sendall has to wait for room

    async def main():
        sending = asyncio.ensure_future(aio.sock_sendall(client, payload))
        received = bytearray()
        while len(received) < len(payload):
            chunk = await aio.sock_recv(server, 65536)
            assert chunk
            received += chunk
        await sending
        return bytes(received)

    assert run(main()) == payload
    assert not run.registered(client) and not run.registered(server)


def test_sock_connect_refused(run, refused_address):
    sock = Socket(Domain.IPV4, Type.STREAM)
    sock.set_nonblocking(True)
    try:
        with pytest.raises(ConnectionRefusedError):
            run(aio.sock_connect(sock, refused_address))
        assert not run.registered(sock)
    finally:
        sock.close()


@pytest.fixture
def refused_address():
    probe = Socket(Domain.IPV4, Type.STREAM)
    probe.bind(("127.0.0.1", 0))
    address = probe.local_addr()
    probe.close()
    return address


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "call",
    [
        lambda s: aio.sock_recv(s, 1),
        lambda s: aio.sock_recv_into(s, bytearray(1)),
        lambda s: aio.sock_recv_from_into(s, bytearray(1)),
        lambda s: aio.sock_sendall(s, b"x"),
        lambda s: aio.sock_send_to(s, b"x", ("127.0.0.1", 9)),
        lambda s: aio.sock_accept(s),
        lambda s: aio.sock_connect(s, ("127.0.0.1", 9)),
        lambda s: aio.recv_batch(s, DatagramBatch([bytearray(1)])),
        lambda s: aio.send_batch(s, [b"x"]),
        lambda s: aio.create_datagram_endpoint(asyncio.DatagramProtocol, sock=s),
    ],
    ids=[
        "sock_recv",
        "sock_recv_into",
        "sock_recv_from_into",
        "sock_sendall",
        "sock_send_to",
        "sock_accept",
        "sock_connect",
        "recv_batch",
        "send_batch",
        "create_datagram_endpoint",
    ],
)
@pytest.mark.skipif(sys.platform == "win32", reason="Windows cannot read the mode back")
def test_a_blocking_socket_is_refused(run, call):
    sock = Socket(Domain.IPV4, Type.DGRAM)
    try:
        with pytest.raises(ValueError, match="non-blocking"):
            run(call(sock))
    finally:
        sock.close()


def test_not_a_pysock2_socket(run):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as std:
        with pytest.raises(TypeError, match="pysock2.Socket"):
            run(aio.sock_recv(std, 1))


def test_a_closed_socket(run):
    sock = udp()
    sock.close()
    with pytest.raises(OSError):
        run(aio.sock_recv(sock, 1))


def test_the_proactor_loop_is_named_in_the_error(run, monkeypatch):
    monkeypatch.setattr(asyncio, "ProactorEventLoop", type(run.loop), raising=False)
    sock = udp()
    try:
        with pytest.raises(RuntimeError, match="SelectorEventLoop"):
            run(aio.sock_recv(sock, 1))
    finally:
        sock.close()


def test_outside_a_running_loop():
    sock = udp()
    try:
        with pytest.raises(RuntimeError):
            asyncio.get_event_loop_policy()  # a loop exists, but none is running
            aio.sock_recv(sock, 1).send(None)
    finally:
        sock.close()
