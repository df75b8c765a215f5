"""The value types of pysock2's options: ``TcpKeepalive``, ``SockFilter`` and ``TcpInfo``.

Frozen dataclasses. ``pysock2`` imports this module on first use of one of these names, so
that ``import pysock2`` does not pay for ``dataclasses``. docs/options.md describes them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterator, Union

from . import _pysock2 as _c

if TYPE_CHECKING:
    from datetime import timedelta

_Seconds = Union[float, int, "timedelta"]


@dataclass(frozen=True)
class TcpKeepalive:
    """TCP keepalive parameters for ``Socket.set_tcp_keepalive`` (socket2's
    ``TcpKeepalive``): idle ``time`` before the first probe and ``interval`` between probes,
    in seconds, and the number of unanswered probes (``retries``) before the connection is
    dropped. Durations are seconds (float, int or ``datetime.timedelta``). ``None`` leaves
    the system's setting alone (Windows resets it to its default). ``set_tcp_keepalive``
    checks every value against the kernel's limits before changing anything (Unix counts
    whole seconds, so ``time=0.5`` is a ``ValueError``; Linux takes at most 32767 s and
    127 probes): a setting is applied whole or not at all (docs/options.md).
    """

    time: _Seconds | None = None
    interval: _Seconds | None = None
    retries: int | None = None

    def with_time(self, time: _Seconds) -> TcpKeepalive:
        """A copy with the idle time (seconds) before keepalive probes start."""
        return replace(self, time=time)

    def with_interval(self, interval: _Seconds) -> TcpKeepalive:
        """A copy with the time (seconds) between keepalive probes."""
        return replace(self, interval=interval)

    def with_retries(self, retries: int) -> TcpKeepalive:
        """A copy with the number of probes sent before the connection is dropped."""
        return replace(self, retries=retries)


def _keepalive_builders_missing(socket_type: type, platform: str) -> tuple[str, ...]:
    """The ``TcpKeepalive`` builders this platform cannot apply, which are therefore absent
    (as socket2 leaves ``with_interval``/``with_retries`` out on OpenBSD, Solaris and
    Haiku). A parameter is settable where its getter exists (TCP_KEEPIDLE/TCP_KEEPALIVE,
    TCP_KEEPINTVL, TCP_KEEPCNT) or, for time and interval, on Windows
    (SIO_KEEPALIVE_VALS, which has no getter). ``set_tcp_keepalive`` refuses such a
    parameter with ENOPROTOOPT before changing anything."""
    windows = platform == "win32"
    settable = {
        "with_time": windows or hasattr(socket_type, "tcp_keepalive_time"),
        "with_interval": windows or hasattr(socket_type, "tcp_keepalive_interval"),
        "with_retries": hasattr(socket_type, "tcp_keepalive_retries"),
    }
    return tuple(name for name, ok in settable.items() if not ok)


def _remove_builders(cls: type, socket_type: type, platform: str) -> None:
    for name in _keepalive_builders_missing(socket_type, platform):
        delattr(cls, name)


_remove_builders(TcpKeepalive, _c.Socket, sys.platform)


@dataclass(frozen=True)
class SockFilter:
    """One classic BPF instruction (``struct sock_filter``) for ``Socket.attach_filter``:
    opcode ``code`` (16 bits), jump offsets ``jt``/``jf`` (8 bits) and operand ``k``
    (32 bits). Iterating gives ``(code, jt, jf, k)``."""

    code: int
    jt: int
    jf: int
    k: int

    def __iter__(self) -> Iterator[int]:
        """``(code, jt, jf, k)``, as ``attach_filter`` takes each instruction."""
        return iter((self.code, self.jt, self.jf, self.k))


@dataclass(frozen=True)
class TcpInfo:
    """The kernel's TCP connection statistics (Linux ``struct tcp_info``; macOS
    ``struct tcp_connection_info``), as ``Socket.tcp_info()`` returns them.

    Fields are the Linux names without the ``tcpi_`` prefix. Times (``rto``, ``ato``,
    ``rtt``, ``rttvar``, ``rcv_rtt``, ``min_rtt``, ``last_*``, ``busy_time``,
    ``rwnd_limited``, ``sndbuf_limited``, ``total_rto_time``) are float seconds; the rest
    are ints as the kernel reports them. A field the running kernel did not fill (it is
    older than the field) is ``None``; on macOS only the fields with a counterpart in
    ``tcp_connection_info`` are set (see docs/options.md).
    """

    state: int | None = None
    ca_state: int | None = None
    retransmits: int | None = None
    probes: int | None = None
    backoff: int | None = None
    options: int | None = None
    snd_wscale: int | None = None
    rcv_wscale: int | None = None
    delivery_rate_app_limited: int | None = None
    fastopen_client_fail: int | None = None
    rto: float | None = None
    ato: float | None = None
    snd_mss: int | None = None
    rcv_mss: int | None = None
    unacked: int | None = None
    sacked: int | None = None
    lost: int | None = None
    retrans: int | None = None
    fackets: int | None = None
    last_data_sent: float | None = None
    last_ack_sent: float | None = None
    last_data_recv: float | None = None
    last_ack_recv: float | None = None
    pmtu: int | None = None
    rcv_ssthresh: int | None = None
    rtt: float | None = None
    rttvar: float | None = None
    snd_ssthresh: int | None = None
    snd_cwnd: int | None = None
    advmss: int | None = None
    reordering: int | None = None
    rcv_rtt: float | None = None
    rcv_space: int | None = None
    total_retrans: int | None = None
    pacing_rate: int | None = None
    max_pacing_rate: int | None = None
    bytes_acked: int | None = None
    bytes_received: int | None = None
    segs_out: int | None = None
    segs_in: int | None = None
    notsent_bytes: int | None = None
    min_rtt: float | None = None
    data_segs_in: int | None = None
    data_segs_out: int | None = None
    delivery_rate: int | None = None
    busy_time: float | None = None
    rwnd_limited: float | None = None
    sndbuf_limited: float | None = None
    delivered: int | None = None
    delivered_ce: int | None = None
    bytes_sent: int | None = None
    bytes_retrans: int | None = None
    dsack_dups: int | None = None
    reord_seen: int | None = None
    rcv_ooopack: int | None = None
    snd_wnd: int | None = None
    rcv_wnd: int | None = None
    rehash: int | None = None
    total_rto: int | None = None
    total_rto_recoveries: int | None = None
    total_rto_time: float | None = None
    received_ce: int | None = None
    delivered_e1_bytes: int | None = None
    delivered_e0_bytes: int | None = None
    delivered_ce_bytes: int | None = None
    received_e1_bytes: int | None = None
    received_e0_bytes: int | None = None
    received_ce_bytes: int | None = None

    @classmethod
    def from_bytes(cls, raw: bytes, platform: str = sys.platform) -> TcpInfo:
        """Decodes the bytes the kernel returned (``_pysock2.Socket.tcp_info()``): as many
        fields as ``raw`` holds, the others ``None``."""
        layout = _MACOS_LAYOUT if platform == "darwin" else _LINUX_LAYOUT
        return cls(**_decode(raw, layout))


# A layout row: (field, byte offset, byte size, unit, bit shift, bit width). Unit "us" or
# "ms" makes the field float seconds; a bit width of 0 means the whole integer. Bit
# positions are GCC's on a little-endian machine (the first field in the lowest bits).
_Row = tuple[str, int, int, str, int, int]

_LINUX_LAYOUT: tuple[_Row, ...] = (
    # <linux/tcp.h> struct tcp_info, up to Linux 6.18; 4 bytes at offset 276 (the AccECN
    # status) changed meaning after 6.18 and are not decoded.
    ("state", 0, 1, "", 0, 0),
    ("ca_state", 1, 1, "", 0, 0),
    ("retransmits", 2, 1, "", 0, 0),
    ("probes", 3, 1, "", 0, 0),
    ("backoff", 4, 1, "", 0, 0),
    ("options", 5, 1, "", 0, 0),
    ("snd_wscale", 6, 1, "", 0, 4),
    ("rcv_wscale", 6, 1, "", 4, 4),
    ("delivery_rate_app_limited", 7, 1, "", 0, 1),
    ("fastopen_client_fail", 7, 1, "", 1, 2),
    ("rto", 8, 4, "us", 0, 0),
    ("ato", 12, 4, "us", 0, 0),
    ("snd_mss", 16, 4, "", 0, 0),
    ("rcv_mss", 20, 4, "", 0, 0),
    ("unacked", 24, 4, "", 0, 0),
    ("sacked", 28, 4, "", 0, 0),
    ("lost", 32, 4, "", 0, 0),
    ("retrans", 36, 4, "", 0, 0),
    ("fackets", 40, 4, "", 0, 0),
    ("last_data_sent", 44, 4, "ms", 0, 0),
    ("last_ack_sent", 48, 4, "ms", 0, 0),
    ("last_data_recv", 52, 4, "ms", 0, 0),
    ("last_ack_recv", 56, 4, "ms", 0, 0),
    ("pmtu", 60, 4, "", 0, 0),
    ("rcv_ssthresh", 64, 4, "", 0, 0),
    ("rtt", 68, 4, "us", 0, 0),
    ("rttvar", 72, 4, "us", 0, 0),
    ("snd_ssthresh", 76, 4, "", 0, 0),
    ("snd_cwnd", 80, 4, "", 0, 0),
    ("advmss", 84, 4, "", 0, 0),
    ("reordering", 88, 4, "", 0, 0),
    ("rcv_rtt", 92, 4, "us", 0, 0),
    ("rcv_space", 96, 4, "", 0, 0),
    ("total_retrans", 100, 4, "", 0, 0),
    ("pacing_rate", 104, 8, "", 0, 0),
    ("max_pacing_rate", 112, 8, "", 0, 0),
    ("bytes_acked", 120, 8, "", 0, 0),
    ("bytes_received", 128, 8, "", 0, 0),
    ("segs_out", 136, 4, "", 0, 0),
    ("segs_in", 140, 4, "", 0, 0),
    ("notsent_bytes", 144, 4, "", 0, 0),
    ("min_rtt", 148, 4, "us", 0, 0),
    ("data_segs_in", 152, 4, "", 0, 0),
    ("data_segs_out", 156, 4, "", 0, 0),
    ("delivery_rate", 160, 8, "", 0, 0),
    ("busy_time", 168, 8, "us", 0, 0),
    ("rwnd_limited", 176, 8, "us", 0, 0),
    ("sndbuf_limited", 184, 8, "us", 0, 0),
    ("delivered", 192, 4, "", 0, 0),
    ("delivered_ce", 196, 4, "", 0, 0),
    ("bytes_sent", 200, 8, "", 0, 0),
    ("bytes_retrans", 208, 8, "", 0, 0),
    ("dsack_dups", 216, 4, "", 0, 0),
    ("reord_seen", 220, 4, "", 0, 0),
    ("rcv_ooopack", 224, 4, "", 0, 0),
    ("snd_wnd", 228, 4, "", 0, 0),
    ("rcv_wnd", 232, 4, "", 0, 0),
    ("rehash", 236, 4, "", 0, 0),
    ("total_rto", 240, 2, "", 0, 0),
    ("total_rto_recoveries", 242, 2, "", 0, 0),
    ("total_rto_time", 244, 4, "ms", 0, 0),
    ("received_ce", 248, 4, "", 0, 0),
    ("delivered_e1_bytes", 252, 4, "", 0, 0),
    ("delivered_e0_bytes", 256, 4, "", 0, 0),
    ("delivered_ce_bytes", 260, 4, "", 0, 0),
    ("received_e1_bytes", 264, 4, "", 0, 0),
    ("received_e0_bytes", 268, 4, "", 0, 0),
    ("received_ce_bytes", 272, 4, "", 0, 0),
)

_MACOS_LAYOUT: tuple[_Row, ...] = (
    # <netinet/tcp.h> struct tcp_connection_info: the fields with a Linux counterpart.
    # state keeps macOS's TCPS_* numbering; rtt is tcpi_srtt; segs_* are packet counts.
    ("state", 0, 1, "", 0, 0),
    ("snd_wscale", 1, 1, "", 0, 0),
    ("rcv_wscale", 2, 1, "", 0, 0),
    ("options", 4, 4, "", 0, 0),
    ("rto", 12, 4, "ms", 0, 0),
    ("snd_mss", 16, 4, "", 0, 0),
    ("snd_ssthresh", 20, 4, "", 0, 0),
    ("snd_cwnd", 24, 4, "", 0, 0),
    ("snd_wnd", 28, 4, "", 0, 0),
    ("rcv_wnd", 36, 4, "", 0, 0),
    ("rtt", 44, 4, "ms", 0, 0),
    ("rttvar", 48, 4, "ms", 0, 0),
    ("segs_out", 56, 8, "", 0, 0),
    ("bytes_sent", 64, 8, "", 0, 0),
    ("bytes_retrans", 72, 8, "", 0, 0),
    ("segs_in", 80, 8, "", 0, 0),
    ("bytes_received", 88, 8, "", 0, 0),
    ("total_retrans", 104, 8, "", 0, 0),
)

_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3}


def _decode(raw: bytes, layout: tuple[_Row, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, offset, size, unit, shift, width in layout:
        if offset + size > len(raw):
            continue
        value = int.from_bytes(raw[offset : offset + size], sys.byteorder)
        if width:
            if sys.byteorder == "big":  # GCC allocates bit-fields from the top there
                shift = size * 8 - shift - width
            value = (value >> shift) & ((1 << width) - 1)
        values[name] = value * _UNIT_SECONDS[unit] if unit else value
    return values
