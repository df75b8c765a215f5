"""pysock2.cmsg: building and parsing control messages — the layout (checked against the
stdlib's CMSG_SPACE/CMSG_LEN), malformed data, the typed helpers, real packets carrying
TOS/TTL/packet info/timestamps/GSO/GRO, and property-based round trips (hypothesis)."""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysock2 import Domain, MsgHdr, MsgHdrMut, Socket, SockRef, Type, cmsg

from conftest import needs_linux, wait_until

INT_MAX = 2**31 - 1
HEADER = cmsg.length(0)
# Every message builder of pysock2.cmsg this platform has, with its number of arguments.
BUILDERS = {
    name: (getattr(cmsg, name), arity)
    for name, arity in [
        ("build", 3),
        ("ip_tos", 1),
        ("ip_ttl", 1),
        ("ipv6_tclass", 1),
        ("ipv6_hoplimit", 1),
        ("scm_rights", 1),
        ("scm_credentials", 3),
        ("ip_pktinfo", 3),
        ("ipv6_pktinfo", 2),
        ("udp_segment", 1),
        ("space", 1),
        ("length", 1),
    ]
    if hasattr(cmsg, name)
}


class TestLayout:
    @pytest.mark.parametrize("n", [0, 1, 4, 7, 8, 12, 100])
    def test_space_and_length_match_the_stdlib(self, n):
        assert cmsg.space(n) == socket.CMSG_SPACE(n)
        assert cmsg.length(n) == socket.CMSG_LEN(n)

    def test_bad_sizes(self):
        with pytest.raises(ValueError, match="negative"):
            cmsg.space(-1)
        with pytest.raises(OverflowError):
            cmsg.length(2**40)
        with pytest.raises(TypeError):
            cmsg.space("4")

    def test_build_makes_one_aligned_message(self):
        msg = cmsg.build(1, 2, b"abc")
        assert len(msg) == cmsg.space(3)
        assert cmsg.parse(msg) == [(1, 2, b"abc")]

    def test_build_accepts_any_bytes_like_payload_and_keywords(self):
        msg = cmsg.build(level=0, type=1, data=memoryview(bytearray(b"xy")))
        assert cmsg.parse(msg) == [(0, 1, b"xy")]

    def test_build_bad_arguments(self):
        with pytest.raises(TypeError):
            cmsg.build("1", 2, b"")
        with pytest.raises(TypeError):
            cmsg.build(1, 2, "text")
        with pytest.raises(OverflowError):
            cmsg.build(2**40, 2, b"")
        with pytest.raises(TypeError, match="missing required argument 'data'"):
            cmsg.build(1, 2)

    def test_parse_concatenated_messages(self):
        control = cmsg.build(1, 1, b"") + cmsg.build(2, 2, b"x" * 5) + cmsg.build(3, 3, b"y")
        assert cmsg.parse(control) == [(1, 1, b""), (2, 2, b"xxxxx"), (3, 3, b"y")]

    def test_parse_an_unaligned_slice(self):
        backing = b"!" + cmsg.build(7, 8, b"payload")
        assert cmsg.parse(memoryview(backing)[1:]) == [(7, 8, b"payload")]

    def test_the_last_message_may_lack_its_padding(self):
        control = cmsg.build(1, 1, b"abc")
        assert cmsg.parse(control[: cmsg.length(3)]) == [(1, 1, b"abc")]

    def test_parse_of_nothing(self):
        assert cmsg.parse(b"") == []

    def test_parse_takes_a_bytes_like_object(self):
        with pytest.raises(TypeError):
            cmsg.parse("text")


def raw_header(cmsg_len: int, level: int = 1, kind: int = 1) -> bytes:
    """A control-message header with an arbitrary cmsg_len, as a hostile peer could write."""
    good = cmsg.build(level, kind, b"")
    fmt = {4: "@I", 8: "@Q"}[HEADER - 8]  # cmsg_len is what precedes level and type
    return struct.pack(fmt, cmsg_len) + good[HEADER - 8 : HEADER]


