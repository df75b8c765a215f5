"""Socket options: every socket2 accessor (and the ones pysock2 adds) set, read back, and
fed bad values. One row per option; a row whose method the platform lacks is skipped.

Like socket2's ``test!`` macro, a round trip checks that the value read back differs from
the initial one before the set, and equals the expected value after it (Linux reports
doubled buffer sizes). The tests run as root here, so privileged setters are exercised.
"""

from __future__ import annotations

import datetime
import errno
import ipaddress
import select
from typing import Any

import pytest

import pysock2
from pysock2 import Domain, Protocol, Socket, Type

from conftest import LINUX, LO_INDEX
from option_cases import CASES, Case, make_socket, require

ROUND_TRIPS = [c for c in CASES if c.getter is not None]
WRITE_ONLY = [c for c in CASES if c.getter is None]
BAD_VALUES = [
    pytest.param(c, value, exc, id=f"{c.setter}-{value!r}"[:60])
    for c in CASES
    for value, exc in c.bad
]


def by_id(cases: list[Case]) -> Any:
    return pytest.mark.parametrize("case", cases, ids=[c.id for c in cases])


@by_id(ROUND_TRIPS)
def test_set_then_get_returns_the_value(case: Case) -> None:
    require(case.setter)
    assert case.getter is not None
    with make_socket(case.socket) as sock:
        getter = getattr(sock, case.getter)
        assert getter() != case.want, "the initial value must differ for the test to mean anything"
        assert getattr(sock, case.setter)(case.value) is None
        assert getter() == case.want


@by_id(WRITE_ONLY)
def test_write_only_option_is_accepted(case: Case) -> None:
    require(case.setter)
    with make_socket(case.socket) as sock:
        assert getattr(sock, case.setter)(case.value) is None


@pytest.mark.parametrize("case, value, exc", BAD_VALUES)
def test_bad_value_raises_before_the_system_call(case: Case, value: Any, exc: type) -> None:
    require(case.setter)
    # A closed socket would answer any system call with EBADF: the error must come first.
    sock = make_socket(case.socket)
    sock.close()
    with pytest.raises(exc):
        getattr(sock, case.setter)(value)


@by_id(ROUND_TRIPS)
def test_getter_on_closed_socket_raises_ebadf(case: Case) -> None:
    assert case.getter is not None
    require(case.getter)
    sock = make_socket(case.socket)
    sock.close()
    with pytest.raises(OSError) as info:
        getattr(sock, case.getter)()
    assert info.value.errno == errno.EBADF


# ---- values with more than one form --------------------------------------------------


def test_bool_options_accept_ints_and_return_bool() -> None:
    with make_socket("tcp4") as sock:
        sock.set_reuse_address(2)  # type: ignore[arg-type]
        assert sock.reuse_address() is True
        sock.set_reuse_address(0)  # type: ignore[arg-type]
        assert sock.reuse_address() is False


def test_none_turns_linger_off() -> None:
    with make_socket("tcp4") as sock:
        sock.set_linger(5)
        sock.set_linger(None)
        assert sock.linger() is None


def test_linger_keeps_whole_seconds() -> None:
    with make_socket("tcp4") as sock:
        sock.set_linger(2.9)
        assert sock.linger() == 2.0
        sock.set_linger(0)
        assert sock.linger() == 0.0  # on, with zero seconds: close() resets the connection


@pytest.mark.parametrize("under_a_second", [0.5, 1e-9, datetime.timedelta(milliseconds=999)])
def test_a_linger_under_a_second_is_refused_not_turned_into_a_reset(under_a_second) -> None:
    with make_socket("tcp4") as sock:
        sock.set_linger(7)
        with pytest.raises(ValueError, match="whole seconds"):
            sock.set_linger(under_a_second)
        assert sock.linger() == 7.0  # unchanged: nothing reached the kernel


def test_none_clears_timeouts() -> None:
    with make_socket("tcp4") as sock:
        sock.set_read_timeout(0.5)  # a whole number of jiffies at any HZ: Linux rounds
        assert sock.read_timeout() == 0.5
        sock.set_read_timeout(None)
        assert sock.read_timeout() is None


def test_unsigned_options_take_the_full_u32_range() -> None:
    require("set_mark")
    with make_socket("tcp4") as sock:
        sock.set_mark(2**32 - 1)
        assert sock.mark() == 2**32 - 1


@pytest.mark.skipif(not hasattr(Socket, "set_tcp_user_timeout"), reason="Linux only")
def test_tcp_user_timeout_none_and_rounding() -> None:
    with make_socket("tcp4") as sock:
        sock.set_tcp_user_timeout(0.0001)  # rounds up to 1 ms: never silently "unset"
        assert sock.tcp_user_timeout() == 0.001
        sock.set_tcp_user_timeout(None)
        assert sock.tcp_user_timeout() is None
        sock.set_tcp_user_timeout(5)
        sock.set_tcp_user_timeout(0)  # zero is the system default too
        assert sock.tcp_user_timeout() is None


