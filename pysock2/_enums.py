"""The enums of pysock2, built from the C core's integer constants.

A member exists only where the platform defines its constant, so ``hasattr(Domain,
"VSOCK")`` is the feature test, as ``hasattr(Socket, "set_tcp_cork")`` is for methods.
"""

from __future__ import annotations

import enum
import sys

from . import _pysock2 as _c

TYPE_CHECKING = False  # no `import typing` at run time (docs/performance.md)
if TYPE_CHECKING:
    from typing import TypeVar

    from ._pysock2 import _AddressLike

    _E = TypeVar("_E", bound=enum.Enum)

_HAS = frozenset(name for name in dir(_c) if name.isupper())


class Domain(enum.IntEnum):
    """Address families (socket2's ``Domain``)."""

    IPV4 = _c.AF_INET
    IPV6 = _c.AF_INET6
    UNIX = _c.AF_UNIX
    if "AF_PACKET" in _HAS:
        PACKET = _c.AF_PACKET
    if "AF_VSOCK" in _HAS:
        VSOCK = _c.AF_VSOCK

    @classmethod
    def for_address(cls, address: _AddressLike) -> Domain:
        """The domain of an address: a SockAddr or anything SockAddr() accepts."""
        from ._socket import SockAddr

        family = (address if isinstance(address, _c.SockAddr) else SockAddr(address)).family
        return cls(family)


class Type(enum.IntEnum):
    """Socket types (socket2's ``Type``). Constructors accept the ints that
    ``nonblocking()`` and ``cloexec()`` (Unix) or ``no_inherit()`` and
    ``registered_io()`` (Windows) return."""

    STREAM = _c.SOCK_STREAM
    DGRAM = _c.SOCK_DGRAM
    SEQPACKET = _c.SOCK_SEQPACKET
    RAW = _c.SOCK_RAW
    if "SOCK_DCCP" in _HAS:
        DCCP = _c.SOCK_DCCP

    if "SOCK_NONBLOCK" in _HAS:

        def nonblocking(self) -> int:
            """This type ORed with SOCK_NONBLOCK, for ``Socket(...)``."""
            return int(self) | _c.SOCK_NONBLOCK

    if "SOCK_CLOEXEC" in _HAS:

        def cloexec(self) -> int:
            """This type ORed with SOCK_CLOEXEC, for ``Socket.new_raw(...)``."""
            return int(self) | _c.SOCK_CLOEXEC

    if sys.platform == "win32":

        def no_inherit(self) -> int:
            """This type with socket2's no-inherit bit (31): the socket is created with
            WSA_FLAG_NO_HANDLE_INHERIT, also by ``Socket.new_raw(...)``."""
            return int(self) | _c.SOCK_NO_INHERIT

        def registered_io(self) -> int:
            """This type with socket2's registered-I/O bit (30): the socket is created with
            WSA_FLAG_REGISTERED_IO, for Winsock Registered I/O (RIO)."""
            return int(self) | _c.SOCK_REGISTERED_IO


class Protocol(enum.IntEnum):
    """IP protocols (socket2's ``Protocol``)."""

    ICMPV4 = _c.IPPROTO_ICMP
    ICMPV6 = _c.IPPROTO_ICMPV6
    TCP = _c.IPPROTO_TCP
    UDP = _c.IPPROTO_UDP
    if "IPPROTO_MPTCP" in _HAS:
        MPTCP = _c.IPPROTO_MPTCP
    if "IPPROTO_DCCP" in _HAS:
        DCCP = _c.IPPROTO_DCCP
    if "IPPROTO_SCTP" in _HAS:
        SCTP = _c.IPPROTO_SCTP
    if "IPPROTO_UDPLITE" in _HAS:
        UDPLITE = _c.IPPROTO_UDPLITE
    if "IPPROTO_DIVERT" in _HAS:
        # FreeBSD, OpenBSD: not in the stubs, which stubtest checks on Linux.
        DIVERT = getattr(_c, "IPPROTO_DIVERT")  # noqa: B009


class Shutdown(enum.IntEnum):
    """Which halves of a connection ``Socket.shutdown`` closes (the OS's SHUT_* values)."""

    READ = _c.SHUT_RD
    WRITE = _c.SHUT_WR
    BOTH = _c.SHUT_RDWR