class TestMalformed:
    def test_cmsg_len_smaller_than_a_header(self):
        with pytest.raises(ValueError, match="malformed control data"):
            cmsg.parse(raw_header(HEADER - 1))

    def test_cmsg_len_past_the_end(self):
        with pytest.raises(ValueError, match="offset 0"):
            cmsg.parse(raw_header(HEADER + 100) + b"x" * 8)

    def test_huge_cmsg_len(self):
        with pytest.raises(ValueError):
            cmsg.parse(raw_header(2 ** (8 * (HEADER - 8)) - 1))

    def test_a_bad_message_after_a_good_one_names_its_offset(self):
        good = cmsg.build(1, 1, b"ok")
        with pytest.raises(ValueError, match=f"offset {len(good)}"):
            cmsg.parse(good + raw_header(0))

    def test_a_tail_shorter_than_a_header_is_ignored(self):
        assert cmsg.parse(cmsg.build(1, 1, b"x") + b"\0" * (HEADER - 1)) == [(1, 1, b"x")]

    @settings(max_examples=500, deadline=None)
    @given(st.binary(max_size=200))
    def test_arbitrary_bytes_parse_or_raise_value_error(self, data):
        try:
            messages = cmsg.parse(data)
        except ValueError:
            return
        assert sum(HEADER + len(payload) for _, _, payload in messages) <= len(data)

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=64))
    def test_typed_parsers_raise_value_error_on_any_bad_payload(self, data):
        parsers = [cmsg.parse_int, cmsg.parse_scm_rights]
        for name in (
            "parse_scm_credentials",
            "parse_ip_pktinfo",
            "parse_ipv6_pktinfo",
            "parse_timestamp",
            "parse_timestamp_ns",
            "parse_timestamping_ns",
            "parse_udp_gro",
        ):
            if hasattr(cmsg, name):
                parsers.append(getattr(cmsg, name))
        for parse in parsers:
            try:
                parse(data)
            except ValueError:
                pass


