"""Kernel probes for ``python -m pysock2 info``: each feature is tried for real on loopback,
now, on this machine, because a build flag or a kernel version says little (a container's
seccomp filter, a module not loaded, a static key not switched on yet).

Every probe returns a ``Probe``: whether the feature works and one line saying why. None
waits more than about a second, and none raises: a failure is a "no" with its reason.
"""

from __future__ import annotations

import time

from . import _pysock2 as _c
from ._enums import Domain, Type
from ._socket import Socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# The longest a probe waits for a datagram that should already be there.
_WAIT = 1.0


class Probe:
    __slots__ = ("name", "works", "reason")

    def __init__(self, name: str, works: bool, reason: str) -> None:
        self.name = name
        self.works = works
        self.reason = reason

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "works": self.works, "reason": self.reason}


def _udp_pair() -> tuple[Socket, Socket]:
    """(sender, receiver) on 127.0.0.1, each connected to the other, reads time out."""
    tx, rx = Socket(Domain.IPV4, Type.DGRAM), Socket(Domain.IPV4, Type.DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        tx.bind(("127.0.0.1", 0))
        tx.connect(rx.local_addr())
        rx.connect(tx.local_addr())
        rx.set_read_timeout(_WAIT)
        return tx, rx
    except BaseException:
        tx.close()
        rx.close()
        raise


def probe_recvmmsg() -> tuple[bool, str]:
    from ._batch import DatagramBatch

    tx, rx = _udp_pair()
    with tx, rx:
        tx.send_batch([b"a", b"b", b"c"])
        count = rx.recv_batch(DatagramBatch([bytearray(8) for _ in range(4)]))
    if getattr(_c, "BATCH_NATIVE", 0):
        return True, (
            f"native recvmmsg(2)/sendmmsg(2): one recv_batch call received {count} datagrams"
        )
    return False, (
        f"fallback: this build loops recvmsg(2) per datagram (recv_batch still "
        f"works: {count} datagrams)"
    )


def probe_udp_gso() -> tuple[bool, str]:
    tx, rx = _udp_pair()
    with tx, rx:
        tx.send_gso(bytes(3000), 1000)
        sizes = [len(rx.recv(65536)) for _ in range(3)]
    if sizes == [1000, 1000, 1000]:
        return True, "one 3000-byte send_gso(segment_size=1000) arrived as 3 datagrams"
    return False, f"a 3000-byte GSO send arrived as datagrams of {sizes} bytes"


def probe_udp_gro() -> tuple[bool, str]:
    tx, rx = _udp_pair()
    with tx, rx:
        rx.set_udp_gro(True)
        tx.send_gso(bytes(3000), 1000)
        nbytes, segment = rx.recv_gro_into(bytearray(65536))
    if (nbytes, segment) == (3000, 1000):
        return True, (
            "3 segments of 1000 bytes arrived coalesced in one recv_gro_into (segment_size 1000)"
        )
    return False, (
        f"the kernel did not coalesce: the first read was {nbytes} bytes (segment_size {segment})"
    )


def probe_timestamping() -> tuple[bool, str]:
    from . import cmsg
    from ._msg import MsgHdrMut

    tx, rx = _udp_pair()
    with tx, rx:
        rx.set_timestamping(cmsg.SOF_TIMESTAMPING_RX_SOFTWARE | cmsg.SOF_TIMESTAMPING_SOFTWARE)
        # Linux turns software stamps on through a deferred update: the first datagrams
        # after the setsockopt may arrive without one.
        deadline = time.monotonic() + _WAIT
        while True:
            tx.send(b"x")
            with MsgHdrMut(buffers=[bytearray(8)], control=256) as msg:
                rx.recvmsg(msg)
                stamps = [
                    data
                    for level, kind, data in msg.control_messages()
                    if (level, kind) == (_c.SOL_SOCKET, cmsg.SCM_TIMESTAMPING)
                ]
            if stamps:
                age_ms = (time.time_ns() - cmsg.parse_timestamping_ns(stamps[0])[0]) / 1e6
                return True, (
                    f"a received datagram carried a software SCM_TIMESTAMPING "
                    f"stamp ({age_ms:.1f} ms old)"
                )
            if time.monotonic() > deadline:
                return False, f"no SCM_TIMESTAMPING message within {_WAIT:g} s"


def probe_tcp_info() -> tuple[bool, str]:
    with Socket(Domain.IPV4, Type.STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with Socket(Domain.IPV4, Type.STREAM) as client:
            client.connect(listener.local_addr())
            server, _ = listener.accept()
            with server:
                info = client.tcp_info()
    if info.state is None:
        return False, "tcp_info() returned no connection state"
    rtt = "" if info.rtt is None else f", smoothed rtt {info.rtt * 1e6:.0f} us"
    return True, f"tcp_info() on a loopback connection: state {info.state}{rtt}"


# (name, the Socket method it needs, why a build may lack it, the probe)
PROBES: tuple[tuple[str, str, str, Callable[[], tuple[bool, str]]], ...] = (
    ("recvmmsg", "recv_batch", "no batch I/O", probe_recvmmsg),
    ("UDP GSO", "send_gso", "UDP_SEGMENT is Linux only", probe_udp_gso),
    ("UDP GRO", "recv_gro_into", "UDP_GRO is Linux only", probe_udp_gro),
    ("SO_TIMESTAMPING", "set_timestamping", "Linux only", probe_timestamping),
    ("TCP_INFO", "tcp_info", "Linux and macOS only", probe_tcp_info),
)


def run_probe(name: str) -> Probe:
    """One probe by name; a missing method or an exception is a "no" and its reason."""
    _, method, lacking, probe = next(row for row in PROBES if row[0] == name)
    if not hasattr(Socket, method):
        return Probe(name, False, f"this build has no Socket.{method} ({lacking})")
    try:
        works, reason = probe()
    except Exception as error:  # a probe must never take `info` down
        reason = f"{type(error).__name__}: {error}"
        if isinstance(error, OSError) and error.errno:
            reason += " (refused by the kernel)"
        return Probe(name, False, reason)
    return Probe(name, works, reason)


def run_probes() -> list[Probe]:
    """Every probe, in order."""
    return [run_probe(row[0]) for row in PROBES]
