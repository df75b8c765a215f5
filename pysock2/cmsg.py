"""Control messages (ancillary data) for ``Socket.sendmsg`` and ``Socket.recvmsg``.

Generic:

* ``build(level, type, data) -> bytes``: one complete, aligned control message
  (``CMSG_SPACE(len(data))`` bytes); concatenate several for ``MsgHdr(control=...)``.
* ``parse(control) -> list[(level, type, data)]``: the messages in a control buffer, each
  ``data`` being the payload. Malformed data raises ``ValueError``; nothing is ever read
  outside the buffer (the C walker checks every ``cmsg_len``).
* ``space(n)`` / ``length(n)``: ``CMSG_SPACE(n)`` / ``CMSG_LEN(n)``.

Typed helpers: each builder returns a complete message for ``MsgHdr(control=...)``; each
parser takes a payload (the ``data`` of ``parse`` or ``MsgHdrMut.control_messages()``) and
raises ``ValueError`` when its size is not the one the kernel writes.

The layout arithmetic and every platform struct size come from the C core
(``_pysock2.cmsg_space``, ``SIZEOF_*``); the struct formats below are checked against those
sizes at import.

Descriptors (``SCM_RIGHTS``): ``scm_rights`` writes descriptor *numbers*; keep the objects
open until ``sendmsg`` returns. On receipt the descriptors belong to the ``MsgHdrMut`` until
``MsgHdrMut.take_fds()`` hands them over; ``parse_scm_rights`` only decodes numbers and
transfers nothing.
"""

from __future__ import annotations

import ipaddress
import operator
import struct
from typing import TYPE_CHECKING, Iterable, NamedTuple, Union

from . import _pysock2 as _c

if TYPE_CHECKING:
    from typing import Protocol

    from typing_extensions import Buffer

    class _HasFileno(Protocol):
        def fileno(self) -> int: ...

    _IPv4 = Union[str, ipaddress.IPv4Address]
    _IPv6 = Union[str, ipaddress.IPv6Address]

build = _c.cmsg_build
parse = _c.cmsg_parse
space = _c.cmsg_space
length = _c.cmsg_len

# ---------------------------------------------------------------- constants

SOL_SOCKET: int = _c.SOL_SOCKET
IPPROTO_IP: int = _c.IPPROTO_IP
IPPROTO_IPV6: int = _c.IPPROTO_IPV6
IP_TOS: int = _c.IP_TOS
IP_TTL: int = _c.IP_TTL
if hasattr(_c, "SCM_RIGHTS"):
    SCM_RIGHTS: int = _c.SCM_RIGHTS
if hasattr(_c, "MSG_CMSG_CLOEXEC"):
    MSG_CMSG_CLOEXEC: int = _c.MSG_CMSG_CLOEXEC
if hasattr(_c, "SCM_CREDENTIALS"):
    SCM_CREDENTIALS: int = _c.SCM_CREDENTIALS
    SO_PASSCRED: int = _c.SO_PASSCRED
if hasattr(_c, "IP_RECVTOS"):
    IP_RECVTOS: int = _c.IP_RECVTOS
if hasattr(_c, "IP_RECVTTL"):
    IP_RECVTTL: int = _c.IP_RECVTTL
if hasattr(_c, "IPV6_TCLASS"):
    IPV6_TCLASS: int = _c.IPV6_TCLASS
if hasattr(_c, "IPV6_RECVTCLASS"):
    IPV6_RECVTCLASS: int = _c.IPV6_RECVTCLASS
if hasattr(_c, "IPV6_HOPLIMIT"):
    IPV6_HOPLIMIT: int = _c.IPV6_HOPLIMIT
if hasattr(_c, "IPV6_RECVHOPLIMIT"):
    IPV6_RECVHOPLIMIT: int = _c.IPV6_RECVHOPLIMIT
if hasattr(_c, "IP_PKTINFO"):
    IP_PKTINFO: int = _c.IP_PKTINFO
if hasattr(_c, "IPV6_PKTINFO"):
    IPV6_PKTINFO: int = _c.IPV6_PKTINFO
if hasattr(_c, "IPV6_RECVPKTINFO"):
    IPV6_RECVPKTINFO: int = _c.IPV6_RECVPKTINFO
