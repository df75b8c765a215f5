"""Socket lifecycle: creation flags, ownership, connection set-up, descriptor state."""

from __future__ import annotations

import errno
import gc
import os
import socket
import sys
import time
import warnings

import pytest

from pysock2 import Domain, Protocol, Shutdown, SockAddr, Socket, Type

from conftest import cloexec, needs_linux, needs_unix, wait_until


class TestCreation:
    def test_new_is_close_on_exec(self):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            assert cloexec(sock)
            assert sock.type() is Type.STREAM

    def test_new_raw_sets_no_flags(self):
        with Socket.new_raw(Domain.IPV4, Type.STREAM) as sock:
            assert not cloexec(sock)

    def test_protocol_argument(self):
        with Socket(Domain.IPV4, Type.STREAM, Protocol.TCP) as sock:
            assert sock.type() is Type.STREAM
        with Socket(Domain.IPV4, Type.DGRAM, None) as sock:
            assert sock.type() is Type.DGRAM

    def test_keywords(self):
        with Socket(domain=Domain.IPV6, type=Type.DGRAM, protocol=Protocol.UDP) as sock:
            assert sock.local_addr().is_ipv6()

    @needs_linux
    def test_type_flags_from_the_enum(self):
        with Socket(Domain.IPV4, Type.STREAM.nonblocking()) as sock:
            assert sock.nonblocking()
            assert sock.type() is Type.STREAM
        with Socket.new_raw(Domain.IPV4, Type.STREAM.cloexec()) as sock:
            assert cloexec(sock)

    @needs_linux
    def test_domain_protocol_and_listener(self):
        with Socket(Domain.IPV6, Type.STREAM) as sock:
            assert sock.domain() is Domain.IPV6
            assert sock.protocol() is Protocol.TCP
            assert not sock.is_listener()
            sock.bind(("::1", 0))
            sock.listen(1)
            assert sock.is_listener()

    @needs_unix
    def test_pair(self):
        a, b = Socket.pair(Domain.UNIX, Type.STREAM)
        with a, b:
            assert cloexec(a) and cloexec(b)
            assert isinstance(a, Socket)
            a.sendall(b"ping")
            assert b.recv(4) == b"ping"

    @needs_unix
    def test_pair_raw(self):
        a, b = Socket.pair_raw(Domain.UNIX, Type.DGRAM)
        with a, b:
            assert not cloexec(a) and not cloexec(b)

    def test_the_kernel_refuses_a_bad_domain(self):
        with pytest.raises(OSError):
            Socket(12345, Type.STREAM)

    @pytest.mark.parametrize("args", [("2", 1), (2, 1.0), (2, 1, "tcp"), (2**40, 1)])
    def test_bad_argument_types(self, args):
        with pytest.raises((TypeError, OverflowError)):
            Socket(*args)

    def test_too_many_arguments(self):
        with pytest.raises(TypeError):
            Socket(2, 1, 0, 0)
        with pytest.raises(TypeError):
            Socket(2, 1, flags=0)
        if hasattr(Socket, "pair"):
            with pytest.raises(TypeError):
                Socket.pair(1)