@pytest.mark.skipif(not hasattr(Socket, "bind_device"), reason="Linux only")
def test_bind_device_accepts_str_and_none_unbinds() -> None:
    with make_socket("udp4") as sock:
        assert sock.device() is None
        sock.bind_device("lo")
        assert sock.device() == b"lo"
        sock.bind_device(None)
        assert sock.device() is None
        sock.bind_device(bytearray(b"lo"))
        sock.bind_device(b"")  # so does an empty name
        assert sock.device() is None


@pytest.mark.skipif(not hasattr(Socket, "bind_device_by_index_v4"), reason="Linux, macOS")
def test_bind_device_by_index_none_unbinds() -> None:
    with make_socket("udp4") as sock:
        sock.bind_device_by_index_v4(LO_INDEX)
        sock.bind_device_by_index_v4(None)
        assert sock.device_index_v4() is None


@pytest.mark.skipif(not hasattr(Socket, "tcp_congestion"), reason="Linux, FreeBSD")
def test_tcp_congestion_has_no_trailing_nuls() -> None:
    with make_socket("tcp4") as sock:
        name = sock.tcp_congestion()
        assert name and not name.endswith(b"\0")
        with pytest.raises(FileNotFoundError):
            sock.set_tcp_congestion(b"no-such-cc")


def test_multicast_if_v4_accepts_ipaddress_objects() -> None:
    with make_socket("udp4") as sock:
        sock.set_multicast_if_v4(ipaddress.IPv4Address("127.0.0.1"))
        assert sock.multicast_if_v4() == ipaddress.IPv4Address("127.0.0.1")
        with pytest.raises(ValueError):
            sock.set_multicast_if_v4(ipaddress.IPv6Address("::1"))  # type: ignore[arg-type]


# ---- read-only options -----------------------------------------------------------------


def test_take_error_returns_the_pending_error_once() -> None:
    with make_socket("tcp4") as closed_port, make_socket("tcp4") as client:
        closed_port.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        client.set_nonblocking(True)
        with pytest.raises(BlockingIOError):
            client.connect(closed_port.local_addr())
        select.select([], [client], [], 5.0)  # the refusal arrives asynchronously
        assert isinstance(client.take_error(), ConnectionRefusedError)
        assert client.take_error() is None


def test_type_domain_protocol_is_listener() -> None:
    with make_socket("tcp6") as sock:
        assert sock.type() == Type.STREAM
        if hasattr(sock, "domain"):
            assert sock.domain() == Domain.IPV6
            assert sock.protocol() == Protocol.TCP
            assert sock.is_listener() is False
            sock.bind(("::1", 0))
            sock.listen(1)
            assert sock.is_listener() is True


@pytest.mark.skipif(not hasattr(Socket, "cookie"), reason="Linux only")
def test_cookie_identifies_the_socket() -> None:
    with make_socket("tcp4") as a, make_socket("tcp4") as b:
        assert a.cookie() == a.cookie() > 0
        assert a.cookie() != b.cookie()


@pytest.mark.skipif(not hasattr(Socket, "mtu_v4"), reason="Linux only")
def test_path_mtu_of_a_connected_socket() -> None:
    with make_socket("udp4") as v4, make_socket("udp6") as v6:
        with pytest.raises(OSError) as info:
            v4.mtu_v4()
        assert info.value.errno == errno.ENOTCONN
        v4.connect(("127.0.0.1", 9))
        v6.connect(("::1", 9))
        with open("/sys/class/net/lo/mtu") as f:
            lo_mtu = int(f.read())
        assert v4.mtu_v4() == min(lo_mtu, 65535)  # IPv4 packets stop at 64 KiB
        assert v6.mtu_v6() == lo_mtu


def test_tcp_keepalive_getters_read_what_set_tcp_keepalive_set() -> None:
    require("tcp_keepalive_time")
    with make_socket("tcp4") as sock:
        sock.set_tcp_keepalive(pysock2.TcpKeepalive(time=30, interval=7, retries=4))
        assert sock.keepalive() is True
        assert sock.tcp_keepalive_time() == 30.0
        assert sock.tcp_keepalive_interval() == 7.0
        assert sock.tcp_keepalive_retries() == 4


# ---- DCCP (the kernel must still have it: Linux < 6.16) -------------------------------


def test_dccp_ccid_and_read_only_options() -> None:
    require("set_dccp_ccid")
    with make_socket("dccp4") as sock:
        assert 2 in sock.dccp_available_ccids()
        sock.set_dccp_ccid(2)
        assert sock.dccp_tx_ccid() == sock.dccp_xx_ccid() == 2
        assert sock.dccp_cur_mps() >= 0


@pytest.mark.skipif(not hasattr(Socket, "dccp_service"), reason="Linux only")
@pytest.mark.parametrize(
    "getter",
    ["dccp_available_ccids", "dccp_cur_mps", "dccp_tx_ccid", "dccp_xx_ccid", "dccp_service"],
)
def test_dccp_option_on_a_tcp_socket_is_an_os_error(getter: str) -> None:
    with make_socket("tcp4") as sock:
        with pytest.raises(OSError):
            getattr(sock, getter)()