if hasattr(_c, "SO_TIMESTAMP"):
    SO_TIMESTAMP: int = _c.SO_TIMESTAMP
    SCM_TIMESTAMP: int = _c.SCM_TIMESTAMP
if hasattr(_c, "SO_TIMESTAMPNS"):
    SO_TIMESTAMPNS: int = _c.SO_TIMESTAMPNS
    SCM_TIMESTAMPNS: int = _c.SCM_TIMESTAMPNS
if hasattr(_c, "SO_TIMESTAMPING"):
    SO_TIMESTAMPING: int = _c.SO_TIMESTAMPING
    SCM_TIMESTAMPING: int = _c.SCM_TIMESTAMPING
    SOF_TIMESTAMPING_TX_HARDWARE: int = _c.SOF_TIMESTAMPING_TX_HARDWARE
    SOF_TIMESTAMPING_TX_SOFTWARE: int = _c.SOF_TIMESTAMPING_TX_SOFTWARE
    SOF_TIMESTAMPING_RX_HARDWARE: int = _c.SOF_TIMESTAMPING_RX_HARDWARE
    SOF_TIMESTAMPING_RX_SOFTWARE: int = _c.SOF_TIMESTAMPING_RX_SOFTWARE
    SOF_TIMESTAMPING_SOFTWARE: int = _c.SOF_TIMESTAMPING_SOFTWARE
    SOF_TIMESTAMPING_RAW_HARDWARE: int = _c.SOF_TIMESTAMPING_RAW_HARDWARE
    SOF_TIMESTAMPING_OPT_ID: int = _c.SOF_TIMESTAMPING_OPT_ID
    SOF_TIMESTAMPING_TX_SCHED: int = _c.SOF_TIMESTAMPING_TX_SCHED
    SOF_TIMESTAMPING_TX_ACK: int = _c.SOF_TIMESTAMPING_TX_ACK
    SOF_TIMESTAMPING_OPT_CMSG: int = _c.SOF_TIMESTAMPING_OPT_CMSG
    SOF_TIMESTAMPING_OPT_TSONLY: int = _c.SOF_TIMESTAMPING_OPT_TSONLY
if hasattr(_c, "UDP_SEGMENT"):
    SOL_UDP: int = _c.SOL_UDP
    UDP_SEGMENT: int = _c.UDP_SEGMENT
    UDP_GRO: int = _c.UDP_GRO

# ---------------------------------------------------------------- struct layouts

_SIGNED = {1: "b", 2: "h", 4: "i", 8: "q"}
_UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _layout(fmt: str, size: int) -> struct.Struct:
    """A native struct for a C struct of ``size`` bytes (trailing padding added)."""
    packed = struct.calcsize("@" + fmt)
    if packed > size:  # a platform this module does not know: fail loudly, never misread
        raise ImportError(f"pysock2.cmsg: layout {fmt!r} does not fit {size} bytes")
    return struct.Struct("@" + fmt + "x" * (size - packed))


_INT = _layout("i", _c.SIZEOF_INT)


def _bytes_of(data: Buffer) -> memoryview:
    view = memoryview(data)
    if not view.c_contiguous:  # cast() would raise BufferError: a bad argument is a TypeError
        raise TypeError("control-message data must be a C-contiguous bytes-like object")
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _size_error(what: str, got: int, *expected: int) -> ValueError:
    sizes = " or ".join(str(n) for n in expected)
    return ValueError(f"{what} payload must be {sizes} bytes, not {got}")


def _ranged(what: str, value: int, low: int, high: int) -> int:
    if not hasattr(value, "__index__"):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    value = operator.index(value)
    if not low <= value <= high:
        raise ValueError(f"{what} must be in {low}..{high}, not {value}")
    return value


# ---------------------------------------------------------------- integers (TOS, TTL, ...)


def parse_int(data: Buffer) -> int:
    """The value of an integer control message: IP_TOS (one byte on Linux), IP_TTL,
    IPV6_TCLASS, IPV6_HOPLIMIT, ... (a C int)."""
    view = _bytes_of(data)
    if len(view) == 1:
        return view[0]
    if len(view) == _INT.size:
        value: int = _INT.unpack(view)[0]
        return value
    raise _size_error("an integer control message", len(view), 1, _INT.size)


