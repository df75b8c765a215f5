"""``Socket`` and ``SockAddr``: thin subclasses of the C types.

The hot methods (send, recv_into, ...) are inherited straight from C; the subclasses add
only cold-path conversions (ints to enums, stdlib interop).
"""

from __future__ import annotations

import errno
import os

from . import _pysock2
from ._enums import Domain, Protocol, Type, as_enum

TYPE_CHECKING = False  # no `import typing` at run time (docs/performance.md)
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable
    from typing import Any

    from ._pysock2 import _SendfileSource
    from ._types import TcpInfo, TcpKeepalive


class SockAddr(_pysock2.SockAddr):
    """An immutable socket address: an IPv4 or IPv6 (host, port[, flowinfo, scope_id])
    tuple with a numeric host, a Unix path, or raw sockaddr bytes; never resolved from a
    host name. Hashable, comparable for equality, and its raw bytes are ``bytes(addr)``."""

    __slots__ = ()

    def domain(self) -> Domain | int:
        """The address family as a ``Domain`` (a plain int for other families)."""
        return as_enum(Domain, self.family)


class Socket(_pysock2.Socket):
    """An owned socket descriptor (socket2's ``Socket``): close-on-exec, closed by
    ``close()``, the end of a ``with`` block or garbage collection (with a
    ``ResourceWarning``). Every option has a typed getter and setter; every receive that
    fills a buffer has an ``_into`` form."""

    __slots__ = ()

    def type(self) -> Type | int:
        """The socket type (SO_TYPE) as a ``Type``."""
        return as_enum(Type, super().type())

    if hasattr(_pysock2.Socket, "domain"):

        def domain(self) -> Domain | int:
            """The socket's domain (SO_DOMAIN) as a ``Domain``."""
            return as_enum(Domain, super().domain())

    if hasattr(_pysock2.Socket, "protocol"):

        def protocol(self) -> Protocol | int | None:
            """The socket's protocol (SO_PROTOCOL), or None when it is 0."""
            value = super().protocol()
            return None if value is None else as_enum(Protocol, value)

    # ---- repr and sendfile: the stdlib's behaviour (docs/API.md) ------------------------

    def __repr__(self) -> str:
        """``<pysock2.Socket fd=5, family=IPV4, type=STREAM, proto=TCP, laddr=('127.0.0.1',
        4000), raddr=('127.0.0.1', 80)>``, as the stdlib's; addresses the socket does not
        have (unbound, unconnected) are left out, and a closed socket says ``[closed]``."""
        cls = type(self)
        module = "pysock2" if cls.__module__.startswith("pysock2.") else cls.__module__
        name = f"{module}.{cls.__qualname__}"
        fd = self.fileno()
        if fd < 0:
            return f"<{name} [closed] fd=-1>"
        parts = [f"fd={fd}"]
        for key, get in (
            ("family", _repr_family),
            ("type", Socket.type),
            ("proto", _repr_protocol),
            ("laddr", Socket.local_addr),
            ("raddr", Socket.peer_addr),
        ):
            try:
                value = get(self)
            except Exception:  # unbound, unconnected, not knowable here: never raise
                continue
            text = _repr_value(value)
            if text is not None:
                parts.append(f"{key}={text}")
        if self._BORROWED:
            parts.append("borrowed")
        return f"<{name} {', '.join(parts)}>"

    # SockRef sets it. A class attribute, not an import: repr runs in finalizers too.
    _BORROWED = False

    def sendfile(self, file: _SendfileSource, offset: int = 0, count: int | None = None) -> int:
        """Sends ``file`` from ``offset`` until ``count`` bytes or end of file, as the
        stdlib's ``socket.sendfile``: ``sendfile(2)`` in a loop that resumes after partial
        sends and signals, falling back to read-and-send where the kernel cannot
        ``sendfile`` this file. Returns the bytes sent; the file's position is left after
        the last byte sent, also when an error (e.g. ``TimeoutError`` from
        ``set_write_timeout``) stops the transfer. ``file`` is a binary file object, or an
        int descriptor (read from ``offset``; its position is not restored). One system
        call and nothing more is ``sendfile_once``."""
        _check_sendfile_arguments(self, file, offset, count)
        progress = _Progress(offset, None if count is None else offset + count)
        try:
            fd = file if isinstance(file, int) else _fileno(file)
            if fd is not None and hasattr(_pysock2.Socket, "sendfile_once"):
                try:
                    _send_with_sendfile(self, fd, progress)
                    return progress.position - offset
                except OSError as error:
                    if progress.position > offset or error.errno not in _SENDFILE_UNSUPPORTED:
                        raise
            _send_by_reading(self, file, fd, progress)
            return progress.position - offset
        finally:
            # getattr: a type checker cannot narrow the file's Protocol type by hasattr.
            seek = None if isinstance(file, int) else getattr(file, "seek", None)
            if (
                (progress.position > offset or progress.read_ahead)
                and seek is not None
                and _seekable(file)
            ):
                seek(progress.position)

    # ---- options: cold-path conversions (docs/options.md) -------------------------------

    def set_tcp_keepalive(self, keepalive: TcpKeepalive) -> None:  # type: ignore[override]
        """Turns SO_KEEPALIVE on and applies the ``TcpKeepalive``'s time, interval and
        retries (each only where it is not None)."""
        from ._types import TcpKeepalive

        if not isinstance(keepalive, TcpKeepalive):
            raise TypeError(
                f"set_tcp_keepalive() takes a TcpKeepalive, not {type(keepalive).__name__}"
            )
        super().set_tcp_keepalive(keepalive.time, keepalive.interval, keepalive.retries)

    if hasattr(_pysock2.Socket, "tcp_info"):

        def tcp_info(self) -> TcpInfo:  # type: ignore[override]
            """The kernel's statistics of this TCP connection (TCP_INFO; macOS
            TCP_CONNECTION_INFO) as a ``TcpInfo``."""
            from ._types import TcpInfo

            return TcpInfo.from_bytes(super().tcp_info())

    # ---- end of options ---------------------------------------------------------------

    @classmethod
    def from_stdlib(cls, sock: socket.socket) -> Socket:
        """Takes ownership of a ``socket.socket``'s descriptor; ``sock`` is left detached.

        The stdlib keeps a timeout in the object, not the descriptor: a socket in timeout
        mode (``settimeout(t)``, t > 0) becomes a blocking Socket whose read and write
        timeouts are ``t``; ``settimeout(0.0)`` stays non-blocking; ``None`` blocking."""
        import socket

        if not isinstance(sock, socket.socket):
            raise TypeError(f"from_stdlib() takes a socket.socket, not {type(sock).__name__}")
        timeout = sock.gettimeout()
        fd = sock.detach()
        if fd < 0:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        try:
            ours = cls.from_fd(fd)
        except BaseException:
            _close_descriptor(fd)
            raise
        if timeout:
            try:
                ours.set_nonblocking(False)
                ours.set_read_timeout(timeout)
                ours.set_write_timeout(timeout)
            except BaseException:
                ours.close()
                raise
        return ours

    def into_stdlib(self) -> socket.socket:
        """Gives the descriptor away to a new ``socket.socket``; this Socket is detached.

        A non-blocking Socket gives a socket whose ``gettimeout()`` is ``0.0``, so that
        ``ssl``, ``http.client`` and asyncio see what the descriptor does."""
        import socket

        if self.closed:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        nonblocking = getattr(self, "nonblocking", None)  # Windows cannot read it back
        is_nonblocking = nonblocking is not None and nonblocking()
        fd = self.detach()
        try:
            theirs = socket.socket(fileno=fd)
        except BaseException:
            _close_descriptor(fd)
            raise
        if is_nonblocking:
            theirs.setblocking(False)
        return theirs


