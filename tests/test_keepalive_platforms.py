"""TcpKeepalive's builders exist exactly where the platform can set the parameter per
socket (as socket2 leaves out with_interval/with_retries on OpenBSD); a parameter that
cannot be set is refused before anything changes. Other platforms are faked by handing
the rule a stand-in Socket type; .ci/cross-unix.sh compiles the C side for OpenBSD."""

from __future__ import annotations

import errno
import sys

import pytest

import pysock2
from pysock2 import Domain, Socket, Type, _pysock2, _types
from pysock2._types import TcpKeepalive

BUILDERS = ("with_time", "with_interval", "with_retries")


def socket_type(*getters: str) -> type:
    """A stand-in for the C Socket type with only these keepalive getters."""
    return type("Socket", (), {name: None for name in getters})


ALL_GETTERS = ("tcp_keepalive_time", "tcp_keepalive_interval", "tcp_keepalive_retries")


@pytest.mark.parametrize(
    "platform, getters, missing",
    [
        ("linux", ALL_GETTERS, ()),
        ("darwin", ALL_GETTERS, ()),
        ("freebsd14", ALL_GETTERS, ()),
        # Windows sets time and interval with SIO_KEEPALIVE_VALS (no getters), retries
        # with TCP_KEEPCNT.
        ("win32", ("tcp_keepalive_retries",), ()),
        # OpenBSD has none of the per-socket options.
        ("openbsd7", (), BUILDERS),
        # An idle time but no interval or count (Solaris-like).
        ("sunos5", ("tcp_keepalive_time",), ("with_interval", "with_retries")),
    ],
)
def test_builders_exist_where_the_parameter_can_be_set(platform, getters, missing) -> None:
    assert _types._keepalive_builders_missing(socket_type(*getters), platform) == missing


def test_a_missing_builder_is_absent_from_the_class() -> None:
    clone = type("TcpKeepalive", (), {n: getattr(TcpKeepalive, n) for n in BUILDERS})
    _types._remove_builders(clone, socket_type("tcp_keepalive_time"), "sunos5")
    assert hasattr(clone, "with_time")
    assert not hasattr(clone, "with_interval")
    assert not hasattr(clone, "with_retries")


def test_this_platform_has_the_builders_its_socket_can_apply() -> None:
    missing = _types._keepalive_builders_missing(_pysock2.Socket, sys.platform)
    for name in BUILDERS:
        assert hasattr(TcpKeepalive, name) == (name not in missing)
    if sys.platform.startswith(("linux", "darwin", "freebsd", "win32")):
        assert missing == ()
    keepalive = TcpKeepalive()
    for name in BUILDERS:
        if name not in missing:
            keepalive = getattr(keepalive, name)(3)
    assert keepalive == TcpKeepalive(
        time=None if "with_time" in missing else 3,
        interval=None if "with_interval" in missing else 3,
        retries=None if "with_retries" in missing else 3,
    )


@pytest.mark.skipif(
    not _types._keepalive_builders_missing(_pysock2.Socket, sys.platform),
    reason="every keepalive parameter can be set per socket here",
)
def test_an_unsettable_parameter_is_refused_before_anything_changes() -> None:
    missing = _types._keepalive_builders_missing(_pysock2.Socket, sys.platform)
    field = missing[0][len("with_") :]
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        assert sock.keepalive() is False
        with pytest.raises(OSError) as info:
            sock.set_tcp_keepalive(TcpKeepalive(**{field: 5}))
        assert info.value.errno == errno.ENOPROTOOPT
        assert sock.keepalive() is False


def test_every_parameter_is_applied_where_all_can_be_set() -> None:
    if _types._keepalive_builders_missing(_pysock2.Socket, sys.platform):
        pytest.skip("this platform cannot set every keepalive parameter")
    with Socket(Domain.IPV4, Type.STREAM) as sock:
        sock.set_tcp_keepalive(TcpKeepalive().with_time(30).with_interval(7).with_retries(4))
        assert sock.keepalive() is True
        if hasattr(pysock2.Socket, "tcp_keepalive_interval"):
            assert sock.tcp_keepalive_time() == 30.0
            assert sock.tcp_keepalive_interval() == 7.0
        assert sock.tcp_keepalive_retries() == 4
