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

    from ._types import TcpInfo, TcpKeepalive


class SockAddr(_pysock2.SockAddr):
    __slots__ = ()

    def domain(self) -> Domain | int:  # type: ignore[override]
        """The address family as a ``Domain`` (a plain int for other families)."""
        return as_enum(Domain, self.family)


class Socket(_pysock2.Socket):
    __slots__ = ()

    def type(self) -> Type | int:  # type: ignore[override]
        """The socket type (SO_TYPE) as a ``Type``."""
        return as_enum(Type, super().type())

    if hasattr(_pysock2.Socket, "domain"):

        def domain(self) -> Domain | int:  # type: ignore[override]
            """The socket's domain (SO_DOMAIN) as a ``Domain``."""
            return as_enum(Domain, super().domain())

    if hasattr(_pysock2.Socket, "protocol"):

        def protocol(self) -> Protocol | int | None:  # type: ignore[override]
            """The socket's protocol (SO_PROTOCOL), or None when it is 0."""
            return as_enum(Protocol, super().protocol())

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


def _close_descriptor(fd: int) -> None:
    import socket

    socket.close(fd)


_pysock2._register_classes(Socket, SockAddr)
