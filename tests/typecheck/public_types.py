# pyright: strict
"""What type checkers must infer from pysock2's annotations (checked, not run, by
.ci/typed-example.sh with mypy --strict and pyright): the public classes, never
`_pysock2.*`, and no `Any`. An `assert_type` that stops holding is an error for both."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address

from typing_extensions import Buffer, assert_type

import pysock2
from pysock2 import (
    DatagramBatch,
    Domain,
    MsgHdrMut,
    RecvFlags,
    SockAddr,
    Socket,
    SockRef,
    TcpInfo,
    Type,
)


def accepted(listener: Socket, ref: SockRef, addr: SockAddr) -> None:
    conn, peer = listener.accept()
    assert_type(conn, Socket)
    assert_type(peer, SockAddr)
    assert_type(conn.try_clone(), Socket)
    assert_type(ref.try_clone(), Socket)
    assert_type(ref.accept(), "tuple[Socket, SockAddr]")
    assert_type(conn.local_addr(), SockAddr)
    assert_type(conn.peer_addr(), SockAddr)
    assert_type(conn.into_stdlib(), socket.socket)
    assert_type(conn.type(), "Type | int")
    assert_type(addr.domain(), "Domain | int")
    assert_type(Socket.from_fd(3), Socket)
    assert_type(SockRef(3), SockRef)
    assert_type(Domain.for_address(("::1", 80)), Domain)
    if hasattr(conn, "tcp_info"):
        assert_type(conn.tcp_info(), TcpInfo)


def received(sock: Socket, buf: bytearray) -> None:
    assert_type(sock.recv_from(64), "tuple[bytes, SockAddr]")
    assert_type(sock.recv_from_into(buf), "tuple[int, SockAddr]")
    assert_type(sock.peek_from(64), "tuple[bytes, SockAddr]")
    assert_type(sock.peek_sender(), SockAddr)
    assert_type(sock.recv_from_vectored([buf]), "tuple[int, RecvFlags, SockAddr]")
    assert_type(sock.getsockopt(1, 2), int)
    assert_type(sock.getsockopt(1, 2, 8), bytes)


def addresses(addr: SockAddr) -> None:
    assert_type(addr.ip(), "IPv4Address | IPv6Address | None")
    assert_type(bytes(addr), bytes)  # SockAddr.__bytes__: before 3.12's __buffer__ too
    assert_type(SockAddr.from_bytes(bytes(addr)), SockAddr)


def batches(msg: MsgHdrMut) -> None:
    allocated = DatagramBatch.allocate(4, 2048)
    assert_type(allocated, "DatagramBatch[memoryview]")
    assert_type(allocated.buffer(0), memoryview)
    assert_type(allocated.address(0), "SockAddr | None")
    own = DatagramBatch([bytearray(16)])
    assert_type(own.buffer(0), bytearray)
    assert_type(msg.addr, "SockAddr | None")
    assert_type(msg.flags(), RecvFlags)


def bare(batch: DatagramBatch) -> None:
    assert_type(batch.buffer(0), Buffer)  # a bare annotation: the default, Buffer


def modules() -> None:
    assert_type(pysock2.cmsg.space(4), int)  # the module, not a lazy __getattr__ -> Any