class TestTypedHelpers:
    def test_ip_tos(self):
        [(level, kind, data)] = cmsg.parse(cmsg.ip_tos(0x28))
        assert (level, kind, cmsg.parse_int(data)) == (socket.IPPROTO_IP, socket.IP_TOS, 0x28)

    def test_ip_ttl(self):
        [(level, kind, data)] = cmsg.parse(cmsg.ip_ttl(9))
        assert (level, kind, cmsg.parse_int(data)) == (socket.IPPROTO_IP, socket.IP_TTL, 9)

    def test_ipv6_tclass_and_hoplimit(self):
        [(_, kind, data)] = cmsg.parse(cmsg.ipv6_tclass(-1))
        assert (kind, cmsg.parse_int(data)) == (socket.IPV6_TCLASS, -1)
        [(_, kind, data)] = cmsg.parse(cmsg.ipv6_hoplimit(255))
        assert (kind, cmsg.parse_int(data)) == (socket.IPV6_HOPLIMIT, 255)

    def test_parse_int_reads_one_byte_or_a_c_int(self):
        assert cmsg.parse_int(b"\x2a") == 42
        assert cmsg.parse_int(struct.pack("@i", -5)) == -5
        with pytest.raises(ValueError, match="1 or 4 bytes, not 3"):
            cmsg.parse_int(b"abc")

    @pytest.mark.parametrize(
        "builder, bad",
        [
            (cmsg.ip_tos, 256),
            (cmsg.ip_tos, -1),
            (cmsg.ip_ttl, 0),
            (cmsg.ip_ttl, 256),
            (cmsg.ipv6_tclass, -2),
            (cmsg.ipv6_hoplimit, 256),
        ],
    )
    def test_integer_builders_check_the_range(self, builder, bad):
        with pytest.raises(ValueError, match="must be in"):
            builder(bad)

    def test_integer_builders_take_ints(self):
        with pytest.raises(TypeError):
            cmsg.ip_tos("8")
        with pytest.raises(TypeError):
            cmsg.ip_ttl(8.0)

    def test_scm_rights_takes_ints_and_fd_owners(self):
        with socket.socket() as std, Socket(Domain.IPV4, Type.DGRAM) as own:
            [(level, kind, data)] = cmsg.parse(cmsg.scm_rights([0, std, own]))
            assert (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
            assert cmsg.parse_scm_rights(data) == [0, std.fileno(), own.fileno()]

    def test_scm_rights_bad_arguments(self):
        with pytest.raises(ValueError, match="descriptor must be in"):
            cmsg.scm_rights([-1])
        with pytest.raises(TypeError, match="not bool"):
            cmsg.scm_rights([True])
        with pytest.raises(TypeError):
            cmsg.scm_rights(["3"])
        with pytest.raises(TypeError):
            cmsg.scm_rights(3)

    def test_parse_scm_rights_needs_whole_ints(self):
        assert cmsg.parse_scm_rights(b"") == []
        with pytest.raises(ValueError, match="whole number"):
            cmsg.parse_scm_rights(b"\0" * 6)

    @needs_linux
    def test_scm_credentials(self):
        [(level, kind, data)] = cmsg.parse(cmsg.scm_credentials(12, 34, 56))
        assert (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS)
        assert cmsg.parse_scm_credentials(data) == (12, 34, 56)
        with pytest.raises(ValueError, match="SCM_CREDENTIALS"):
            cmsg.parse_scm_credentials(data[:-1])
        with pytest.raises(ValueError, match="uid"):
            cmsg.scm_credentials(1, -1, 0)  # uid_t is unsigned

    @needs_linux
    @pytest.mark.parametrize(
        "args, exc",
        [
            ((None, 0, 0), TypeError),
            ((0, 1.5, 0), TypeError),
            ((0, 0, "0"), TypeError),
            ((2**31, 0, 0), ValueError),  # past pid_t
            ((0, 2**32, 0), ValueError),  # past uid_t
            ((0, 0, -1), ValueError),  # gid_t is unsigned
            ((-(2**63) - 1, 0, 0), ValueError),
        ],
    )
    def test_scm_credentials_bad_values(self, args, exc):
        with pytest.raises(exc, match="scm_credentials"):
            cmsg.scm_credentials(*args)

    @pytest.mark.skipif(not hasattr(cmsg, "SCM_RIGHTS"), reason="SCM_RIGHTS is Unix-only")
    def test_buffers_of_odd_shapes_are_type_errors(self):
        two_d = memoryview(bytearray(8)).cast("B", (2, 4))
        strided = memoryview(bytearray(16))[::2]
        for bad in (two_d, b"\x00\x01", bytearray(4)):
            with pytest.raises(TypeError, match="scm_rights"):
                cmsg.scm_rights(bad)  # bytes are not a list of descriptors
        with pytest.raises(TypeError, match="contiguous"):
            cmsg.parse_scm_rights(strided)

    @given(st.data())
    @settings(max_examples=300, deadline=None)
    def test_every_builder_raises_only_argument_errors(self, data):
        hostile = st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(),
            st.binary(),
            st.lists(st.integers(), max_size=3),
            st.sampled_from(["::1", "127.0.0.1", object()]),
        )
        name = data.draw(st.sampled_from(sorted(BUILDERS)))
        builder, arity = BUILDERS[name]
        args = [data.draw(hostile) for _ in range(arity)]
        try:
            result = builder(*args)
        except (TypeError, ValueError, OverflowError):
            return
        assert isinstance(result, int if name in ("space", "length") else bytes)

    @needs_linux
    def test_ip_pktinfo(self):
        [(level, kind, data)] = cmsg.parse(cmsg.ip_pktinfo(3, "10.0.0.1", "10.0.0.2"))
        assert (level, kind) == (socket.IPPROTO_IP, cmsg.IP_PKTINFO)
        info = cmsg.parse_ip_pktinfo(data)
        assert info == cmsg.IpPktInfo(
            3, ipaddress.IPv4Address("10.0.0.1"), ipaddress.IPv4Address("10.0.0.2")
        )
        assert info.ifindex == 3
        with pytest.raises(ValueError):
            cmsg.ip_pktinfo(spec_dst="::1")
        with pytest.raises(ValueError, match="IP_PKTINFO"):
            cmsg.parse_ip_pktinfo(data + b"\0")

    def test_ipv6_pktinfo(self):
        [(level, kind, data)] = cmsg.parse(cmsg.ipv6_pktinfo("fe80::1", 2))
        assert (level, kind) == (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO)
        assert cmsg.parse_ipv6_pktinfo(data) == (ipaddress.IPv6Address("fe80::1"), 2)
        with pytest.raises(ValueError):
            cmsg.ipv6_pktinfo(ifindex=-1)
        with pytest.raises(ValueError, match="IPV6_PKTINFO"):
            cmsg.parse_ipv6_pktinfo(b"")

    @needs_linux
    def test_timestamps(self):
        spec = struct.pack("@ql", 1_700_000_000, 123_456_789)
        assert cmsg.parse_timestamp_ns(spec) == 1_700_000_000_123_456_789
        assert cmsg.parse_timestamp(spec) == pytest.approx(1_700_000_000.123_456_789)
        val = struct.pack("@ql", 1_700_000_000, 250_000)
        assert cmsg.parse_timestamp_ns(val, cmsg.SCM_TIMESTAMP) == 1_700_000_000_250_000_000
        three = struct.pack("@qlqlql", 0, 0, 0, 0, 5, 6)
        assert cmsg.parse_timestamping_ns(three) == (0, 0, 5_000_000_006)
        assert cmsg.parse_timestamp_ns(three, cmsg.SCM_TIMESTAMPING) == 5_000_000_006
        with pytest.raises(ValueError, match="SCM_TIMESTAMPNS"):
            cmsg.parse_timestamp(spec[:8])
        with pytest.raises(ValueError, match="not a timestamp"):
            cmsg.parse_timestamp(spec, socket.SCM_RIGHTS)

    @needs_linux
    def test_udp_segment_and_gro(self):
        [(level, kind, data)] = cmsg.parse(cmsg.udp_segment(1400))
        assert (level, kind) == (socket.IPPROTO_UDP, cmsg.UDP_SEGMENT)
        assert cmsg.parse_udp_gro(data) == 1400
        assert cmsg.parse_udp_gro(struct.pack("@i", 1200)) == 1200
        with pytest.raises(ValueError):
            cmsg.udp_segment(0)
        with pytest.raises(ValueError, match="UDP_GRO"):
            cmsg.parse_udp_gro(b"\0" * 3)