def ip_tos(value: int) -> bytes:
    """An IP_TOS message: the TOS byte of the datagram sent (Linux and others)."""
    return build(IPPROTO_IP, IP_TOS, _INT.pack(_ranged("ip_tos()", value, 0, 255)))


def ip_ttl(value: int) -> bytes:
    """An IP_TTL message: the TTL of the datagram sent (Linux)."""
    return build(IPPROTO_IP, IP_TTL, _INT.pack(_ranged("ip_ttl()", value, 1, 255)))


if hasattr(_c, "IPV6_TCLASS"):

    def ipv6_tclass(value: int) -> bytes:
        """An IPV6_TCLASS message (-1: the socket's default)."""
        return build(IPPROTO_IPV6, IPV6_TCLASS, _INT.pack(_ranged("ipv6_tclass()", value, -1, 255)))


if hasattr(_c, "IPV6_HOPLIMIT"):

    def ipv6_hoplimit(value: int) -> bytes:
        """An IPV6_HOPLIMIT message (-1: the socket's default)."""
        return build(
            IPPROTO_IPV6, IPV6_HOPLIMIT, _INT.pack(_ranged("ipv6_hoplimit()", value, -1, 255))
        )


# ---------------------------------------------------------------- descriptors

if hasattr(_c, "SCM_RIGHTS"):

    def _fd_of(obj: int | _HasFileno) -> int:
        if isinstance(obj, bool):
            raise TypeError("scm_rights() takes descriptors (int or fileno()), not bool")
        if isinstance(obj, int):
            return _ranged("a descriptor", obj, 0, 2**31 - 1)
        fileno = getattr(obj, "fileno", None)
        if fileno is None:
            raise TypeError(
                f"scm_rights() takes ints or objects with fileno(), not {type(obj).__name__}"
            )
        return _ranged("a descriptor", fileno(), 0, 2**31 - 1)

    def scm_rights(fds: Iterable[int | _HasFileno]) -> bytes:
        """An SCM_RIGHTS message passing ``fds`` (ints or objects with ``fileno()``, such
        as ``socket.socket``, ``pysock2.Socket`` or files). Only the numbers are written:
        keep the objects open until ``sendmsg`` returns."""
        if isinstance(fds, (bytes, bytearray, memoryview)):
            # Iterating one would read its bytes as descriptor numbers (or, for a view of
            # several dimensions, raise NotImplementedError).
            raise TypeError(
                f"scm_rights() takes an iterable of descriptors, not a {type(fds).__name__}"
            )
        numbers = [_fd_of(fd) for fd in fds]
        return build(SOL_SOCKET, SCM_RIGHTS, b"".join(_INT.pack(fd) for fd in numbers))

    def parse_scm_rights(data: Buffer) -> list[int]:
        """The descriptor numbers of an SCM_RIGHTS payload. Decoding transfers nothing:
        descriptors received by ``recvmsg`` are the caller's only after
        ``MsgHdrMut.take_fds()``."""
        view = _bytes_of(data)
        if len(view) % _INT.size:
            raise ValueError(
                f"an SCM_RIGHTS payload is a whole number of {_INT.size}-byte ints, "
                f"not {len(view)} bytes"
            )
        return [fd for (fd,) in _INT.iter_unpack(view)]


