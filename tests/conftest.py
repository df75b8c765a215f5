"""The fixtures and helpers test files share, each defined once: connected socket pairs on
loopback, full listeners, the loopback interface's index, and a descriptor-leak guard."""

from __future__ import annotations

import gc
import os
import socket
import sys
import tempfile
import time

import pytest

import pysock2
from pysock2 import Domain, Socket, Type

LINUX = sys.platform.startswith("linux")
WINDOWS = sys.platform == "win32"
needs_linux = pytest.mark.skipif(not LINUX, reason="Linux only")
needs_unix = pytest.mark.skipif(WINDOWS, reason="Unix only (not on Windows)")
# The loopback interface's index, for options and memberships that name an interface.
LO_INDEX = socket.if_nametoindex("lo" if LINUX else "lo0") if not WINDOWS else 1

try:  # pysock2.aio's tests and the benchmark's echo group run on uvloop when it is there
    import uvloop
except ImportError:
    pass
else:
    # libuv opens process-wide descriptors (its signal pipe) with the first loop: before
    # the descriptor-leak guard below takes any count.
    uvloop.new_event_loop().close()


def open_fds() -> set[int]:
    """The process's open descriptors (Linux: /proc/self/fd; elsewhere /dev/fd). Windows
    has no such listing: there the set is empty and the leak guard checks nothing."""
    if WINDOWS:
        return set()
    path = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    return {int(name) for name in os.listdir(path)}


def child_python() -> dict:
    """Keyword arguments for subprocess.run/Popen so that a child `python` imports the same
    pysock2 as these tests (the source tree or an installed wheel), whatever the cwd."""
    package_parent = os.path.dirname(os.path.dirname(pysock2.__file__))
    return {"env": dict(os.environ, PYTHONPATH=package_parent), "cwd": tempfile.gettempdir()}


def wait_until(predicate, timeout: float = 5.0) -> bool:
    """Polls `predicate` until it holds (True) or `timeout` seconds pass (False): for
    effects the kernel delivers asynchronously, without betting on a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return False


def cloexec(sock) -> bool:
    """Whether the socket's descriptor is close-on-exec (non-inheritable on Windows)."""
    if WINDOWS:
        return not os.get_handle_inheritable(sock.fileno())
    return not os.get_inheritable(sock.fileno())


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
    """Every test leaves the set of open descriptors (of any kind) as it found it."""
    before = open_fds()
    yield
    if open_fds() - before:
        gc.collect()  # only when needed: objects in a reference cycle close on collection
    leaked = {fd for fd in open_fds() - before if not is_closed(fd)}
    assert not leaked, f"leaked descriptors: {sorted(leaked)}"


def is_closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


@pytest.fixture
def unix_dgram_pair():
    a, b = Socket.pair(Domain.UNIX, Type.DGRAM)
    with a, b:
        yield a, b


@pytest.fixture
def unix_stream_pair():
    a, b = Socket.pair(Domain.UNIX, Type.STREAM)
    with a, b:
        yield a, b


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
    """Sets an option through the stdlib on sock's descriptor (for options pysock2 names
    differently or not at all), without taking the descriptor over."""
    borrowed = socket.socket(fileno=sock.fileno())
    try:
        borrowed.setsockopt(level, name, value)
    finally:
        borrowed.detach()


