"""asyncio for pysock2 sockets (docs/asyncio.md).

Coroutines that take a non-blocking ``pysock2.Socket``: each tries its call first and
waits for readiness (``loop.add_reader``/``add_writer``, removed again on every path)
only when the call would block. The call itself runs in the awaiting task after the wait,
never in a loop callback, so a cancelled receive consumes nothing.

``create_datagram_endpoint(protocol_factory, sock=...)`` gives an
``asyncio.DatagramTransport`` whose read and send paths are C (csrc/aio_transport.c): a
readable socket is drained with ``recv_batch``, and what the protocol sends from
``datagram_received`` leaves with one ``sendmmsg`` when the drain ends.
"""

from __future__ import annotations

import asyncio
import errno
import mmap
import warnings
import weakref

from . import _pysock2
from ._batch import DatagramBatch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from typing_extensions import Buffer

    from ._pysock2 import SockAddr, Socket, _AddressLike

    _T = TypeVar("_T")
    _P = TypeVar("_P", bound=asyncio.BaseProtocol)

__all__ = [
    "create_datagram_endpoint",
    "recv_batch",
    "send_batch",
    "sock_accept",
    "sock_connect",
    "sock_recv",
    "sock_recv_from_into",
    "sock_recv_into",
    "sock_send_to",
    "sock_sendall",
]

_RETRY = (BlockingIOError, InterruptedError)
_SLOT = 65536  # bytes per receive slot: any UDP datagram, or a GRO receive, fits
_UNIX_SLOT = 256 * 1024  # an AF_UNIX datagram can be larger: asyncio's max_size
# The transports' sockets, by (id(loop), fd): a coroutine may not use one (as asyncio).
_TRANSPORTS: weakref.WeakValueDictionary[tuple[int, int], _DatagramTransport] = (
    weakref.WeakValueDictionary()
)
# Waiters for readiness, by (id(loop), fd, readable): one reader or writer per key
# wakes them all, removed with the last waiter.
_WAITERS: dict[tuple[int, int, bool], list[asyncio.Future[None]]] = {}


# ---------------------------------------------------------------- checks


def _running_loop(sock: object, fname: str) -> asyncio.AbstractEventLoop:
    """The running loop, once `sock` is known to be an open, non-blocking Socket."""
    loop = asyncio.get_running_loop()
    if not isinstance(sock, _pysock2.Socket):
        raise TypeError(f"{fname}() takes a pysock2.Socket, not {type(sock).__name__}")
    if sock.closed:
        raise OSError(9, f"{fname}(): the socket is closed")
    nonblocking = getattr(sock, "nonblocking", None)  # not on Windows: it cannot be read
    if nonblocking is not None and not nonblocking():
        raise ValueError(
            f"{fname}(): the socket must be non-blocking (call sock.set_nonblocking(True) first)"
        )
    transport = _TRANSPORTS.get((id(loop), sock.fileno()))
    if transport is not None:
        raise RuntimeError(
            f"{fname}(): file descriptor {sock.fileno()} is used by transport {transport!r}"
        )
    if _is_proactor(loop):
        raise RuntimeError(
            f"{fname}(): pysock2.aio needs an event loop with add_reader()/add_writer(); "
            "the Windows ProactorEventLoop has none. Use asyncio.SelectorEventLoop "
            "(asyncio.run(main(), loop_factory=asyncio.SelectorEventLoop) on Python 3.12+, "
            "or asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy()))"
        )
    return loop


def _is_proactor(loop: asyncio.AbstractEventLoop) -> bool:
    proactor = getattr(asyncio, "ProactorEventLoop", None)
    return proactor is not None and isinstance(loop, proactor)


# ---------------------------------------------------------------- waiting


def _wake_all(key: tuple[int, int, bool]) -> None:
    for fut in _WAITERS.get(key, ()):
        if not fut.done():
            fut.set_result(None)


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, readable: bool) -> None:
    """Returns once `fd` is readable (writable). Waiters on one descriptor share one
    reader (writer), removed when the last of them leaves, on every path: cancelling one
    waiter leaves the others waiting."""
    key = (id(loop), fd, readable)
    waiters = _WAITERS.get(key)
    if waiters is None:
        waiters = _WAITERS[key] = []
        if readable:
            loop.add_reader(fd, _wake_all, key)
        else:
            loop.add_writer(fd, _wake_all, key)
    fut = loop.create_future()
    waiters.append(fut)
    try:
        await fut
    finally:
        waiters.remove(fut)
        if not waiters and _WAITERS.get(key) is waiters:
            del _WAITERS[key]
            if readable:
                loop.remove_reader(fd)
            else:
                loop.remove_writer(fd)


