"""Faults from outside: a peer that resets the connection in the middle of a call, the
process running out of descriptors (EMFILE), and close() while another thread is blocked
in recv(). Each must raise the right OSError (or return), leave the Socket closable, and
leak neither a descriptor nor a half-made object.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable

import pytest

import pysock2
from pysock2 import Domain, Shutdown, Socket, Type

from conftest import connected_tcp_pair

RESET = (errno.ECONNRESET, errno.EPIPE)
CALL_TIMEOUT = 30.0  # SO_RCVTIMEO/SO_SNDTIMEO on the blocked side: a hang becomes TimeoutError
WAKE_LIMIT = 5.0  # seconds a blocked recv may take to return after shutdown()


def tcp_connection() -> tuple[Socket, Socket]:
    client, server = connected_tcp_pair()
    for sock in (client, server):
        sock.set_read_timeout(CALL_TIMEOUT)
        sock.set_write_timeout(CALL_TIMEOUT)
    return client, server


def reset(peer: Socket) -> None:
    """Closes with SO_LINGER 0: the kernel sends RST instead of FIN."""
    peer.set_linger(0)
    peer.close()


def reset_during(
    call: Callable[[Socket], Any], *, prepare: Callable[[Socket], Any] = lambda s: None
) -> OSError:
    """Runs call(sock) in a thread, resets the peer while the call is (usually) blocked,
    and returns the OSError the call raised. Whether the RST lands before or during the
    call, the outcome is the same: the kernel reports it on this socket."""
    client, server = tcp_connection()
    prepare(client)
    outcome: list[BaseException | None] = []
    started = threading.Event()

    def body() -> None:
        started.set()
        try:
            call(client)
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=body)
    thread.start()
    started.wait()
    time.sleep(0.05)  # give the call time to block (not needed for the outcome)
    reset(server)
    thread.join(CALL_TIMEOUT + 10)
    assert not thread.is_alive()
    assert outcome and isinstance(outcome[0], OSError), f"expected OSError, got {outcome!r}"
    error = outcome[0]
    assert not isinstance(error, TimeoutError)
    assert not client.closed
    client.close()  # still closable, and closing says nothing about the reset
    assert client.closed
    return error


def test_reset_during_sendall_raises_connection_error() -> None:
    def fill(sock: Socket) -> None:
        sock.set_send_buffer_size(4096)

    # Far more than both socket buffers: sendall blocks until the RST arrives.
    error = reset_during(lambda s: s.sendall(bytes(64 << 20)), prepare=fill)
    assert isinstance(error, (ConnectionResetError, BrokenPipeError))
    assert error.errno in RESET


def test_reset_during_recv_raises_connection_reset_error() -> None:
    error = reset_during(lambda s: s.recv(100))
    assert isinstance(error, ConnectionResetError) and error.errno == errno.ECONNRESET


def test_reset_during_recv_into_raises_connection_reset_error() -> None:
    buf = bytearray(100)
    error = reset_during(lambda s: s.recv_into(buf))
    assert isinstance(error, ConnectionResetError)


def test_a_peer_closing_with_unread_data_resets_and_every_later_call_raises() -> None:
    """Data the peer never read makes its plain close() send RST (RFC 2525): the next
    receive raises ECONNRESET, later sends EPIPE, and the socket still closes quietly."""
    client, server = tcp_connection()
    with client:
        client.sendall(b"never read by the server")
        server.close()
        with pytest.raises(ConnectionResetError):
            client.recv(100)
        with pytest.raises(OSError) as info:
            client.sendall(b"x" * 100000)
        assert info.value.errno in RESET
        assert client.recv(100) == b""  # the error was reported once; now end-of-stream


@pytest.mark.skipif(
    not hasattr(Socket, "recvmsg"),
    reason="Socket.recvmsg (message I/O, pysock2.MsgHdrMut) is not in this build yet",
)
def test_reset_during_recvmsg_raises_connection_reset_error() -> None:
    buf = bytearray(100)
    error = reset_during(lambda s: s.recvmsg(pysock2.MsgHdrMut(buffers=[buf])))  # type: ignore[attr-defined]
    assert isinstance(error, ConnectionResetError)


@pytest.mark.skipif(
    not hasattr(Socket, "recv_vectored"),
    reason="Socket.recv_vectored (vectored I/O) is not in this build yet",
)
def test_reset_during_recv_vectored_raises_connection_reset_error() -> None:
    bufs = [bytearray(10), bytearray(90)]
    error = reset_during(lambda s: s.recv_vectored(bufs))  # type: ignore[attr-defined]
    assert isinstance(error, ConnectionResetError)


@pytest.mark.skipif(
    not hasattr(Socket, "recv_batch"),
    reason="Socket.recv_batch (batch receive over recvmmsg) is not in this build",
)
def test_reset_during_batch_receive_raises_connection_reset_error() -> None:
    batch = pysock2.DatagramBatch.allocate(4, 64)  # type: ignore[attr-defined]
    with batch:
        error = reset_during(lambda s: s.recv_batch(batch))  # type: ignore[attr-defined]
    assert isinstance(error, ConnectionResetError)


# ---------------------------------------------------------------- EMFILE

EMFILE_SCRIPT = textwrap.dedent("""
    import errno, gc, os, resource, sys
    import pysock2
    from pysock2 import Domain, Socket, Type

    def open_fds():  # without opening a descriptor to list them: there may be none left
        count = 0
        for fd in range(resource.getrlimit(resource.RLIMIT_NOFILE)[0] + 64):
            try:
                os.fstat(fd)
            except OSError:
                continue
            count += 1
        return count

    def live_sockets():
        gc.collect()
        return sum(isinstance(o, pysock2.Socket) for o in gc.get_objects())

    listener = Socket(Domain.UNIX, Type.STREAM)
    listener.bind(sys.argv[1])
    listener.listen(16)
    pending = Socket(Domain.UNIX, Type.STREAM)
    pending.connect(sys.argv[1])          # a connection waiting for accept()
    spare = Socket(Domain.IPV4, Type.DGRAM)

    # Fill the descriptor table up to a lowered limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_fds() + 8, hard))
    filler = []
    while True:
        try:
            filler.append(os.dup(0))
        except OSError as exc:
            assert exc.errno == errno.EMFILE
            break

    fds, objects = open_fds(), live_sockets()
    calls = {
        "Socket()": lambda: Socket(Domain.IPV4, Type.STREAM),
        "Socket.new_raw()": lambda: Socket.new_raw(Domain.IPV4, Type.DGRAM),
        "Socket.pair()": lambda: Socket.pair(Domain.UNIX, Type.STREAM),
        "accept()": listener.accept,
        "accept_raw()": listener.accept_raw,
        "try_clone()": spare.try_clone,
    }
    if hasattr(listener, "accept4"):
        calls["accept4()"] = lambda: listener.accept4(0)
    for name, call in calls.items():
        for _ in range(100):
            try:
                call()
            except OSError as exc:
                assert exc.errno == errno.EMFILE, (name, exc)
            else:
                raise AssertionError(name + " did not raise EMFILE")
        assert open_fds() == fds, (name, "leaked a descriptor")
        assert live_sockets() == objects, (name, "left a half-made Socket alive")

    # With one descriptor free again, the pending connection was not lost.
    os.close(filler.pop())
    conn, _ = listener.accept()
    conn.send(b"still here")
    assert pending.recv(100) == b"still here"
    for sock in (conn, pending, listener, spare):
        sock.close()
    print("EMFILE-OK", len(calls))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is POSIX")
