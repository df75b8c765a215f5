"""Platform behaviour: what socket2 does differently on Windows, macOS and Linux, seen from
Python. Each test runs wherever its behaviour exists; elsewhere it is skipped with a reason
naming the platform."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import sysconfig
import tempfile

import pytest

import pysock2
from pysock2 import Domain, Shutdown, SockAddr, Socket, Type

from conftest import WINDOWS, cloexec

APPLE = sys.platform == "darwin"
windows_only = pytest.mark.skipif(not WINDOWS, reason="Windows only")
apple_only = pytest.mark.skipif(not APPLE, reason="macOS only")
# <sys/socket.h> on Apple; the stdlib does not export the name.
SO_NOSIGPIPE = getattr(socket, "SO_NOSIGPIPE", 0x1022)


# ---------------------------------------------------------------- inheritance


class TestInheritance:
    """Socket(), accept() and try_clone() give sockets a child process does not inherit
    (close-on-exec on Unix, no handle inheritance on Windows); the _raw forms do not."""

    def test_new_is_not_inheritable(self):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            assert cloexec(sock)

    def test_new_raw_is_inheritable(self):
        with Socket.new_raw(Domain.IPV4, Type.STREAM) as sock:
            assert not cloexec(sock)

    def test_accept_is_not_inheritable(self, tcp_pair):
        _, server = tcp_pair
        assert cloexec(server)

    def test_try_clone_is_not_inheritable(self, tcp_pair):
        client, _ = tcp_pair
        with client.try_clone() as clone:
            assert cloexec(clone)
            assert clone.fileno() != client.fileno()


@windows_only
class TestWindowsTypeFlags:
    def test_no_inherit_is_bit_31(self):
        value = Type.STREAM.no_inherit()
        assert (value & 0xFFFFFFFF) == (int(Type.STREAM) | (1 << 31))
        with Socket.new_raw(Domain.IPV4, value) as sock:
            assert cloexec(sock)
            assert sock.type() is Type.STREAM  # the flag is not part of the type

    def test_registered_io_is_bit_30(self):
        value = Type.DGRAM.registered_io()
        assert value == (int(Type.DGRAM) | (1 << 30))
        with Socket(Domain.IPV4, value) as sock:
            assert sock.type() is Type.DGRAM

    def test_set_no_inherit(self):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            sock.set_no_inherit(False)
            assert not cloexec(sock)
            sock.set_no_inherit(True)
            assert cloexec(sock)

    def test_set_no_inherit_on_closed_socket(self):
        sock = Socket(Domain.IPV4, Type.STREAM)
        sock.close()
        with pytest.raises(OSError):
            sock.set_no_inherit(True)


@pytest.mark.skipif(WINDOWS, reason="Unix: Windows has no_inherit()/registered_io() instead")
def test_windows_type_flags_are_absent_elsewhere():
    assert not hasattr(Type.STREAM, "no_inherit")
    assert not hasattr(Type.STREAM, "registered_io")
    assert not hasattr(Socket, "set_no_inherit")


# ---------------------------------------------------------------- SIGPIPE (Apple)


def nosigpipe(sock: Socket) -> int:
    with socket.fromfd(sock.fileno(), socket.AF_INET, socket.SOCK_STREAM) as view:
        return view.getsockopt(socket.SOL_SOCKET, SO_NOSIGPIPE)


@apple_only
class TestNoSigpipe:
    def test_new_sets_nosigpipe(self):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            assert nosigpipe(sock)

    def test_new_raw_does_not(self):
        with Socket.new_raw(Domain.IPV4, Type.STREAM) as sock:
            assert not nosigpipe(sock)

    def test_set_nosigpipe(self):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            sock.set_nosigpipe(False)
            assert not nosigpipe(sock)
            sock.set_nosigpipe(True)
            assert nosigpipe(sock)

    def test_set_nosigpipe_on_closed_socket(self):
        sock = Socket(Domain.IPV4, Type.STREAM)
        sock.close()
        with pytest.raises(OSError):
            sock.set_nosigpipe(True)


@pytest.mark.skipif(APPLE, reason="not on macOS, where SO_NOSIGPIPE exists")
def test_set_nosigpipe_is_apple_only():
    assert not hasattr(Socket, "set_nosigpipe")


# ---------------------------------------------------------------- error mapping


class TestErrors:
    """Each platform's error codes (errno, WSAGetLastError) become the same exceptions."""

    def test_refused_connect(self, refused_address):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            with pytest.raises(ConnectionRefusedError):
                sock.connect(refused_address)

    def test_refused_connect_timeout(self, refused_address):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            with pytest.raises(ConnectionRefusedError):
                sock.connect_timeout(refused_address, 30)

    def test_read_timeout_is_timeout_error(self, tcp_pair):
        client, _ = tcp_pair
        client.set_read_timeout(0.01)
        with pytest.raises(TimeoutError):
            client.recv(1)

    def test_nonblocking_is_blocking_io_error(self, tcp_pair):
        # Not TimeoutError: Windows cannot tell a non-blocking socket from a blocking one,
        # so this depends on WSAEWOULDBLOCK never being read as a timeout.
        client, _ = tcp_pair
        client.set_nonblocking(True)
        with pytest.raises(BlockingIOError):
            client.recv(1)

    def test_connect_timeout_leaves_socket_blocking(self, listener):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            sock.connect_timeout(listener.local_addr(), 30)
            sock.set_read_timeout(0.01)
            # Blocking mode: the read waits and times out instead of failing at once.
            with pytest.raises(TimeoutError):
                sock.recv(1)
            server, _ = listener.accept()
            server.close()


