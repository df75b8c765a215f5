"""Errors: every call on a closed socket raises OSError(EBADF) before any system call, the
OSError subclasses are the stdlib's, and failing calls leak nothing."""

from __future__ import annotations

import errno

import pytest

from pysock2 import Domain, Socket, Type

from conftest import open_fds

ADDRESS = ("127.0.0.1", 9)

# (method, arguments) of every foundation method that uses the descriptor.
CALLS_ON_A_DESCRIPTOR = [
    ("bind", (ADDRESS,)),
    ("connect", (ADDRESS,)),
    ("connect_timeout", (ADDRESS, 1.0)),
    ("listen", (1,)),
    ("accept", ()),
    ("accept_raw", ()),
    ("accept4", (0,)),
    ("local_addr", ()),
    ("peer_addr", ()),
    ("type", ()),
    ("domain", ()),
    ("protocol", ()),
    ("is_listener", ()),
    ("try_clone", ()),
    ("set_nonblocking", (True,)),
    ("nonblocking", ()),
    ("set_cloexec", (True,)),
    ("shutdown", (2,)),
    ("take_error", ()),
    ("read_timeout", ()),
    ("set_read_timeout", (1.0,)),
    ("write_timeout", ()),
    ("set_write_timeout", (1.0,)),
    ("recv", (10,)),
    ("recv_into", (bytearray(10),)),
    ("recv_out_of_band", (10,)),
    ("recv_out_of_band_into", (bytearray(10),)),
    ("peek", (10,)),
    ("peek_into", (bytearray(10),)),
    ("recv_from", (10,)),
    ("recv_from_into", (bytearray(10),)),
    ("peek_from", (10,)),
    ("peek_from_into", (bytearray(10),)),
    ("peek_sender", ()),
    ("send", (b"x",)),
    ("send_out_of_band", (b"x",)),
    ("send_to", (b"x", ADDRESS)),
    ("sendall", (b"x",)),
    ("sendfile", (0,)),
    ("sendfile_once", (0,)),
    ("getsockopt", (1, 2)),
    ("setsockopt", (1, 2, 3)),
]


@pytest.mark.parametrize(
    "name,args", CALLS_ON_A_DESCRIPTOR, ids=[c[0] for c in CALLS_ON_A_DESCRIPTOR]
)
def test_a_closed_socket_raises_ebadf(closed_socket, name, args):
    method = getattr(closed_socket, name, None)
    if method is None:
        pytest.skip(f"Socket.{name} does not exist on this platform")
    with pytest.raises(OSError) as info:
        method(*args)
    assert info.value.errno == errno.EBADF


def test_closed_socket_leaves_a_recv_buffer_released(closed_socket):
    buf = bytearray(10)
    with pytest.raises(OSError):
        closed_socket.recv_into(buf)
    buf.extend(b"resizable again")


def test_oserror_subclasses_match_the_stdlib():
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        with Socket(Domain.IPV4, Type.STREAM) as other:
            with pytest.raises(OSError) as info:
                other.bind(sock.local_addr())
            assert info.value.errno == errno.EADDRINUSE
            assert info.value.strerror


def test_ten_thousand_failing_calls_leave_the_descriptors_unchanged(refused_address):
    before = open_fds()
    refused = refused_address
    for _ in range(10_000):
        with Socket(Domain.IPV4, Type.STREAM) as sock:
            with pytest.raises(ValueError):
                sock.connect(("host.invalid", 1))
            with pytest.raises(ConnectionRefusedError):
                sock.connect(refused)
        with pytest.raises(OSError):
            Socket(-1, Type.STREAM)
        with pytest.raises(OSError):
            Socket.from_fd(10**6)
    assert open_fds() == before


def test_ten_thousand_failing_accepts_do_not_leak():
    before = open_fds()
    with Socket(Domain.IPV4, Type.STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.set_nonblocking(True)
        for _ in range(10_000):
            with pytest.raises(BlockingIOError):
                listener.accept()
    assert open_fds() == before


@pytest.mark.parametrize(
    "call",
    [
        lambda sock, view: sock.recv_into(view),
        lambda sock, view: sock.send_to(view, ADDRESS),
        lambda sock, view: sock.recv_vectored([view]),
        lambda sock, view: sock.send_to_vectored([view], ADDRESS),
    ],
    ids=["recv_into", "send_to", "recv_vectored", "send_to_vectored"],
)
def test_a_released_memoryview_is_value_error_not_a_type_error(call):
    """The buffer's type is right; the object is no longer usable (as bytes(view) says)."""
    view = memoryview(bytearray(16))
    view.release()
    with Socket(Domain.IPV4, Type.DGRAM) as sock:
        with pytest.raises(ValueError, match="released memoryview"):
            call(sock, view)