async def _retry(
    loop: asyncio.AbstractEventLoop, sock: Socket, readable: bool, call: Callable[[], _T]
) -> _T:
    """call() until it does not block, waiting for readiness in between. The call runs
    here in the task, after the wait, so cancelling the wait consumes nothing."""
    fd = sock.fileno()
    while True:
        await _ready(loop, fd, readable)
        try:
            return call()
        except _RETRY:
            continue


# ---------------------------------------------------------------- coroutines


async def sock_recv(sock: Socket, size: int) -> bytes:
    """Receives up to `size` bytes (b"" at the end of a stream)."""
    loop = _running_loop(sock, "sock_recv")
    try:
        return sock.recv(size)
    except _RETRY:
        return await _retry(loop, sock, True, lambda: sock.recv(size))


async def sock_recv_into(sock: Socket, buffer: Buffer) -> int:
    """Receives into `buffer`; returns the number of bytes."""
    loop = _running_loop(sock, "sock_recv_into")
    try:
        return sock.recv_into(buffer)
    except _RETRY:
        return await _retry(loop, sock, True, lambda: sock.recv_into(buffer))


async def sock_recv_from_into(sock: Socket, buffer: Buffer) -> tuple[int, SockAddr]:
    """Receives one datagram into `buffer`; returns (nbytes, sender)."""
    loop = _running_loop(sock, "sock_recv_from_into")
    try:
        return sock.recv_from_into(buffer)
    except _RETRY:
        return await _retry(loop, sock, True, lambda: sock.recv_from_into(buffer))


async def sock_send_to(sock: Socket, data: Buffer, address: _AddressLike) -> int:
    """Sends one datagram to `address`; returns the number of bytes sent."""
    loop = _running_loop(sock, "sock_send_to")
    try:
        return sock.send_to(data, address)
    except _RETRY:
        return await _retry(loop, sock, False, lambda: sock.send_to(data, address))


async def sock_sendall(sock: Socket, data: Buffer) -> None:
    """Sends all of `data`, waiting for room as often as needed. If it is cancelled, part
    of the data may have been sent (as with asyncio's loop.sock_sendall)."""
    loop = _running_loop(sock, "sock_sendall")
    with memoryview(data) as view, view.cast("B") as rest:
        total = len(rest)
        sent = 0
        try:
            sent = sock.send(rest)
        except _RETRY:
            pass
        while sent < total:
            sent += await _retry(loop, sock, False, lambda: sock.send(rest[sent:]))


async def recv_batch(sock: Socket, batch: DatagramBatch) -> int:
    """Receives up to batch.capacity datagrams, waiting only for the first; sets
    batch.count and returns it."""
    loop = _running_loop(sock, "recv_batch")
    try:
        return sock.recv_batch(batch)
    except _RETRY:
        return await _retry(loop, sock, True, lambda: sock.recv_batch(batch))


async def send_batch(
    sock: Socket, datagrams: DatagramBatch | Any, address: _AddressLike | None = None
) -> int:
    """Sends a DatagramBatch's first count slots (or each item of a sequence of bytes-like
    objects) in one call once the socket takes any; returns how many were sent (fewer
    when the send buffer filled up, as with Socket.send_batch)."""
    loop = _running_loop(sock, "send_batch")
    try:
        return sock.send_batch(datagrams, address)
    except _RETRY:
        return await _retry(loop, sock, False, lambda: sock.send_batch(datagrams, address))


async def sock_connect(sock: Socket, address: _AddressLike) -> None:
    """Connects to `address` (a SockAddr or a numeric (host, port) tuple; resolve names
    first, e.g. with loop.getaddrinfo)."""
    loop = _running_loop(sock, "sock_connect")
    delay = 0.001
    while True:
        try:
            sock.connect(address)
            return
        except InterruptedError:
            continue
        except BlockingIOError as exc:
            if exc.errno != errno.EAGAIN:
                break  # in progress: wait for the outcome below
        # EAGAIN (an AF_UNIX listener's backlog is full): nothing signals room, and the
        # unconnected socket is always writable; try again after a growing pause.
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    fd = sock.fileno()
    while True:
        await _ready(loop, fd, False)
        error = sock.take_error()
        if error is not None:
            raise error
        try:
            sock.peer_addr()  # connected, not a spurious wakeup
            return
        except OSError:
            continue


