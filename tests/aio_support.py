"""What the asyncio tests share: the two event loops (asyncio's selector loop and uvloop),
a Runner that runs coroutines on one in debug mode and tracks what it registered, a polling
`until`, a non-blocking UDP socket maker, and a DatagramProtocol that records every callback.
The fixtures built on them (run, pair_for_transport, unix_pair) are in conftest.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from pysock2 import Domain, SockAddr, Socket, Type, aio

try:
    import uvloop
except ImportError:  # free-threaded and debug builds: CI installs no extras there
    uvloop = None

LOOPS = [
    "asyncio",
    pytest.param(
        "uvloop", marks=pytest.mark.skipif(uvloop is None, reason="uvloop is not installed")
    ),
]


def tracking(base: type) -> type:
    """`base` (an event loop class) keeping the set of readers and writers registered:
    neither loop can be asked (uvloop's remove_reader returns None)."""

    class Tracking(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.watched: set[tuple[str, int]] = set()

        def add_reader(self, fd, callback, *args):
            self.watched.add(("reader", fd))
            return super().add_reader(fd, callback, *args)

        def remove_reader(self, fd):
            self.watched.discard(("reader", fd))
            return super().remove_reader(fd)

        def add_writer(self, fd, callback, *args):
            self.watched.add(("writer", fd))
            return super().add_writer(fd, callback, *args)

        def remove_writer(self, fd):
            self.watched.discard(("writer", fd))
            return super().remove_writer(fd)

    return Tracking


class Runner:
    """Runs coroutines on one event loop in debug mode, and knows what it registered."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        base = asyncio.SelectorEventLoop if kind == "asyncio" else uvloop.Loop
        self.loop = tracking(base)()
        self.loop.set_debug(True)
        self.errors: list[dict] = []
        self.loop.set_exception_handler(lambda loop, context: self.errors.append(context))

    def __call__(self, coro, timeout: float = 10.0):
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def registered(self, sock: Socket | int) -> set[str]:
        """What is registered on `sock` (a socket or a descriptor): "reader", "writer"."""
        fd = sock if isinstance(sock, int) else sock.fileno()
        return {kind for kind, watched in self.loop.watched if watched == fd}

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


async def until(predicate, timeout: float = 5.0) -> bool:
    """The asynchronous conftest.wait_until: polls while the loop runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.002)
    return False


def udp(connect_to: SockAddr | None = None) -> Socket:
    sock = Socket(Domain.IPV4, Type.DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.set_nonblocking(True)
    if connect_to is not None:
        sock.connect(connect_to)
    return sock


class Recorder(asyncio.DatagramProtocol):
    """Records every callback; echoes when told to."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.events: list[tuple] = []
        self.datagrams: list[tuple[bytes, SockAddr]] = []
        self.errors: list[Exception] = []
        self.lost = asyncio.get_event_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append(("made",))

    def datagram_received(self, data, addr):
        self.datagrams.append((data, addr))
        if self.echo:
            self.transport.sendto(data, addr)

    def error_received(self, exc):
        self.errors.append(exc)

    def pause_writing(self):
        self.events.append(("pause",))

    def resume_writing(self):
        self.events.append(("resume",))

    def connection_lost(self, exc):
        self.events.append(("lost", exc))
        if not self.lost.done():
            self.lost.set_result(exc)


async def endpoint(sock: Socket, protocol=None, **kwargs):
    return await aio.create_datagram_endpoint(lambda: protocol or Recorder(), sock=sock, **kwargs)
