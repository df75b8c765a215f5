"""Code ported from the stdlib ``socket`` module behaves as it did there, or fails loudly:
flags are keyword-only, a text address on an IP socket is a TypeError naming the family,
``sendfile`` sends the whole file, ``SockAddr`` pickles and copies, ``repr`` describes the
socket, and every timeout is the same ``TimeoutError``."""

from __future__ import annotations

import copy
import errno
import io
import os
import pickle
import signal
import socket
import sys
import threading

import pytest

from pysock2 import Domain, MsgFlags, MsgHdr, MsgHdrMut, SockAddr, Socket, SockRef, Type

from conftest import needs_unix, wait_until

# ---------------------------------------------------------------- flags are keyword-only

# Every send and receive method taking flags, with its arguments before flags.
FLAG_CALLS = [
    ("recv", lambda a, b: (8,)),
    ("recv_into", lambda a, b: (bytearray(8),)),
    ("recv_from", lambda a, b: (8,)),
    ("recv_from_into", lambda a, b: (bytearray(8),)),
    ("send", lambda a, b: (b"x",)),
    ("send_to", lambda a, b: (b"x", b.local_addr())),
    ("sendall", lambda a, b: (b"x",)),
    ("recv_vectored", lambda a, b: ([bytearray(8)],)),
    ("recv_from_vectored", lambda a, b: ([bytearray(8)],)),
    ("send_vectored", lambda a, b: ([b"x"],)),
    ("send_to_vectored", lambda a, b: ([b"x"], b.local_addr())),
    ("sendmsg", lambda a, b: (MsgHdr(buffers=[b"x"]),)),
    ("recvmsg", lambda a, b: (MsgHdrMut(buffers=[bytearray(8)]),)),
    ("recv_batch", lambda a, b: (__import__("pysock2").DatagramBatch([bytearray(8)]),)),
    ("send_batch", lambda a, b: ([b"x"], None)),
    ("send_gso", lambda a, b: (b"xx", 1, None)),
    ("recv_gro_into", lambda a, b: (bytearray(8),)),
    ("recv_gro_from_into", lambda a, b: (bytearray(8),)),
]


@pytest.mark.parametrize("name, args", FLAG_CALLS, ids=[c[0] for c in FLAG_CALLS])
def test_flags_cannot_be_passed_by_position(udp_pair, name, args):
    """The stdlib's ``recv_into(buf, 10)`` means 10 bytes; here it would have meant flags
    (MSG_PEEK | MSG_TRUNC). Now it is a TypeError that says what to write instead."""
    a, b = udp_pair
    method = getattr(a, name, None)
    if method is None:
        pytest.skip(f"Socket.{name} does not exist on this platform")
    with pytest.raises(TypeError, match=r"flags is keyword-only: .*flags=\.\.\."):
        method(*args(a, b), 0)


@pytest.mark.parametrize("name, args", FLAG_CALLS, ids=[c[0] for c in FLAG_CALLS])
def test_flags_by_keyword_takes_a_msgflags(udp_pair, name, args):
    a, b = udp_pair
    method = getattr(a, name, None)
    if method is None:
        pytest.skip(f"Socket.{name} does not exist on this platform")
    b.send(b"datagram")  # something for the receives to take
    try:
        method(*args(a, b), flags=MsgFlags.DONTWAIT)
    except BlockingIOError:
        pass  # a receive that found its datagram taken by an earlier parametrisation


def test_recv_into_with_the_stdlib_nbytes_argument(udp_pair):
    a, b = udp_pair
    a.send(b"0123456789abc")
    buf = bytearray(64)
    with pytest.raises(TypeError, match="keyword-only"):
        b.recv_into(buf, 10)
    assert b.recv_into(memoryview(buf)[:10]) == 10  # pysock2's nbytes: a slice
    assert buf[:10] == b"0123456789"


def test_the_stdlibs_sendto_with_flags_in_the_middle(udp_pair):
    """stdlib: ``sendto(data, flags, address)``; here the address comes second and flags is
    a keyword, so the stdlib's order cannot be taken for an address."""
    a, b = udp_pair
    with pytest.raises(TypeError, match="keyword-only"):
        a.send_to(b"x", 0, b.local_addr())
    assert a.send_to(b"x", b.local_addr(), flags=0) == 1


