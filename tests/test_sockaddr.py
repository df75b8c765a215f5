"""SockAddr: construction from address-likes, accessors, equality, hashing, raw bytes."""

from __future__ import annotations

import ipaddress
import pathlib
import socket

import pytest

from pysock2 import Domain, SockAddr

from conftest import LINUX, needs_linux


class TestIPv4:
    def test_from_tuple(self):
        addr = SockAddr(("127.0.0.1", 8080))
        assert addr.is_ipv4() and not addr.is_ipv6() and not addr.is_unix()
        assert addr.family == socket.AF_INET
        assert addr.domain() is Domain.IPV4
        assert addr.as_socket() == ("127.0.0.1", 8080)
        assert addr.as_socket_ipv4() == ("127.0.0.1", 8080)
        assert addr.as_socket_ipv6() is None
        assert addr.ip() == ipaddress.IPv4Address("127.0.0.1")
        assert addr.port() == 8080

    def test_from_ipaddress_object(self):
        assert SockAddr((ipaddress.IPv4Address("10.1.2.3"), 1)) == SockAddr(("10.1.2.3", 1))

    def test_from_a_subclass_of_an_ipaddress_address(self):
        class Address(ipaddress.IPv4Address):
            pass

        assert SockAddr((Address("10.1.2.3"), 1)) == SockAddr(("10.1.2.3", 1))

    def test_raw_bytes_are_what_the_stdlib_passes_to_the_kernel(self):
        addr = SockAddr(("192.0.2.7", 443))
        raw = bytes(addr)
        assert len(raw) == addr.len == len(addr) == 16
        assert raw[2:4] == (443).to_bytes(2, "big")
        assert raw[4:8] == socket.inet_aton("192.0.2.7")
        assert memoryview(addr).readonly

    def test_repr_evaluates_back(self):
        addr = SockAddr(("127.0.0.1", 80))
        assert repr(addr) == "SockAddr(('127.0.0.1', 80))"
        assert eval(repr(addr)) == addr


class TestIPv6:
    def test_two_tuple(self):
        addr = SockAddr(("::1", 80))
        assert addr.is_ipv6()
        assert addr.domain() is Domain.IPV6
        assert addr.as_socket() == ("::1", 80, 0, 0)
        assert addr.as_socket_ipv6() == ("::1", 80, 0, 0)
        assert addr.as_socket_ipv4() is None
        assert addr.ip() == ipaddress.IPv6Address("::1")

    def test_flowinfo_and_scope_id(self):
        addr = SockAddr(("fe80::1", 9, 0x12345, 1))
        assert addr.as_socket() == ("fe80::1", 9, 0x12345, 1)

    def test_flowinfo_is_stored_in_network_order_like_the_stdlib(self):
        addr = SockAddr(("::1", 9, 0x12345, 0))
        assert bytes(addr)[4:8] == (0x12345).to_bytes(4, "big")

    def test_numeric_scope_in_text(self):
        assert SockAddr(("fe80::1%1", 9)).as_socket() == ("fe80::1", 9, 0, 1)

    def test_from_ipaddress_object(self):
        host = ipaddress.IPv6Address("2001:db8::5")
        assert SockAddr((host, 7, 0, 0)) == SockAddr(("2001:db8::5", 7))


class TestUnix:
    def test_pathname(self, tmp_path):
        path = str(tmp_path / "sock")
        addr = SockAddr.unix(path)
        assert addr.is_unix() and addr.domain() is Domain.UNIX
        assert addr.as_pathname() == path.encode()
        assert addr.as_socket() is None and addr.ip() is None and addr.port() is None
        assert not addr.is_unnamed()

    def test_str_bytes_and_pathlike_agree(self, tmp_path):
        path = tmp_path / "s"
        assert SockAddr.unix(path) == SockAddr.unix(str(path)) == SockAddr.unix(bytes(path))
        assert SockAddr(path) == SockAddr.unix(path)

    def test_length_counts_the_terminating_nul(self):
        assert len(SockAddr.unix("/tmp/x")) == len(SockAddr.unix("")) + len("/tmp/x") + 1

    def test_unnamed(self):
        addr = SockAddr.unix("")
        assert addr.is_unnamed()
        assert addr.as_pathname() is None

    def test_longest_path_fits_and_one_more_does_not(self):
        longest = "/" + "a" * 106  # sun_path is 108 bytes on Linux, 104 on macOS
        if not LINUX:
            longest = longest[:103]
        assert SockAddr.unix(longest).as_pathname() == longest.encode()
        with pytest.raises(ValueError, match="shorter than"):
            SockAddr.unix(longest + "a")

    @needs_linux
    def test_abstract_name(self):
        addr = SockAddr.abstract(b"pysock2-test")
        assert addr.as_abstract_namespace() == b"pysock2-test"
        assert addr.as_pathname() is None
        assert SockAddr.unix(b"\0pysock2-test") == addr
        assert repr(addr) == "SockAddr.abstract(b'pysock2-test')"

    @needs_linux
    def test_abstract_name_may_use_the_whole_path(self):
        assert SockAddr.abstract(b"x" * 107).as_abstract_namespace() == b"x" * 107
        with pytest.raises(ValueError):
            SockAddr.abstract(b"x" * 108)


