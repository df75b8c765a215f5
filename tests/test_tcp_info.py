"""Socket.tcp_info() (beyond socket2): the kernel's TCP statistics as a TcpInfo, with times
in float seconds and None for what the running kernel does not fill."""

from __future__ import annotations

import dataclasses
import errno
import sys

import pytest

from pysock2 import Domain, Socket, TcpInfo, Type
from pysock2._types import _LINUX_LAYOUT, _MACOS_LAYOUT

needs_tcp_info = pytest.mark.skipif(
    not hasattr(Socket, "tcp_info"), reason="TCP_INFO: Linux and macOS only"
)
TCP_ESTABLISHED, TCP_LISTEN = 1, 10  # Linux's numbering


@needs_tcp_info
@pytest.mark.skipif(sys.platform != "linux", reason="Linux's struct tcp_info")
def test_tcp_info_of_a_live_connection(tcp_pair) -> None:
    client, server = tcp_pair
    client.sendall(b"x" * 10000)
    received = 0
    while received < 10000:
        received += len(server.recv(65536))
    server.sendall(b"ok")
    assert client.recv(2) == b"ok"  # the server's ACKs for the 10000 bytes came first
    info = client.tcp_info()
    assert isinstance(info, TcpInfo)
    assert info.state == TCP_ESTABLISHED
    assert info.bytes_acked == 10000 + 1  # the SYN counts
    assert info.bytes_received == 2
    assert info.snd_mss and info.segs_out
    assert isinstance(info.rtt, float) and 0 < info.rtt < 1.0
    assert isinstance(info.rto, float) and 0.2 <= info.rto <= 120  # TCP_RTO_MIN..MAX
    assert server.tcp_info().bytes_received == 10000


@needs_tcp_info
@pytest.mark.skipif(sys.platform != "linux", reason="Linux's TCP state numbering")
def test_tcp_info_of_a_listener() -> None:
    with Socket(Domain.IPV6, Type.STREAM) as listener:
        listener.bind(("::1", 0))
        listener.listen(1)
        assert listener.tcp_info().state == TCP_LISTEN


@needs_tcp_info
def test_tcp_info_needs_a_tcp_socket() -> None:
    with Socket(Domain.IPV4, Type.DGRAM) as sock:
        with pytest.raises(OSError):
            sock.tcp_info()
    sock = Socket(Domain.IPV4, Type.STREAM)
    sock.close()
    with pytest.raises(OSError) as info:
        sock.tcp_info()
    assert info.value.errno == errno.EBADF


def linux_tcp_info_bytes() -> bytearray:
    raw = bytearray(280)
    raw[0] = TCP_ESTABLISHED
    raw[6] = 7 | (9 << 4)  # snd_wscale 7, rcv_wscale 9 (little-endian bit-fields)
    raw[7] = 1 | (2 << 1)  # delivery_rate_app_limited 1, fastopen_client_fail 2
    raw[68:72] = (1500).to_bytes(4, sys.byteorder)  # rtt: 1500 us
    raw[44:48] = (250).to_bytes(4, sys.byteorder)  # last_data_sent: 250 ms
    raw[120:128] = (2**40).to_bytes(8, sys.byteorder)  # bytes_acked
    raw[272:276] = (5).to_bytes(4, sys.byteorder)  # received_ce_bytes
    return raw


@pytest.mark.skipif(sys.byteorder != "little", reason="the bit-fields are laid out for LE")
def test_decoding_linux_struct_tcp_info() -> None:
    info = TcpInfo.from_bytes(bytes(linux_tcp_info_bytes()), platform="linux")
    assert info.state == TCP_ESTABLISHED
    assert (info.snd_wscale, info.rcv_wscale) == (7, 9)
    assert (info.delivery_rate_app_limited, info.fastopen_client_fail) == (1, 2)
    assert info.rtt == pytest.approx(0.0015)
    assert info.last_data_sent == pytest.approx(0.25)
    assert info.bytes_acked == 2**40
    assert info.received_ce_bytes == 5


def test_fields_an_older_kernel_does_not_fill_are_none() -> None:
    info = TcpInfo.from_bytes(bytes(linux_tcp_info_bytes()[:104]), platform="linux")
    assert info.total_retrans == 0  # the last field of the 104-byte (Linux 2.6) struct
    assert info.pacing_rate is None and info.received_ce_bytes is None
    assert TcpInfo.from_bytes(b"", platform="linux") == TcpInfo()


def test_decoding_macos_tcp_connection_info() -> None:
    raw = bytearray(112)
    raw[0], raw[1], raw[2] = 4, 6, 8  # TCPS_ESTABLISHED, snd/rcv window scale
    raw[44:48] = (3).to_bytes(4, sys.byteorder)  # srtt: 3 ms
    raw[64:72] = (12345).to_bytes(8, sys.byteorder)  # txbytes
    info = TcpInfo.from_bytes(bytes(raw), platform="darwin")
    assert (info.state, info.snd_wscale, info.rcv_wscale) == (4, 6, 8)
    assert info.rtt == pytest.approx(0.003)
    assert info.bytes_sent == 12345
    assert info.ca_state is None  # no counterpart on macOS


def test_tcp_info_is_frozen_and_its_layouts_name_only_its_fields() -> None:
    names = {f.name for f in dataclasses.fields(TcpInfo)}
    assert [row[0] for row in _LINUX_LAYOUT] == [f.name for f in dataclasses.fields(TcpInfo)]
    assert {row[0] for row in _MACOS_LAYOUT} <= names
    with pytest.raises(dataclasses.FrozenInstanceError):
        TcpInfo().rtt = 1.0  # type: ignore[misc]
