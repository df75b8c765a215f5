"""Fixtures and helpers shared by the vectored / message I/O / SockRef / interop tests.

Test modules import the fixtures they use by name (pytest finds fixtures in a module's
globals), so this file needs no conftest.py.
"""
from __future__ import annotations

import gc
import os
import socket
import sys

import pytest

from pysock2 import Domain, Socket, Type

LINUX = sys.platform.startswith("linux")
needs_linux = pytest.mark.skipif(not LINUX, reason="Linux only")


def open_fds() -> set[int]:
    """The process's open descriptors (Linux: /proc/self/fd; elsewhere /dev/fd)."""
    path = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    return {int(name) for name in os.listdir(path)}


@pytest.fixture(autouse=True)
def no_fd_leak():
    """Every test leaves the set of open descriptors (of any kind) as it found it."""
    before = open_fds()
    yield
    gc.collect()
    leaked = {fd for fd in open_fds() - before if _still_open(fd)}
    assert not leaked, f"leaked descriptors: {sorted(leaked)}"


def _still_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False  # the listing's own descriptor
    return True


@pytest.fixture
def udp_pair():
    """Two IPv4 UDP sockets on 127.0.0.1, each connected to the other."""
    a = Socket(Domain.IPV4, Type.DGRAM)
    b = Socket(Domain.IPV4, Type.DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    a.connect(b.local_addr())
    b.connect(a.local_addr())
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def unix_dgram_pair():
    a, b = Socket.pair(Domain.UNIX, Type.DGRAM)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def unix_stream_pair():
    a, b = Socket.pair(Domain.UNIX, Type.STREAM)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def tcp_pair():
    """(client, server-side) of an IPv4 TCP connection on 127.0.0.1."""
    with Socket(Domain.IPV4, Type.STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = Socket(Domain.IPV4, Type.STREAM)
        client.connect(listener.local_addr())
        server, _ = listener.accept()
    yield client, server
    client.close()
    server.close()


class Pipe:
    """An os.pipe() that unpacks as (read end, write end) and knows which ends it closed,
    so that cleaning up never closes a descriptor number reused by someone else."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()

    def __iter__(self):
        return iter((self.r, self.w))

    def __getitem__(self, index: int) -> int:
        return (self.r, self.w)[index]

    def close_write(self) -> None:
        os.close(self.w)
        self.w = -1

    def close(self) -> None:
        for fd in (self.r, self.w):
            if fd >= 0:
                os.close(fd)
        self.r = self.w = -1


@pytest.fixture
def pipe():
    p = Pipe()
    yield p
    p.close()


def setsockopt(sock, level: int, name: int, value: int = 1) -> None:
    """Sets an option pysock2 has no method for, through the stdlib, on sock's descriptor."""
    borrowed = socket.socket(fileno=sock.fileno())
    try:
        borrowed.setsockopt(level, name, value)
    finally:
        borrowed.detach()


def is_closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False