class TestShutdown:
    def test_recv_after_shutdown_read_is_end_of_stream(self, tcp_pair):
        # Windows fails such a read with WSAESHUTDOWN; socket2 reads it as 0 bytes, as Unix.
        _, server = tcp_pair
        server.shutdown(Shutdown.READ)
        assert server.recv(16) == b""
        assert server.recv_into(bytearray(16)) == 0


# ---------------------------------------------------------------- datagram truncation


class TestTruncation:
    """A datagram larger than the buffer: Unix cuts it silently, Windows fails a consuming
    receive with WSAEMSGSIZE (as socket2 and the stdlib leave it); a peek fills the buffer
    and leaves the datagram queued everywhere."""

    def test_peek_sender_of_a_large_datagram(self, udp_pair):
        a, b = udp_pair
        a.send(b"x" * 100)
        assert b.peek_sender() == a.local_addr()
        assert b.recv(100) == b"x" * 100

    def test_truncated_peek_fills_the_buffer(self, udp_pair):
        a, b = udp_pair
        a.send(b"0123456789")
        data, sender = b.peek_from(4)
        assert (data, sender) == (b"0123", a.local_addr())
        assert b.recv(10) == b"0123456789"

    @pytest.mark.skipif(WINDOWS, reason="Unix truncates; Windows raises WSAEMSGSIZE")
    def test_truncated_recv_on_unix(self, udp_pair):
        a, b = udp_pair
        a.send(b"0123456789")
        assert b.recv(4) == b"0123"

    @windows_only
    def test_truncated_recv_on_windows(self, udp_pair):
        a, b = udp_pair
        a.send(b"0123456789")
        with pytest.raises(OSError) as info:
            b.recv(4)
        assert info.value.winerror == 10040  # WSAEMSGSIZE


# ---------------------------------------------------------------- AF_UNIX everywhere


def test_unix_stream_round_trip():
    # Windows 10 1803+ has AF_UNIX stream sockets (afunix.h). A short directory: macOS
    # allows only 104 bytes of path.
    directory = tempfile.mkdtemp(prefix="ps2")
    path = os.path.join(directory, "s")
    try:
        with Socket(Domain.UNIX, Type.STREAM) as server:
            server.bind(SockAddr.unix(path))
            server.listen(1)
            with Socket(Domain.UNIX, Type.STREAM) as client:
                client.connect(path)
                conn, _ = server.accept()
                with conn:
                    client.sendall(b"ping")
                    assert conn.recv(4) == b"ping"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_unix_path_too_long():
    with pytest.raises(ValueError):
        SockAddr.unix("x" * 4096)


# ---------------------------------------------------------------- free-threaded builds


@pytest.mark.skipif(
    not sysconfig.get_config_var("Py_GIL_DISABLED"),
    reason="free-threaded CPython builds only (3.13t, 3.14t)",
)
@pytest.mark.skipif(os.environ.get("PYTHON_GIL") == "1", reason="GIL forced on by PYTHON_GIL=1")
def test_import_keeps_the_gil_disabled():
    # The extension declares Py_MOD_GIL_NOT_USED; without it, importing it re-enables the
    # GIL for the whole process.
    assert pysock2.Socket is not None
    assert not sys._is_gil_enabled()
