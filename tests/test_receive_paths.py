"""Every receive path, against what a datagram can carry that the receiver did not expect.

One table, RECEIVE_PATHS, names each way pysock2 receives a datagram and the send path a
program uses to pass on what it got (the echo pattern). The tests below run every row:

- **Truncation, then the matching send.** A 100-byte datagram arrives in a 16-byte room,
  cut by the kernel (flags=0) or with ``MSG_TRUNC`` asked by the caller (which makes some
  calls report the datagram's full length). Whatever the receive reported, the send path
  must put exactly the room's 16 bytes on the wire: never a byte past the buffer.
- **Control messages nobody asked for.** A hostile local peer sends ``SCM_RIGHTS``
  (descriptors) and ``SCM_CREDENTIALS`` with its datagrams. No receive path may add a
  descriptor to the process: paths without a control buffer never see them (the kernel
  drops them), ``recv_batch`` and the GRO receives close them, and ``recvmsg`` hands them
  to its ``MsgHdrMut``, which closes those not taken (SECURITY.md, docs/batch.md).

A stream socket discards with ``recv(n, flags=MSG_TRUNC)`` and writes nothing: the bytes
returned are zeros, never whatever the heap held (the last test).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Callable, Optional

import pytest

from pysock2 import DatagramBatch, MsgHdr, MsgHdrMut, Socket, cmsg

from conftest import LINUX, needs_linux, needs_unix, open_fds

ROOM = 16
DATAGRAM = bytes(range(100))
MSG_TRUNC = getattr(socket, "MSG_TRUNC", 0)
HAS_GRO = hasattr(Socket, "recv_gro_into")
HAS_SCM_RIGHTS = hasattr(cmsg, "SCM_RIGHTS")


@dataclass
class Received:
    data: bytes  # what the path says arrived, as a program slices it
    truncated: Optional[bool]  # the path's truncation report (None: it has none)
    echo: Callable[[], object]  # sends `data` back with the matching send path


def _view(buf, n: int) -> memoryview:
    return memoryview(buf)[:n]  # a program's slice: never longer than the buffer


def _recv(s: Socket, flags: int) -> Received:
    data = s.recv(ROOM, flags=flags)
    return Received(data, None, lambda: s.send(data))


def _recv_into(s: Socket, flags: int) -> Received:
    buf = bytearray(ROOM)
    n = s.recv_into(buf, flags=flags)
    data = _view(buf, n)
    return Received(bytes(data), n > ROOM if flags else None, lambda: s.send(data))


def _recv_from(s: Socket, flags: int) -> Received:
    data, addr = s.recv_from(ROOM, flags=flags)
    return Received(data, None, lambda: s.send_to(data, addr))


def _recv_from_into(s: Socket, flags: int) -> Received:
    buf = bytearray(ROOM)
    n, addr = s.recv_from_into(buf, flags=flags)
    data = _view(buf, n)
    return Received(bytes(data), n > ROOM if flags else None, lambda: s.send_to(data, addr))


def _split(bufs, n: int) -> list[memoryview]:
    """The first n bytes of a scatter list, as the pieces to gather for sending."""
    out = []
    for buf in bufs:
        take = max(0, min(len(buf), n))
        out.append(memoryview(buf)[:take])
        n -= take
    return out


def _recv_vectored(s: Socket, flags: int) -> Received:
    bufs = [bytearray(ROOM // 2), bytearray(ROOM // 2)]
    n, rflags = s.recv_vectored(bufs, flags=flags)
    pieces = _split(bufs, n)
    return Received(b"".join(pieces), rflags.is_truncated, lambda: s.send_vectored(pieces))


def _recv_from_vectored(s: Socket, flags: int) -> Received:
    bufs = [bytearray(ROOM // 2), bytearray(ROOM // 2)]
    n, rflags, addr = s.recv_from_vectored(bufs, flags=flags)
    pieces = _split(bufs, n)
    return Received(b"".join(pieces), rflags.is_truncated, lambda: s.send_to_vectored(pieces, addr))


def _recvmsg(s: Socket, flags: int, control: Optional[int] = None) -> Received:
    buf = bytearray(ROOM)
    with MsgHdrMut(addr=True, buffers=[buf], control=control) as msg:
        n = s.recvmsg(msg, flags=flags)
        for fd in msg.take_fds():  # the receiver's now: close them as a program would
            os.close(fd)
        truncated, addr = msg.flags().is_truncated, msg.addr
    pieces = _split([buf], n)
    return Received(
        bytes(pieces[0]), truncated, lambda: s.sendmsg(MsgHdr(addr=addr, buffers=pieces))
    )


def _recv_batch(s: Socket, flags: int, control_size: int = 0) -> Received:
    batch = DatagramBatch.allocate(4, ROOM, control_size=control_size)
    assert s.recv_batch(batch, flags=flags) == 1
    # The documented echo: the slots go back to their senders, length(0) bytes each.
    return Received(bytes(batch.data(0)), batch.flags(0).is_truncated, lambda: s.send_batch(batch))


def _recv_gro_into(s: Socket, flags: int) -> Received:
    buf = bytearray(ROOM)
    n, size = s.recv_gro_into(buf, flags=flags)
    data = _view(buf, n)
    return Received(
        bytes(data), n > ROOM if flags else None, lambda: s.send_gso(data, max(size, 1))
    )


def _recv_gro_from_into(s: Socket, flags: int) -> Received:
    buf = bytearray(ROOM)
    n, size, addr = s.recv_gro_from_into(buf, flags=flags)
    data = _view(buf, n)
    return Received(
        bytes(data), n > ROOM if flags else None, lambda: s.send_gso(data, max(size, 1), addr)
    )


def _drained(received: Received, s: Socket) -> Received:
    s.recv(len(DATAGRAM) + 1)  # a peek leaves the datagram queued: take it away
    return received


def _peek(s: Socket, flags: int) -> Received:
    data = s.peek(ROOM)
    return _drained(Received(data, None, lambda: s.send(data)), s)


def _peek_into(s: Socket, flags: int) -> Received:
    buf = bytearray(ROOM)
    data = _view(buf, s.peek_into(buf))
    return _drained(Received(bytes(data), None, lambda: s.send(data)), s)


def _peek_from(s: Socket, flags: int) -> Received:
    data, addr = s.peek_from(ROOM)
    return _drained(Received(data, None, lambda: s.send_to(data, addr)), s)


def _peek_from_into(s: Socket, flags: int) -> Received:
    buf = bytearray(ROOM)
    n, addr = s.peek_from_into(buf)
    data = _view(buf, n)
    return _drained(Received(bytes(data), None, lambda: s.send_to(data, addr)), s)


CONTROL = 256  # bytes of control room where a path offers one

RECEIVE_PATHS = {
    "recv": _recv,
    "recv_into": _recv_into,
    "recv_from": _recv_from,
    "recv_from_into": _recv_from_into,
    "recv_vectored": _recv_vectored,
    "recv_from_vectored": _recv_from_vectored,
    "recvmsg": _recvmsg,
    "recvmsg+control": lambda s, f: _recvmsg(s, f, control=CONTROL),
    "recv_batch": _recv_batch,
    "recv_batch+control": lambda s, f: _recv_batch(s, f, control_size=CONTROL),
    "peek": _peek,
    "peek_into": _peek_into,
    "peek_from": _peek_from,
    "peek_from_into": _peek_from_into,
}
if HAS_GRO:
    RECEIVE_PATHS["recv_gro_into"] = _recv_gro_into
    RECEIVE_PATHS["recv_gro_from_into"] = _recv_gro_from_into
PEEKS = {"peek", "peek_into", "peek_from", "peek_from_into"}  # they take no flags


TRUNCATIONS = [pytest.param(name, 0, id=f"{name}-cut-by-the-kernel") for name in RECEIVE_PATHS]
TRUNCATIONS += [
    pytest.param(name, MSG_TRUNC, id=f"{name}-MSG_TRUNC-asked")
    for name in RECEIVE_PATHS
    if name not in PEEKS and MSG_TRUNC
]


@pytest.mark.parametrize("path, flags", TRUNCATIONS)
def test_a_truncated_datagram_passed_on_sends_only_the_buffers_bytes(udp_pair, path, flags):
    a, b = udp_pair
    a.send(DATAGRAM)
    received = RECEIVE_PATHS[path](b, flags)
    assert received.data == DATAGRAM[:ROOM]
    if received.truncated is not None:
        assert received.truncated, "the cut must stay visible"
    received.echo()
    assert a.recv(len(DATAGRAM) + 1) == DATAGRAM[:ROOM]


@needs_linux
def test_a_batch_reports_the_bytes_in_its_slot_and_the_cut_in_its_flags(udp_pair):
    a, b = udp_pair
    a.send(DATAGRAM)
    a.send(b"short")
    with DatagramBatch.allocate(2, ROOM) as batch:
        assert b.recv_batch(batch, flags=MSG_TRUNC) == 2
        assert [batch.length(i) for i in range(2)] == [ROOM, 5]
        assert [batch.flags(i).is_truncated for i in range(2)] == [True, False]


# ---------------------------------------------------------------- hostile control messages


def _hostile_control(kind: str, fds: list[int]) -> bytes:
    parts = []
    if kind in ("rights", "both"):
        parts.append(cmsg.scm_rights(fds))
    if kind in ("credentials", "both"):
        parts.append(cmsg.scm_credentials(os.getpid(), os.getuid(), os.getgid()))
    return b"".join(parts)


CONTROL_KINDS = ["rights", "credentials", "both"] if LINUX else ["rights"]


@needs_unix
@pytest.mark.skipif(not HAS_SCM_RIGHTS, reason="SCM_RIGHTS is Unix-only")
@pytest.mark.parametrize("kind", CONTROL_KINDS)
@pytest.mark.parametrize("path", [p for p in RECEIVE_PATHS if p not in PEEKS] + ["peek"])
def test_unasked_descriptors_never_stay_open(unix_dgram_pair, pipe, path, kind):
    hostile, victim = unix_dgram_pair
    before = open_fds()
    for _ in range(3):
        hostile.sendmsg(
            MsgHdr(
                buffers=[DATAGRAM[:ROOM]], control=_hostile_control(kind, [pipe.r, pipe.w, pipe.r])
            )
        )
        assert RECEIVE_PATHS[path](victim, 0).data == DATAGRAM[:ROOM]
    assert open_fds() == before


@needs_linux
@pytest.mark.parametrize("control_size", [cmsg.space(4) if HAS_SCM_RIGHTS else 0, 1, 20])
def test_a_batch_closes_descriptors_even_when_the_control_room_is_short(
    unix_dgram_pair, pipe, control_size
):
    hostile, victim = unix_dgram_pair
    before = open_fds()
    hostile.sendmsg(MsgHdr(buffers=[b"x"], control=cmsg.scm_rights([pipe.r] * 3)))
    with DatagramBatch.allocate(1, ROOM, control_size=control_size) as batch:
        victim.recv_batch(batch)
        assert open_fds() == before
        assert batch.flags(0) & socket.MSG_CTRUNC  # the room held at most one of three
        # A number the batch closed is never handed out: it reads -1.
        for level, kind, data in cmsg.parse(batch.control(0)):
            if (level, kind) == (socket.SOL_SOCKET, cmsg.SCM_RIGHTS):
                assert set(cmsg.parse_scm_rights(data)) <= {-1}


@needs_linux
def test_a_batch_shows_received_descriptors_as_minus_one(unix_dgram_pair, pipe):
    hostile, victim = unix_dgram_pair
    hostile.sendmsg(MsgHdr(buffers=[b"x"], control=cmsg.scm_rights([pipe.r, pipe.w])))
    with DatagramBatch.allocate(1, ROOM, control_size=CONTROL) as batch:
        victim.recv_batch(batch)
        [(level, kind, data)] = cmsg.parse(batch.control(0))
        assert (level, kind) == (socket.SOL_SOCKET, cmsg.SCM_RIGHTS)
        assert cmsg.parse_scm_rights(data) == [-1, -1]


@needs_unix
@pytest.mark.skipif(not HAS_SCM_RIGHTS, reason="SCM_RIGHTS is Unix-only")
def test_recvmsg_hands_descriptors_over_close_on_exec(unix_dgram_pair, pipe):
    hostile, victim = unix_dgram_pair
    hostile.sendmsg(MsgHdr(buffers=[b"x"], control=cmsg.scm_rights([pipe.r])))
    with MsgHdrMut(buffers=[bytearray(4)], control=CONTROL) as msg:
        victim.recvmsg(msg)
        [fd] = msg.take_fds()
    try:
        assert os.path.sameopenfile(fd, pipe.r)
        assert not os.get_inheritable(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- streams


@pytest.mark.skipif(not MSG_TRUNC or not LINUX, reason="MSG_TRUNC discards on Linux TCP")
def test_recv_with_msg_trunc_on_a_stream_returns_zeros_never_old_heap(tcp_pair):
    client, server = tcp_pair
    size = 200
    for _ in range(20):
        client.sendall(b"s" * size)
        discarded = 0
        while discarded < size:
            junk = [b"\xaa" * size for _ in range(8)]  # freed blocks of this size
            del junk
            # Linux discards the bytes and writes nothing into the buffer.
            data = server.recv(size, flags=MSG_TRUNC)
            assert data == bytes(len(data)) and data
            discarded += len(data)
