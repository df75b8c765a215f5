"""Random call sequences over pysock2's whole public surface, with hostile arguments.

A hypothesis `RuleBasedStateMachine` keeps a pool of sockets of every domain and type this
platform has (connected pairs, listeners, closed and shut-down ones) and calls any public
method on any of them with arguments drawn from a hostile pool: wrong types, C-limit and
huge integers, NaN/inf/negative durations, released, read-only, strided and empty buffers,
addresses valid and not. Rules with a model of their own check what matters beyond "it
did not crash": a byte stream arrives whole and in order, datagrams are never duplicated
and never longer than what was sent, a send never sends more than its buffer (the
recv_batch -> send_batch echo included), unsolicited SCM_RIGHTS never adds descriptors,
timeouts fire on time, a connect that returns has connected.

After every step: only the documented exception types were raised (SECURITY.md: OSError
subclasses from the kernel, TypeError/ValueError/OverflowError for bad arguments, plus
the IndexError/MemoryError that docs/ name for the calls that raise them), and the process
holds no descriptor that a live socket does not own.

The size of the run: PYSOCK2_STATEFUL_EXAMPLES (default 30) sequences of up to
PYSOCK2_STATEFUL_STEPS (default 40) steps; .ci/stateful.sh runs thousands under ASan+UBSan.
"""

from __future__ import annotations

import array
import datetime
import gc
import math
import os
import socket as stdlib_socket
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

import pysock2  # noqa: E402
from pysock2 import DatagramBatch, Domain, MsgHdr, MsgHdrMut, SockAddr, Socket, Type  # noqa: E402
from pysock2 import _pysock2 as C  # noqa: E402