def connected_tcp_pair() -> tuple[Socket, Socket]:
    """(client, server side) of a loopback TCP connection, for tests that cannot take the
    tcp_pair fixture (a state machine, a parametrized helper); the caller closes both."""
    with Socket(Domain.IPV4, Type.STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = Socket(Domain.IPV4, Type.STREAM)
        client.connect(listener.local_addr())
        server, _ = listener.accept()
        return client, server


def connected_udp_pair() -> tuple[Socket, Socket]:
    """Two loopback UDP sockets connected to each other (udp_pair, as a function)."""
    a, b = Socket(Domain.IPV4, Type.DGRAM), Socket(Domain.IPV4, Type.DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    a.connect(b.local_addr())
    b.connect(a.local_addr())
    return a, b


def pattern(start: int, n: int) -> bytes:
    """Bytes start..start+n of an endless stream that never holds a zero byte (so a zero
    is never mistaken for data, and misplaced bytes do not match by chance)."""
    return bytes((k * 7 + 3) % 251 + 1 for k in range(start, start + n))


def idle_socket(kind: str) -> Socket:
    """A loopback socket nobody will talk to: "listener" (TCP, listening) or "udp" (bound):
    every wait on it lasts until its timeout."""
    sock = Socket(Domain.IPV4, Type.STREAM if kind == "listener" else Type.DGRAM)
    sock.bind(("127.0.0.1", 0))
    if kind == "listener":
        sock.listen(1)
    return sock


def is_connected(sock) -> bool:
    """Whether the socket has a peer (a non-blocking connect may still be in progress)."""
    try:
        sock.peer_addr()
    except OSError:
        return False
    return True


def fill_backlog(listener_addr, domain) -> list[Socket]:
    """Connects non-blocking clients until the listener refuses more for now; returns them."""
    clients = []
    while True:
        sock = Socket(domain, Type.STREAM)
        sock.set_nonblocking(True)
        try:
            sock.connect(listener_addr)
        except BlockingIOError:  # AF_UNIX: EAGAIN, a full backlog; TCP: EINPROGRESS
            if domain == Domain.UNIX:
                sock.close()
                return clients
            clients.append(sock)
            # A SYN the full accept queue dropped stays in progress: that is "full".
            if not wait_until(lambda: is_connected(sock), timeout=0.2):
                return clients
            continue
        clients.append(sock)
        if len(clients) > 64:
            raise AssertionError("the listener never filled up")


@pytest.fixture
def unix_path():
    """A path for a Unix socket in a fresh directory, removed with all it holds."""
    directory = tempfile.mkdtemp(prefix="pysock2-")
    yield os.path.join(directory, "listener")
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)


@pytest.fixture
def full_unix_listener(unix_path):
    """(listener, path): a Unix stream listener whose backlog is full, so a connect waits."""
    with Socket(Domain.UNIX, Type.STREAM) as listener:
        listener.bind(unix_path)
        listener.listen(0)
        clients = fill_backlog(unix_path, Domain.UNIX)
        yield listener, unix_path
        for sock in clients:
            sock.close()


@pytest.fixture
def full_tcp_listener():
    """(listener, address): a loopback TCP listener whose accept queue is full."""
    with Socket(Domain.IPV4, Type.STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        clients = fill_backlog(listener.local_addr(), Domain.IPV4)
        yield listener, listener.local_addr()
        for sock in clients:
            sock.close()


# ---- asyncio (tests/aio_support.py has the loops and the Runner) ----

from aio_support import LOOPS, Runner, udp  # noqa: E402


@pytest.fixture(params=LOOPS)
def run(request):
    """A Runner on each loop (asyncio, uvloop); at the end nothing went to the loop's
    exception handler and no reader or writer is left registered."""
    runner = Runner(request.param)
    yield runner
    runner.close()
    assert runner.errors == [], runner.errors
    assert runner.loop.watched == set(), "readers or writers left registered"


@pytest.fixture
def pair_for_transport():
    """A non-blocking UDP server socket (for the transport) and a client connected to it."""
    server, client = udp(), udp()
    client.connect(server.local_addr())
    yield server, client
    client.close()
    server.close()


@pytest.fixture
def unix_pair():
    """A connected AF_UNIX datagram pair whose sender blocks when the peer does not read."""
    ours, peer = Socket.pair(Domain.UNIX, Type.DGRAM)
    ours.set_nonblocking(True)
    peer.set_nonblocking(True)
    yield ours, peer
    ours.close()
    peer.close()