async def sock_accept(sock: Socket) -> tuple[Socket, SockAddr]:
    """Accepts a connection; the new Socket is non-blocking, ready for these coroutines."""
    loop = _running_loop(sock, "sock_accept")
    try:
        conn, address = sock.accept()
    except _RETRY:
        conn, address = await _retry(loop, sock, True, sock.accept)
    try:
        conn.set_nonblocking(True)
    except BaseException:
        conn.close()
        raise
    return conn, address


# ---------------------------------------------------------------- the datagram transport


async def create_datagram_endpoint(
    protocol_factory: Callable[[], _P],
    *,
    sock: Socket,
    batch_size: int = 64,
    max_batches: int = 4,
    gro: bool | None = None,
    gso: bool | None = None,
) -> tuple[asyncio.DatagramTransport, _P]:
    """An asyncio.DatagramTransport over a non-blocking datagram Socket, and the protocol
    `protocol_factory()` made for it (connection_made() has run when this returns).

    batch_size: datagrams per recv_batch; max_batches: recv_batch calls per readable
    event at most (then other callbacks run); gro: receive with UDP GRO (Linux), cutting
    coalesced datagrams apart for datagram_received (None: on where available for a
    protocol with datagram_received, off for one with datagrams_received, whose batch
    slots would hold coalesced trains); gso: send runs of same-size datagrams to one
    address as one UDP GSO message (Linux; None: on where available, and off for good if
    the path refuses it)."""
    loop = _running_loop(sock, "create_datagram_endpoint")
    for name, number in (("batch_size", batch_size), ("max_batches", max_batches)):
        if not isinstance(number, int) or isinstance(number, bool):
            raise TypeError(f"{name} must be an int, not {type(number).__name__}")
    for name, switch in (("gro", gro), ("gso", gso)):
        if switch is not None and not isinstance(switch, bool):
            raise TypeError(f"{name} must be True, False or None, not {type(switch).__name__}")
    kind = sock.type()
    if kind not in (_pysock2.SOCK_DGRAM, getattr(_pysock2, "SOCK_RAW", None)):
        raise ValueError(f"create_datagram_endpoint() takes a datagram socket, not {kind!r}")
    if not 1 <= batch_size <= 1024:
        raise ValueError(f"batch_size must be 1-1024, not {batch_size}")
    if max_batches < 1:
        raise ValueError(f"max_batches must be at least 1, not {max_batches}")
    udp = _is_udp(sock)  # the offloads are UDP's: raw and ICMP sockets ignore UDP_SEGMENT
    if gro and not (udp and hasattr(sock, "set_udp_gro")):
        raise ValueError("gro=True: UDP GRO is not available for this socket")
    gso_available = udp and hasattr(sock, "send_gso")
    if gso and not gso_available:
        raise ValueError("gso=True: UDP GSO is not available for this socket")
    fd = sock.fileno()
    if (id(loop), fd, True) in _WAITERS or (id(loop), fd, False) in _WAITERS:
        raise RuntimeError(
            f"create_datagram_endpoint(): a coroutine is waiting on file descriptor {fd}"
        )
    protocol = protocol_factory()
    gro_auto = gro is None
    if gro is None:
        gro = udp and getattr(protocol, "datagrams_received", None) is None and _try_gro(sock)
    elif gro:
        sock.set_udp_gro(True)  # type: ignore[attr-defined, unused-ignore]
    waiter = loop.create_future()
    slot = _SLOT if sock.local_addr().family != getattr(_pysock2, "AF_UNIX", None) else _UNIX_SLOT
    transport = _DatagramTransport(
        loop,
        sock,
        protocol,
        waiter,
        batch_size,
        max_batches,
        gro,
        gro_auto,
        gso_available if gso is None else gso,
        slot,
    )
    try:
        await waiter
    except BaseException:
        transport.close()
        raise
    return transport, protocol


