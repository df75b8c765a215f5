"""Shared fixtures: connected socket pairs on loopback, and a descriptor-leak guard."""
from __future__ import annotations

import os
import sys

import pytest

import pysock2
from pysock2 import Domain, Socket, Type

LINUX = sys.platform.startswith("linux")
needs_linux = pytest.mark.skipif(not LINUX, reason="Linux only")


def open_fds() -> set[int]:
    """The process's open descriptors (Linux: /proc/self/fd; elsewhere /dev/fd)."""
    path = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    return {int(name) for name in os.listdir(path)}


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
def listener():
    """An IPv4 TCP socket listening on 127.0.0.1."""
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock


@pytest.fixture
def client(listener):
    """An IPv4 TCP socket connected to `listener` (not yet accepted)."""
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        sock.connect(listener.local_addr())
        yield sock


@pytest.fixture
def tcp_pair(listener, client):
    """(client, server-side) of an IPv4 TCP connection on 127.0.0.1."""
    server, _ = listener.accept()
    with server:
        yield client, server


@pytest.fixture
def refused_address():
    """A loopback TCP address nobody listens on (bound once, then released)."""
    with Socket(Domain.IPV4, Type.STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.local_addr()


@pytest.fixture
def closed_socket():
    sock = Socket(Domain.IPV4, Type.DGRAM)
    sock.close()
    return sock


@pytest.fixture(autouse=True)
def no_descriptor_leak():
    """Every test leaves the set of open descriptors as it found it."""
    before = open_fds()
    yield
    leaked = open_fds() - before
    # A descriptor opened by the test that is still open is a leak.
    assert not {fd for fd in leaked if _is_socket(fd)}, f"leaked sockets: {sorted(leaked)}"


def _is_socket(fd: int) -> bool:
    try:
        import stat

        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


__all__ = ["LINUX", "needs_linux", "open_fds", "pysock2"]