if hasattr(_c, "SCM_CREDENTIALS"):
    _UCRED = _layout(
        _SIGNED[_c.SIZEOF_PID_T] + _UNSIGNED[_c.SIZEOF_UID_T] + _UNSIGNED[_c.SIZEOF_GID_T],
        _c.SIZEOF_UCRED,
    )

    def _id_range(size: int, signed: bool) -> tuple[int, int]:
        bits = 8 * size
        return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)

    _PID_RANGE = _id_range(_c.SIZEOF_PID_T, signed=True)
    _UID_RANGE = _id_range(_c.SIZEOF_UID_T, signed=False)
    _GID_RANGE = _id_range(_c.SIZEOF_GID_T, signed=False)

    def scm_credentials(pid: int, uid: int, gid: int) -> bytes:
        """An SCM_CREDENTIALS message (Linux; the kernel checks that the values are the
        sender's own or that it may claim them). Each value must fit its C type
        (``pid_t``, ``uid_t``, ``gid_t``): ``TypeError`` for a non-integer, ``ValueError``
        outside the type's range."""
        return build(
            SOL_SOCKET,
            SCM_CREDENTIALS,
            _UCRED.pack(
                _ranged("scm_credentials() pid", pid, *_PID_RANGE),
                _ranged("scm_credentials() uid", uid, *_UID_RANGE),
                _ranged("scm_credentials() gid", gid, *_GID_RANGE),
            ),
        )

    def parse_scm_credentials(data: Buffer) -> tuple[int, int, int]:
        """``(pid, uid, gid)`` of an SCM_CREDENTIALS payload (``struct ucred``)."""
        view = _bytes_of(data)
        if len(view) != _UCRED.size:
            raise _size_error("an SCM_CREDENTIALS", len(view), _UCRED.size)
        pid, uid, gid = _UCRED.unpack(view)
        return pid, uid, gid


# ---------------------------------------------------------------- packet info


class IpPktInfo(NamedTuple):
    """``struct in_pktinfo``: the interface a datagram came in on, the local address it
    was sent to as routed (``spec_dst``), and its header destination address (``addr``)."""

    ifindex: int
    spec_dst: ipaddress.IPv4Address
    addr: ipaddress.IPv4Address


class Ipv6PktInfo(NamedTuple):
    """``struct in6_pktinfo``: the destination address and the incoming interface."""

    addr: ipaddress.IPv6Address
    ifindex: int


if hasattr(_c, "IP_PKTINFO"):
    _IN_PKTINFO = _layout("i4s4s", _c.SIZEOF_IN_PKTINFO)

    def ip_pktinfo(ifindex: int = 0, spec_dst: _IPv4 = "0.0.0.0", addr: _IPv4 = "0.0.0.0") -> bytes:
        """An IP_PKTINFO message: send from interface ``ifindex`` (0: any) with source
        address ``spec_dst`` (0.0.0.0: chosen by routing). ``addr`` is ignored on send."""
        return build(
            IPPROTO_IP,
            IP_PKTINFO,
            _IN_PKTINFO.pack(
                _ranged("ip_pktinfo() ifindex", ifindex, 0, 2**31 - 1),
                ipaddress.IPv4Address(spec_dst).packed,
                ipaddress.IPv4Address(addr).packed,
            ),
        )

    def parse_ip_pktinfo(data: Buffer) -> IpPktInfo:
        """The ``IpPktInfo(ifindex, spec_dst, addr)`` of an IP_PKTINFO payload."""
        view = _bytes_of(data)
        if len(view) != _IN_PKTINFO.size:
            raise _size_error("an IP_PKTINFO", len(view), _IN_PKTINFO.size)
        ifindex, spec_dst, addr = _IN_PKTINFO.unpack(view)
        return IpPktInfo(ifindex, ipaddress.IPv4Address(spec_dst), ipaddress.IPv4Address(addr))


if hasattr(_c, "IPV6_PKTINFO"):
    _IN6_PKTINFO = _layout("16sI", _c.SIZEOF_IN6_PKTINFO)

    def ipv6_pktinfo(addr: _IPv6 = "::", ifindex: int = 0) -> bytes:
        """An IPV6_PKTINFO message: send from source ``addr`` (``::``: chosen by routing)
        through interface ``ifindex`` (0: any)."""
        return build(
            IPPROTO_IPV6,
            IPV6_PKTINFO,
            _IN6_PKTINFO.pack(
                ipaddress.IPv6Address(addr).packed,
                _ranged("ipv6_pktinfo() ifindex", ifindex, 0, 2**32 - 1),
            ),
        )

    def parse_ipv6_pktinfo(data: Buffer) -> Ipv6PktInfo:
        """The ``Ipv6PktInfo(addr, ifindex)`` of an IPV6_PKTINFO payload."""
        view = _bytes_of(data)
        if len(view) != _IN6_PKTINFO.size:
            raise _size_error("an IPV6_PKTINFO", len(view), _IN6_PKTINFO.size)
        addr, ifindex = _IN6_PKTINFO.unpack(view)
        return Ipv6PktInfo(ipaddress.IPv6Address(addr), ifindex)