# ---- every accessor is here ------------------------------------------------------------

# socket2 0.6's option accessors (all platforms), named as pysock2 names them.
SOCKET2_OPTION_ACCESSORS = """
attach_filter bind_device bind_device_by_index_v4 bind_device_by_index_v6 broadcast
busy_poll cookie cpu_affinity dccp_available_ccids dccp_cur_mps dccp_qpolicy_txqlen
dccp_recv_cscov dccp_send_cscov dccp_server_timewait dccp_service dccp_tx_ccid
dccp_xx_ccid detach_filter device device_index_v4 device_index_v6 domain freebind_v4
freebind_v6 header_included_v4 header_included_v6 ip_transparent_v4 ip_transparent_v6
is_listener join_multicast_v4 join_multicast_v4_n join_multicast_v6 join_ssm_v4 keepalive
leave_multicast_v4 leave_multicast_v4_n leave_multicast_v6 leave_ssm_v4 linger mark
multicast_all_v4 multicast_all_v6 multicast_hops_v6 multicast_if_v4 multicast_if_v6
multicast_loop_v4 multicast_loop_v6 multicast_ttl_v4 only_v6 original_dst_v4
original_dst_v6 out_of_band_inline passcred priority protocol read_timeout
recv_buffer_size recv_hoplimit_v6 recv_tclass_v6 recv_tos_v4 reuse_address reuse_port
reuse_port_lb send_buffer_size set_broadcast set_busy_poll set_cpu_affinity set_dccp_ccid
set_dccp_qpolicy_txqlen set_dccp_recv_cscov set_dccp_send_cscov set_dccp_server_timewait
set_dccp_service set_fib set_freebind_v4 set_freebind_v6 set_header_included_v4
set_header_included_v6 set_ip_transparent_v4 set_ip_transparent_v6 set_keepalive
set_linger set_mark set_multicast_all_v4 set_multicast_all_v6 set_multicast_hops_v6
set_multicast_if_v4 set_multicast_if_v6 set_multicast_loop_v4 set_multicast_loop_v6
set_multicast_ttl_v4 set_nosigpipe set_only_v6 set_out_of_band_inline set_passcred
set_priority set_read_timeout set_recv_buffer_size set_recv_hoplimit_v6
set_recv_tclass_v6 set_recv_tos_v4 set_reuse_address set_reuse_port set_reuse_port_lb
set_send_buffer_size set_tclass_v6 set_tcp_ack_frequency set_tcp_congestion set_tcp_cork
set_tcp_keepalive set_tcp_mss set_tcp_nodelay set_tcp_notsent_lowat set_tcp_quickack
set_tcp_thin_linear_timeouts set_tcp_user_timeout set_tos_v4 set_ttl_v4
set_unicast_hops_v6 set_write_timeout take_error tclass_v6 tcp_congestion tcp_cork
tcp_keepalive_interval tcp_keepalive_retries tcp_keepalive_time tcp_mss tcp_nodelay
tcp_notsent_lowat tcp_quickack tcp_thin_linear_timeouts tcp_user_timeout tos_v4 ttl_v4
type unicast_hops_v6 write_timeout
""".split()

# Accessors with a test of their own (here, test_multicast.py, test_tcp_info.py).
DEDICATED = {
    "attach_filter",
    "detach_filter",
    "cookie",
    "dccp_available_ccids",
    "dccp_cur_mps",
    "dccp_xx_ccid",
    "domain",
    "is_listener",
    "protocol",
    "type",
    "take_error",
    "join_multicast_v4",
    "leave_multicast_v4",
    "join_multicast_v4_n",
    "leave_multicast_v4_n",
    "join_ssm_v4",
    "leave_ssm_v4",
    "join_multicast_v6",
    "leave_multicast_v6",
    "original_dst_v4",
    "original_dst_v6",
    "set_tcp_keepalive",
    "tcp_keepalive_time",
    "tcp_keepalive_interval",
    "tcp_keepalive_retries",
}

# socket2 0.6 accessors whose cfg includes Linux.
NOT_ON_LINUX = {
    "reuse_port_lb",
    "set_reuse_port_lb",
    "set_fib",
    "set_nosigpipe",
    "set_tcp_ack_frequency",
}


def test_every_socket2_accessor_has_a_test() -> None:
    tested = {c.setter for c in CASES} | {c.getter for c in CASES if c.getter} | DEDICATED
    assert set(SOCKET2_OPTION_ACCESSORS) - tested == set()


@pytest.mark.skipif(not LINUX, reason="the list is Linux's")
def test_every_socket2_linux_accessor_exists() -> None:
    missing = [
        name
        for name in SOCKET2_OPTION_ACCESSORS
        if name not in NOT_ON_LINUX and not hasattr(Socket, name)
    ]
    assert missing == []
