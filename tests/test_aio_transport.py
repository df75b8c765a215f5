"""pysock2.aio.create_datagram_endpoint: the asyncio DatagramTransport contract on the
default loop and on uvloop, debug mode on: echo of a flood with no loss, ICMP errors,
flow control under a full send buffer, close/abort, batches, GRO."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
from aio_support import LOOPS, Recorder, Runner, endpoint, udp, until  # noqa: F401

from pysock2 import DatagramBatch, Domain, Socket, Type, aio

from conftest import needs_unix


def test_flood_echo_loses_nothing(run):
    async def main():
        transport, protocol = await endpoint(udp(), Recorder(echo=True))
        client = udp(transport.get_extra_info("sockname"))
        sent, received = 0, 0
        buf = bytearray(64)
        for _window in range(40):  # 40 windows of 100 in flight: 4000 datagrams
            for i in range(100):
                await aio.sock_send_to(
                    client, b"%6d" % (sent + i), transport.get_extra_info("sockname")
                )
            sent += 100
            while received < sent:
                n, _ = await aio.sock_recv_from_into(client, buf)
                assert int(buf[:n]) == received  # in order, none missing
                received += 1
        assert len(protocol.datagrams) == 4000
        transport.close()
        await protocol.lost
        client.close()

    run(main())


def test_datagram_received_gets_bytes_and_the_sender(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server)
        assert protocol.events == [("made",)]
        client.send(b"hello")
        assert await until(lambda: protocol.datagrams)
        data, addr = protocol.datagrams[0]
        assert type(data) is bytes and data == b"hello"
        assert addr == client.local_addr()
        transport.close()
        await protocol.lost

    run(main())


def test_sendto_addresses(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server)
        transport.sendto(b"as SockAddr", client.local_addr())
        transport.sendto(bytearray(b"as tuple"), client.local_addr().as_socket())
        transport.sendto(memoryview(b"xx as memoryview")[3:], client.local_addr())
        got = [await aio.sock_recv(client, 64) for _ in range(3)]
        assert got == [b"as SockAddr", b"as tuple", b"as memoryview"]
        with pytest.raises(ValueError, match="not connected"):
            transport.sendto(b"nowhere")
        with pytest.raises(TypeError, match="bytes-like"):
            transport.sendto("text", client.local_addr())
        assert transport.get_write_buffer_size() == 0
        transport.close()
        await protocol.lost

    run(main())


def test_a_connected_socket_sends_to_its_peer_only(run, pair_for_transport):
    server, client = pair_for_transport
    server.connect(client.local_addr())

    async def main():
        transport, protocol = await endpoint(server)
        assert transport.get_extra_info("peername") == client.local_addr()
        transport.sendto(b"to the peer")
        transport.sendto(b"named", client.local_addr())
        assert await aio.sock_recv(client, 64) == b"to the peer"
        assert await aio.sock_recv(client, 64) == b"named"
        with pytest.raises(ValueError, match="Invalid address"):
            transport.sendto(b"x", ("127.0.0.1", 9))
        transport.close()
        await protocol.lost

    run(main())


def test_extra_info_and_repr(run, pair_for_transport):
    server, _ = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server)
        assert isinstance(transport, asyncio.DatagramTransport)
        assert transport.get_extra_info("socket") is server
        assert transport.get_extra_info("sockname") == server.local_addr()
        assert transport.get_extra_info("peername") is None
        assert transport.get_extra_info("nothing", 42) == 42
        assert run.registered(server) == {"reader"}
        assert transport.get_protocol() is protocol
        assert "open" in repr(transport)
        transport.close()
        assert transport.is_closing() and "closing" in repr(transport)
        await protocol.lost
        assert "closed" in repr(transport)

    run(main())


def test_icmp_errors_go_to_error_received(run, refused):
    sock = udp(refused)

    async def main():
        transport, protocol = await endpoint(sock)
        transport.sendto(b"anyone?")
        assert await until(lambda: protocol.errors)
        assert isinstance(protocol.errors[0], ConnectionRefusedError)
        assert not transport.is_closing()  # an error, not the end
        transport.close()
        await protocol.lost

    run(main())


@pytest.fixture
def refused():
    probe = udp()
    address = probe.local_addr()
    probe.close()
    return address


def test_close_then_connection_lost_once(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server)
        fd = server.fileno()
        transport.close()
        transport.close()
        assert await protocol.lost is None
        assert protocol.events == [("made",), ("lost", None)]
        assert server.closed
        assert not run.registered(fd)
        transport.sendto(b"after close", client.local_addr())  # dropped, as asyncio does
        client.send(b"unread")

    run(main())


def test_abort_drops_the_queue(run, unix_pair):
    ours, peer = unix_pair

    async def main():
        transport, protocol = await endpoint(ours)
        while transport.get_write_buffer_size() == 0:
            transport.sendto(b"x" * 1024)
        transport.abort()
        assert await protocol.lost is None
        assert transport.get_write_buffer_size() == 0

    run(main())


@needs_unix
def test_flow_control_under_a_full_send_buffer(run, unix_pair):
    ours, peer = unix_pair

    async def main():
        transport, protocol = await endpoint(ours)
        transport.set_write_buffer_limits(high=8192)
        assert transport.get_write_buffer_limits() == (2048, 8192)
        sent = 0
        while ("pause",) not in protocol.events:
            transport.sendto(b"%08d" % sent + bytes(1016))
            sent += 1
        assert transport.get_write_buffer_size() > 8192
        assert run.registered(ours) == {"reader", "writer"}  # waiting for room
        received = []
        while len(received) < sent:
            received.append(int((await aio.sock_recv(peer, 2048))[:8]))
        assert received == list(range(sent))  # every datagram, in order
        assert protocol.events[-1] == ("resume",)
        assert transport.get_write_buffer_size() == 0
        transport.close()
        fd = ours.fileno()
        await protocol.lost
        assert ours.closed and not run.registered(fd)

    run(main())


@needs_unix
def test_close_waits_for_the_queue(run, unix_pair):
    ours, peer = unix_pair

    async def main():
        transport, protocol = await endpoint(ours)
        sent = 0
        while transport.get_write_buffer_size() == 0:
            transport.sendto(b"%08d" % sent)
            sent += 1
        transport.close()
        await asyncio.sleep(0.01)
        assert not protocol.lost.done()  # the queue is still to go
        received = 0
        while received < sent:
            await aio.sock_recv(peer, 64)
            received += 1
        assert await protocol.lost is None

    run(main())


class BatchRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[bytes]] = []

    def datagrams_received(self, batch: DatagramBatch) -> None:
        assert batch.count >= 1
        self.batches.append([bytes(batch.buffer(i)[: batch.length(i)]) for i in range(batch.count)])

    def datagram_received(self, data, addr):
        raise AssertionError("datagrams_received takes precedence")


def test_datagrams_received_gets_whole_batches(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        protocol = BatchRecorder()
        transport, _ = await endpoint(server, protocol, batch_size=8)
        client.send_batch([b"%d" % i for i in range(20)])
        assert await until(lambda: sum(map(len, protocol.batches)) == 20)
        assert [d for b in protocol.batches for d in b] == [b"%d" % i for i in range(20)]
        assert max(map(len, protocol.batches)) > 1 and max(map(len, protocol.batches)) <= 8
        transport.close()
        await protocol.lost

    run(main())


def test_set_protocol(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, first = await endpoint(server)
        second = Recorder()
        transport.set_protocol(second)
        assert transport.get_protocol() is second
        client.send(b"to the second")
        assert await until(lambda: second.datagrams)
        assert first.datagrams == []
        transport.close()
        await second.lost

    run(main())


def test_an_exception_in_datagram_received_goes_to_the_handler(run, pair_for_transport):
    server, client = pair_for_transport

    class Faulty(Recorder):
        def datagram_received(self, data, addr):
            super().datagram_received(data, addr)
            if data == b"bad":
                raise KeyError("bad")

    async def main():
        transport, protocol = await endpoint(server, Faulty())
        client.send_batch([b"good", b"bad", b"after"])
        assert await until(lambda: len(protocol.datagrams) == 3)  # the rest still came
        assert isinstance(run.errors.pop()["exception"], KeyError)
        transport.close()
        await protocol.lost

    run(main())


def test_close_from_datagram_received_stops_delivery(run, pair_for_transport):
    server, client = pair_for_transport

    class Closer(Recorder):
        def datagram_received(self, data, addr):
            super().datagram_received(data, addr)
            self.transport.close()

    async def main():
        transport, protocol = await endpoint(server, Closer())
        client.send_batch([b"1", b"2", b"3"])
        await protocol.lost
        assert protocol.datagrams[0][0] == b"1" and len(protocol.datagrams) == 1

    run(main())


def test_pause_and_resume_reading(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server)
        assert transport.is_reading()
        transport.pause_reading()
        client.send(b"later")
        await asyncio.sleep(0.02)
        assert protocol.datagrams == []
        transport.resume_reading()
        assert await until(lambda: protocol.datagrams)
        transport.close()
        await protocol.lost

    run(main())


def test_refusals(run):
    async def main():
        stream = Socket(Domain.IPV4, Type.STREAM)
        stream.set_nonblocking(True)
        with pytest.raises(ValueError, match="datagram socket"):
            await aio.create_datagram_endpoint(Recorder, sock=stream)
        stream.close()
        sock = udp()
        with pytest.raises(ValueError, match="batch_size"):
            await aio.create_datagram_endpoint(Recorder, sock=sock, batch_size=0)
        with pytest.raises(TypeError, match="datagram_received"):
            await aio.create_datagram_endpoint(object, sock=sock)
        sock.close()

    run(main())


@pytest.mark.parametrize("kind", LOOPS)
def test_an_unclosed_transport_warns(kind):
    runner = Runner(kind)
    transport, protocol = runner(endpoint(udp()))
    runner.close()  # the loop lets go of its reader
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del transport, protocol
        gc.collect()  # the socket in the cycle may warn too: whichever goes first
    assert any("unclosed transport" in str(w.message) for w in caught), caught


@pytest.mark.skipif(not hasattr(Socket, "send_gso"), reason="UDP GSO/GRO is Linux-only")
def test_gro_cuts_coalesced_datagrams_apart(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server, gro=True)
        client.send_gso(bytes(range(100)) * 30, 100)  # 30 datagrams of 100 bytes
        assert await until(lambda: len(protocol.datagrams) == 30)
        assert {d for d, _ in protocol.datagrams} == {bytes(range(100))}
        transport.close()
        await protocol.lost

    run(main())


def test_another_thread_is_refused_while_the_loop_is_inside(run, pair_for_transport):
    """asyncio transports belong to their loop's thread; a second thread is told so rather
    than let into the C queue."""
    import threading

    server, client = pair_for_transport
    refused: list[BaseException] = []

    class FromAThread(Recorder):
        def datagram_received(self, data, addr):
            super().datagram_received(data, addr)

            def send():
                try:
                    self.transport.sendto(b"from a thread", addr)
                except RuntimeError as exc:
                    refused.append(exc)

            thread = threading.Thread(target=send)
            thread.start()
            thread.join()

    async def main():
        transport, protocol = await endpoint(server, FromAThread())
        client.send(b"go")
        assert await until(lambda: protocol.datagrams)
        assert len(refused) == 1 and "call_soon_threadsafe" in str(refused[0])
        transport.close()
        await protocol.lost

    run(main())


def test_an_empty_datagram_is_sent(run, pair_for_transport):
    server, client = pair_for_transport

    async def main():
        transport, protocol = await endpoint(server)
        transport.sendto(b"", client.local_addr())
        assert await aio.sock_recv(client, 64) == b""
        client.send(b"")
        assert await until(lambda: protocol.datagrams)
        assert protocol.datagrams[0][0] == b""
        transport.close()
        await protocol.lost

    run(main())
