"""The option table shared by test_options (round trips, bad values, closed sockets),
test_properties (any value is accepted or refused with a documented error) and test_leaks
(every row in a loop): one `Case` per option, and the socket each row runs on."""

from __future__ import annotations

import datetime
import errno
import ipaddress
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from pysock2 import Domain, Protocol, Socket, Type

from conftest import LINUX, LO_INDEX


def make_socket(kind: str) -> Socket:
    """A fresh socket of a kind named in the table (tcp4, udp6, raw4, unix, dccp4, ...)."""
    if kind == "unix":
        return Socket(Domain.UNIX, Type.STREAM)
    domain = Domain.IPV4 if kind.endswith("4") else Domain.IPV6
    base = kind[:-1]
    if base == "raw":
        proto = Protocol.ICMPV4 if domain == Domain.IPV4 else Protocol.ICMPV6
        return Socket(domain, Type.RAW, proto)
    if base == "dccp":
        try:
            return Socket(domain, Type.DCCP, Protocol.DCCP)
        except OSError as exc:  # DCCP left the Linux kernel in 6.16
            if exc.errno in (errno.ESOCKTNOSUPPORT, errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT):
                pytest.skip(f"this kernel has no DCCP ({exc.strerror})")
            raise
    return Socket(domain, Type.STREAM if base == "tcp" else Type.DGRAM)


def require(name: str) -> None:
    if not hasattr(Socket, name):
        pytest.skip(f"Socket.{name} does not exist on {sys.platform}")


def congestion_algorithm() -> bytes:
    """An available algorithm other than the default, so that setting it is a change."""
    try:
        with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
            default = f.read().strip()
    except OSError:
        default = ""
    return b"cubic" if default == "reno" else b"reno"


# Bad values per kind of value: (value, the exception expected before any system call).
BOOL_BAD = (("yes", TypeError), (1.5, TypeError), (None, TypeError))
U32_BAD = (
    ("1", TypeError),
    (1.5, TypeError),
    (-1, ValueError),
    (2**32, OverflowError),
    (None, TypeError),
)
U8_BAD = (("1", TypeError), (-1, ValueError), (256, OverflowError))
NONNEG_BAD = (("1", TypeError), (2.0, TypeError), (-1, ValueError), (2**31, OverflowError))
INDEX_BAD = (("lo", TypeError), (0, ValueError), (-1, ValueError), (2**32, OverflowError))
DURATION_BAD = (
    ("10", TypeError),
    (-1, ValueError),
    (float("nan"), ValueError),
    (1e300, OverflowError),
)
TIMEOUT_BAD = DURATION_BAD + ((0, ValueError),)
MILLIS_BAD = DURATION_BAD + ((2**32 / 1000, OverflowError),)
LINGER_BAD = DURATION_BAD + ((2**31, OverflowError),)
IPV4_BAD = ((1, TypeError), ("::1", ValueError), ("localhost", ValueError))
NAME_BAD = ((1, TypeError), (b"x" * 16, ValueError), (b"l\0o", ValueError))

SAME = object()


@dataclass(frozen=True)
class Case:
    """One option: set `value` with `setter` on a `socket`, then `getter` returns
    `expected` (the value itself by default). A case without getter is write-only."""

    setter: str
    getter: str | None
    socket: str
    value: Any
    bad: tuple = ()
    expected: Any = SAME
    id: str = field(default="")

    @property
    def want(self) -> Any:
        return self.value if self.expected is SAME else self.expected


def case(
    getter: str | None,
    socket: str,
    value: Any,
    bad: tuple,
    expected: Any = SAME,
    setter: str | None = None,
) -> Case:
    setter = setter or f"set_{getter}"
    return Case(setter, getter, socket, value, bad, expected, id=setter)