class TestMsgFlags:
    def test_combine_and_pass_to_any_flags_keyword(self, udp_pair):
        a, b = udp_pair
        a.send(b"peeked")
        assert b.recv(64, flags=MsgFlags.PEEK | MsgFlags.DONTWAIT) == b"peeked"
        assert b.recv(64) == b"peeked"
        with pytest.raises(BlockingIOError):
            b.recv(64, flags=MsgFlags.PEEK | MsgFlags.DONTWAIT)

    def test_members_are_the_platforms_msg_constants(self):
        assert MsgFlags.PEEK == socket.MSG_PEEK and MsgFlags.OOB == socket.MSG_OOB
        for member in MsgFlags:
            assert member.value == getattr(socket, "MSG_" + member.name, member.value)

    def test_a_received_recvflags_tests_against_msgflags(self, udp_pair):
        a, b = udp_pair
        a.send(b"0123456789")
        n, flags = b.recv_vectored([bytearray(4)])
        assert n == 4 and flags & MsgFlags.TRUNC and flags.is_truncated

    def test_a_plain_int_still_works(self, udp_pair):
        a, b = udp_pair
        a.send(b"x")
        assert b.recv(8, flags=socket.MSG_PEEK) == b"x"

    def test_a_non_int_is_a_type_error(self, udp_pair):
        with pytest.raises(TypeError, match="flags must be an int"):
            udp_pair[0].send(b"x", flags="PEEK")


# ---------------------------------------------------------------- text addresses


def send_gso_or_skip(sock: Socket, *args):
    if not hasattr(sock, "send_gso"):
        pytest.skip("send_gso is Linux only")
    return sock.send_gso(*args)


class TestTextAddressOnAnIpSocket:
    """A str (or bytes, or a path) is a Unix address. On an IP socket the kernel would
    answer EINVAL; pysock2 says what is wrong first, as the stdlib does."""

    @pytest.mark.parametrize("family, name", [(Domain.IPV4, "AF_INET"), (Domain.IPV6, "AF_INET6")])
    def test_connect_names_the_family(self, family, name):
        with Socket(family, Type.STREAM) as sock:
            with pytest.raises(
                TypeError,
                match=rf"connect\(\): an {name} socket takes a "
                r"\(host, port\) tuple or a SockAddr, not str",
            ):
                sock.connect("127.0.0.1:80")

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.bind("0.0.0.0:0"),
            lambda s: s.connect(b"127.0.0.1:80"),
            lambda s: s.connect_timeout("127.0.0.1:80", 1),
            lambda s: s.send_to(b"x", "127.0.0.1:80"),
            lambda s: s.send_to_vectored([b"x"], "127.0.0.1:80"),
            lambda s: s.send_batch([b"x"], "127.0.0.1:80"),
            lambda s: send_gso_or_skip(s, b"x", 1, "127.0.0.1:80"),
        ],
        ids=[
            "bind",
            "connect-bytes",
            "connect_timeout",
            "send_to",
            "send_to_vectored",
            "send_batch",
            "send_gso",
        ],
    )
    def test_every_method_that_takes_an_address(self, call):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            with pytest.raises(TypeError, match="AF_INET"):
                call(sock)

    def test_a_path_object_too(self, tmp_path):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            with pytest.raises(TypeError, match="not PosixPath|not WindowsPath"):
                sock.bind(tmp_path / "sock")

    @needs_unix
    def test_a_unix_socket_takes_its_path(self, tmp_path):
        with Socket(Domain.UNIX, Type.DGRAM) as sock:
            sock.bind(str(tmp_path / "sock"))
            assert sock.local_addr().as_pathname() == os.fsencode(tmp_path / "sock")

    def test_tuples_and_sockaddrs_are_unchanged(self):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            sock.bind(SockAddr(("127.0.0.1", 0)))
            sock.connect(("127.0.0.1", sock.local_addr().port()))


# ---------------------------------------------------------------- sendfile


@pytest.fixture
def big_file(tmp_path):
    data = os.urandom(3 << 20)  # more than the socket buffers: partial sends happen
    path = tmp_path / "big"
    path.write_bytes(data)
    with open(path, "rb") as f:
        yield f, data