def test_emfile_raises_cleanly_from_every_call_that_makes_a_descriptor(tmp_path) -> None:
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pysock2.__file__)))
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", EMFILE_SCRIPT, str(tmp_path / "listener")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "EMFILE-OK" in result.stdout


# ---------------------------------------------------------------- close while blocked


def test_shutdown_then_close_wakes_a_thread_blocked_in_recv() -> None:
    """close() alone would not wake a thread blocked in recv() on Linux (the call holds
    its own reference to the open file); shutdown() does, then close() releases it."""
    client, server = tcp_connection()
    outcome: list[Any] = []
    entered = threading.Event()

    def blocked() -> None:
        entered.set()
        try:
            outcome.append(client.recv(100))
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=blocked)
    thread.start()
    entered.wait()
    time.sleep(0.1)  # let it block in recv()
    client.shutdown(Shutdown.BOTH)
    client.close()
    thread.join(WAKE_LIMIT)
    alive = thread.is_alive()
    server.close()
    thread.join(CALL_TIMEOUT)
    assert not alive, f"recv() still blocked {WAKE_LIMIT} s after shutdown() and close()"
    # The woken recv() sees end-of-stream (b""), or EBADF if close() won the race to it.
    assert outcome == [b""] or (isinstance(outcome[0], OSError) and outcome[0].errno == errno.EBADF)
    assert client.closed


@pytest.mark.skipif(
    sys.platform != "linux",
    reason="waking an unconnected UDP socket with shutdown() is Linux behaviour",
)
def test_shutdown_wakes_a_thread_blocked_in_recv_from_on_udp() -> None:
    sock = Socket(Domain.IPV4, Type.DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.set_read_timeout(CALL_TIMEOUT)
    outcome: list[Any] = []

    def blocked() -> None:
        try:
            outcome.append(sock.recv_from(100))
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=blocked)
    thread.start()
    time.sleep(0.1)
    try:
        sock.shutdown(Shutdown.READ)
    except OSError as exc:  # Linux: ENOTCONN for an unconnected socket, but it still wakes
        assert exc.errno == errno.ENOTCONN
    thread.join(WAKE_LIMIT)
    alive = thread.is_alive()
    sock.close()
    thread.join(CALL_TIMEOUT)
    assert not alive
    assert outcome and not isinstance(outcome[0], TimeoutError)