# As the stdlib: at most 1 GiB per sendfile(2) call, and 8 KiB reads when falling back.
_SENDFILE_BLOCK = 1 << 30
_READ_BLOCK = 8192
# sendfile(2)'s refusals of the file itself (not mmap-able, a pipe, no kernel support):
# the transfer falls back to read-and-send, as the stdlib's does.
_SENDFILE_UNSUPPORTED = frozenset(
    getattr(errno, name)
    for name in ("EINVAL", "ENOSYS", "EOPNOTSUPP", "ENOTSUP", "ESPIPE", "ENOTSOCK", "EOVERFLOW")
    if hasattr(errno, name)
)


def _check_sendfile_arguments(sock: Socket, file: Any, offset: int, count: int | None) -> None:
    """The stdlib's checks, in its words, before anything is sent."""
    if sock.closed:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise TypeError(f"offset must be an int, not {type(offset).__name__}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0 (got {offset!r})")
    if count is not None:
        if not isinstance(count, int) or isinstance(count, bool):
            raise TypeError(f"count must be a positive integer (got {count!r})")
        if count <= 0:
            raise ValueError(f"count must be a positive integer (got {count!r})")
    if not isinstance(file, int) and not hasattr(file, "read") and _fileno(file) is None:
        raise TypeError(
            f"sendfile() takes a binary file object or a descriptor, not {type(file).__name__}"
        )
    if "b" not in getattr(file, "mode", "b"):
        raise ValueError("file should be opened in binary mode")
    if sock.type() != Type.STREAM:
        raise ValueError("only SOCK_STREAM type sockets are supported")
    if hasattr(_pysock2.Socket, "nonblocking") and sock.nonblocking():
        raise ValueError("non-blocking sockets are not supported")


