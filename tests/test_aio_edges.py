"""pysock2.aio's datagram transport at its edges, on the default loop and on uvloop, debug
mode on: pause_reading() inside datagram_received, a datagrams_received protocol doing
what it should not with the transport's batch, hostile datagrams, closing from inside a
callback, a transport the program forgets."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings

import pytest
from aio_support import LOOPS, Recorder, Runner, endpoint, udp, until  # noqa: F401

from pysock2 import DatagramBatch, Domain, Socket, Type, aio

from conftest import needs_unix

needs_offload = pytest.mark.skipif(
    not hasattr(Socket, "send_gso"), reason="UDP GSO/GRO is Linux-only"
)


def numbered(n: int) -> list[bytes]:
    return [b"%3d" % i for i in range(n)]


class PausesAt(Recorder):
    """Pauses reading inside datagram_received when it gets `at`."""

    def __init__(self, at: bytes) -> None:
        super().__init__()
        self.at = at

    def datagram_received(self, data, addr):
        super().datagram_received(data, addr)
        if data == self.at:
            self.transport.pause_reading()


# ---------------------------------------------------------------- pause_reading mid-batch


@pytest.mark.parametrize("gro", [False, None])
def test_pause_inside_datagram_received_holds_the_rest_of_the_batch(run, pair_for_transport, gro):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server, PausesAt(b"  2"), gro=gro)
        client.send_batch(numbered(10))  # one receive takes them all
        assert await until(lambda: protocol.datagrams)
        await asyncio.sleep(0.05)
        assert [d for d, _ in protocol.datagrams] == numbered(3)  # stopped at once
        assert not transport.is_reading()
        transport.resume_reading()
        assert await until(lambda: len(protocol.datagrams) == 10)
        await asyncio.sleep(0.02)
        assert [d for d, _ in protocol.datagrams] == numbered(10)  # in order, once each
        transport.close()
        await protocol.lost

    run(main())


@needs_offload
def test_pause_inside_a_coalesced_train_holds_the_rest_of_it(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server, PausesAt(b"  4"), gro=True)
        client.send_gso(b"".join(numbered(8)), 3)  # one coalesced receive of 8
        assert await until(lambda: protocol.datagrams)
        await asyncio.sleep(0.05)
        assert [d for d, _ in protocol.datagrams] == numbered(5)
        client.send(b"new")  # arrives behind the held ones
        protocol.at = b"  6"  # and pause once more, inside the same train
        transport.resume_reading()
        assert await until(lambda: len(protocol.datagrams) == 7)
        await asyncio.sleep(0.02)
        assert len(protocol.datagrams) == 7
        transport.resume_reading()
        assert await until(lambda: len(protocol.datagrams) == 9)
        assert [d for d, _ in protocol.datagrams] == numbered(8) + [b"new"]
        transport.close()
        await protocol.lost

    run(main())


def test_close_while_paused_drops_what_is_held(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server, PausesAt(b"  0"))
        client.send_batch(numbered(5))
        assert await until(lambda: protocol.datagrams)
        transport.close()
        transport.resume_reading()  # closing: nothing more is delivered
        assert await protocol.lost is None
        await asyncio.sleep(0.02)
        assert [d for d, _ in protocol.datagrams] == numbered(1)

    run(main())


# ---------------------------------------------------------------- datagrams_received(batch)


class BatchProtocol(Recorder):
    """A datagrams_received protocol whose body is given by the test."""

    def __init__(self, body) -> None:
        super().__init__()
        self.body = body
        self.calls = 0

    def datagrams_received(self, batch: DatagramBatch) -> None:
        self.calls += 1
        self.body(self, batch)


def test_the_batch_holds_nothing_after_the_call(run, pair_for_transport):
    server, client = pair_for_transport
    kept: list[DatagramBatch] = []

    def keep(protocol, batch):
        protocol.datagrams.append((bytes(batch.data(0)), batch.address(0)))
        kept.append(batch)

    async def main():
        transport, protocol = await endpoint(server, BatchProtocol(keep))
        client.send(b"one")
        assert await until(lambda: protocol.datagrams)
        assert kept[0].count == 0
        with pytest.raises(IndexError, match="0 datagrams held"):
            kept[0].data(0)  # not a stale read of whatever comes next
        transport.close()
        await protocol.lost

    run(main())


def test_a_protocol_releasing_the_batch_closes_the_transport_with_the_error(
    run, pair_for_transport
):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(
            server, BatchProtocol(lambda protocol, batch: batch.release())
        )
        client.send(b"one")
        exc = await protocol.lost
        assert isinstance(exc, ValueError) and "released" in str(exc)
        assert transport.is_closing()
        error = run.errors.pop()
        assert error["message"] == "Fatal error on a pysock2.aio transport"
        assert error["exception"] is exc
        client.send(b"two")
        await asyncio.sleep(0.02)
        assert protocol.calls == 1

    run(main())


def test_a_protocol_may_send_the_batch_back(run, pair_for_transport):
    """Reusing the batch within the call is defined: here, a zero-copy echo."""
    server, client = pair_for_transport

    def echo(protocol, batch):
        protocol.transport.get_extra_info("socket").send_batch(batch)

    async def main():
        transport, protocol = await endpoint(server, BatchProtocol(echo))
        client.send_batch(numbered(5))
        assert [await aio_recv(client) for _ in range(5)] == numbered(5)
        transport.close()
        await protocol.lost

    run(main())


@pytest.mark.parametrize("how", ["close", "abort"])
def test_closing_from_datagrams_received(run, pair_for_transport, how):
    server, client = pair_for_transport

    def close(protocol, batch):
        getattr(protocol.transport, how)()

    async def main():
        transport, protocol = await endpoint(server, BatchProtocol(close), batch_size=2)
        client.send_batch(numbered(6))
        assert await protocol.lost is None
        await asyncio.sleep(0.02)
        assert protocol.calls == 1
        assert protocol.events.count(("lost", None)) == 1

    run(main())


def test_the_engine_refuses_to_be_reentered(run, pair_for_transport):
    server, client = pair_for_transport
    refused: list[BaseException] = []

    def reenter(protocol, batch):
        try:
            protocol.transport._engine.read_ready()
        except RuntimeError as exc:
            refused.append(exc)

    async def main():
        transport, protocol = await endpoint(server, BatchProtocol(reenter))
        client.send(b"x")
        assert await until(lambda: refused)
        assert "inside a protocol callback" in str(refused[0])
        transport.close()
        await protocol.lost

    run(main())


# ---------------------------------------------------------------- hostile input


async def aio_recv(sock: Socket) -> bytes:
    return await aio.sock_recv(sock, 65536)


def test_the_largest_datagram_arrives_whole(run, pair_for_transport):
    server, client = pair_for_transport
    client.set_send_buffer_size(1 << 20)
    server.set_recv_buffer_size(1 << 20)
    largest = os.urandom(65507)  # IPv4's largest UDP payload

    async def main():
        transport, protocol = await endpoint(server, Recorder(echo=True))
        client.send(largest)
        client.send(b"after")
        assert await until(lambda: len(protocol.datagrams) == 2)
        assert [d for d, _ in protocol.datagrams] == [largest, b"after"]
        assert await aio_recv(client) == largest
        transport.close()
        await protocol.lost

    run(main())


@needs_unix
def test_a_datagram_larger_than_a_slot_is_dropped_and_reported(run, unix_pair):
    """A Unix datagram may be larger than a UDP one: it gets asyncio's 256 KiB, and one
    larger still is never delivered cut short; error_received gets EMSGSIZE and the next
    datagram comes as usual."""
    import errno

    ours, peer = unix_pair
    peer.set_send_buffer_size(1 << 21)
    ours.set_recv_buffer_size(1 << 21)

    async def main():
        transport, protocol = await endpoint(ours)
        peer.send(b"w" * 100_000)
        peer.send(b"x" * 300_000)
        peer.send(b"y" * 262_144)  # exactly a slot: whole, so delivered
        peer.send(b"after")
        assert await until(lambda: len(protocol.datagrams) == 3)
        assert [d for d, _ in protocol.datagrams] == [b"w" * 100_000, b"y" * 262_144, b"after"]
        assert [e.errno for e in protocol.errors] == [errno.EMSGSIZE]
        assert "receive slot" in str(protocol.errors[0])
        transport.close()
        await protocol.lost

    run(main())


@needs_offload
@pytest.mark.parametrize("gro", [True, None])
def test_a_train_with_a_short_last_segment(run, pair_for_transport, gro):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server, gro=gro)
        client.send_gso(b"a" * 500 + b"b" * 37, 100)
        assert await until(lambda: len(protocol.datagrams) == 6)
        assert [d for d, _ in protocol.datagrams] == [b"a" * 100] * 5 + [b"b" * 37]
        transport.close()
        await protocol.lost

    run(main())


@needs_offload
def test_a_batch_protocol_gets_single_datagrams_by_default(run, pair_for_transport):
    """GRO is on by default only for datagram_received, where it is invisible: a batch's
    slots would hold whole trains."""
    server, client = pair_for_transport

    def record(protocol, batch):
        protocol.datagrams += [(bytes(batch.data(i)), None) for i in range(batch.count)]

    async def main():
        transport, protocol = await endpoint(server, BatchProtocol(record))
        assert not server.udp_gro()
        client.send_gso(b"c" * 300, 100)
        assert await until(lambda: len(protocol.datagrams) == 3)
        assert {d for d, _ in protocol.datagrams} == {b"c" * 100}
        transport.close()
        await protocol.lost

    run(main())


@needs_offload
def test_gro_is_on_by_default_where_the_socket_takes_it(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server)
        assert server.udp_gro()
        transport.close()
        await protocol.lost
        explicit = udp()
        transport, protocol = await endpoint(explicit, gro=False)
        assert not explicit.udp_gro()
        transport.close()
        await protocol.lost

    run(main())


def test_abort_from_datagram_received_drops_the_rest(run, pair_for_transport):
    server, client = pair_for_transport

    class Aborts(Recorder):
        def datagram_received(self, data, addr):
            super().datagram_received(data, addr)
            self.transport.sendto(b"dropped", addr)
            self.transport.abort()

    async def main():
        transport, protocol = await endpoint(server, Aborts())
        client.send_batch(numbered(4))
        assert await protocol.lost is None
        await asyncio.sleep(0.02)
        assert [d for d, _ in protocol.datagrams] == numbered(1)
        assert protocol.events.count(("lost", None)) == 1
        with pytest.raises(BlockingIOError):
            client.recv(64)  # the queued reply went with the abort

    run(main())


def test_sendto_from_another_task_while_the_transport_drains(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server, Recorder(echo=True))
        peer = client.local_addr()

        async def chatter():
            for i in range(200):
                transport.sendto(b"c%d" % i, peer)
                await asyncio.sleep(0)

        async def flood():
            for i in range(200):
                client.send(b"e%d" % i)
                await asyncio.sleep(0)

        async def receive():
            return [await aio_recv(client) for _ in range(400)]

        *_, got = await asyncio.gather(chatter(), flood(), receive())
        assert [d for d in got if d[:1] == b"c"] == [b"c%d" % i for i in range(200)]
        assert [d for d in got if d[:1] == b"e"] == [b"e%d" % i for i in range(200)]
        transport.close()
        await protocol.lost

    run(main())


def test_a_refused_sendto_goes_to_error_received(run):
    async def main():
        transport, protocol = await endpoint(udp())
        transport.sendto(b"to port 0", ("127.0.0.1", 0))  # the kernel refuses it
        assert await until(lambda: protocol.errors)
        assert isinstance(protocol.errors[0], OSError)
        assert not transport.is_closing() and transport.get_write_buffer_size() == 0
        transport.close()
        await protocol.lost

    run(main())


def test_a_raising_error_received_goes_to_the_handler(run):
    class Faulty(Recorder):
        def error_received(self, exc):
            raise LookupError("from error_received")

    async def main():
        transport, protocol = await endpoint(udp(), Faulty())
        transport.sendto(b"to port 0", ("127.0.0.1", 0))
        assert await until(lambda: run.errors)
        assert isinstance(run.errors.pop()["exception"], LookupError)
        transport.close()
        await protocol.lost

    run(main())


@pytest.mark.parametrize("kind", LOOPS)
def test_a_forgotten_transport_closes_its_socket(kind):
    runner = Runner(kind)
    sock = udp()
    fd = sock.fileno()
    transport, protocol = runner(endpoint(sock))
    runner.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del transport, protocol
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught), caught
    assert sock.closed
    with pytest.raises(OSError):
        os.fstat(fd)


# ---------------------------------------------------------------- closing, offloads, owners


def test_close_right_after_a_reply_ends_in_connection_lost(run, pair_for_transport):
    """The reply is queued by the drain when close() runs: it goes out, then the transport
    finishes closing."""
    server, client = pair_for_transport

    class ReplyAndClose(Recorder):
        def datagram_received(self, data, addr):
            self.transport.sendto(data, addr)
            self.transport.close()

    async def main():
        transport, protocol = await endpoint(server, ReplyAndClose())
        client.send(b"last words")
        assert await aio_recv(client) == b"last words"
        assert await protocol.lost is None
        assert server.closed

    run(main())


@needs_unix
def test_abort_after_a_close_that_waited_for_its_queue_does_nothing(run, unix_pair):
    ours, peer = unix_pair

    async def main():
        transport, protocol = await endpoint(ours)
        while transport.get_write_buffer_size() == 0:  # the peer's queue is full
            transport.sendto(b"queued")
        transport.close()
        while not protocol.lost.done():
            try:
                peer.recv(64)
            except BlockingIOError:
                await asyncio.sleep(0.001)
        transport.abort()
        assert protocol.events.count(("lost", None)) == 1

    run(main())


@needs_offload
@pytest.mark.parametrize("size", [1024, 1400, 1452])
def test_gso_messages_stay_within_the_largest_udp_payload(run, pair_for_transport, size):
    """64 replies of up to 1,452 bytes would be 93 KB as one GSO message: the runs are cut
    at 65,507 bytes, every reply arrives and none is reported."""
    server, client = pair_for_transport
    client.set_recv_buffer_size(1 << 21)

    async def main():
        transport, protocol = await endpoint(server, Recorder(echo=True), batch_size=64)
        sent = [bytes([i]) * size for i in range(64)]
        client.send_batch(sent)
        assert [await aio_recv(client) for _ in sent] == sent
        assert protocol.errors == []
        transport.close()
        await protocol.lost

    run(main())


@needs_unix
def test_the_offloads_are_for_udp_sockets_only(run, unix_pair):
    ours, _ = unix_pair

    async def main():
        for option in ("gro", "gso"):
            with pytest.raises(ValueError, match=f"{option}=True: .* not available"):
                await endpoint(ours, **{option: True})
        transport, protocol = await endpoint(ours)  # the defaults: neither, no error
        assert not transport._engine.gso
        transport.close()
        await protocol.lost

    run(main())


def test_endpoint_arguments_are_checked_before_the_protocol_is_made(run):
    made = []

    async def main():
        sock = udp()
        for bad in ({"max_batches": 1.5}, {"batch_size": "64"}, {"gro": 1}):
            with pytest.raises(TypeError):
                await aio.create_datagram_endpoint(lambda: made.append(1), sock=sock, **bad)
        assert made == [] and not (hasattr(sock, "udp_gro") and sock.udp_gro())
        sock.close()

    run(main())


def test_a_unix_path_on_an_ip_transport_is_a_type_error(run, pair_for_transport):
    server, _ = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server)
        with pytest.raises(TypeError, match="AF_INET socket takes a"):
            transport.sendto(b"x", "127.0.0.1:9")
        await asyncio.sleep(0.01)
        assert protocol.errors == []
        transport.close()
        await protocol.lost

    run(main())


def test_a_socket_detached_under_the_transport_ends_it(run, pair_for_transport):
    """into_stdlib() of the transport's socket leaves it nothing to receive with: the
    transport ends with that error (once), not an error_received per loop iteration."""
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server)
        stdlib = transport.get_extra_info("socket").into_stdlib()
        client.send(b"readable")
        exc = await protocol.lost
        assert isinstance(exc, OSError) and protocol.errors == []
        assert run.errors.pop()["exception"] is exc
        stdlib.close()

    run(main())


def test_a_coroutine_may_not_use_a_transports_socket(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server)
        with pytest.raises(RuntimeError, match="is used by transport"):
            await aio.sock_recv(server, 64)
        with pytest.raises(RuntimeError, match="is used by transport"):
            await aio.create_datagram_endpoint(Recorder, sock=server)
        client.send(b"still the transport's")
        assert await until(lambda: protocol.datagrams)
        transport.close()
        await protocol.lost

    run(main())


def test_cancelling_one_of_two_waiters_leaves_the_other_waiting(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        first = asyncio.ensure_future(aio.sock_recv(server, 64))
        second = asyncio.ensure_future(aio.sock_recv(server, 64))
        await asyncio.sleep(0.01)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        assert run.registered(server) == {"reader"}  # still there, for the second
        client.send(b"for the second")
        assert await asyncio.wait_for(second, 1) == b"for the second"
        assert run.registered(server) == set()

    run(main())


@needs_unix
def test_sock_connect_waits_for_room_in_a_full_unix_backlog(run, tmp_path):
    path = str(tmp_path / "listener")
    listener = Socket(Domain.UNIX, Type.STREAM)
    listener.bind(path)
    listener.listen(0)
    queued = Socket(Domain.UNIX, Type.STREAM)
    queued.connect(path)  # the backlog's one place
    client = Socket(Domain.UNIX, Type.STREAM)
    client.set_nonblocking(True)

    async def main():
        connecting = asyncio.ensure_future(aio.sock_connect(client, path))
        await asyncio.sleep(0.03)
        assert not connecting.done() and run.registered(client) == set()  # no busy wait
        listener.accept()[0].close()  # room for one more
        await asyncio.wait_for(connecting, 1)
        assert client.peer_addr().as_pathname() == os.fsencode(path)

    try:
        run(main())
    finally:
        for sock in (client, queued, listener):
            sock.close()


@pytest.mark.parametrize("gro", [False, True] if hasattr(Socket, "send_gso") else [False])
def test_set_protocol_mid_batch_to_a_batch_protocol_hands_it_the_rest(run, pair_for_transport, gro):
    """The datagrams already received and not yet delivered go to the new protocol, in a
    batch of their own, in order, each datagram of a coalesced train in its own slot."""
    server, client = pair_for_transport

    class HandsOver(Recorder):
        def datagram_received(self, data, addr):
            super().datagram_received(data, addr)
            self.transport.set_protocol(self.successor)

    async def main():
        first = HandsOver()
        first.successor = successor = BatchProtocol(
            lambda protocol, batch: protocol.datagrams.extend(
                (bytes(batch.data(i)), batch.address(i)) for i in range(batch.count)
            )
        )
        transport, _ = await endpoint(server, first, gro=gro)
        if gro:
            client.send_gso(b"".join(numbered(6)), 3)
        else:
            client.send_batch(numbered(6))
        assert await until(lambda: len(successor.datagrams) == 5)
        assert [d for d, _ in first.datagrams] == numbered(1)
        assert [d for d, _ in successor.datagrams] == numbered(6)[1:]
        assert {a for _, a in successor.datagrams} == {client.local_addr()}
        transport.close()
        await successor.lost

    run(main())


def test_pause_reading_in_connection_made_holds(run, pair_for_transport):
    """The transport reads from the start, as asyncio's: connection_made may pause it."""
    server, client = pair_for_transport

    class PausesAtOnce(Recorder):
        def connection_made(self, transport):
            super().connection_made(transport)
            self.reading_at_start = transport.is_reading()
            transport.pause_reading()

    async def main():
        transport, protocol = await endpoint(server, PausesAtOnce())
        client.send(b"held")
        await asyncio.sleep(0.03)
        assert protocol.reading_at_start and protocol.datagrams == []
        assert not transport.is_reading()
        transport.resume_reading()
        assert await until(lambda: protocol.datagrams)
        transport.close()
        assert not transport.is_reading()
        await protocol.lost

    run(main())