def drain(sock: Socket, into: bytearray, size: int = 65536) -> threading.Thread:
    """A reader thread that takes everything until EOF."""

    def run() -> None:
        while True:
            chunk = sock.recv(size)
            if not chunk:
                return
            into.extend(chunk)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class TestSendfile:
    """``Socket.sendfile(file, offset=0, count=None)`` is the stdlib's: it sends until
    ``count`` bytes or end of file and leaves the file position after the last byte sent.
    ``sendfile_once`` is socket2's single system call."""

    def test_sends_the_whole_file_and_advances_its_position(self, tcp_pair, big_file):
        client, server = tcp_pair
        f, data = big_file
        client.set_send_buffer_size(4096)  # many partial sends
        received = bytearray()
        reader = drain(server, received, 1024)
        assert client.sendfile(f) == len(data)
        assert f.tell() == len(data)
        client.shutdown(socket.SHUT_WR)
        reader.join()
        assert received == data

    def test_offset_and_count(self, tcp_pair, big_file):
        client, server = tcp_pair
        f, data = big_file
        received = bytearray()
        reader = drain(server, received)
        assert client.sendfile(f, 1000, 5000) == 5000
        assert f.tell() == 6000
        assert client.sendfile(f, offset=len(data) - 10, count=1000) == 10  # stops at EOF
        assert client.sendfile(f, offset=len(data) + 5) == 0  # past the end: nothing
        client.shutdown(socket.SHUT_WR)
        reader.join()
        assert received == data[1000:6000] + data[-10:]

    def test_like_the_stdlib_offset_not_the_position_says_where_to_start(self, tcp_pair, big_file):
        client, server = tcp_pair
        f, data = big_file
        f.seek(100)
        received = bytearray()
        reader = drain(server, received)
        assert client.sendfile(f, count=10) == 10
        client.shutdown(socket.SHUT_WR)
        reader.join()
        assert received == data[:10] and f.tell() == 10

    def test_a_descriptor_is_accepted_and_its_position_left_alone(self, tcp_pair, big_file):
        client, server = tcp_pair
        f, data = big_file
        assert client.sendfile(f.fileno(), 2, 3) == 3
        assert f.tell() == 0
        assert server.recv(10) == data[2:5]

    def test_without_a_descriptor_it_reads_and_sends(self, tcp_pair):
        client, server = tcp_pair
        buffer = io.BytesIO(b"in memory, no fileno()")
        received = bytearray()
        reader = drain(server, received)
        assert client.sendfile(buffer, offset=3) == 19
        assert buffer.tell() == 22
        client.shutdown(socket.SHUT_WR)
        reader.join()
        assert received == b"memory, no fileno()"

    def test_the_fallback_too_leaves_the_position_after_the_last_byte_sent(self, tcp_pair):
        client, server = tcp_pair
        data = os.urandom(3 << 20)
        buffer = io.BytesIO(data)
        client.set_send_buffer_size(4096)
        server.set_recv_buffer_size(4096)
        client.set_write_timeout(0.2)  # nobody reads
        with pytest.raises(TimeoutError):
            client.sendfile(buffer, offset=10)
        sent = buffer.tell() - 10
        assert 0 < sent < len(data) - 10  # not where reading got to: where sending stopped
        received = bytearray()
        client.shutdown(socket.SHUT_WR)
        drain(server, received).join()
        assert received == data[10 : 10 + sent]

    @needs_unix
    def test_a_pipe_falls_back_to_read_and_send(self, tcp_pair, pipe):
        """sendfile(2) refuses a pipe (EINVAL on Linux): the stdlib then reads and sends."""
        client, server = tcp_pair
        os.write(pipe[1], b"through a pipe")
        pipe.close_write()
        received = bytearray()
        reader = drain(server, received)
        assert client.sendfile(pipe[0]) == 14
        client.shutdown(socket.SHUT_WR)
        reader.join()
        assert received == b"through a pipe"

    def test_a_timeout_stops_it_and_the_position_says_how_far_it_got(self, tcp_pair, big_file):
        client, server = tcp_pair
        f, data = big_file
        client.set_send_buffer_size(4096)
        server.set_recv_buffer_size(4096)
        client.set_write_timeout(0.2)  # nobody reads: the buffers fill up, then it expires
        with pytest.raises(TimeoutError) as info:
            client.sendfile(f)
        assert info.value.errno == errno.ETIMEDOUT
        sent = f.tell()
        assert 0 < sent < len(data)
        received = bytearray()
        client.shutdown(socket.SHUT_WR)
        drain(server, received).join()
        assert received == data[:sent]

    @pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
    def test_signals_interrupt_but_do_not_cut_the_transfer(self, tcp_pair, big_file):
        client, server = tcp_pair
        f, data = big_file
        client.set_send_buffer_size(4096)
        ticks = []
        previous = signal.signal(signal.SIGALRM, lambda *_: ticks.append(1))
        received = bytearray()
        reader = drain(server, received, 512)
        signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
        try:
            assert client.sendfile(f) == len(data)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        client.shutdown(socket.SHUT_WR)
        reader.join()
        assert received == data and ticks

    def test_the_stdlibs_refusals(self, tcp_pair, udp_pair, tmp_path):
        client, _ = tcp_pair
        path = tmp_path / "text"
        path.write_text("x")
        with open(path) as text, pytest.raises(ValueError, match="binary mode"):
            client.sendfile(text)
        with open(path, "rb") as f:
            with pytest.raises(ValueError, match="SOCK_STREAM"):
                udp_pair[0].sendfile(f)
            with pytest.raises(ValueError, match="positive integer"):
                client.sendfile(f, count=0)
            with pytest.raises(ValueError, match="offset"):
                client.sendfile(f, offset=-1)
            with pytest.raises(TypeError):
                client.sendfile(f, count=1.5)
            if hasattr(client, "nonblocking"):
                client.set_nonblocking(True)
                with pytest.raises(ValueError, match="non-blocking"):
                    client.sendfile(f)
        with pytest.raises(TypeError, match="binary file object or a descriptor"):
            client.sendfile("not a file")

    def test_a_closed_socket(self, closed_socket, tmp_path):
        path = tmp_path / "f"
        path.write_bytes(b"x")
        with open(path, "rb") as f, pytest.raises(OSError) as info:
            closed_socket.sendfile(f)
        assert info.value.errno == errno.EBADF