class MsgFlags(enum.IntFlag):
    """The MSG_* flags that the ``flags=`` keyword of every send and receive method takes
    (``sock.recv(64, flags=MsgFlags.PEEK | MsgFlags.DONTWAIT)``). A member exists only
    where the platform defines the flag; any int is accepted too. What a receive reports
    back is a ``RecvFlags`` (the same bits)."""

    PEEK = _c.MSG_PEEK
    OOB = _c.MSG_OOB
    if "MSG_DONTWAIT" in _HAS:
        DONTWAIT = _c.MSG_DONTWAIT
    if "MSG_WAITALL" in _HAS:
        WAITALL = _c.MSG_WAITALL
    if "MSG_TRUNC" in _HAS:
        TRUNC = _c.MSG_TRUNC
    if "MSG_CTRUNC" in _HAS:
        CTRUNC = _c.MSG_CTRUNC
    if "MSG_EOR" in _HAS:
        EOR = _c.MSG_EOR
    if "MSG_DONTROUTE" in _HAS:
        DONTROUTE = _c.MSG_DONTROUTE
    if "MSG_NOSIGNAL" in _HAS:
        NOSIGNAL = _c.MSG_NOSIGNAL
    if "MSG_CONFIRM" in _HAS:
        CONFIRM = _c.MSG_CONFIRM
    if "MSG_MORE" in _HAS:
        MORE = _c.MSG_MORE
    if "MSG_ERRQUEUE" in _HAS:
        ERRQUEUE = _c.MSG_ERRQUEUE
    if "MSG_CMSG_CLOEXEC" in _HAS:
        CMSG_CLOEXEC = _c.MSG_CMSG_CLOEXEC
    if "MSG_WAITFORONE" in _HAS:
        WAITFORONE = _c.MSG_WAITFORONE
    if "MSG_ZEROCOPY" in _HAS:
        ZEROCOPY = _c.MSG_ZEROCOPY
    if "MSG_FASTOPEN" in _HAS:
        FASTOPEN = _c.MSG_FASTOPEN


class RecvFlags(enum.IntFlag):
    """The flags a receive reported (``msg_flags``), as socket2's ``RecvFlags``."""

    if "MSG_TRUNC" in _HAS:
        TRUNC = _c.MSG_TRUNC
    if "MSG_EOR" in _HAS:
        EOR = _c.MSG_EOR
    OOB = _c.MSG_OOB
    if "MSG_CTRUNC" in _HAS:
        CTRUNC = _c.MSG_CTRUNC
    if "MSG_CONFIRM" in _HAS:
        CONFIRM = _c.MSG_CONFIRM
    if "MSG_DONTROUTE" in _HAS:
        DONTROUTE = _c.MSG_DONTROUTE

    @property
    def is_truncated(self) -> bool:
        """The datagram was larger than the buffers and was cut (MSG_TRUNC)."""
        return bool(self & _c.MSG_TRUNC) if "MSG_TRUNC" in _HAS else False

    if "MSG_EOR" in _HAS:

        @property
        def is_end_of_record(self) -> bool:
            """The data ends a record (MSG_EOR, SOCK_SEQPACKET)."""
            return bool(self & _c.MSG_EOR)

    @property
    def is_out_of_band(self) -> bool:
        """Out-of-band data was received (MSG_OOB)."""
        return bool(self & _c.MSG_OOB)

    if "MSG_CONFIRM" in _HAS:

        @property
        def is_confirm(self) -> bool:
            """MSG_CONFIRM was set (Linux)."""
            return bool(self & _c.MSG_CONFIRM)

    if "MSG_DONTROUTE" in _HAS and "MSG_CONFIRM" in _HAS:

        @property
        def is_dontroute(self) -> bool:
            """MSG_DONTROUTE was set (Linux)."""
            return bool(self & _c.MSG_DONTROUTE)


def as_enum(enum_class: type[_E], value: int) -> _E | int:
    """``enum_class(value)``, or the plain int where the enum has no such member."""
    try:
        return enum_class(value)
    except ValueError:
        return value