@needs_linux
def test_vsock():
    addr = SockAddr.vsock(3, 1024)
    assert addr.as_vsock_address() == (3, 1024)
    assert addr.domain() is Domain.VSOCK
    assert SockAddr(("127.0.0.1", 1)).as_vsock_address() is None
    with pytest.raises(OverflowError):
        SockAddr.vsock(-1, 1)


class TestFromBytes:
    def test_round_trip(self):
        for addr in (SockAddr(("1.2.3.4", 5)), SockAddr(("::1", 5, 6, 7)), SockAddr.unix("/x")):
            assert SockAddr.from_bytes(bytes(addr)) == addr

    def test_too_short_for_the_family(self):
        with pytest.raises(ValueError):
            SockAddr.from_bytes(bytes(SockAddr(("1.2.3.4", 5)))[:8])

    def test_too_long(self):
        with pytest.raises(ValueError):
            SockAddr.from_bytes(b"\x02\x00" + bytes(200))

    def test_unspecified_family(self):
        with pytest.raises(ValueError, match="AF_UNSPEC"):
            SockAddr.from_bytes(bytes(16))

    def test_not_bytes_like(self):
        with pytest.raises(TypeError):
            SockAddr.from_bytes("1.2.3.4")


class TestEqualityAndHash:
    def test_equal_addresses_are_equal_and_hash_equal(self):
        a, b = SockAddr(("127.0.0.1", 1)), SockAddr(("127.0.0.1", 1))
        assert a == b and not (a != b) and hash(a) == hash(b)
        assert len({a, b}) == 1

    def test_different_ports_differ(self):
        assert SockAddr(("127.0.0.1", 1)) != SockAddr(("127.0.0.1", 2))

    def test_not_equal_to_a_tuple_and_not_ordered(self):
        addr = SockAddr(("127.0.0.1", 1))
        assert addr != ("127.0.0.1", 1)
        with pytest.raises(TypeError):
            addr < addr  # noqa: B015

    def test_immutable(self):
        addr = SockAddr(("127.0.0.1", 1))
        with pytest.raises(AttributeError):
            addr.family = 10  # type: ignore[misc]

    def test_a_sockaddr_converts_to_itself(self):
        addr = SockAddr(("127.0.0.1", 1))
        assert SockAddr(addr) == addr


class TestBadAddresses:
    @pytest.mark.parametrize("host", ["localhost", "example.com", "", "1.2.3", "::g", "1.2.3.4\0"])
    def test_names_are_never_resolved(self, host):
        with pytest.raises(ValueError, match="numeric"):
            SockAddr((host, 80))

    @pytest.mark.parametrize("port", [-1, 65536, 2**70])
    def test_port_out_of_range(self, port):
        with pytest.raises(OverflowError):
            SockAddr(("127.0.0.1", port))

    @pytest.mark.parametrize("port", ["80", 80.0, None])
    def test_port_not_an_int(self, port):
        with pytest.raises(TypeError):
            SockAddr(("127.0.0.1", port))

    def test_flowinfo_out_of_range(self):
        with pytest.raises(OverflowError):
            SockAddr(("::1", 1, 1 << 20, 0))

    def test_ipv4_takes_a_two_tuple(self):
        with pytest.raises(ValueError):
            SockAddr(("127.0.0.1", 1, 0, 0))

    @pytest.mark.parametrize(
        "bad", [("127.0.0.1",), (1, 2, 3, 4, 5), 42, None, 1.5, bytearray(b"/x")]
    )
    def test_wrong_shapes(self, bad):
        with pytest.raises(TypeError):
            SockAddr(bad)

    def test_host_of_a_wrong_type(self):
        with pytest.raises(TypeError):
            SockAddr((b"127.0.0.1", 1))

    def test_a_host_is_a_str_or_an_ipaddress_address_not_anything_that_prints_as_one(self):
        class Host:
            def __str__(self):
                return "127.0.0.1"

        for host in (Host(), ipaddress.IPv4Network("10.0.0.0/8")):
            with pytest.raises(TypeError, match="str or an ipaddress address"):
                SockAddr((host, 1))

    def test_an_ipaddress_interface_is_an_address_with_a_prefix_which_is_not_numeric(self):
        with pytest.raises(ValueError, match="numeric"):
            SockAddr((ipaddress.IPv4Interface("10.1.2.3/8"), 1))

    def test_unknown_scope_name(self):
        with pytest.raises(ValueError, match="scope"):
            SockAddr(("fe80::1%no-such-interface-xyz", 1))

    def test_nul_inside_a_unix_path(self):
        with pytest.raises(ValueError, match="NUL"):
            SockAddr.unix("/tmp/a\0b")

    def test_unix_path_of_a_wrong_type(self):
        with pytest.raises(TypeError):
            SockAddr.unix(5)


def test_pathlike_is_a_unix_path(tmp_path):
    assert SockAddr(pathlib.Path("/tmp/x")).as_pathname() == b"/tmp/x"