@pytest.mark.skipif(not hasattr(Socket, "sendfile_once"), reason="no sendfile(2) here")
class TestSendfileOnce:
    """socket2's ``sendfile``: one system call, from ``offset``, file position untouched."""

    def test_one_call(self, tcp_pair, tmp_path):
        client, server = tcp_pair
        path = tmp_path / "data"
        path.write_bytes(b"0123456789")
        with open(path, "rb") as f:
            assert client.sendfile_once(f) == 10
            assert client.sendfile_once(f.fileno(), offset=2, length=3) == 3
            assert f.tell() == 0
        received = bytearray()
        assert wait_until(lambda: received.extend(server.recv(100)) or len(received) >= 13)
        assert received == b"0123456789234"

    def test_bad_arguments(self, tcp_pair, tmp_path):
        client, _ = tcp_pair
        path = tmp_path / "data"
        path.write_bytes(b"x")
        with open(path, "rb") as f:
            with pytest.raises(ValueError):
                client.sendfile_once(f, length=0)
            with pytest.raises(ValueError):
                client.sendfile_once(f, offset=-1)
        with pytest.raises(TypeError):
            client.sendfile_once("not a file")


# ---------------------------------------------------------------- SockAddr is a value


def every_family() -> list[SockAddr]:
    addrs = [
        SockAddr(("127.0.0.1", 80)),
        SockAddr(("::1", 443)),
        SockAddr(("fe80::1", 5, 0xABCDE, 3)),
        SockAddr.unix("/run/app.sock"),
        SockAddr.unix(""),
    ]
    if hasattr(SockAddr, "abstract"):
        addrs.append(SockAddr.abstract(b"name\0with nul"))
    if hasattr(SockAddr, "vsock"):
        addrs.append(SockAddr.vsock(3, 1024))
    if hasattr(socket, "AF_PACKET"):  # a family SockAddr only carries as raw bytes
        raw = socket.AF_PACKET.to_bytes(2, sys.byteorder) + bytes(18)
        addrs.append(SockAddr.from_bytes(raw))
    return addrs