BUF = 4096
CASES = [
    # ---- SOL_SOCKET ----
    case("broadcast", "udp4", True, BOOL_BAD),
    case("keepalive", "tcp4", True, BOOL_BAD),
    case("linger", "tcp4", 10, LINGER_BAD, 10.0),
    case("reuse_address", "tcp4", True, BOOL_BAD),
    case("out_of_band_inline", "tcp4", True, BOOL_BAD),
    case("recv_buffer_size", "tcp4", BUF, NONNEG_BAD, 2 * BUF if LINUX else BUF),
    case("send_buffer_size", "tcp4", BUF, NONNEG_BAD, 2 * BUF if LINUX else BUF),
    case("read_timeout", "tcp4", 10, TIMEOUT_BAD, 10.0),
    case("write_timeout", "tcp4", datetime.timedelta(seconds=2.5), TIMEOUT_BAD, 2.5),
    case("reuse_port", "tcp4", True, BOOL_BAD),
    case("reuse_port_lb", "tcp4", True, BOOL_BAD),
    case(None, "tcp4", 0, U32_BAD, setter="set_fib"),
    case(None, "tcp4", False, BOOL_BAD, setter="set_nosigpipe"),
    case("passcred", "unix", True, BOOL_BAD),
    case("priority", "tcp4", 4, U32_BAD),
    case("mark", "tcp4", 123, U32_BAD),
    case("device", "tcp4", b"lo", NAME_BAD, setter="bind_device"),
    case("device_index_v4", "tcp4", LO_INDEX, INDEX_BAD, setter="bind_device_by_index_v4"),
    case("device_index_v6", "tcp6", LO_INDEX, INDEX_BAD, setter="bind_device_by_index_v6"),
    case("cpu_affinity", "tcp4", 0, NONNEG_BAD),
    case("busy_poll", "tcp4", 100, NONNEG_BAD),
    # ---- IPPROTO_IP ----
    case("ttl_v4", "tcp4", 40, U32_BAD),
    case("tos_v4", "tcp4", 96, U32_BAD),
    case("recv_tos_v4", "udp4", True, BOOL_BAD),
    case("header_included_v4", "raw4", True, BOOL_BAD),
    case("ip_transparent_v4", "tcp4", True, BOOL_BAD),
    case("freebind_v4", "tcp4", True, BOOL_BAD),
    case("multicast_all_v4", "udp4", False, BOOL_BAD),
    case("multicast_if_v4", "udp4", "127.0.0.1", IPV4_BAD, ipaddress.IPv4Address("127.0.0.1")),
    case("multicast_loop_v4", "udp4", False, BOOL_BAD),
    case("multicast_ttl_v4", "udp4", 5, U32_BAD),
    # ---- IPPROTO_IPV6 ----
    case("only_v6", "tcp6", True, BOOL_BAD),
    case("unicast_hops_v6", "tcp6", 20, U32_BAD),
    case("multicast_hops_v6", "udp6", 20, U32_BAD),
    case("multicast_if_v6", "udp6", LO_INDEX, U32_BAD),
    case("multicast_loop_v6", "udp6", False, BOOL_BAD),
    case("tclass_v6", "tcp6", 96, U32_BAD),
    case("recv_tclass_v6", "udp6", True, BOOL_BAD),
    case("recv_hoplimit_v6", "udp6", True, BOOL_BAD),
    case("header_included_v6", "raw6", True, BOOL_BAD),
    case("ip_transparent_v6", "tcp6", True, BOOL_BAD),
    case("freebind_v6", "tcp6", True, BOOL_BAD),
    case("multicast_all_v6", "udp6", False, BOOL_BAD),
    # ---- IPPROTO_TCP ----
    case("tcp_nodelay", "tcp4", True, BOOL_BAD),
    case("tcp_mss", "tcp4", 256, U32_BAD),
    case("tcp_cork", "tcp4", True, BOOL_BAD),
    case("tcp_quickack", "tcp4", False, BOOL_BAD),
    case("tcp_thin_linear_timeouts", "tcp4", True, BOOL_BAD),
    case("tcp_user_timeout", "tcp4", 10, MILLIS_BAD, 10.0),
    case("tcp_notsent_lowat", "tcp4", 1024, U32_BAD),
    case("tcp_congestion", "tcp4", congestion_algorithm(), NAME_BAD),
    case(None, "tcp4", 2, U8_BAD, setter="set_tcp_ack_frequency"),
    # ---- SOL_DCCP ----
    case("dccp_service", "dccp4", 42, U32_BAD),
    case("dccp_server_timewait", "dccp4", True, BOOL_BAD),
    case("dccp_send_cscov", "dccp4", 4, U32_BAD),
    case("dccp_recv_cscov", "dccp4", 4, U32_BAD),
    case("dccp_qpolicy_txqlen", "dccp4", 8, U32_BAD),
    case("dccp_tx_ccid", "dccp4", 3, U8_BAD, setter="set_dccp_ccid"),
    # ---- beyond socket2 (docs/options.md) ----
    case("recv_lowat", "tcp4", 10, NONNEG_BAD),
    case("zerocopy", "tcp4", True, BOOL_BAD),
    case("timestamp", "udp4", True, BOOL_BAD),
    case("timestamp_ns", "udp4", True, BOOL_BAD),
    case("timestamping", "udp4", 0x18, U32_BAD),  # SOF_TIMESTAMPING_{RX_,}SOFTWARE
    case("exclusive_address_use", "tcp4", True, BOOL_BAD),
    case("mtu_discover_v4", "udp4", 2, NONNEG_BAD),  # IP_PMTUDISC_DO
    case("mtu_discover_v6", "udp6", 2, NONNEG_BAD),
    case("dontfrag_v4", "udp4", True, BOOL_BAD),
    case("dontfrag_v6", "udp6", True, BOOL_BAD),
    case("recv_pktinfo_v4", "udp4", True, BOOL_BAD),
    case("recv_pktinfo_v6", "udp6", True, BOOL_BAD),
    case("recv_err_v4", "udp4", True, BOOL_BAD),
    case("recv_err_v6", "udp6", True, BOOL_BAD),
    case("bind_address_no_port_v4", "tcp4", True, BOOL_BAD),
    case("unicast_if_v4", "udp4", LO_INDEX, U32_BAD),
    case("unicast_if_v6", "udp6", LO_INDEX, U32_BAD),
    case("tcp_fastopen", "tcp4", 5, NONNEG_BAD),
    case("tcp_fastopen_connect", "tcp4", True, BOOL_BAD),
    case("udp_segment", "udp4", 1200, NONNEG_BAD),
    case("udp_gro", "udp4", True, BOOL_BAD),
]