class _DatagramTransport(asyncio.DatagramTransport):
    """asyncio's selector datagram transport with its per-datagram paths in C; where
    asyncio's documentation is silent it behaves as asyncio's own does."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: Socket,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None],
        batch_size: int,
        max_batches: int,
        gro: bool,
        gro_auto: bool,
        gso: bool,
        slot: int,
    ) -> None:
        on_datagram, on_batch = _receivers(protocol)  # first: a TypeError leaves nothing
        try:
            peer: SockAddr | None = sock.peer_addr()
        except OSError:
            peer = None
        super().__init__({"socket": sock, "sockname": sock.local_addr(), "peername": peer})
        self._loop = loop
        self._fd = sock.fileno()
        self._protocol = protocol
        self._closing = False
        self._conn_lost = 0
        self._paused = False
        self._reader_added = False
        self._writing = False
        self._protocol_paused = False
        self._high_water = 64 * 1024
        self._low_water = 16 * 1024
        self._memory = mmap.mmap(-1, batch_size * slot)  # pages are touched only as used
        with memoryview(self._memory) as whole:
            slots = [whole[i * slot : (i + 1) * slot] for i in range(batch_size)]
        # Control room for UDP_GRO behind whatever else the socket was set to report
        # (SCM_TIMESTAMPING alone takes 64 bytes and comes first).
        self._batch = DatagramBatch(slots, control_size=256 if gro else 0)
        self._engine = _pysock2._DatagramEngine(
            sock,
            self._batch,
            on_datagram,
            on_batch,
            getattr(protocol, "error_received", None),
            self._callback_failed,
            self._on_backlog,
            self._fatal_error,
            max_batches=max_batches,
            split_gro=gro,
            cut_batches=gro_auto,
            gso=gso,
        )
        self._key = (id(loop), self._fd)
        self._sock: Socket | None = sock  # from here on the transport owns it
        _TRANSPORTS[self._key] = self
        # The hot path: transport.sendto is the engine's C method, no Python frame.
        self.sendto = self._engine.sendto  # type: ignore[method-assign]
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self._start_reading)
        loop.call_soon(_set_result_unless_done, waiter)

    def __repr__(self) -> str:
        state = "closed" if self._sock is None else "closing" if self._closing else "open"
        return f"<pysock2.aio datagram transport fd={self._fd} {state}>"

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_sock", None) is not None:  # set once __init__ completed
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            if _TRANSPORTS.get(self._key) is self:
                del _TRANSPORTS[self._key]
            self._engine.close(True)
            self._batch.release()
            self._sock.close()  # type: ignore[union-attr]

    # ---- sending -------------------------------------------------------------------------

    def sendto(self, data: Buffer, addr: Any = None) -> None:
        """Sends at once when the socket takes it, else queues (replaced per instance by
        the engine's C method; this is its signature)."""
        self._engine.sendto(data, addr)

    def get_write_buffer_size(self) -> int:
        return self._engine.write_buffer_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low_water, self._high_water

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high_water, self._low_water = high, low
        self._maybe_pause_protocol()

    def _on_backlog(self) -> None:
        """The engine left datagrams queued: send them when the socket is writable."""
        if not self._writing and self._sock is not None:
            self._loop.add_writer(self._fd, self._write_ready)
            self._writing = True
        self._maybe_pause_protocol()

    def _write_ready(self) -> None:
        self._engine.flush()
        self._maybe_resume_protocol()  # may send more
        if not self._engine.queued and self._writing:
            self._loop.remove_writer(self._fd)
            self._writing = False
            if self._closing and not self._conn_lost:
                self._conn_lost += 1
                self._call_connection_lost(None)

    def _maybe_pause_protocol(self) -> None:
        if self._engine.write_buffer_size > self._high_water and not self._protocol_paused:
            self._protocol_paused = True
            self._call_protocol("pause_writing")

    def _maybe_resume_protocol(self) -> None:
        if self._protocol_paused and self._engine.write_buffer_size <= self._low_water:
            self._protocol_paused = False
            self._call_protocol("resume_writing")

    def _call_protocol(self, name: str) -> None:
        try:
            getattr(self._protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {
                    "message": f"protocol.{name}() failed",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )

    # ---- reading -------------------------------------------------------------------------

    def _start_reading(self) -> None:
        if not self._closing and not self._paused and not self._reader_added:
            self._loop.add_reader(self._fd, self._engine.read_ready)
            self._reader_added = True

    def _remove_reader(self) -> None:
        if self._reader_added:
            self._loop.remove_reader(self._fd)
            self._reader_added = False

    def is_reading(self) -> bool:
        """True from the start, as asyncio's (connection_made may pause it already)."""
        return not self._paused and not self._closing

    def pause_reading(self) -> None:
        """Stops delivering at once, even inside datagram_received: the rest of the batch
        being delivered is kept, in order, for resume_reading()."""
        if self._closing or self._paused:
            return
        self._paused = True
        self._engine.pause()
        self._remove_reader()

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        self._start_reading()
        if self._engine.resume():  # datagrams held since the pause go first
            self._loop.call_soon(self._engine.read_ready)

    def _fatal_error(self, exc: BaseException) -> None:
        """The transport cannot receive any more (the protocol released its batch, or the
        socket was closed or detached under it): the loop's exception handler hears of
        it and connection_lost(exc) follows."""
        self._loop.call_exception_handler(
            {
                "message": "Fatal error on a pysock2.aio transport",
                "exception": exc,
                "transport": self,
                "protocol": self._protocol,
            }
        )
        self._force_close(exc)  # type: ignore[arg-type]

    def _callback_failed(self, exc: BaseException) -> None:
        self._loop.call_exception_handler(
            {
                "message": "Exception in a protocol callback of a pysock2.aio transport",
                "exception": exc,
                "transport": self,
                "protocol": self._protocol,
            }
        )

    # ---- the rest of the contract ----------------------------------------------------------

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        on_datagram, on_batch = _receivers(protocol)
        self._engine.set_protocol(on_datagram, on_batch, getattr(protocol, "error_received", None))
        self._protocol = protocol

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stops reading; connection_lost(None) follows once the queue is sent."""
        if self._closing:
            return
        self._closing = True
        self._remove_reader()
        self._engine.stop_reading()
        if not self._engine.queued:
            self._conn_lost += 1
            self._loop.call_soon(self._call_connection_lost, None)
        elif not self._writing:  # queued by a drain still running: its flush may empty it
            self._loop.add_writer(self._fd, self._write_ready)
            self._writing = True

    def abort(self) -> None:
        """Closes at once, dropping what is queued."""
        self._force_close(None)

    def _force_close(self, exc: Exception | None) -> None:
        if self._conn_lost or self._sock is None:
            return
        self._engine.close(True)
        if self._writing:
            self._loop.remove_writer(self._fd)
            self._writing = False
        if not self._closing:
            self._closing = True
            self._remove_reader()
            self._engine.stop_reading()
        self._conn_lost += 1
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: Exception | None) -> None:
        if self._sock is None:
            return
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._engine.close(True)
            self._batch.release()
            if _TRANSPORTS.get(self._key) is self:
                del _TRANSPORTS[self._key]
            self._sock.close()
            self._sock = None
            # As asyncio's transports: no cycle through the protocol outlives the transport.
            self._protocol = None  # type: ignore[assignment]
            self._loop = None  # type: ignore[assignment]


def _receivers(protocol: object) -> tuple[Callable[..., Any] | None, Callable[..., Any] | None]:
    """(datagram_received, None), or (None, datagrams_received) when the protocol defines
    the batch form."""
    on_batch = getattr(protocol, "datagrams_received", None)
    if on_batch is not None:
        return None, on_batch
    on_datagram = getattr(protocol, "datagram_received", None)
    if on_datagram is None:
        raise TypeError(
            f"{type(protocol).__name__} defines neither datagram_received() nor "
            "datagrams_received()"
        )
    return on_datagram, None


def _is_udp(sock: Socket) -> bool:
    """Whether `sock` is a UDP socket (IPv4 or IPv6)."""
    if sock.local_addr().family not in (_pysock2.AF_INET, getattr(_pysock2, "AF_INET6", None)):
        return False
    if sock.type() != _pysock2.SOCK_DGRAM:
        return False
    protocol = getattr(sock, "protocol", None)  # SO_PROTOCOL: Linux and Windows
    return protocol is None or protocol() == _pysock2.IPPROTO_UDP


def _try_gro(sock: Socket) -> bool:
    """Turns UDP GRO on where the socket takes it (not an ICMP datagram socket, not a
    kernel without it)."""
    try:
        sock.set_udp_gro(True)  # type: ignore[attr-defined, unused-ignore]
    except OSError:
        return False
    return True


def _set_result_unless_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