class TestOwnership:
    def test_close_is_idempotent(self):
        sock = Socket(Domain.IPV4, Type.DGRAM)
        assert not sock.closed
        sock.close()
        sock.close()
        assert sock.closed
        assert sock.fileno() == -1
        assert "closed" in repr(sock)

    @needs_unix
    def test_context_manager_closes(self):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            fd = sock.fileno()
            assert fd >= 0
        assert sock.closed
        with pytest.raises(OSError):
            os.fstat(fd)

    @needs_unix
    def test_detach_gives_the_descriptor_away(self):
        sock = Socket(Domain.IPV4, Type.DGRAM)
        fd = sock.detach()
        assert sock.closed and sock.detach() == -1
        os.fstat(fd)
        os.close(fd)

    @needs_unix
    def test_from_fd_takes_ownership(self):
        fd = Socket(Domain.IPV4, Type.DGRAM).detach()
        with Socket.from_fd(fd) as sock:
            assert sock.fileno() == fd
        with pytest.raises(OSError):
            os.fstat(fd)

    @needs_unix
    def test_from_fd_refuses_what_is_not_a_socket(self, tmp_path):
        with open(tmp_path / "f", "w") as f:
            with pytest.raises(OSError) as info:
                Socket.from_fd(f.fileno())
            assert info.value.errno == __import__("errno").ENOTSOCK
            os.fstat(f.fileno())  # still open: ownership was not taken

    @pytest.mark.parametrize("fd", [-1, "3", None])
    def test_from_fd_bad_values(self, fd):
        with pytest.raises((ValueError, TypeError)):
            Socket.from_fd(fd)

    def test_from_stdlib_and_back(self):
        std = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        fd = std.fileno()
        sock = Socket.from_stdlib(std)
        assert std.fileno() == -1 and sock.fileno() == fd
        back = sock.into_stdlib()
        assert sock.closed and back.fileno() == fd
        assert back.type == socket.SOCK_DGRAM
        back.close()

    def test_from_stdlib_refuses_a_closed_socket(self):
        std = socket.socket()
        std.close()
        with pytest.raises(OSError):
            Socket.from_stdlib(std)

    def test_into_stdlib_of_a_closed_socket(self, closed_socket):
        with pytest.raises(OSError):
            closed_socket.into_stdlib()

    @needs_unix
    def test_garbage_collection_closes_with_a_resource_warning(self):
        sock = Socket(Domain.IPV4, Type.DGRAM)
        fd = sock.fileno()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del sock
            gc.collect()
        assert any(issubclass(w.category, ResourceWarning) for w in caught)
        with pytest.raises(OSError):
            os.fstat(fd)

    def test_weak_references(self):
        import weakref

        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            assert weakref.ref(sock)() is sock

    def test_try_clone_is_an_independent_close_on_exec_descriptor(self, udp_pair):
        a, b = udp_pair
        clone = a.try_clone()
        with clone:
            assert clone.fileno() != a.fileno() and cloexec(clone)
            assert isinstance(clone, Socket)
            clone.send(b"via clone")
            assert b.recv(100) == b"via clone"
        a.send(b"still open")
        assert b.recv(100) == b"still open"