# ---------------------------------------------------------------- real packets


@pytest.fixture
def udp_receiver():
    """A UDP socket made by the stdlib (for options pysock2 has no setter for) on
    127.0.0.1, used through a SockRef."""
    std = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    std.bind(("127.0.0.1", 0))
    yield std, SockRef(std)
    std.close()


@pytest.fixture
def udp6_receiver():
    std = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    std.bind(("::1", 0))
    yield std, SockRef(std)
    std.close()


def receive_controls(sock, room: int = 256) -> dict[tuple[int, int], bytes]:
    msg = MsgHdrMut(buffers=[bytearray(2048)], control=room)
    sock.set_read_timeout(5)
    sock.recvmsg(msg)
    return {(level, kind): data for level, kind, data in msg.control_messages()}


@needs_linux
class TestReceivedPackets:
    def test_tos_and_ttl_of_a_received_ipv4_datagram(self, udp_receiver):
        std, ref = udp_receiver
        std.setsockopt(socket.IPPROTO_IP, cmsg.IP_RECVTOS, 1)
        std.setsockopt(socket.IPPROTO_IP, cmsg.IP_RECVTTL, 1)
        with Socket(Domain.IPV4, Type.DGRAM) as sender:
            control = cmsg.ip_tos(0x28) + cmsg.ip_ttl(17)
            with MsgHdr(addr=std.getsockname(), buffers=[b"x"], control=control) as out:
                sender.sendmsg(out)
        got = receive_controls(ref)
        assert cmsg.parse_int(got[socket.IPPROTO_IP, socket.IP_TOS]) == 0x28
        assert cmsg.parse_int(got[socket.IPPROTO_IP, socket.IP_TTL]) == 17

    def test_tclass_and_hoplimit_of_a_received_ipv6_datagram(self, udp6_receiver):
        std, ref = udp6_receiver
        std.setsockopt(socket.IPPROTO_IPV6, cmsg.IPV6_RECVTCLASS, 1)
        std.setsockopt(socket.IPPROTO_IPV6, cmsg.IPV6_RECVHOPLIMIT, 1)
        with Socket(Domain.IPV6, Type.DGRAM) as sender:
            control = cmsg.ipv6_tclass(0x10) + cmsg.ipv6_hoplimit(7)
            with MsgHdr(addr=std.getsockname(), buffers=[b"x"], control=control) as out:
                sender.sendmsg(out)
        got = receive_controls(ref)
        assert cmsg.parse_int(got[socket.IPPROTO_IPV6, socket.IPV6_TCLASS]) == 0x10
        assert cmsg.parse_int(got[socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT]) == 7

    def test_ip_pktinfo_of_a_received_datagram(self, udp_receiver):
        std, ref = udp_receiver
        std.setsockopt(socket.IPPROTO_IP, cmsg.IP_PKTINFO, 1)
        with Socket(Domain.IPV4, Type.DGRAM) as sender:
            sender.send_to(b"x", std.getsockname())
        info = cmsg.parse_ip_pktinfo(receive_controls(ref)[socket.IPPROTO_IP, cmsg.IP_PKTINFO])
        assert info.addr == ipaddress.IPv4Address("127.0.0.1")
        assert info.ifindex == socket.if_nametoindex("lo")

    def test_sending_from_a_chosen_source_with_ip_pktinfo(self, udp_receiver):
        std, ref = udp_receiver
        with Socket(Domain.IPV4, Type.DGRAM) as sender:
            control = cmsg.ip_pktinfo(spec_dst="127.0.0.2")
            with MsgHdr(addr=std.getsockname(), buffers=[b"x"], control=control) as out:
                sender.sendmsg(out)
        msg = MsgHdrMut(addr=True, buffers=[bytearray(4)])
        ref.recvmsg(msg)
        assert msg.addr.as_socket()[0] == "127.0.0.2"

    def test_ipv6_pktinfo_of_a_received_datagram(self, udp6_receiver):
        std, ref = udp6_receiver
        std.setsockopt(socket.IPPROTO_IPV6, cmsg.IPV6_RECVPKTINFO, 1)
        with Socket(Domain.IPV6, Type.DGRAM) as sender:
            sender.send_to(b"x", std.getsockname()[:2])
        data = receive_controls(ref)[socket.IPPROTO_IPV6, cmsg.IPV6_PKTINFO]
        assert cmsg.parse_ipv6_pktinfo(data).addr == ipaddress.IPv6Address("::1")

    @pytest.mark.parametrize("option", ["SO_TIMESTAMPNS", "SO_TIMESTAMP"])
    def test_receive_timestamps(self, udp_receiver, option):
        std, ref = udp_receiver
        std.setsockopt(socket.SOL_SOCKET, getattr(cmsg, option), 1)
        before = time.time()
        with Socket(Domain.IPV4, Type.DGRAM) as sender:
            sender.send_to(b"x", std.getsockname())
        kind = getattr(cmsg, "SCM_" + option[3:])
        stamp = cmsg.parse_timestamp(receive_controls(ref)[socket.SOL_SOCKET, kind], kind)
        # A decoding error is off by years or by a factor of 1000, not by a minute.
        assert before - 60 < stamp < time.time() + 60

    def test_so_timestamping_software_receive_stamp(self, udp_receiver):
        std, ref = udp_receiver
        std.setsockopt(
            socket.SOL_SOCKET,
            cmsg.SO_TIMESTAMPING,
            cmsg.SOF_TIMESTAMPING_RX_SOFTWARE | cmsg.SOF_TIMESTAMPING_SOFTWARE,
        )
        before_ns = time.time_ns()
        # Linux switches software stamping on through a deferred static-key update, so
        # the first datagrams after setsockopt() may arrive without a stamp.
        got: dict = {}
        with Socket(Domain.IPV4, Type.DGRAM) as sender:

            def stamped() -> bool:
                sender.send_to(b"x", std.getsockname())
                got.update(receive_controls(ref))
                return (socket.SOL_SOCKET, cmsg.SCM_TIMESTAMPING) in got

            assert wait_until(stamped), "no SCM_TIMESTAMPING message in 5 s"
        data = got[socket.SOL_SOCKET, cmsg.SCM_TIMESTAMPING]
        software, _, hardware = cmsg.parse_timestamping_ns(data)
        assert hardware == 0  # loopback has no hardware clock
        assert before_ns - 60 * 10**9 < software < time.time_ns() + 60 * 10**9

    def test_udp_gso_sends_segments_and_gro_reports_their_size(self, udp_receiver):
        std, ref = udp_receiver
        std.setsockopt(socket.IPPROTO_UDP, cmsg.UDP_GRO, 1)
        with Socket(Domain.IPV4, Type.DGRAM) as sender:
            with MsgHdr(
                addr=std.getsockname(), buffers=[b"s" * 3000], control=cmsg.udp_segment(1000)
            ) as out:
                assert sender.sendmsg(out) == 3000
        received, segment = 0, None
        while received < 3000:  # coalesced by GRO into one buffer, or not, as the kernel likes
            msg = MsgHdrMut(buffers=[bytearray(65536)], control=cmsg.space(4))
            ref.set_read_timeout(5)
            n = ref.recvmsg(msg)
            received += n
            for level, kind, data in msg.control_messages():
                if (level, kind) == (socket.IPPROTO_UDP, cmsg.UDP_GRO):
                    segment = cmsg.parse_udp_gro(data)
            assert n % 1000 == 0
        assert segment in (None, 1000)