from conftest import (  # noqa: E402
    LINUX,
    LO_INDEX,
    connected_tcp_pair,
    connected_udp_pair,
    idle_socket,
    is_closed,
    open_fds,
    pattern,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix descriptors and pairs")

EXAMPLES = int(os.environ.get("PYSOCK2_STATEFUL_EXAMPLES", "30"))
STEPS = int(os.environ.get("PYSOCK2_STATEFUL_STEPS", "40"))

ARGUMENT_ERRORS = (TypeError, ValueError, OverflowError)
DOCUMENTED = ARGUMENT_ERRORS + (OSError,)
MAX_SOCKETS = 24
SHORT = 0.02  # the timeout every blocking socket gets before a call, so nothing hangs
STATS = {"sequences": 0, "checks": 0}  # printed at the module's end (.ci/stateful.sh reports them)

# ------------------------------------------------------------------ hostile values

EDGE_INTS = [
    0,
    1,
    -1,
    2,
    7,
    255,
    256,
    1 << 15,
    65535,
    65536,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**32 - 1,
    2**32,
    2**63 - 1,
    2**63,
    -(2**63),
    2**64,
    10**30,
    -(10**30),
]
EDGE_FLOATS = [
    0.0,
    -0.0,
    1e-9,
    1e-7,
    0.001,
    0.5,
    0.999,
    1.5,
    -0.5,
    -1.0,
    1e9,
    1.8e10,
    9.2e12,
    1.8e19,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
]
EDGE_DELTAS = [
    datetime.timedelta(0),
    datetime.timedelta(microseconds=1),
    datetime.timedelta(milliseconds=5),
    datetime.timedelta(days=-1),
    datetime.timedelta.max,
    datetime.timedelta.min,
]
FLAGS = [
    0,
    C.MSG_PEEK,
    C.MSG_TRUNC,
    C.MSG_DONTWAIT,
    C.MSG_OOB,
    C.MSG_WAITALL,
    getattr(C, "MSG_ERRQUEUE", 0),
    getattr(C, "MSG_CMSG_CLOEXEC", 0),
    C.MSG_TRUNC | C.MSG_PEEK,
    C.MSG_DONTWAIT | C.MSG_TRUNC,
    -1,
    2**31 - 1,
    2**32,
]
TEXTS = st.text(alphabet="ab/.\0é%:1", max_size=8)


@dataclass(frozen=True)
class Buf:
    """A buffer made fresh at call time (a released view cannot be drawn once and reused)."""

    kind: str
    size: int


BUFFER_KINDS = [
    "bytearray",
    "bytes",
    "released",
    "readonly_view",
    "strided",
    "empty",
    "array_i",
    "cast_2d",
    "view_slice",
]


def make_buffer(spec: Buf) -> Any:
    n = spec.size
    if spec.kind == "bytearray":
        return bytearray(n)
    if spec.kind == "bytes":
        return bytes(n)
    if spec.kind == "released":
        view = memoryview(bytearray(n))
        view.release()
        return view
    if spec.kind == "readonly_view":
        return memoryview(bytes(n))
    if spec.kind == "strided":
        return memoryview(bytearray(2 * n + 1))[::2]
    if spec.kind == "empty":
        return bytearray()
    if spec.kind == "array_i":
        return array.array("i", bytes(4 * (n // 4 + 1)))
    if spec.kind == "cast_2d":
        return memoryview(bytearray(4 * (n // 4 + 1))).cast("B", (n // 4 + 1, 4))
    return memoryview(bytearray(n + 16))[8 : 8 + n]


# Loopback or invalid only: nothing a hostile call does may reach beyond this host.
ADDRESSES = [
    "127.0.0.1",
    ("127.0.0.1", 0),
    ("127.0.0.1", 1),
    ("127.0.0.1", 65536),
    ("127.0.0.1", -1),
    ("::1", 0),
    ("::1", 9, 2**20, 0),
    ("::1", 0, 0, 2**32),
    ("localhost", 80),
    ("999.1.1.1", 1),
    ("::1%lo", 0),
    ("", 0),
    (),
    ("127.0.0.1",),
    "sock-a",
    b"sock-b",
    "\0abstract",
    b"\0",
    "",
    "x" * 200,
    b"a\0b",
    SockAddr(("127.0.0.1", 0)),
    SockAddr(("::1", 0)),
]

buffers = st.builds(Buf, st.sampled_from(BUFFER_KINDS), st.sampled_from([0, 1, 7, 64, 1500, 70000]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(EDGE_INTS),
    st.integers(),
    st.sampled_from(EDGE_FLOATS),
    st.floats(),
    st.sampled_from(EDGE_DELTAS),
    TEXTS,
    st.binary(max_size=16),
    st.sampled_from(ADDRESSES),
    st.sampled_from(FLAGS),
    buffers,
    st.just(object()),
)
hostile = st.one_of(
    scalars,
    st.lists(st.one_of(buffers, scalars), max_size=4),
    st.tuples(
        st.sampled_from(EDGE_INTS),
        st.sampled_from(EDGE_INTS),
        st.sampled_from(EDGE_INTS),
        st.sampled_from(EDGE_INTS),
    ),
)
hostile_args = st.lists(hostile, max_size=3)
hostile_kwargs = st.dictionaries(
    st.sampled_from(["flags", "address", "timeout", "offset", "length", "control_size"]),
    hostile,
    max_size=1,
)


def materialize(value: Any) -> Any:
    if isinstance(value, Buf):
        return make_buffer(value)
    if isinstance(value, list):
        return [materialize(v) for v in value]
    return value


def call(fn, *args, allowed: tuple = DOCUMENTED, **kwargs) -> Any:
    """fn(*args, **kwargs); a documented exception is returned, anything else fails."""
    try:
        return fn(*args, **kwargs)
    except allowed as exc:
        return exc
    except BaseException as exc:  # the point of this suite: say which call raised what
        raise AssertionError(
            f"{getattr(fn, '__qualname__', fn)}(*{args!r}, **{kwargs!r}) raised an "
            f"undocumented {type(exc).__name__}: {exc}"
        ) from exc


# ------------------------------------------------------------------ the surface

# Methods a hostile call may not reach: they take a descriptor number on trust (taking one
# over closes somebody else's descriptor, SECURITY.md says so), or the multicast and
# congestion-control calls whose arguments are pinned to loopback/known names below.
NOT_HOSTILE = {
    "from_fd",
    "_borrow",
    "join_multicast_v4",
    "leave_multicast_v4",
    "join_multicast_v4_n",
    "leave_multicast_v4_n",
    "join_ssm_v4",
    "leave_ssm_v4",
    "join_multicast_v6",
    "leave_multicast_v6",
    "set_tcp_congestion",
    "sendfile",
}
METHODS = sorted(
    n
    for n in dir(Socket)
    if not n.startswith("_") and n not in NOT_HOSTILE and callable(getattr(Socket, n))
)
# Calls whose size argument is the caller's to choose (recv(2**40) may be MemoryError).
ALLOCATING = {"recv", "recv_from", "peek", "peek_from", "recv_out_of_band"}

KINDS = [
    "tcp4",
    "udp4",
    "tcp6",
    "udp6",
    "unix_stream",
    "unix_dgram",
    "unix_seqpacket",
    "pair_stream",
    "pair_dgram",
    "pair_seqpacket",
    "tcp_pair",
    "udp_pair",
    "listener",
    "icmp4",
    "raw_fds",
]


def _bound(kind: str) -> list[Socket]:
    if kind == "tcp_pair":
        return list(connected_tcp_pair())
    if kind == "udp_pair":
        return list(connected_udp_pair())
    if kind == "listener":
        return [idle_socket("listener")]
    if kind.startswith("pair_"):
        type_ = {"stream": Type.STREAM, "dgram": Type.DGRAM, "seqpacket": Type.SEQPACKET}[kind[5:]]
        return list(Socket.pair(Domain.UNIX, type_))
    if kind == "icmp4":  # an unprivileged ping socket where the sysctl allows it, else raw
        try:
            return [Socket(Domain.IPV4, Type.DGRAM, pysock2.Protocol.ICMPV4)]
        except OSError:
            return []
    if kind == "raw_fds":
        return list(Socket.pair_raw(Domain.UNIX, Type.STREAM))
    domain = {"4": Domain.IPV4, "6": Domain.IPV6}.get(kind[-1], Domain.UNIX)
    type_ = (
        Type.STREAM
        if "stream" in kind or kind.startswith("tcp")
        else (Type.SEQPACKET if "seqpacket" in kind else Type.DGRAM)
    )
    return [Socket(domain, type_)]


def _fds_of(result: Any):
    """Sockets and stray descriptors a call handed back, wherever they sit in its result."""
    if isinstance(result, Socket):
        yield result
    elif isinstance(result, stdlib_socket.socket):
        yield result
    elif isinstance(result, (tuple, list)):
        for item in result:
            yield from _fds_of(item)


@pytest.fixture(scope="module", autouse=True)
def report():
    start = time.monotonic()
    yield
    print(
        f"\n[test_stateful] {STATS['sequences']} sequences (examples), "
        f"{STATS['checks'] - STATS['sequences']} steps, {time.monotonic() - start:.1f} s"
    )


class Surface(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cwd = os.getcwd()
        self.tmp = tempfile.TemporaryDirectory(prefix="pysock2-stateful-")
        os.chdir(self.tmp.name)  # relative Unix paths from the hostile pool land here
        self.baseline = open_fds()
        self.sockets: list[Socket] = []
        self.stream: list[Socket] = []  # (a, b): the byte-stream model's pair, no hostile calls
        self.sent = 0  # bytes a wrote to the stream model
        self.received = 0  # bytes b consumed
        self.kind_stream = ""
        STATS["sequences"] += 1

    # -------------------------------------------------------------- bookkeeping

    def adopt(self, result: Any) -> None:
        for obj in _fds_of(result):
            if isinstance(obj, Socket):
                self.sockets.append(obj)
            else:
                obj.close()  # a stdlib socket from into_stdlib(): its descriptor is ours

    def guard(self, sock: Socket) -> None:
        """Nothing may block for long: a blocking socket gets short timeouts first."""
        if sock.closed:
            return
        try:
            if not sock.nonblocking():
                sock.set_read_timeout(SHORT)
                sock.set_write_timeout(SHORT)
        except OSError:
            pass

    def owned(self) -> set[int]:
        fds = set(self.baseline)
        for sock in self.sockets + self.stream:
            if not sock.closed:
                fds.add(sock.fileno())
        return fds

    def teardown(self) -> None:
        for sock in self.sockets + self.stream:
            sock.close()
        os.chdir(self.cwd)
        self.tmp.cleanup()
        self.check_descriptors()

    # -------------------------------------------------------------- invariants

    @invariant()
    def check_descriptors(self) -> None:
        STATS["checks"] += 1  # once after the start of a sequence, then once per step
        extra = open_fds() - self.owned()
        if extra:
            gc.collect()
            extra = {fd for fd in open_fds() - self.owned() if not is_closed(fd)}
        assert not extra, f"descriptors nobody owns: {sorted(extra)} " + ", ".join(
            f"{fd}->{os.readlink(f'/proc/self/fd/{fd}')}"
            for fd in sorted(extra)
            if os.path.exists(f"/proc/self/fd/{fd}")
        )

    # -------------------------------------------------------------- sockets

    @precondition(lambda self: len(self.sockets) < MAX_SOCKETS)
    @rule(kind=st.sampled_from(KINDS), nonblocking=st.booleans())
    def open_socket(self, kind: str, nonblocking: bool) -> None:
        for sock in _bound(kind):
            self.sockets.append(sock)
            if nonblocking:
                sock.set_nonblocking(True)

    @precondition(lambda self: len(self.sockets) < MAX_SOCKETS)
    @rule(
        args=st.lists(st.one_of(st.sampled_from([1, 2, 10, 5, 3, 4, 40, 0]), scalars), max_size=3),
        constructor=st.sampled_from(["__new__", "new_raw", "pair", "pair_raw"]),
    )
    def construct(self, args: list, constructor: str) -> None:
        args = materialize(args)
        if constructor == "__new__":
            result = call(Socket, *args)
        else:
            result = call(getattr(Socket, constructor), *args)
        self.adopt(result)

    @precondition(lambda self: self.sockets)
    @rule(
        index=st.integers(0, MAX_SOCKETS),
        name=st.sampled_from(METHODS),
        args=hostile_args,
        kwargs=hostile_kwargs,
    )
    def hostile_call(self, index: int, name: str, args: list, kwargs: dict) -> None:
        sock = self.sockets[index % len(self.sockets)]
        self.guard(sock)
        args, kwargs = materialize(args), {k: materialize(v) for k, v in kwargs.items()}
        if name == "connect_timeout":
            args = self.tame_connect_timeout(args)
        allowed = DOCUMENTED + ((MemoryError,) if name in ALLOCATING else ())
        result = call(getattr(sock, name), *args, allowed=allowed, **kwargs)
        if name == "detach" and isinstance(result, int):
            os.close(result)  # a detached descriptor is the caller's to close
        elif name in ("send", "send_to", "send_out_of_band") and isinstance(result, int) and args:
            assert 0 <= result <= memoryview(args[0]).nbytes, (name, result)
        elif (
            name in ALLOCATING
            and isinstance(result, (bytes, tuple))
            and args
            and isinstance(args[0], int)
            and not (kwargs.get("flags", 0) == C.MSG_TRUNC)
        ):
            data = result if isinstance(result, bytes) else result[0]
            assert len(data) <= args[0]
        self.adopt(result)
        if len(self.sockets) > MAX_SOCKETS * 2:  # accept()/try_clone() may add many
            for extra in self.sockets[MAX_SOCKETS:]:
                extra.close()
            del self.sockets[MAX_SOCKETS:]

    def tame_connect_timeout(self, args: list) -> list:
        """A valid long timeout goes to an address that answers at once (a refused port),
        never to one that could leave the call waiting that long."""
        if len(args) >= 2:
            t = args[1]
            seconds = t.total_seconds() if isinstance(t, datetime.timedelta) else t
            if (
                isinstance(seconds, (int, float))
                and not isinstance(seconds, bool)
                and (seconds != seconds or seconds > 0.1)
            ):
                args = [("127.0.0.1", 1)] + list(args[1:])
        return args

    @precondition(lambda self: self.sockets)
    @rule(
        index=st.integers(0, MAX_SOCKETS),
        how=st.sampled_from(["close", "shutdown", "clone", "from_fd", "stdlib"]),
    )
    def lifecycle(self, index: int, how: str) -> None:
        sock = self.sockets[index % len(self.sockets)]
        if how == "close":
            sock.close()
            sock.close()
            assert sock.closed
        elif how == "shutdown":
            call(sock.shutdown, C.SHUT_RDWR)
        elif how == "clone":
            self.adopt(call(sock.try_clone))
        elif how == "from_fd" and not sock.closed:
            self.adopt(Socket.from_fd(os.dup(sock.fileno())))
        elif how == "stdlib" and not sock.closed:
            std = sock.into_stdlib()  # the Socket gave its descriptor away
            assert sock.closed
            self.adopt(Socket.from_stdlib(std))

    @precondition(lambda self: self.sockets)
    @rule(
        index=st.integers(0, MAX_SOCKETS),
        group=st.sampled_from(["224.0.0.251", "239.1.2.3", "ff02::fb", "1.2.3.4", 7, None]),
        which=st.sampled_from(["v4", "v4_n", "ssm", "v6"]),
        leave=st.booleans(),
    )
    def multicast(self, index: int, group: Any, which: str, leave: bool) -> None:
        sock = self.sockets[index % len(self.sockets)]
        verb = "leave" if leave else "join"
        if which == "v4":
            call(getattr(sock, f"{verb}_multicast_v4"), group, "127.0.0.1")
        elif which == "v4_n":
            call(getattr(sock, f"{verb}_multicast_v4_n"), group, LO_INDEX)
        elif which == "ssm":
            call(getattr(sock, f"{verb}_ssm_v4"), "127.0.0.1", group, "127.0.0.1")
        else:
            call(getattr(sock, f"{verb}_multicast_v6"), group, LO_INDEX)

    @precondition(lambda self: self.sockets)
    @rule(
        index=st.integers(0, MAX_SOCKETS),
        offset=st.sampled_from([0, 1, -1, 2**63, 10**30, None, 0.5]),
        length=st.sampled_from([None, 0, 1, 100, -1, 2**63, 2**64, "x"]),
        file=st.sampled_from(["file", "fd", "closed_fd", "str", "none"]),
    )
    def sendfile(self, index: int, offset: Any, length: Any, file: str) -> None:
        sock = self.sockets[index % len(self.sockets)]
        self.guard(sock)
        with tempfile.TemporaryFile() as f:
            f.write(pattern(0, 4096))
            f.flush()
            target: Any = {"file": f, "fd": f.fileno(), "str": "x", "none": None}.get(file)
            if file == "closed_fd":
                r, w = os.pipe()
                os.close(r)
                os.close(w)
                target = r  # nobody holds it now: EBADF (or, in a race, some other file)
            result = call(sock.sendfile, target, offset, length)
            if isinstance(result, int):
                assert 0 <= result <= 4096
                if isinstance(length, int):
                    assert result <= length

    @rule(
        name=st.sampled_from(
            [
                "ip_tos",
                "ip_ttl",
                "ipv6_tclass",
                "ipv6_hoplimit",
                "scm_rights",
                "scm_credentials",
                "ip_pktinfo",
                "ipv6_pktinfo",
                "udp_segment",
                "build",
                "parse",
                "space",
                "length",
                "parse_int",
                "parse_scm_rights",
                "parse_scm_credentials",
                "parse_ip_pktinfo",
                "parse_ipv6_pktinfo",
                "parse_timestamp",
                "parse_timestamp_ns",
                "parse_timestamping_ns",
                "parse_udp_gro",
            ]
        ),
        args=hostile_args,
    )
    def cmsg_builder(self, name: str, args: list) -> None:
        fn = getattr(pysock2.cmsg, name, None)
        if fn is None:
            return
        args = materialize(args)
        if name == "scm_rights":  # descriptors are numbers on trust: only ones we own
            args = [
                [a for a in arg if isinstance(a, int) and a in (0, 1, 2)]
                if isinstance(arg, list)
                else arg
                for arg in args
            ]
        call(fn, *args)

    @rule(raw=st.one_of(st.binary(max_size=130), buffers), args=hostile_args)
    def sockaddr(self, raw: Any, args: list) -> None:
        raw = materialize(raw)
        addr = call(SockAddr.from_bytes, raw)
        for arg in materialize(args):
            other = call(SockAddr, arg)
            if isinstance(other, SockAddr):
                assert SockAddr.from_bytes(bytes(other)) == other or other.family == 0
        if isinstance(addr, SockAddr):
            for name in (
                "as_socket",
                "as_pathname",
                "ip",
                "port",
                "is_unnamed",
                "as_abstract_namespace",
                "as_vsock_address",
                "domain",
            ):
                if hasattr(addr, name):
                    call(getattr(addr, name))
            assert bytes(addr) == bytes(raw)

    @rule(
        slots=st.lists(st.one_of(buffers, scalars), max_size=4),
        control_size=st.sampled_from([0, 1, 64, -1, 2**31, 2**63, None, "x"]),
        count=st.sampled_from([0, 1, 2, 5, -1, 2**63, None]),
        idx=st.sampled_from([0, 1, -1, 5, 2**63]),
    )
    def batch_object(self, slots: list, control_size: Any, count: Any, idx: Any) -> None:
        batch = call(DatagramBatch, materialize(slots), control_size=control_size)
        if not isinstance(batch, DatagramBatch):
            return
        with batch:
            call(setattr, batch, "count", count)
            for method in ("length", "flags", "address", "segment_size", "control", "buffer"):
                call(getattr(batch, method), idx, allowed=DOCUMENTED + (IndexError,))
            call(batch.set, idx, count, allowed=DOCUMENTED + (IndexError,))
        call(batch.length, 0, allowed=DOCUMENTED + (IndexError,))

    @rule(
        addr=st.one_of(st.none(), st.sampled_from(ADDRESSES), scalars),
        bufs=st.lists(st.one_of(buffers, scalars), max_size=3),
        control=st.one_of(buffers, scalars),
        flags=st.sampled_from(FLAGS),
    )
    def msghdr_objects(self, addr: Any, bufs: list, control: Any, flags: int) -> None:
        for cls, args in (
            (MsgHdr, (addr, materialize(bufs), materialize(control), flags)),
            (MsgHdrMut, (bool(addr), materialize(bufs), materialize(control))),
        ):
            msg = call(cls, *args)
            if isinstance(msg, (MsgHdr, MsgHdrMut)):
                msg.release()
                msg.release()

    # -------------------------------------------------------------- models

    @precondition(lambda self: not self.stream)
    @rule(kind=st.sampled_from(["unix", "tcp"]))
    def open_stream(self, kind: str) -> None:
        self.stream = (
            _bound("tcp_pair") if kind == "tcp" else list(Socket.pair(Domain.UNIX, Type.STREAM))
        )
        for sock in self.stream:
            sock.set_nonblocking(True)
        self.sent = self.received = 0
        self.kind_stream = kind

    @precondition(lambda self: self.stream)
    @rule(
        size=st.sampled_from([1, 7, 100, 4096, 70000]),
        how=st.sampled_from(["send", "send_vectored", "sendmsg", "send_to", "send_batch"]),
    )
    def stream_send(self, size: int, how: str) -> None:
        a = self.stream[0]
        data = bytearray(pattern(self.sent, size))
        if how == "send":
            n = call(a.send, data)
        elif how == "send_vectored":
            half = size // 2
            n = call(a.send_vectored, [data[:half], memoryview(data)[half:]])
        elif how == "sendmsg":
            n = call(a.sendmsg, MsgHdr(buffers=[data]))
        elif how == "send_to":  # a connected TCP socket ignores the address (Unix: EISCONN)
            n = call(a.send_to, data, a.peer_addr())
            if self.kind_stream == "unix":
                assert isinstance(n, OSError), n
                return
        else:
            n = call(a.send_batch, [data])
            if isinstance(n, int):  # a stream takes the datagram whole or partly: not said
                return self.resync()
        if isinstance(n, OSError):
            assert isinstance(n, BlockingIOError) or self.kind_stream == "tcp", n
            return
        assert 0 <= n <= size, (how, n, size)
        self.sent += n

    def resync(self) -> None:
        """send_batch on a stream does not say how much of a datagram went: start over."""
        for sock in self.stream:
            sock.close()
        self.stream = []

    @precondition(lambda self: self.stream)
    @rule(
        size=st.sampled_from([1, 5, 64, 5000, 100000]),
        how=st.sampled_from(
            [
                "recv",
                "recv_into",
                "recv_vectored",
                "recvmsg",
                "peek",
                "peek_into",
                "recv_from",
                "recv_from_into",
                "trunc",
                "waitall",
            ]
        ),
    )
    def stream_recv(self, size: int, how: str) -> None:
        b = self.stream[1]
        buf = bytearray(size)
        expected_peek = False
        if how == "recv":
            got = call(b.recv, size)
        elif how == "recv_into":
            got = call(b.recv_into, buf)
        elif how == "recv_vectored":
            got = call(
                b.recv_vectored, [memoryview(buf)[: size // 2], memoryview(buf)[size // 2 :]]
            )
        elif how == "recvmsg":
            with MsgHdrMut(buffers=[buf]) as msg:
                got = call(b.recvmsg, msg)
        elif how in ("peek", "peek_into"):
            expected_peek = True
            got = call(b.peek, size) if how == "peek" else call(b.peek_into, buf)
        elif how == "recv_from":
            got = call(b.recv_from, size)
        elif how == "recv_from_into":
            got = call(b.recv_from_into, buf)
        elif how == "waitall":
            got = call(b.recv, size, flags=C.MSG_WAITALL | C.MSG_DONTWAIT)
        else:  # MSG_TRUNC: TCP discards the bytes; nothing may come back but zeros or data
            got = call(b.recv, size, flags=C.MSG_TRUNC)
            if isinstance(got, bytes):
                want = pattern(self.received, len(got))
                junk = [i for i, (x, y) in enumerate(zip(got, want)) if x not in (0, y)]
                assert not junk, (
                    "recv(MSG_TRUNC) returned bytes that were never sent: "
                    f"{got[junk[0] : junk[0] + 16]!r}"
                )
                self.received += len(got)
                assert self.received <= self.sent
            return
        if isinstance(got, OSError):
            assert isinstance(got, BlockingIOError), got
            return
        if isinstance(got, tuple):
            got = got[0]
        if isinstance(got, int):
            assert 0 <= got <= size
            data = bytes(buf[:got])
        else:
            data = got
        assert len(data) <= size
        assert data == pattern(self.received, len(data)), (
            "stream bytes lost, duplicated or invented"
        )
        if not expected_peek:
            self.received += len(data)
        assert self.received <= self.sent

    @rule(
        domain=st.sampled_from(["udp", "unix"]),
        sizes=st.lists(st.sampled_from([0, 1, 9, 64, 65, 300, 1400]), min_size=1, max_size=6),
        slot=st.sampled_from([1, 8, 64, 512]),
        flags=st.sampled_from([0, C.MSG_TRUNC, C.MSG_PEEK | C.MSG_TRUNC]),
        control_size=st.sampled_from([0, 64]),
    )
    def batch_echo(
        self, domain: str, sizes: list, slot: int, flags: int, control_size: int
    ) -> None:
        """recv_batch (truncating, maybe with MSG_TRUNC) then the documented echo: the peer
        gets back at most each slot's bytes, exactly those (issue 10, item 1)."""
        pair = _bound("udp_pair") if domain == "udp" else list(Socket.pair(Domain.UNIX, Type.DGRAM))
        a, b = pair
        try:
            a.set_nonblocking(True)
            b.set_nonblocking(True)
            for seq, size in enumerate(sizes):
                a.send(pattern(seq * 1000, size))
            with DatagramBatch.allocate(len(sizes), slot, control_size=control_size) as batch:
                n = call(b.recv_batch, batch, flags=flags)
                if isinstance(n, OSError):
                    return
                assert n == batch.count <= len(sizes)
                slots = []
                sent_datagrams = [pattern(seq * 1000, size) for seq, size in enumerate(sizes)]
                for i in range(n):
                    assert batch.length(i) <= slot, (
                        "length(i) beyond its slot",
                        batch.length(i),
                        slot,
                    )
                    data = bytes(batch.data(i))
                    if flags & C.MSG_PEEK:  # recvmmsg peeks the head datagram in every slot
                        assert data == sent_datagrams[0][: len(data)], (
                            "a peek holds bytes never sent"
                        )
                    else:
                        assert data == sent_datagrams[i][: len(data)], (
                            "batch slot holds bytes never sent"
                        )
                    slots.append(data)
                sent = call(b.send_batch, batch)
                if isinstance(sent, OSError):
                    return
                assert 0 <= sent <= n
            echoed = []
            while True:
                got = call(a.recv, 2048)
                if isinstance(got, OSError):
                    break
                echoed.append(got)
            assert echoed == slots[: len(echoed)], "send_batch sent other bytes than the slots held"
        finally:
            a.close()
            b.close()

    @rule(
        kind=st.sampled_from([Type.DGRAM, Type.SEQPACKET, Type.STREAM]),
        how=st.sampled_from(
            [
                "recv",
                "recv_into",
                "recv_from",
                "recv_vectored",
                "recv_batch",
                "recv_gro_into",
                "recv_gro_from_into",
                "recvmsg",
                "recvmsg_release",
                "recvmsg_dropped",
                "peek",
                "recv_trunc",
            ]
        ),
        nfds=st.sampled_from([1, 3, 60]),
        control_size=st.sampled_from([0, 17, 20, 22, 64, 4096]),
        creds=st.booleans(),
        passcred=st.booleans(),
    )
    def unsolicited_control(
        self, kind: Any, how: str, nfds: int, control_size: int, creds: bool, passcred: bool
    ) -> None:
        """A peer sends descriptors (and credentials) nobody asked for: whatever receive path
        takes the message, with a control buffer too small for them all (MSG_CTRUNC) or
        none, no descriptor is left behind in this process."""
        a, b = Socket.pair(Domain.UNIX, kind)
        r, w = os.pipe()
        try:
            b.set_nonblocking(True)
            if passcred:
                b.set_passcred(True)
            control = pysock2.cmsg.scm_rights([r] * nfds)
            if creds and LINUX:
                control += pysock2.cmsg.scm_credentials(os.getpid(), os.getuid(), os.getgid())
            assert a.sendmsg(MsgHdr(buffers=[b"payload"], control=control)) == 7
            buf = bytearray(3 if how == "recv_trunc" else 64)
            if how in ("recv", "peek", "recv_trunc"):
                flags = {"recv": 0, "peek": C.MSG_PEEK, "recv_trunc": C.MSG_TRUNC}[how]
                call(b.recv, len(buf), flags=flags)
            elif how == "recv_into":
                call(b.recv_into, buf)
            elif how == "recv_from":
                call(b.recv_from, 64)
            elif how == "recv_vectored":
                call(b.recv_vectored, [buf])
            elif how == "recv_batch":
                with DatagramBatch.allocate(2, 64, control_size=control_size) as batch:
                    call(b.recv_batch, batch)
            elif how.startswith("recv_gro"):
                call(getattr(b, how), buf)
            elif how == "recvmsg_dropped":  # never released: its finalizer closes them
                with warnings.catch_warnings():  # with the ResourceWarning docs/messages.md names
                    warnings.simplefilter("ignore", ResourceWarning)
                    msg = MsgHdrMut(buffers=[buf], control=control_size or None)
                    call(b.recvmsg, msg)
                    del msg
            else:
                with MsgHdrMut(buffers=[buf], control=control_size or None) as msg:
                    got = call(b.recvmsg, msg)
                    if how == "recvmsg" and isinstance(got, int):
                        for fd in msg.take_fds():
                            assert not os.get_inheritable(fd)
                            os.close(fd)
        finally:
            os.close(r)
            os.close(w)
            a.close()
            b.close()

    @rule(
        timeout=st.sampled_from([0.001, 0.02, 0.05, datetime.timedelta(milliseconds=30), 1e-7]),
        which=st.sampled_from(
            ["recv", "recv_into", "recv_batch", "recvmsg", "accept", "recv_gro_into"]
        ),
    )
    def timed_wait(self, timeout: Any, which: str) -> None:
        """A blocking wait with a read timeout ends with TimeoutError, near its deadline."""
        seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else timeout
        with idle_socket("listener" if which == "accept" else "udp") as sock:
            sock.set_read_timeout(timeout)
            start = time.monotonic()
            if which == "recv_batch":
                with DatagramBatch.allocate(2, 16) as batch:
                    got = call(sock.recv_batch, batch)
            elif which == "recvmsg":
                with MsgHdrMut(buffers=[bytearray(8)]) as msg:
                    got = call(sock.recvmsg, msg)
            elif which in ("recv_into", "recv_gro_into"):
                got = call(getattr(sock, which), bytearray(8))
            else:
                got = call(getattr(sock, which), *([8] if which == "recv" else []))
            elapsed = time.monotonic() - start
            assert isinstance(got, TimeoutError), f"{which} with a read timeout: {got!r}"
            # Generous: a loaded 2-core machine. What this catches is a lost deadline.
            assert elapsed < 5 * max(seconds, 0.001) + 1.0, (which, elapsed)

    @rule(
        timeout=st.sampled_from([0.02, datetime.timedelta(milliseconds=20)]),
        how=st.sampled_from(["connect_timeout", "blocking", "write_timeout"]),
    )
    def unix_backlog_full(self, timeout: Any, how: str) -> None:
        """Connecting to an AF_UNIX listener whose backlog is full: a connect that returns
        has connected (issue 10 items 3, 9); a timeout is TimeoutError."""
        path = os.path.join(self.tmp.name, "full")
        listener = Socket(Domain.UNIX, Type.STREAM)
        fillers = []
        try:
            listener.bind(path)
            listener.listen(0)
            while len(fillers) < 64:
                filler = Socket(Domain.UNIX, Type.STREAM)
                fillers.append(filler)
                filler.set_nonblocking(True)
                if isinstance(call(filler.connect, path), OSError):
                    break
            with Socket(Domain.UNIX, Type.STREAM) as sock:
                if how == "connect_timeout":
                    got = call(sock.connect_timeout, path, timeout)
                elif how == "write_timeout":
                    sock.set_write_timeout(timeout)
                    got = call(sock.connect, path)
                else:
                    sock.set_nonblocking(True)
                    got = call(sock.connect, path)
                    assert isinstance(got, BlockingIOError), got
                    return
                if got is None:
                    assert isinstance(call(sock.peer_addr), SockAddr), (
                        f"{how} returned but the socket is not connected"
                    )
                else:
                    assert isinstance(got, TimeoutError), f"{how} on a full backlog: {got!r}"
        finally:
            for filler in fillers:
                filler.close()
            listener.close()
            if os.path.exists(path):
                os.unlink(path)


Surface.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize="PYSOCK2_STATEFUL_EXAMPLES" not in os.environ,
)
TestSurface = Surface.TestCase