class TestConnection:
    def test_bind_listen_accept_connect(self, listener, client):
        conn, addr = listener.accept()
        with conn:
            assert isinstance(conn, Socket) and isinstance(addr, SockAddr)
            assert addr == client.local_addr() == conn.peer_addr()
            assert cloexec(conn)

    def test_accept_raw_sets_no_flags(self, listener, client):
        conn, _ = listener.accept_raw()
        with conn:
            assert not cloexec(conn)

    @needs_linux
    def test_accept4_flags(self, listener, client):
        conn, _ = listener.accept4(socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        with conn:
            assert conn.nonblocking() and cloexec(conn)
        with pytest.raises(ValueError):
            listener.accept4(-1)

    @needs_unix
    def test_unix_stream_by_path(self, tmp_path):
        path = tmp_path / "server.sock"
        with Socket(Domain.UNIX, Type.STREAM) as listener:
            listener.bind(path)
            listener.listen(1)
            assert listener.local_addr() == SockAddr.unix(path)
            with Socket(Domain.UNIX, Type.STREAM) as client:
                client.connect(str(path))
                conn, addr = listener.accept()
                with conn:
                    assert addr.is_unnamed()

    def test_connect_refused(self, refused_address):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            with pytest.raises(ConnectionRefusedError):
                sock.connect(refused_address)

    @needs_unix
    def test_connect_timeout_succeeds_and_leaves_the_socket_blocking(self, listener):
        with Socket(Domain.IPV4, Type.STREAM) as client:
            client.connect_timeout(listener.local_addr(), 5.0)
            assert not client.nonblocking()

    def test_connect_timeout_refused(self, refused_address):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            with pytest.raises(ConnectionRefusedError):
                sock.connect_timeout(refused_address, 5)

    @needs_unix
    def test_connect_timeout_expires(self):
        # A listener whose backlog is full leaves new SYNs unanswered on Linux.
        with Socket(Domain.IPV4, Type.STREAM) as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(0)
            fillers = []
            try:
                for _ in range(8):
                    filler = Socket(Domain.IPV4, Type.STREAM)
                    fillers.append(filler)
                    filler.set_nonblocking(True)
                    try:
                        filler.connect(listener.local_addr())
                    except BlockingIOError:
                        pass
                with Socket(Domain.IPV4, Type.STREAM) as sock:
                    start = time.monotonic()
                    with pytest.raises(TimeoutError) as info:
                        sock.connect_timeout(listener.local_addr(), 0.2)
                    assert time.monotonic() - start < 5
                    assert info.value.errno == errno.ETIMEDOUT  # as every other timeout
            finally:
                for filler in fillers:
                    filler.close()

    @pytest.mark.parametrize("timeout", [-1, float("nan"), "1", None])
    def test_connect_timeout_bad_timeouts(self, timeout):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            with pytest.raises((ValueError, TypeError)):
                sock.connect_timeout(("127.0.0.1", 1), timeout)

    def test_connect_timeout_accepts_a_timedelta(self, listener):
        import datetime

        with Socket(Domain.IPV4, Type.STREAM) as client:
            client.connect_timeout(listener.local_addr(), datetime.timedelta(seconds=2))

    @needs_unix
    def test_nonblocking_connect_raises_blocking_io_error_or_connects(self, listener):
        with Socket(Domain.IPV4, Type.STREAM) as client:
            client.set_nonblocking(True)
            try:
                client.connect(listener.local_addr())
            except BlockingIOError:
                pass  # EINPROGRESS; loopback may also connect at once
            assert client.nonblocking()

    def test_bad_addresses_are_refused_before_any_system_call(self):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            with pytest.raises(ValueError):
                sock.bind(("localhost", 0))
            with pytest.raises(TypeError):
                sock.connect(12)
            with pytest.raises(OverflowError):
                sock.connect(("127.0.0.1", 70000))

    def test_listen_bad_backlog(self):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            with pytest.raises(TypeError):
                sock.listen("1")

    def test_shutdown(self, tcp_pair):
        client, server = tcp_pair
        client.shutdown(Shutdown.WRITE)
        assert server.recv(10) == b""
        with pytest.raises(ValueError):
            client.shutdown(7)
        with pytest.raises(TypeError):
            client.shutdown("both")

    def test_local_and_peer_addr(self, udp_pair):
        a, b = udp_pair
        assert a.peer_addr() == b.local_addr()

    def test_peer_addr_of_an_unconnected_socket(self):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            with pytest.raises(OSError):
                sock.peer_addr()


class TestDescriptorState:
    @needs_unix
    def test_set_nonblocking(self):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            assert not sock.nonblocking()
            sock.set_nonblocking(True)
            assert sock.nonblocking()
            with pytest.raises(BlockingIOError):
                sock.recv(1)
            sock.set_nonblocking(False)
            assert not sock.nonblocking()

    @needs_unix
    def test_set_cloexec(self):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            sock.set_cloexec(False)
            assert not cloexec(sock)
            sock.set_cloexec(True)
            assert cloexec(sock)

    def test_take_error(self):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            assert sock.take_error() is None

    def test_take_error_after_a_refused_datagram(self, udp_pair):
        a, b = udp_pair
        b.close()
        a.send(b"to nobody")
        errors = []
        assert wait_until(lambda: errors.append(a.take_error()) or errors[-1] is not None)
        assert isinstance(errors[-1], ConnectionRefusedError)
        assert a.take_error() is None

    def test_timeouts(self):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            assert sock.read_timeout() is None and sock.write_timeout() is None
            sock.set_read_timeout(1.5)
            sock.set_write_timeout(0.5)
            assert sock.read_timeout() == 1.5 and sock.write_timeout() == 0.5
            sock.set_read_timeout(None)
            assert sock.read_timeout() is None

    def test_a_tiny_timeout_is_never_rounded_to_none(self):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            sock.set_read_timeout(1e-9)
            # Rounded up to a microsecond, then to the kernel's tick (Linux: 1-10 ms).
            assert 0 < sock.read_timeout() <= 0.01

    @pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "1", [1]])
    def test_bad_timeouts(self, bad):
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            with pytest.raises((ValueError, TypeError, OverflowError)):
                sock.set_read_timeout(bad)
            assert sock.read_timeout() is None


def test_audit_events():
    events = []
    recording = [True]

    def hook(name, args):
        if recording[0] and name.startswith("socket."):
            events.append(name)

    sys.addaudithook(hook)  # hooks cannot be removed: this one stops recording at the end
    try:
        with Socket(Domain.IPV4, Type.DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.connect(sock.local_addr())
            sock.send_to(b"x", sock.local_addr())
    finally:
        recording[0] = False
    assert events[-4:] == ["socket.__new__", "socket.bind", "socket.connect", "socket.sendto"]