@needs_offload
def test_a_batch_protocol_set_later_gets_single_datagrams(run, pair_for_transport):
    """GRO went on by default for the first protocol; a datagrams_received protocol set
    later still gets one datagram per slot (the transport cuts the trains apart; GRO
    stays on, as the kernel tells a train's segment size only to a GRO socket)."""
    server, client = pair_for_transport

    def record(protocol, batch):
        protocol.datagrams += [(bytes(batch.data(i)), None) for i in range(batch.count)]

    async def main():
        transport, first = await endpoint(server)
        assert server.udp_gro()
        transport.pause_reading()
        client.send_gso(b"a" * 300, 100)  # queued as one coalesced train
        successor = BatchProtocol(record)
        transport.set_protocol(successor)
        transport.resume_reading()
        client.send_gso(b"b" * 200, 100)
        assert await until(lambda: len(successor.datagrams) == 5)
        assert [d for d, _ in successor.datagrams] == [b"a" * 100] * 3 + [b"b" * 100] * 2
        transport.close()
        await successor.lost

    run(main())


def test_no_endpoint_while_a_coroutine_waits_on_the_socket(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        waiting = asyncio.ensure_future(aio.sock_recv(server, 64))
        await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError, match="a coroutine is waiting"):
            await endpoint(server)
        client.send(b"for the coroutine")
        assert await asyncio.wait_for(waiting, 1) == b"for the coroutine"

    run(main())


@needs_offload
def test_gro_cuts_trains_apart_with_receive_timestamps_on(run, pair_for_transport):
    """SCM_TIMESTAMPING comes before UDP_GRO in the control messages: the transport leaves
    room for both."""
    server, client = pair_for_transport
    if not hasattr(server, "set_timestamping"):
        pytest.skip("no SO_TIMESTAMPING")
    from pysock2 import _pysock2

    server.set_timestamping(
        _pysock2.SOF_TIMESTAMPING_RX_SOFTWARE | _pysock2.SOF_TIMESTAMPING_SOFTWARE
    )

    async def main():
        transport, protocol = await endpoint(server)
        client.send_gso(b"t" * 300, 100)
        assert await until(lambda: len(protocol.datagrams) == 3)
        assert [d for d, _ in protocol.datagrams] == [b"t" * 100] * 3
        assert protocol.errors == []
        transport.close()
        await protocol.lost

    run(main())