# ---------------------------------------------------------------- property-based round trips

levels = st.integers(min_value=-(2**31), max_value=INT_MAX)
messages = st.lists(st.tuples(levels, levels, st.binary(max_size=64)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_build_then_parse_round_trips(items):
    control = b"".join(cmsg.build(level, kind, data) for level, kind, data in items)
    assert len(control) == sum(cmsg.space(len(data)) for _, _, data in items)
    assert cmsg.parse(control) == items


typed = st.one_of(
    st.integers(0, 255).map(lambda v: (cmsg.ip_tos(v), cmsg.parse_int, v)),
    st.integers(1, 255).map(lambda v: (cmsg.ip_ttl(v), cmsg.parse_int, v)),
    st.integers(-1, 255).map(lambda v: (cmsg.ipv6_tclass(v), cmsg.parse_int, v)),
    st.integers(-1, 255).map(lambda v: (cmsg.ipv6_hoplimit(v), cmsg.parse_int, v)),
    st.lists(st.integers(0, INT_MAX), max_size=16).map(
        lambda fds: (cmsg.scm_rights(fds), cmsg.parse_scm_rights, fds)
    ),
    st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**32 - 1)).map(
        lambda t: (
            cmsg.ipv6_pktinfo(ipaddress.IPv6Address(t[1] << 96), t[0]),
            cmsg.parse_ipv6_pktinfo,
            (ipaddress.IPv6Address(t[1] << 96), t[0]),
        )
    ),
)
if hasattr(cmsg, "scm_credentials"):
    typed |= st.tuples(
        st.integers(0, INT_MAX), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)
    ).map(lambda t: (cmsg.scm_credentials(*t), cmsg.parse_scm_credentials, t))
