"""SockRef: a Socket on a borrowed descriptor — every Socket method except ownership
transfer, the owner kept alive, the descriptor never closed; close() only releases the
borrow."""

from __future__ import annotations

import gc
import socket
import weakref

import pytest

from pysock2 import Domain, SockAddr, Socket, SockRef, Type

from conftest import is_closed

OWNERSHIP_TRANSFER = ["detach", "into_stdlib", "from_fd", "from_stdlib", "new_raw"]
if hasattr(Socket, "pair"):
    OWNERSHIP_TRANSFER += ["pair", "pair_raw"]


@pytest.fixture
def std():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    yield sock
    sock.close()


class TestBorrowing:
    def test_borrows_a_stdlib_socket(self, std):
        ref = SockRef(std)
        assert ref.fileno() == std.fileno()
        ref.set_tcp_nodelay(True)
        assert std.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        ref.bind(("127.0.0.1", 0))
        assert ref.local_addr() == SockAddr(std.getsockname())
        assert ref.type() == Type.STREAM

    def test_borrows_a_pysock2_socket(self):
        with Socket(Domain.IPV4, Type.DGRAM) as owner:
            ref = SockRef(owner)
            ref.set_broadcast(True)
            assert owner.broadcast()

    def test_borrows_an_int_descriptor(self, std):
        ref = SockRef(std.fileno())
        assert ref.fileno() == std.fileno()
        assert ref.type() == Type.STREAM

    def test_borrows_a_sockref(self, std):
        inner = SockRef(std)
        outer = SockRef(inner)
        assert outer.fileno() == std.fileno()

    def test_is_a_socket_with_its_methods(self, std):
        ref = SockRef(std)
        assert isinstance(ref, Socket)
        for name in (
            "send",
            "recv_into",
            "recvmsg",
            "set_tcp_nodelay",
            "connect",
            "accept",
            "try_clone",
            "shutdown",
            "take_error",
            "close",
            "__enter__",
        ):
            assert hasattr(ref, name), name

    def test_io_through_a_sockref(self):
        a, b = socket.socketpair()
        with a, b:
            SockRef(a).send(b"via ref")
            buf = bytearray(16)
            assert SockRef(b).recv_into(buf) == 7
            assert buf[:7] == b"via ref"

    def test_repr_says_borrowed(self, std):
        assert "borrowed" in repr(SockRef(std))

    def test_bad_arguments(self, pipe):
        with pytest.raises(TypeError, match="int descriptor or an object with fileno"):
            SockRef("3")
        with pytest.raises(TypeError):
            SockRef(True)
        with pytest.raises(TypeError):
            SockRef(3.0)
        with pytest.raises(TypeError):
            SockRef()

    def test_a_closed_owner_is_refused(self):
        closed = socket.socket()
        closed.close()
        with pytest.raises(OSError) as info:
            SockRef(closed)
        assert info.value.errno == 9  # EBADF
        with pytest.raises(OSError):
            SockRef(-1)

    def test_a_descriptor_that_is_not_a_socket_is_refused(self, pipe):
        with pytest.raises(OSError) as info:
            SockRef(pipe[0])
        assert info.value.errno == 88  # ENOTSOCK

    def test_fileno_returning_a_non_int(self):
        class Odd:
            def fileno(self):
                return "3"

        with pytest.raises(TypeError, match="fileno"):
            SockRef(Odd())


class TestOwnership:
    def test_keeps_the_owner_alive(self):
        class Owner:  # closes its socket when collected, as a well-behaved owner does
            def __init__(self):
                self.sock = socket.socket()

            def fileno(self):
                return self.sock.fileno()

            def __del__(self):
                self.sock.close()

        owner = Owner()
        alive = weakref.ref(owner)
        ref = SockRef(owner)
        del owner
        gc.collect()
        assert alive() is not None
        fd = ref.fileno()
        del ref
        gc.collect()
        assert alive() is None  # the owner went, and closed its descriptor itself
        assert is_closed(fd)

    def test_garbage_collection_never_closes_nor_warns(self, std):
        ref = SockRef(std)
        del ref
        gc.collect()  # pytest turns a ResourceWarning into an error
        assert not is_closed(std.fileno())

    def test_close_releases_the_borrow_only(self, std):
        ref = SockRef(std)
        ref.close()
        assert ref.closed
        assert ref.fileno() == -1
        assert not is_closed(std.fileno())
        std.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the owner still works
        with pytest.raises(OSError) as info:
            ref.set_tcp_nodelay(True)
        assert info.value.errno == 9  # EBADF
        ref.close()  # idempotent

    def test_with_block_releases_the_borrow(self, std):
        with SockRef(std) as ref:
            ref.set_keepalive(True)
        assert ref.closed
        assert std.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1

    @pytest.mark.parametrize("name", OWNERSHIP_TRANSFER)
    def test_ownership_transfer_is_not_offered(self, std, name):
        ref = SockRef(std)
        assert not hasattr(SockRef, name)
        assert not hasattr(ref, name)
        with pytest.raises(AttributeError, match="never owns its descriptor"):
            getattr(ref, name)
        assert hasattr(Socket, name)  # the owning class keeps them

    def test_try_clone_gives_an_owned_socket(self, std):
        with SockRef(std).try_clone() as clone:
            assert type(clone) is Socket
            assert clone.fileno() != std.fileno()
            assert clone.local_addr() == SockAddr(std.getsockname())

    def test_accept_on_a_borrowed_listener_gives_owned_sockets(self, std):
        std.bind(("127.0.0.1", 0))
        std.listen(1)
        with socket.create_connection(std.getsockname()):
            conn, peer = SockRef(std).accept()
            with conn:
                assert type(conn) is Socket
                assert isinstance(peer, SockAddr)