# ---------------------------------------------------------------- timestamps

if hasattr(_c, "SCM_TIMESTAMP"):
    _TIME_T = _SIGNED[_c.SIZEOF_TIME_T]
    _TIMEVAL = _layout(_TIME_T + _SIGNED[_c.SIZEOF_SUSECONDS_T], _c.SIZEOF_TIMEVAL)
    _TIMESPEC = _layout(_TIME_T + _SIGNED[_c.SIZEOF_LONG], _c.SIZEOF_TIMESPEC)
    _DEFAULT_STAMP = getattr(_c, "SCM_TIMESTAMPNS", _c.SCM_TIMESTAMP)

    def _timespecs_ns(view: memoryview, count: int, what: str) -> list[int]:
        if len(view) != _TIMESPEC.size * count:
            raise _size_error(what, len(view), _TIMESPEC.size * count)
        return [sec * 1_000_000_000 + nsec for sec, nsec in _TIMESPEC.iter_unpack(view)]

    def parse_timestamp_ns(data: Buffer, type: int | None = None) -> int:
        """The receive time of a timestamp payload, in nanoseconds since the epoch.

        ``type`` is the message's type: ``SCM_TIMESTAMPNS`` (``struct timespec``, the
        default where the platform has it), ``SCM_TIMESTAMP`` (``struct timeval``) or
        ``SCM_TIMESTAMPING`` (three timespecs: the software stamp, or the raw hardware one
        when the software one is zero)."""
        view = _bytes_of(data)
        kind = _DEFAULT_STAMP if type is None else type
        if kind == _c.SCM_TIMESTAMP:
            if len(view) != _TIMEVAL.size:
                raise _size_error("an SCM_TIMESTAMP", len(view), _TIMEVAL.size)
            sec, usec = _TIMEVAL.unpack(view)
            stamp: int = sec * 1_000_000_000 + usec * 1_000
            return stamp
        if kind == getattr(_c, "SCM_TIMESTAMPNS", None):
            return _timespecs_ns(view, 1, "an SCM_TIMESTAMPNS")[0]
        if kind == getattr(_c, "SCM_TIMESTAMPING", None):
            software, _, hardware = _timespecs_ns(view, 3, "an SCM_TIMESTAMPING")
            return software or hardware
        raise ValueError(f"{kind} is not a timestamp control message type")

    def parse_timestamp(data: Buffer, type: int | None = None) -> float:
        """``parse_timestamp_ns(data, type)`` in float seconds since the epoch (as
        ``time.time()``; a float keeps about a quarter of a microsecond of precision)."""
        return parse_timestamp_ns(data, type) / 1e9


if hasattr(_c, "SCM_TIMESTAMPING"):

    def parse_timestamping_ns(data: Buffer) -> tuple[int, int, int]:
        """The three stamps of an SCM_TIMESTAMPING payload in nanoseconds: (software,
        legacy hardware-transformed, raw hardware); 0 where none was taken."""
        software, legacy, hardware = _timespecs_ns(_bytes_of(data), 3, "an SCM_TIMESTAMPING")
        return software, legacy, hardware


# ---------------------------------------------------------------- UDP offloads (Linux)

if hasattr(_c, "UDP_SEGMENT"):
    _U16 = struct.Struct("@H")

    def udp_segment(size: int) -> bytes:
        """A UDP_SEGMENT message: the kernel (or NIC) cuts the datagram sent into
        ``size``-byte segments (UDP GSO)."""
        return build(SOL_UDP, UDP_SEGMENT, _U16.pack(_ranged("udp_segment()", size, 1, 65535)))

    def parse_udp_gro(data: Buffer) -> int:
        """The segment size of a UDP_GRO payload: the received buffer holds datagrams of
        this size coalesced by GRO (the last one may be shorter)."""
        view = _bytes_of(data)
        if len(view) == _INT.size:
            value: int = _INT.unpack(view)[0]
            return value
        if len(view) == _U16.size:
            small: int = _U16.unpack(view)[0]
            return small
        raise _size_error("a UDP_GRO", len(view), _INT.size, _U16.size)