if hasattr(cmsg, "ip_pktinfo"):
    typed |= st.tuples(
        st.integers(0, INT_MAX), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)
    ).map(
        lambda t: (
            cmsg.ip_pktinfo(t[0], ipaddress.IPv4Address(t[1]), ipaddress.IPv4Address(t[2])),
            cmsg.parse_ip_pktinfo,
            (t[0], ipaddress.IPv4Address(t[1]), ipaddress.IPv4Address(t[2])),
        )
    )
if hasattr(cmsg, "udp_segment"):
    typed |= st.integers(1, 65535).map(lambda v: (cmsg.udp_segment(v), cmsg.parse_udp_gro, v))


@settings(max_examples=300, deadline=None)
@given(st.lists(typed, max_size=6))
def test_typed_builders_and_parsers_round_trip(items):
    control = b"".join(message for message, _, _ in items)
    parsed = cmsg.parse(control)
    assert len(parsed) == len(items)
    for (_, _, data), (_, parse, value) in zip(parsed, items):
        result = parse(data)
        assert (tuple(result) if isinstance(value, tuple) else result) == value


@needs_linux
@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(1, 255)), min_size=1, max_size=4))
def test_control_messages_round_trip_through_the_kernel(pairs):
    """Random TOS/TTL messages sent by sendmsg come back, parsed, on the receiving side."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as std,
        Socket(Domain.IPV4, Type.DGRAM) as sender,
    ):
        std.bind(("127.0.0.1", 0))
        std.setsockopt(socket.IPPROTO_IP, cmsg.IP_RECVTOS, 1)
        std.setsockopt(socket.IPPROTO_IP, cmsg.IP_RECVTTL, 1)
        ref = SockRef(std)
        for tos, ttl in pairs:
            with MsgHdr(
                addr=std.getsockname(),
                buffers=[b"p"],
                control=cmsg.ip_tos(tos & 0xFC) + cmsg.ip_ttl(ttl),
            ) as out:
                sender.sendmsg(out)
        for tos, ttl in pairs:
            got = receive_controls(ref)
            assert cmsg.parse_int(got[socket.IPPROTO_IP, socket.IP_TOS]) == tos & 0xFC
            assert cmsg.parse_int(got[socket.IPPROTO_IP, socket.IP_TTL]) == ttl
        ref.close()


def test_descriptors_round_trip_through_the_kernel():
    """scm_rights -> sendmsg -> recvmsg -> take_fds gives descriptors of the same files."""
    a, b = Socket.pair(Domain.UNIX, Type.DGRAM)
    r, w = os.pipe()
    try:
        with MsgHdr(buffers=[b"x"], control=cmsg.scm_rights([r, w, r])) as out:
            a.sendmsg(out)
        msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(3 * 4))
        b.recvmsg(msg)
        fds = msg.take_fds()
        try:
            assert [os.fstat(fd).st_ino for fd in fds] == [os.fstat(fd).st_ino for fd in (r, w, r)]
        finally:
            for fd in fds:
                os.close(fd)
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()
