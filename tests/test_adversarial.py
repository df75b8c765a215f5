"""What a hostile peer, a careless protocol or an unlucky schedule must not break.

Each test is a break found by attacking pysock2 (session 4), written as the behaviour
expected of it; each failed on the code it was found in.
"""

from __future__ import annotations

import asyncio
import errno
import os
import struct
import subprocess
import sys
import tempfile

import pytest
from aio_support import LOOPS, Runner, udp, until

from pysock2 import DatagramBatch, Domain, MsgHdr, Socket, Type, aio, cmsg
from pysock2 import Protocol as IpProtocol

from conftest import child_python, needs_unix, open_fds


@pytest.fixture(params=LOOPS)
def run(request):
    """test_aio's Runner (debug mode, records the exception handler's calls and what is
    registered); the test looks at both itself, so that a documented break fails only
    the test that documents it."""
    runner = Runner(request.param)
    yield runner
    runner.close()


@pytest.fixture
def peers():
    """(server, client): two non-blocking UDP sockets on 127.0.0.1, the client connected
    to the server. Both are closed afterwards whatever the test left behind."""
    server, client = udp(), udp()
    client.connect(server.local_addr())
    yield server, client
    client.close()
    server.close()


class Protocol(asyncio.DatagramProtocol):
    """Records what arrives; `on_datagram(self, data, addr)` is the hostile part."""

    def __init__(self, on_datagram=None) -> None:
        self.on_datagram = on_datagram
        self.datagrams: list[bytes] = []
        self.lost: list[BaseException | None] = []

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.datagrams.append(data)
        if self.on_datagram is not None:
            self.on_datagram(self, data, addr)

    def connection_lost(self, exc):
        self.lost.append(exc)


async def endpoint(sock: Socket, protocol: asyncio.BaseProtocol, **kwargs):
    transport, _ = await aio.create_datagram_endpoint(lambda: protocol, sock=sock, **kwargs)
    return transport


async def settle(transport) -> None:
    """Lets the loop run a few turns, then makes sure the transport is gone (abort() is
    a no-op once connection_lost ran), so a documented break leaks nothing."""
    await asyncio.sleep(0.02)
    transport.abort()
    await asyncio.sleep(0)


# ---------------------------------------------------------------- the datagram transport


def test_close_right_after_a_reply_still_ends_in_connection_lost(run, peers):
    server, client = peers

    def reply_and_close(protocol, data, addr):
        protocol.transport.sendto(data, addr)
        protocol.transport.close()

    async def main():
        protocol = Protocol(reply_and_close)
        transport = await endpoint(server, protocol)
        client.send(b"last words")
        assert await aio.sock_recv(client, 64) == b"last words"  # the reply went out
        await until(lambda: protocol.lost, timeout=0.5)
        lost = list(protocol.lost)
        await settle(transport)
        assert lost == [None]  # ... and the transport finished closing
        assert server.closed

    run(main())


@needs_unix
def test_abort_after_the_queue_drained_and_the_transport_closed_is_a_no_op(run):
    """abort() on a closed transport does nothing, as asyncio's, also when close() had to
    wait for queued datagrams (AF_UNIX: the sender waits while the peer does not read)."""
    ours, peer = Socket.pair(Domain.UNIX, Type.DGRAM)
    ours.set_nonblocking(True)
    peer.set_nonblocking(True)

    async def main():
        protocol = Protocol()
        transport = await endpoint(ours, protocol)
        while transport.get_write_buffer_size() == 0:  # the peer's queue is full
            transport.sendto(b"queued")
        transport.close()
        while not protocol.lost:
            try:
                peer.recv(64)
            except BlockingIOError:
                await asyncio.sleep(0.001)
        transport.abort()

    try:
        run(main())
    finally:
        peer.close()
        ours.close()