def _fileno(file: Any) -> int | None:
    try:
        return int(file.fileno())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None


class _Progress:
    """Where a sendfile() transfer is: the file offset after the last byte sent, where it
    ends (None: end of file), and whether reading moved a file object past that point."""

    __slots__ = ("position", "end", "read_ahead")

    def __init__(self, position: int, end: int | None) -> None:
        self.position = position
        self.end = end
        self.read_ahead = False

    def block(self, most: int) -> int:
        return most if self.end is None else min(self.end - self.position, most)


def _send_with_sendfile(sock: Socket, fd: int, progress: _Progress) -> None:
    while progress.end is None or progress.position < progress.end:
        sent = sock.sendfile_once(
            fd, offset=progress.position, length=progress.block(_SENDFILE_BLOCK)
        )
        if sent == 0:
            return  # end of file
        progress.position += sent


def _send_by_reading(sock: Socket, file: Any, fd: int | None, progress: _Progress) -> None:
    """The fallback: reads blocks from the position and sends each completely. A pipe (no
    position) is read as it comes, from 0."""
    read = _block_reader(file, fd, progress.position)
    progress.read_ahead = not isinstance(file, int)
    while progress.end is None or progress.position < progress.end:
        data = read(progress.block(_READ_BLOCK))
        if not data:
            return
        view = memoryview(data)
        try:
            while view:
                sent = sock.send(view)
                progress.position += sent
                view = view[sent:]
        finally:
            view.release()


def _seekable(file: Any) -> bool:
    seekable = getattr(file, "seekable", None)
    if seekable is not None:
        return bool(seekable())
    return hasattr(file, "seek")


def _block_reader(file: Any, fd: int | None, position: int) -> Callable[[int], bytes]:
    if not isinstance(file, int) and hasattr(file, "read"):
        if position or _seekable(file):
            file.seek(position)  # raises for a pipe asked to start past 0, as the stdlib
        return file.read  # type: ignore[no-any-return]
    assert fd is not None
    try:
        os.lseek(fd, position, os.SEEK_SET)  # a descriptor's own position is not kept
    except OSError as error:
        if error.errno != errno.ESPIPE or position:
            raise
    return lambda size: os.read(fd, size)


def _repr_family(sock: Socket) -> Any:
    domain = getattr(sock, "domain", None)
    if domain is not None:
        return domain()
    return as_enum(Domain, sock.local_addr().family)  # no SO_DOMAIN (Windows)


def _repr_protocol(sock: Socket) -> Any:
    protocol = getattr(sock, "protocol", None)
    if protocol is None:
        raise AttributeError("protocol")
    return protocol() or 0


def _repr_value(value: Any) -> str | None:
    """An enum member by name, an address as the stdlib shows it (a tuple or a path), or
    None for an address that is not there (unnamed, an unconnected stream's empty one)."""
    if isinstance(value, _pysock2.SockAddr):
        if value.len == 0 or (value.is_unix() and getattr(value, "is_unnamed", bool)()):
            return None
        ip = value.as_socket()
        if ip is not None:
            return repr(ip)
        path = value.as_pathname()
        return repr(os.fsdecode(path) if path is not None else value)  # a str, as the stdlib
    name = getattr(value, "name", None)
    return name if name is not None else str(value)


def _close_descriptor(fd: int) -> None:
    import socket

    socket.close(fd)


_pysock2._register_classes(Socket, SockAddr)
