"""Leaks of pysock2.aio in the style of tests/test_leaks.py: each path runs CALLS times and
the process must end with as many descriptors, flat Python memory and (on a debug CPython)
a flat total reference count. The transport's C paths are driven directly (read_ready is
the loop's reader callback) so that nothing but them runs per call."""

from __future__ import annotations

import asyncio
import sys
import tracemalloc

import pytest

from pysock2 import DatagramBatch, Domain, Socket, Type, aio

from test_leaks import assert_flat

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="counts descriptors via /proc or /dev/fd, which Windows lacks"
)


class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


class Faulty(Echo):
    def datagram_received(self, data, addr):
        raise KeyError(data)


class Batches(Echo):
    def datagrams_received(self, batch):
        for i in range(batch.count):
            self.transport.sendto(batch.buffer(i)[: batch.length(i)], batch.address(i))


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: None)  # Faulty's, counted elsewhere
    yield loop
    loop.close()


def nonblocking_udp() -> Socket:
    sock = Socket(Domain.IPV4, Type.DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.set_nonblocking(True)
    return sock


@pytest.fixture
def endpoint(loop, request):
    """(transport, client) over a transport with the protocol class request.param."""
    transport, _ = loop.run_until_complete(
        aio.create_datagram_endpoint(request.param, sock=nonblocking_udp())
    )
    client = nonblocking_udp()
    client.connect(transport.get_extra_info("sockname"))
    yield transport, client
    transport.close()
    loop.run_until_complete(asyncio.sleep(0))
    client.close()


@pytest.mark.parametrize(
    "endpoint", [Echo, Batches], indirect=True, ids=["per-datagram", "batches"]
)
def test_echo_through_the_c_paths(endpoint):
    transport, client = endpoint
    engine = transport._engine
    buf = bytearray(256)
    datagrams = [b"%d" % i for i in range(8)]

    def echo():
        client.send_batch(datagrams)
        engine.read_ready()  # recv_batch -> protocol -> sendto -> one sendmmsg (GSO)
        for _ in datagrams:
            client.recv_into(buf)

    assert_flat(echo, None)


class Pauses(Echo):
    def datagram_received(self, data, addr):
        super().datagram_received(data, addr)
        if data == b"pause":
            self.transport.pause_reading()


@pytest.mark.parametrize("endpoint", [Pauses], indirect=True)
def test_pause_inside_a_batch_and_resume(endpoint, loop):
    transport, client = endpoint
    engine = transport._engine
    buf = bytearray(256)
    datagrams = [b"1", b"pause", b"2", b"3"]
    offload = hasattr(client, "send_gso")

    def paused_echo():
        client.send_batch(datagrams)
        engine.read_ready()  # delivers up to b"pause", holds the rest
        transport.resume_reading()  # read_ready() delivers the held ones, soon:
        loop.run_until_complete(asyncio.sleep(0))
        if offload:  # a coalesced train, paused part-way (GRO is on by default)
            client.send_gso(b"pausexxxxxyy", 5)  # b"pause", b"xxxxx", b"yy"
            engine.read_ready()
            transport.resume_reading()
            loop.run_until_complete(asyncio.sleep(0))
        for _ in range(len(datagrams) + 3 * offload):
            client.recv_into(buf)

    assert_flat(paused_echo, None)


class Releases(Echo):
    def datagrams_received(self, batch):
        batch.release()


def test_a_protocol_releasing_the_batch(loop):
    client = nonblocking_udp()

    async def cycle():
        transport, _ = await aio.create_datagram_endpoint(Releases, sock=nonblocking_udp())
        client.send_to(b"x", transport.get_extra_info("sockname"))
        transport._engine.read_ready()  # the fatal error: closed with it
        assert transport.is_closing()
        await asyncio.sleep(0)

    try:
        for _ in range(200):
            loop.run_until_complete(cycle())
        assert_flat(lambda: loop.run_until_complete(cycle()), None)
    finally:
        client.close()


@pytest.mark.parametrize("endpoint", [Faulty], indirect=True)
def test_a_raising_protocol(endpoint):
    transport, client = endpoint

    def echo():
        client.send(b"boom")
        transport._engine.read_ready()

    assert_flat(echo, None)


@pytest.mark.parametrize("endpoint", [Echo], indirect=True)
def test_sendto_refusals(endpoint):
    transport, client = endpoint
    assert_flat(lambda: transport.sendto("text", client.local_addr()), TypeError)
    assert_flat(lambda: transport.sendto(b"x"), ValueError)  # not connected
    assert_flat(lambda: transport.sendto(b"x", ("no such host", 1)), (ValueError, OSError))


def test_endpoint_lifecycle(loop):
    async def cycle():
        transport, _ = await aio.create_datagram_endpoint(Echo, sock=nonblocking_udp())
        transport.close()
        await asyncio.sleep(0)

    # A longer warm-up than assert_flat's, traced: under ASan (PYTHONMALLOC=malloc, no
    # address reused soon) what the first ~1,500 endpoints fill (~17 KiB, once, then
    # flat) would pass for a leak in a 1,000-call round.
    tracemalloc.start()
    try:
        for _ in range(2000):
            loop.run_until_complete(cycle())
        assert_flat(lambda: loop.run_until_complete(cycle()), None)
    finally:
        tracemalloc.stop()


def test_coroutines(loop):
    a, b = nonblocking_udp(), nonblocking_udp()
    a.connect(b.local_addr())
    batch = DatagramBatch.allocate(4, 64)
    buf = bytearray(64)

    async def one_of_each():
        await aio.sock_send_to(a, b"1", b.local_addr())
        await aio.sock_recv_from_into(b, buf)
        await aio.send_batch(a, [b"2", b"3"])
        await aio.recv_batch(b, batch)
        waiting = asyncio.ensure_future(aio.sock_recv(b, 64))
        await asyncio.sleep(0)
        waiting.cancel()  # the cancelled wait: its reader and future go
        try:
            await waiting
        except asyncio.CancelledError:
            pass

    try:
        assert_flat(lambda: loop.run_until_complete(one_of_each()), None)
    finally:
        batch.release()
        a.close()
        b.close()


class HandsOver(Echo):
    """Hands the rest of each batch to a batch protocol, which hands it back."""

    def datagram_received(self, data, addr):
        self.transport.set_protocol(Takes(self))


class Takes(Echo):
    calls = wrong = 0  # wrong: batches that were not the three datagrams left

    def __init__(self, first):
        self.first = first

    def datagrams_received(self, batch):
        Takes.calls += 1
        Takes.wrong += [bytes(batch.data(i)) for i in range(batch.count)] != [b"2", b"3", b"4"]
        self.first.transport.set_protocol(self.first)


@pytest.mark.parametrize("endpoint", [HandsOver], indirect=True)
def test_set_protocol_mid_batch_hands_over_a_copy(endpoint):
    transport, client = endpoint
    HandsOver.transport = transport

    def hand_over():
        client.send_batch([b"1", b"2", b"3", b"4"])
        transport._engine.read_ready()  # 1 to HandsOver, 2-4 to Takes in a batch of its own

    assert_flat(hand_over, None)
    assert Takes.calls > 1000 and Takes.wrong == 0