def test_pause_reading_inside_datagram_received_holds_back_the_rest(run, peers):
    server, client = peers

    def pause(protocol, data, addr):
        protocol.transport.pause_reading()

    async def main():
        protocol = Protocol(pause)
        transport = await endpoint(server, protocol, batch_size=4, max_batches=4)
        client.send_batch([b"%d" % i for i in range(12)])
        await asyncio.sleep(0.02)
        held_back = list(protocol.datagrams)
        protocol.on_datagram = None
        transport.resume_reading()
        await until(lambda: len(protocol.datagrams) == 12, timeout=0.5)
        everything = list(protocol.datagrams)
        await settle(transport)
        assert held_back == [b"0"]  # nothing after pause_reading() ...
        assert everything == [b"%d" % i for i in range(12)]  # ... and nothing lost

    run(main())


def test_pause_reading_in_connection_made_is_kept(run, peers):
    """As asyncio's transports: the transport reads from the start (is_reading() is True
    in connection_made), and a protocol may start paused."""
    server, client = peers

    class StartsPaused(Protocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            self.reading_at_first = transport.is_reading()
            transport.pause_reading()

    async def main():
        protocol = StartsPaused()
        transport = await endpoint(server, protocol)
        client.send(b"too early")
        await asyncio.sleep(0.02)
        observed = (protocol.reading_at_first, transport.is_reading(), list(protocol.datagrams))
        transport.resume_reading()
        await until(lambda: protocol.datagrams, timeout=0.5)
        await settle(transport)
        assert observed == (True, False, [])
        assert protocol.datagrams == [b"too early"]

    run(main())


def test_set_protocol_mid_batch_hands_the_rest_to_the_new_protocol(run, peers):
    """From a per-datagram protocol to a batch protocol, in the middle of a batch: the
    datagrams already read belong to the new protocol, none is dropped."""
    server, client = peers

    class Successor(Protocol):
        def datagrams_received(self, batch):
            self.datagrams += [
                bytes(batch.buffer(i)[: batch.length(i)]) for i in range(batch.count)
            ]

    successor = Successor()

    def hand_over(protocol, data, addr):
        protocol.transport.set_protocol(successor)

    async def main():
        transport = await endpoint(server, Protocol(hand_over), batch_size=4)
        client.send_batch([b"%d" % i for i in range(4)])  # one batch
        await until(lambda: len(successor.datagrams) == 3, timeout=0.5)
        await settle(transport)
        assert successor.datagrams == [b"1", b"2", b"3"]

    run(main())


def test_an_echo_of_64_full_size_datagrams_loses_none(run, peers):
    """64 replies of 1,400 bytes queued in one drain: whether or not they leave as GSO
    messages, every one arrives and nothing goes to error_received."""
    server, client = peers
    client.set_recv_buffer_size(1 << 20)

    class Echo(Protocol):
        def datagram_received(self, data, addr):
            super().datagram_received(data, addr)
            self.transport.sendto(data, addr)

        def error_received(self, exc):
            self.lost.append(exc)

    async def main():
        protocol = Echo()
        transport = await endpoint(server, protocol, batch_size=64)
        client.send_batch([bytes([i]) * 1400 for i in range(64)])
        echoed = []
        while len(echoed) < 64:
            try:
                echoed.append(await asyncio.wait_for(aio.sock_recv(client, 2048), 0.5))
            except asyncio.TimeoutError:
                break
        errors = list(protocol.lost)
        await settle(transport)
        assert errors == []
        assert echoed == [bytes([i]) * 1400 for i in range(64)]

    run(main())


def _icmp_echo_request(ident: int, seq: int) -> bytes:
    payload = bytes(32)
    words = struct.unpack("!20H", struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload)
    total = sum(words)
    total = (total >> 16) + (total & 0xFFFF)
    checksum = ~(total + (total >> 16)) & 0xFFFF
    return struct.pack("!BBHHH", 8, 0, checksum, ident, seq) + payload


def _raw_icmp() -> Socket:
    try:
        sock = Socket(Domain.IPV4, Type.RAW, IpProtocol.ICMPV4)
    except PermissionError:
        pytest.skip("raw sockets need CAP_NET_RAW")
    sock.set_nonblocking(True)
    return sock


@needs_unix
def test_a_raw_transport_sends_each_packet_as_it_was_given(run):
    """create_datagram_endpoint takes SOCK_RAW; UDP GSO is UDP's: four ICMP echo requests
    queued in one drain must leave as four packets, not one packet of four payloads."""
    sniffer, raw = _raw_icmp(), _raw_icmp()
    ident = os.getpid() & 0xFFFF

    def four_requests(protocol, data, addr):
        protocol.on_datagram = None
        for seq in range(4):
            protocol.transport.sendto(_icmp_echo_request(ident, seq), ("127.0.0.1", 0))

    async def main():
        transport = await endpoint(raw, Protocol(four_requests))
        sniffer.send_to(_icmp_echo_request(ident ^ 0xFFFF, 0), ("127.0.0.1", 0))  # wakes it
        seen: list[tuple[int, int]] = []  # (IP packet length, sequence) of our requests
        while len(seen) < 4:
            try:
                packet = await asyncio.wait_for(aio.sock_recv(sniffer, 65536), 0.5)
            except asyncio.TimeoutError:
                break
            kind, _, _, their_ident, seq = struct.unpack("!BBHHH", packet[20:28])
            if kind == 8 and their_ident == ident:
                seen.append((len(packet), seq))
        await settle(transport)
        return seen

    try:
        assert run(main()) == [(60, 0), (60, 1), (60, 2), (60, 3)]
    finally:
        sniffer.close()
        raw.close()


@pytest.mark.skipif(not hasattr(Socket, "send_gso"), reason="UDP GSO/GRO is Linux-only")
def test_a_batch_protocol_set_later_gets_single_datagrams_too(run, peers):
    """A protocol with datagrams_received() reads one datagram per slot unless it asked for
    GRO: also when set_protocol() installs it on a transport made for datagram_received()
    (a GSO train from the peer must not arrive as one slot of three datagrams)."""
    server, client = peers

    class Batches(Protocol):
        def datagrams_received(self, batch):
            self.datagrams += [
                bytes(batch.buffer(i)[: batch.length(i)]) for i in range(batch.count)
            ]

    async def main():
        transport = await endpoint(server, Protocol())
        successor = Batches()
        transport.set_protocol(successor)
        client.send_gso(b"d" * 100 + b"e" * 100 + b"f" * 100, 100)
        await until(lambda: len(successor.datagrams) >= 3, timeout=0.5)
        await settle(transport)
        return successor.datagrams

    assert run(main()) == [b"d" * 100, b"e" * 100, b"f" * 100]


@pytest.mark.skipif(not hasattr(Socket, "send_gso"), reason="UDP GSO/GRO is Linux-only")
def test_gro_cuts_trains_apart_also_with_receive_timestamps_on(run, peers):
    """SO_TIMESTAMPING puts 64 bytes of control data before UDP_GRO's segment size: the
    transport's control room holds both, so the train arrives as its three datagrams,
    never as one."""
    server, client = peers
    server.set_timestamping(0x8 | 0x10)  # SOF_TIMESTAMPING_RX_SOFTWARE | _SOFTWARE

    async def main():
        protocol = Protocol()
        transport = await endpoint(server, protocol, gro=True)
        client.send_gso(b"a" * 100 + b"b" * 100 + b"c" * 100, 100)
        await until(lambda: len(protocol.datagrams) >= 3)
        await asyncio.sleep(0.01)
        await settle(transport)
        return [len(data) for data in protocol.datagrams]

    assert run(main()) == [100, 100, 100]


def test_a_protocol_that_releases_the_batch_ends_the_transport_once(run, peers):
    server, client = peers

    class Releaser(Protocol):
        def datagrams_received(self, batch):
            batch.release()  # "valid during the call only": the protocol broke the rule

    async def main():
        protocol = Releaser()
        transport = await endpoint(server, protocol)
        client.send(b"first")
        await asyncio.sleep(0.02)
        client.send(b"second")
        await asyncio.sleep(0.02)
        lost, handled = list(protocol.lost), len(run.errors)
        await settle(transport)
        # asyncio's rule for a read path that fails with anything but OSError: the
        # transport closes, connection_lost(exc) once; never a handler call per turn.
        assert len(lost) == 1 and isinstance(lost[0], Exception)
        assert handled <= 1

    run(main())


def test_sendto_a_unix_path_on_an_ip_transport_is_refused_before_the_kernel(run, peers):
    server, _ = peers

    async def main():
        protocol = Protocol()
        protocol.error_received = protocol.lost.append  # a kernel error would land here
        transport = await endpoint(server, protocol)
        try:
            with pytest.raises(TypeError, match="AF_INET"):
                transport.sendto(b"x", "127.0.0.1:9")  # as Socket.send_to (issue 13)
        finally:
            await settle(transport)
        assert protocol.lost == [None]

    run(main())


def test_detaching_the_transports_socket_causes_no_error_storm(run, peers):
    """asyncio hands out a TransportSocket that cannot be detached or closed; here the
    socket may refuse, or the transport may end, but it must not report EBADF to
    error_received on every loop iteration."""
    server, client = peers

    async def main():
        protocol = Protocol()
        protocol.error_received = protocol.lost.append
        transport = await endpoint(server, protocol)
        try:
            stdlib = transport.get_extra_info("socket").into_stdlib()
        except (RuntimeError, ValueError, OSError):
            stdlib = None
        client.send(b"readable")
        await asyncio.sleep(0.05)
        reports = len(protocol.lost)
        await settle(transport)
        if stdlib is not None:
            stdlib.close()
        assert reports <= 1, f"{reports} error_received calls in 50 ms"

    run(main())


# ---------------------------------------------------------------- the coroutines


def test_a_cancelled_receive_consumes_nothing_whenever_it_is_cancelled(run, peers):
    """Cancelled at each point of the wake-up: before the datagram, while the reader
    callback is pending, after it woke the waiter: the datagram stays for the next
    receive."""
    server, client = peers

    async def main():
        for turns in range(4):
            waiting = asyncio.ensure_future(aio.sock_recv(server, 64))
            await asyncio.sleep(0)
            client.send(b"%d" % turns)
            for _ in range(turns):
                await asyncio.sleep(0)
            waiting.cancel()
            try:
                got = await waiting
            except asyncio.CancelledError:
                got = await aio.sock_recv(server, 64)
            assert got == b"%d" % turns
        assert not run.registered(server)

    run(main())


def test_cancelling_one_waiter_leaves_the_other_waiting(run, peers):
    server, client = peers

    async def main():
        cancelled = asyncio.ensure_future(aio.sock_recv(server, 64))
        await asyncio.sleep(0.01)
        other = asyncio.ensure_future(aio.sock_recv(server, 64))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        client.send(b"for the other")
        done, _ = await asyncio.wait([other], timeout=0.5)
        if not done:
            other.cancel()
            await asyncio.gather(other, return_exceptions=True)
        assert done and other.result() == b"for the other"

    run(main())


def test_a_coroutine_cannot_take_the_transports_socket(run, peers):
    server, client = peers

    async def main():
        protocol = Protocol()
        transport = await endpoint(server, protocol)
        sock = transport.get_extra_info("socket")
        stolen = asyncio.ensure_future(aio.sock_recv(sock, 64))
        await asyncio.sleep(0.01)
        stolen.cancel()
        outcome = (await asyncio.gather(stolen, return_exceptions=True))[0]
        client.send(b"for the transport")
        await until(lambda: protocol.datagrams, timeout=0.5)
        await settle(transport)
        assert isinstance(outcome, RuntimeError)  # as asyncio: the fd is the transport's
        assert protocol.datagrams == [b"for the transport"]

    run(main())


def test_a_transport_made_while_a_receive_waits_keeps_receiving(run, peers):
    """asyncio's transport takes the descriptor over from a pending loop.sock_recv (whose
    cancellation then leaves the transport's reader alone); refusing the endpoint while a
    coroutine waits would do too. A transport that silently never reads would not."""
    server, client = peers

    async def main():
        waiting = asyncio.ensure_future(aio.sock_recv(server, 64))
        await asyncio.sleep(0.01)
        protocol = Protocol()
        try:
            transport = await endpoint(server, protocol)
        except RuntimeError:
            transport = None
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        if transport is None:
            return None
        client.send(b"for the transport")
        await until(lambda: protocol.datagrams, timeout=0.5)
        await settle(transport)
        return protocol.datagrams

    assert run(main()) in (None, [b"for the transport"])


# ---------------------------------------------------------------- a hostile local peer


def _hostile_datagram(hostile: Socket, fds: list[int]) -> None:
    """A datagram carrying descriptors and credentials the receiver never asked for."""
    control = cmsg.scm_rights(fds)
    if hasattr(cmsg, "scm_credentials"):
        control += cmsg.scm_credentials(os.getpid(), os.getuid(), os.getgid())
    hostile.sendmsg(MsgHdr(buffers=[b"payload"], control=control))


class BatchProtocol(Protocol):
    def datagrams_received(self, batch):
        self.datagrams += [bytes(batch.buffer(i)[: batch.length(i)]) for i in range(batch.count)]


async def _via_transport(victim: Socket, protocol: Protocol) -> bytes:
    transport = await endpoint(victim, protocol)
    await until(lambda: protocol.datagrams, timeout=2)
    transport.close()
    await asyncio.sleep(0)
    return protocol.datagrams[0]


async def _via_recv_batch(victim: Socket) -> bytes:
    batch = DatagramBatch.allocate(2, 64)
    try:
        await aio.recv_batch(victim, batch)
        return bytes(batch.buffer(0)[: batch.length(0)])
    finally:
        batch.release()


async def _via_recv_from_into(victim: Socket) -> bytes:
    buf = bytearray(64)
    n, _ = await aio.sock_recv_from_into(victim, buf)
    return bytes(buf[:n])


AIO_RECEIVE_PATHS = {
    "datagram_received": lambda victim: _via_transport(victim, Protocol()),
    "datagrams_received": lambda victim: _via_transport(victim, BatchProtocol()),
    "sock_recv": lambda victim: aio.sock_recv(victim, 64),
    "sock_recv_from_into": _via_recv_from_into,
    "recv_batch": _via_recv_batch,
}


@needs_unix
@pytest.mark.skipif(not hasattr(cmsg, "SCM_RIGHTS"), reason="SCM_RIGHTS is Unix-only")
@pytest.mark.parametrize("path", AIO_RECEIVE_PATHS)
def test_descriptors_a_peer_pushes_through_aio_never_stay_open(run, path):
    """test_receive_paths' rule for pysock2.aio: whatever a peer attaches, no
    descriptor is added to the process."""
    hostile, victim = Socket.pair(Domain.UNIX, Type.DGRAM)
    victim.set_nonblocking(True)
    r, w = os.pipe()
    try:
        victim.set_passcred(True)  # credentials do arrive: the kernel attaches them
        before = open_fds()

        async def main():
            _hostile_datagram(hostile, [r, w, r])
            return await AIO_RECEIVE_PATHS[path](victim)

        assert run(main()) == b"payload"
        assert open_fds() - before == set()  # (a transport closed the victim itself)
    finally:
        for fd in (r, w):
            os.close(fd)
        hostile.close()
        victim.close()


@needs_unix
def test_a_large_unix_datagram_is_never_cut_short_silently(run):
    """AF_UNIX datagrams may be larger than any UDP one (up to the send buffer). asyncio's
    transport delivers them whole up to 256 KiB; a transport with smaller slots may drop
    one instead, saying so to error_received (EMSGSIZE), but never hand over a prefix."""
    ours, peer = Socket.pair(Domain.UNIX, Type.DGRAM)
    ours.set_nonblocking(True)
    big = bytes(range(256)) * 400  # 102,400 bytes

    async def main():
        protocol = Protocol()
        protocol.error_received = protocol.lost.append
        transport = await endpoint(ours, protocol)
        peer.send(big)
        await until(lambda: protocol.datagrams or protocol.lost, timeout=0.5)
        await settle(transport)
        reported = [getattr(exc, "errno", exc) for exc in protocol.lost[:-1]]
        return [len(data) for data in protocol.datagrams], reported, protocol.datagrams

    try:
        sizes, reported, delivered = run(main())
        assert (sizes, reported) in (([len(big)], []), ([], [errno.EMSGSIZE]))
        assert delivered in ([big], [])
    finally:
        peer.close()
        ours.close()


@needs_unix
def test_sock_connect_waits_for_room_in_a_full_unix_backlog(run):
    """EAGAIN from an AF_UNIX connect means "no room", not "in progress" (issue 10): the
    coroutine must wait for room without spinning, then connect for real."""
    path = os.path.join(tempfile.mkdtemp(), "listener")
    listener = Socket(Domain.UNIX, Type.STREAM)
    listener.bind(path)
    listener.listen(0)
    queued = Socket(Domain.UNIX, Type.STREAM)
    queued.connect(path)  # the backlog's one place
    client = Socket(Domain.UNIX, Type.STREAM)
    client.set_nonblocking(True)
    wakeups = 0
    add_writer = run.loop.add_writer

    def counting_add_writer(*args):
        nonlocal wakeups
        wakeups += 1
        return add_writer(*args)

    run.loop.add_writer = counting_add_writer

    async def main():
        connecting = asyncio.ensure_future(aio.sock_connect(client, path))
        await asyncio.sleep(0.05)
        spins = wakeups
        listener.accept()[0].close()  # room for one more
        done, _ = await asyncio.wait([connecting], timeout=0.5)
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
        return spins, done

    try:
        spins, done = run(main())
        assert spins < 10, f"{spins} wake-ups in 50 ms: sock_connect spins"
        assert done and client.peer_addr().as_pathname() == os.fsencode(path)
    finally:
        for sock in (client, queued, listener):
            sock.close()
        os.unlink(path)
        os.rmdir(os.path.dirname(path))


# ---------------------------------------------------------------- the synchronous API


@pytest.mark.parametrize("not_a_socket", [None, 3, "fd", object(), Socket])
def test_from_stdlib_names_what_it_takes(not_a_socket):
    """A TypeError that says what from_stdlib() wants, not an AttributeError from inside."""
    with pytest.raises(TypeError, match=r"from_stdlib\(\) takes a socket.socket"):
        Socket.from_stdlib(not_a_socket)


def test_a_truncated_batch_echoed_by_the_coroutines_sends_only_each_slots_bytes(run, peers):
    """test_receive_paths' truncation rule through pysock2.aio: 100-byte datagrams into
    16-byte slots, then send_batch of that batch: 16 bytes each on the wire."""
    server, client = peers
    server.connect(client.local_addr())
    datagram = bytes(range(100))

    async def main():
        client.send_batch([datagram] * 3)
        with DatagramBatch.allocate(3, 16) as batch:
            assert await aio.recv_batch(server, batch) == 3
            assert all(batch.flags(i).is_truncated for i in range(3))
            assert await aio.send_batch(server, batch) == 3
        return [await aio.sock_recv(client, 200) for _ in range(3)]

    assert run(main()) == [datagram[:16]] * 3


# A bytes-like object whose __buffer__ (Python 3.12+) empties the list it was passed in:
# then only the callee's own reference keeps it alive while its buffer is exported. The
# answer must be the RuntimeError of a list edited during the call (as send_vectored's),
# not a use after free.
_EDITED_DURING_EXPORT = """
from pysock2 import Domain, Socket, Type

class Evil:
    def __buffer__(self, flags):
        datagrams.clear()
        return memoryview(b"evil")

datagrams = [Evil(), b"x"]
a, b = Socket.pair(Domain.UNIX, Type.DGRAM)
try:
    a.send_batch(datagrams)
except RuntimeError as exc:
    print("RuntimeError:", exc)
"""


@pytest.mark.skipif(sys.version_info < (3, 12), reason="__buffer__ in Python is 3.12+")
def test_send_batch_holds_each_item_while_exporting_its_buffer():
    child = subprocess.run(
        [sys.executable, "-c", _EDITED_DURING_EXPORT],
        capture_output=True,
        text=True,
        timeout=60,
        **child_python(),
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("RuntimeError: send_batch()")