class TestSockAddrPickleAndCopy:
    @pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
    def test_every_family_round_trips(self, protocol):
        for addr in every_family():
            back = pickle.loads(pickle.dumps(addr, protocol))
            assert back == addr and bytes(back) == bytes(addr) and type(back) is SockAddr

    def test_copies_are_the_same_immutable_object(self):
        for addr in every_family():
            assert copy.copy(addr) is addr
            assert copy.deepcopy(addr) is addr
            assert copy.deepcopy([addr, addr]) == [addr, addr]

    def test_a_received_address_pickles(self, udp_pair):
        a, b = udp_pair
        a.send(b"x")
        _, sender = b.recv_from(8)
        assert pickle.loads(pickle.dumps(sender)) == a.local_addr()

    def test_the_empty_address_of_a_stream_receive_pickles(self, tcp_pair):
        client, server = tcp_pair
        client.send(b"x")
        _, sender = server.recv_from(8)
        assert sender.len == 0  # a connected stream reports no sender (as socket2)
        assert pickle.loads(pickle.dumps(sender)) == sender

    def test_a_tampered_pickle_is_refused_on_load(self):
        """Loading validates the bytes as SockAddr.from_bytes does."""
        raw = bytes(SockAddr(("127.0.0.1", 80)))
        data = pickle.dumps(SockAddr(("127.0.0.1", 80)), 3)  # protocol 3: no framing
        tampered = data.replace(bytes([len(raw)]) + raw, bytes([8]) + raw[:8])  # too short
        assert tampered != data
        with pytest.raises(ValueError, match="not a valid length"):
            pickle.loads(tampered)


# ---------------------------------------------------------------- repr


class TestRepr:
    """Family, type, protocol and the addresses the socket has, like the stdlib's."""

    def test_unbound(self):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            text = repr(sock)
            assert text.startswith(f"<pysock2.Socket fd={sock.fileno()}, family=IPV4, type=DGRAM")
            assert "raddr" not in text

    def test_connected(self, tcp_pair):
        client, server = tcp_pair
        text = repr(client)
        host, port = client.local_addr().as_socket()
        assert f"laddr=('127.0.0.1', {port})" in text
        assert f"raddr=('127.0.0.1', {server.local_addr().port()})" in text
        assert "proto=TCP" in text or sys.platform == "win32"

    def test_closed(self):
        sock = Socket(Domain.IPV4, Type.STREAM)
        sock.close()
        assert repr(sock) == "<pysock2.Socket [closed] fd=-1>"

    @needs_unix
    def test_unix_path_as_the_stdlib_shows_it(self, tmp_path):
        with Socket(Domain.UNIX, Type.DGRAM) as sock:
            sock.bind(str(tmp_path / "s"))
            assert f"laddr={str(tmp_path / 's')!r}" in repr(sock)

    def test_borrowed(self, udp_pair):
        with SockRef(udp_pair[0]) as ref:
            assert repr(ref).startswith("<pysock2.SockRef fd=") and "borrowed" in repr(ref)

    def test_never_raises_even_during_shutdown(self):
        """repr runs inside finalizers (the ResourceWarning of an unclosed socket)."""
        sock = Socket(Domain.IPV6, Type.STREAM)
        try:
            assert repr(sock).startswith("<pysock2.Socket")
        finally:
            sock.close()


# ---------------------------------------------------------------- one TimeoutError


def assert_the_timeout(info) -> None:
    if sys.version_info >= (3, 10):  # socket.timeout is TimeoutError since 3.10
        assert isinstance(info.value, socket.timeout)  # what stdlib code catches
    assert info.value.errno == errno.ETIMEDOUT
    assert info.value.strerror == "timed out"


class TestTimeouts:
    def test_recv(self, udp_pair):
        udp_pair[1].set_read_timeout(0.05)
        with pytest.raises(TimeoutError) as info:
            udp_pair[1].recv(8)
        assert_the_timeout(info)

    def test_accept_honours_the_read_timeout(self, listener):
        listener.set_read_timeout(0.05)
        with pytest.raises(TimeoutError) as info:
            listener.accept()
        assert_the_timeout(info)

    def test_send(self, tcp_pair):
        client, _ = tcp_pair
        client.set_write_timeout(0.05)
        with pytest.raises(TimeoutError) as info:
            while True:
                client.send(bytes(65536))
        assert_the_timeout(info)
