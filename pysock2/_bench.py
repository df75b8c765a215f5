"""Side-by-side benchmarks: pysock2 vs the stdlib ``socket`` module vs C loops.

``python -m pysock2 bench`` runs the short profile (~9 s); ``python bench/run.py`` runs the
full one (~50 s). Both print a table (``--json``: the whole report as one JSON document;
``--check``: exit 1 when a target is missed); docs/performance.md explains them.

Method: every workload runs on one loopback socket pair shared by the three
implementations (pysock2 over dup()ed descriptors, C through ctypes on the stdlib
socket's descriptors), in short chunks interleaved round by round, the order rotating. A
ratio is the median over rounds of that round's ratio, so a noisy neighbour slows both
sides of it alike. The C loops (bench/ref_udp.c) are compiled at run time with the
system compiler; without a compiler or outside a source checkout the C columns are null.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from itertools import repeat

from ._batch import DatagramBatch
from ._socket import Socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar

    _Sample = TypeVar("_Sample")  # what one run of a runner returns (ns, or None: not measured)

PROFILES: dict[str, dict[str, int]] = {
    # rounds: interleaved rounds per I/O workload; *_iters: loop iterations per chunk (a
    # chunk lasts a few milliseconds); import_runs: fresh interpreters per statement.
    # echo_rounds: interleaved rounds of the asyncio echo workload, each echo_count
    # datagrams per server.
    "quick": {
        "rounds": 101,
        "rt_iters": 500,
        "batch_iters": 10,
        "gso_iters": 50,
        "import_runs": 15,
        "alloc_calls": 5000,
        "echo_rounds": 5,
        "echo_count": 10000,
    },
    "full": {
        "rounds": 601,
        "rt_iters": 500,
        "batch_iters": 10,
        "gso_iters": 50,
        "import_runs": 61,
        "alloc_calls": 20000,
        "echo_rounds": 21,
        "echo_count": 20000,
    },
}
SMALL = 64  # bytes per datagram: per-call and batch workloads
BATCH = 64  # datagrams per batch call
LARGE = 1200  # bytes per datagram: the GSO workload
SEGMENTS = 40  # datagrams per GSO send
ECHO_WINDOW = 64  # datagrams the echo load generator keeps in flight
TARGETS = {
    "roundtrip_pysock2_vs_c": ("<=", 1.12),
    "roundtrip_stdlib_vs_pysock2": (">=", 1.08),
    "batch_stdlib_vs_pysock2": (">=", 1.15),
    "batch_pysock2_vs_c": ("<=", 1.05),
    "gso_c_loop_vs_pysock2": (">=", 10.0),
    "import_pysock2_vs_socket": ("<=", 1.0),
    "echo_aio_vs_asyncio": (">=", 10.0),
    "echo_aio_vs_uvloop": (">=", 2.0),
    "echo_aio_vs_blocking_batch": (">=", 0.85),
    "echo_gso_sender_aio_vs_asyncio": (">=", 10.0),
    "echo_gso_sender_aio_vs_uvloop": (">=", 2.0),
    "echo_gso_sender_aio_vs_blocking_batch": (">=", 0.85),
}

perf_ns = time.perf_counter_ns


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the C reference


def source_dir() -> str | None:
    """bench/ of the source checkout this package sits in, if any."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(here, "bench")
    return path if os.path.isfile(os.path.join(path, "ref_udp.c")) else None


class Reference:
    """bench/ref_udp.c compiled into a temporary shared library, and bench/floor_ext.c
    (the least an extension can do per call) into an extension module."""

    def __init__(self, workdir: str) -> None:
        self.lib: Any = None
        self.udp_load: str | None = None
        self.floor: Any = None
        self.note = ""
        self.compiler = ""
        src = source_dir()
        cc = os.environ.get("CC", "cc")
        if src is None:
            self.note = "bench/ref_udp.c not found: run from a source checkout for C figures"
            return
        if shutil.which(cc) is None:
            self.note = f"no C compiler ({cc}): C figures skipped"
            return
        out = os.path.join(workdir, "ref_udp.so")
        cmd = [cc, "-O2", "-shared", "-fPIC", "-o", out, os.path.join(src, "ref_udp.c")]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            self.note = f"compiling the C reference failed: {done.stderr.strip()[:300]}"
            return
        version = subprocess.run([cc, "--version"], capture_output=True, text=True)
        self.compiler = f"{' '.join(cmd[:4])} ({version.stdout.splitlines()[0]})"
        self.lib = ctypes.CDLL(out)
        self.floor = build_floor(cc, src, workdir)
        udp_load = os.path.join(workdir, "udp_load")
        if (
            subprocess.run(
                [cc, "-O2", "-o", udp_load, os.path.join(src, "udp_load.c")], capture_output=True
            ).returncode
            == 0
        ):
            self.udp_load = udp_load
        echo = getattr(self.lib, "ref_echo", None)
        if echo is not None:
            echo.restype = ctypes.c_longlong
            echo.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        for name, args in [("ref_roundtrip", 4), ("ref_batch", 5), ("ref_gso", 5)]:
            fn = getattr(self.lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_longlong
                fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long] + [ctypes.c_int] * (
                    args - 3
                )

    def call(self, name: str, *args: int) -> int | None:
        fn = getattr(self.lib, name, None) if self.lib is not None else None
        if fn is None:
            return None
        elapsed = fn(*args)
        if elapsed < 0:
            raise RuntimeError(f"C reference {name}{args} failed ({elapsed})")
        return int(elapsed)


def build_floor(cc: str, src: str, workdir: str) -> Any:
    """The Floor type of bench/floor_ext.c, built against this interpreter, or None."""
    import importlib.machinery
    import importlib.util

    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    out = os.path.join(workdir, "floor_ext" + suffix)
    cmd = [
        cc,
        "-O2",
        "-shared",
        "-fPIC",
        "-I" + sysconfig.get_paths()["include"],
        "-o",
        out,
        os.path.join(src, "floor_ext.c"),
    ]
    if sys.platform == "darwin":
        cmd[1:1] = ["-undefined", "dynamic_lookup"]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        return None
    loader = importlib.machinery.ExtensionFileLoader("floor_ext", out)
    spec = importlib.util.spec_from_file_location("floor_ext", out, loader=loader)
    if spec is None:
        return None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module.Floor


# ---------------------------------------------------------------- sockets


class Pair:
    """A connected pair of loopback UDP sockets, seen as stdlib sockets, as pysock2
    Sockets (over dup()ed descriptors) and as raw descriptors for C."""

    def __init__(self, recv_buffer: int = 4 << 20) -> None:
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for s in (self.tx, self.rx):
            s.bind(("127.0.0.1", 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, recv_buffer)
        self.tx.connect(self.rx.getsockname())
        self.rx.connect(self.tx.getsockname())
        self.p_tx = Socket.from_fd(os.dup(self.tx.fileno()))
        self.p_rx = Socket.from_fd(os.dup(self.rx.fileno()))

    @property
    def fds(self) -> tuple[int, int]:
        return self.tx.fileno(), self.rx.fileno()

    def close(self) -> None:
        for s in (self.p_tx, self.p_rx, self.tx, self.rx):
            s.close()


def interleave(
    rounds: int, runners: Mapping[str, Callable[[], _Sample]]
) -> dict[str, list[_Sample]]:
    """Runs each runner once per round, rotating the order; per-round results. A first,
    discarded round warms caches, pages and lazily built state."""
    names = list(runners)
    for name in names:
        runners[name]()
    results: dict[str, list[_Sample]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(runners[name]())
    return results


def summarise(samples: dict[str, list[Any]], ratios: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Medians of each implementation and the median of per-round ratios."""
    out: dict[str, Any] = {"ns": {}, "ratios": {}, "ratio_of_medians": {}}
    for name, values in samples.items():
        out["ns"][name] = None if None in values else round(statistics.median(values), 2)
    for key, (num, den) in ratios.items():
        a, b = samples.get(num), samples.get(den)
        if not a or not b or None in a or None in b:
            out["ratios"][key] = out["ratio_of_medians"][key] = None
            continue
        out["ratios"][key] = round(statistics.median(x / y for x, y in zip(a, b)), 3)
        out["ratio_of_medians"][key] = round(statistics.median(a) / statistics.median(b), 3)
    out["rounds"] = len(next(iter(samples.values())))
    return out


# ---------------------------------------------------------------- workloads


def python_roundtrip(
    send: Callable[[bytes], int],
    recv_into: Callable[[memoryview], int],
    data: bytes,
    buf: memoryview,
    iters: int,
) -> int:
    """The Python loop, identical for the stdlib and pysock2: ns for `iters` trips."""
    start = perf_ns()
    for _ in repeat(None, iters):
        send(data)
        recv_into(buf)
    return perf_ns() - start


def bench_roundtrip(ref: Reference, p: dict[str, int]) -> dict[str, Any]:
    """Target 1: send + recv_into(memoryview), 64 bytes, one datagram per call."""
    pair = Pair()
    data = b"x" * SMALL
    buf = memoryview(bytearray(2048))
    iters = p["rt_iters"]
    assert pair.p_tx.send(data) == SMALL and pair.p_rx.recv_into(buf) == SMALL
    a, b = pair.fds
    runners = {
        "c": lambda: (lambda ns: None if ns is None else ns / iters)(
            ref.call("ref_roundtrip", a, b, iters, SMALL)
        ),
        "stdlib": lambda: (
            python_roundtrip(pair.tx.send, pair.rx.recv_into, data, buf, iters) / iters
        ),
        "pysock2": lambda: (
            python_roundtrip(pair.p_tx.send, pair.p_rx.recv_into, data, buf, iters) / iters
        ),
    }
    ratios = {
        "pysock2_vs_c": ("pysock2", "c"),
        "stdlib_vs_pysock2": ("stdlib", "pysock2"),
        "stdlib_vs_c": ("stdlib", "c"),
    }
    if ref.floor is not None:
        f_tx, f_rx = ref.floor(a), ref.floor(b)
        runners["floor"] = lambda: (
            python_roundtrip(f_tx.send, f_rx.recv_into, data, buf, iters) / iters
        )
        ratios.update({"floor_vs_c": ("floor", "c"), "pysock2_vs_floor": ("pysock2", "floor")})
    try:
        samples = interleave(p["rounds"], runners)
    finally:
        pair.close()
    result = summarise(samples, ratios)
    result["what"] = (
        f"ns per round trip: send {SMALL} bytes + recv_into(memoryview); floor "
        "= a minimal METH_FASTCALL extension type (bench/floor_ext.c)"
    )
    return result


def kept_blocks(
    send: Callable[[], object], receive: Callable[[], Any], calls: int
) -> tuple[float, list[Any]]:
    """Blocks still allocated per call when every result is kept alive: any object a call
    built (other than cached ones) shows up here."""
    results: list[Any] = [None] * calls
    send()
    receive()
    before = sys.getallocatedblocks()
    for i in range(calls):
        send()
        results[i] = receive()
    return (sys.getallocatedblocks() - before) / calls, results


def bench_alloc(p: dict[str, int]) -> dict[str, Any]:
    """Target 2: objects built per receive into a preallocated buffer."""
    pair = Pair()
    calls = p["alloc_calls"]
    data = b"y" * SMALL
    buf = bytearray(2048)
    batch = DatagramBatch([bytearray(2048)])
    out: dict[str, Any] = {
        "what": "Python blocks kept per call (results kept alive)",
        "calls": calls,
    }
    try:
        p_send = lambda: pair.p_tx.send(data)  # noqa: E731
        s_send = lambda: pair.tx.send(data)  # noqa: E731

        def p_recv_batch() -> int:
            n = pair.p_rx.recv_batch(batch)
            batch.address(0)
            return n

        cases = {
            "pysock2.recv_into": (p_send, lambda: pair.p_rx.recv_into(buf)),
            "pysock2.recv_from_into": (p_send, lambda: pair.p_rx.recv_from_into(buf)),
            "pysock2.recv_batch[1]+address": (p_send, p_recv_batch),
            "stdlib.recv_into": (s_send, lambda: pair.rx.recv_into(buf)),
            "stdlib.recvfrom_into": (s_send, lambda: pair.rx.recvfrom_into(buf)),
        }
        for name, (send, receive) in cases.items():
            per_call, results = kept_blocks(send, receive, calls)
            out[name] = round(per_call, 3)
            if name == "pysock2.recv_from_into":
                out["pysock2.recv_from_into.new_sockaddrs"] = len({id(r[1]) for r in results})
            if name == "pysock2.recv_batch[1]+address":
                out["pysock2.recv_batch[1]+address.new_sockaddrs"] = 1 if batch.address(0) else 0
    finally:
        batch.release()
        pair.close()
    out["targets"] = {
        "recv_into keeps no object": out["pysock2.recv_into"] <= 0.01,
        "recv_from_into keeps only its result tuple, no new SockAddr": out["pysock2.recv_from_into"]
        <= 1.01
        and out["pysock2.recv_from_into.new_sockaddrs"] == 1,
        "recv_batch with a 1-slot batch keeps no object": out["pysock2.recv_batch[1]+address"]
        <= 0.01,
    }
    return out


def python_per_datagram(
    send: Callable[[bytes], int],
    recv_into: Callable[[memoryview], int],
    data: bytes,
    buf: memoryview,
    iters: int,
    count: int,
) -> int:
    """The stdlib one-call-per-datagram loop: `count` sends, then `count` receives."""
    start = perf_ns()
    for _ in repeat(None, iters):
        for _ in repeat(None, count):
            send(data)
        for _ in repeat(None, count):
            recv_into(buf)
    return perf_ns() - start


def python_batch(
    send_batch: Callable[[DatagramBatch], int],
    recv_batch: Callable[[DatagramBatch], int],
    tx: DatagramBatch,
    rx: DatagramBatch,
    iters: int,
    count: int,
) -> int:
    start = perf_ns()
    for _ in repeat(None, iters):
        send_batch(tx)
        got = 0
        while got < count:
            got += recv_batch(rx)
    return perf_ns() - start


def bench_batch(ref: Reference, p: dict[str, int]) -> dict[str, Any]:
    """Target 3: 64-byte datagrams, BATCH per call, vs one call per datagram."""
    pair = Pair()
    data = b"z" * SMALL
    buf = memoryview(bytearray(2048))
    tx = DatagramBatch.allocate(BATCH, SMALL)
    for i in range(BATCH):
        tx.set(i, SMALL)
    tx.count = BATCH
    rx = DatagramBatch.allocate(BATCH, 2048)
    iters = p["batch_iters"]
    per = iters * BATCH
    assert pair.p_tx.send_batch(tx) == BATCH and pair.p_rx.recv_batch(rx) == BATCH
    a, b = pair.fds
    runners = {
        "c": lambda: (lambda ns: None if ns is None else ns / per)(
            ref.call("ref_batch", a, b, iters, BATCH, SMALL)
        ),
        "stdlib": lambda: (
            python_per_datagram(pair.tx.send, pair.rx.recv_into, data, buf, iters, BATCH) / per
        ),
        "pysock2": lambda: (
            python_batch(pair.p_tx.send_batch, pair.p_rx.recv_batch, tx, rx, iters, BATCH) / per
        ),
    }
    try:
        samples = interleave(p["rounds"], runners)
    finally:
        tx.release()
        rx.release()
        pair.close()
    result = summarise(
        samples, {"pysock2_vs_c": ("pysock2", "c"), "stdlib_vs_pysock2": ("stdlib", "pysock2")}
    )
    result["what"] = (
        f"ns per {SMALL}-byte datagram: pysock2 send_batch + recv_batch and C "
        f"sendmmsg + recvmmsg ({BATCH} per call) vs stdlib send + recv_into "
        "per datagram"
    )
    return result


def python_gso(sock_tx: Socket, sock_rx: Socket, data: bytes, buf: bytearray, iters: int) -> int:
    """One GSO send, one GRO receive per iteration; check_drained() afterwards proves
    every receive took a whole send (the kernel coalesced it)."""
    send_gso, recv_gro_into = sock_tx.send_gso, sock_rx.recv_gro_into
    start = perf_ns()
    for _ in repeat(None, iters):
        send_gso(data, LARGE)
        recv_gro_into(buf)
    elapsed = perf_ns() - start
    check_drained(sock_rx, buf)
    return elapsed


def check_drained(sock: Socket, buf: bytearray) -> None:
    sock.set_nonblocking(True)
    try:
        sock.recv_into(buf)
    except BlockingIOError:
        return
    finally:
        sock.set_nonblocking(False)
    raise RuntimeError("GRO did not coalesce every GSO send: the figures would be wrong")


def bench_gso(ref: Reference, p: dict[str, int]) -> dict[str, Any] | None:
    """Target 4: 1200-byte datagrams, GSO send of SEGMENTS + GRO receive, vs C sending
    and receiving one datagram per call."""
    if not hasattr(Socket, "send_gso"):
        return None
    plain, offload = Pair(), Pair()
    offload.p_rx.set_udp_gro(True)
    data = bytes(LARGE * SEGMENTS)
    buf = bytearray(65536)
    small_buf = memoryview(bytearray(2048))
    one = bytes(LARGE)
    iters, loop_iters = p["gso_iters"], p["rt_iters"]
    offload.p_tx.send_gso(data, LARGE)
    assert offload.p_rx.recv_gro_into(buf) == (len(data), LARGE), "GRO did not coalesce"
    a, b = plain.fds
    ga, gb = offload.fds
    per = iters * SEGMENTS
    runners = {
        "c_loop": lambda: (lambda ns: None if ns is None else ns / loop_iters)(
            ref.call("ref_roundtrip", a, b, loop_iters, LARGE)
        ),
        "stdlib_loop": lambda: (
            python_roundtrip(plain.tx.send, plain.rx.recv_into, one, small_buf, loop_iters)
            / loop_iters
        ),
        "pysock2_gso": lambda: python_gso(offload.p_tx, offload.p_rx, data, buf, iters) / per,
        "c_gso": lambda: (lambda ns: None if ns is None else ns / per)(
            ref.call("ref_gso", ga, gb, iters, SEGMENTS, LARGE)
        ),
    }
    try:
        samples = interleave(p["rounds"], runners)
    finally:
        plain.close()
        offload.close()
    result = summarise(
        samples,
        {
            "c_loop_vs_pysock2": ("c_loop", "pysock2_gso"),
            "stdlib_loop_vs_pysock2": ("stdlib_loop", "pysock2_gso"),
            "pysock2_vs_c_gso": ("pysock2_gso", "c_gso"),
        },
    )
    result["what"] = (
        f"ns per {LARGE}-byte datagram: pysock2 send_gso ({SEGMENTS} segments) "
        "+ recv_gro_into vs one send + recv per datagram (C, stdlib); C GSO "
        "for reference"
    )
    return result


class _EchoProtocol:
    """The plain asyncio echo protocol, the same for every event loop and transport."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        pass


def _echo_socket(kind: str) -> Any:
    """The server's socket: stdlib for asyncio's and uvloop's transports, else pysock2;
    non-blocking except for the blocking loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    if kind == "blocking" or kind in C_ECHO:
        return Socket.from_stdlib(sock)
    sock.setblocking(False)
    if kind in ("asyncio", "uvloop"):
        return sock
    ours = Socket.from_stdlib(sock)
    ours.set_nonblocking(True)
    return ours


# The pysock2.aio echo servers: kind -> create_datagram_endpoint options. aio: the
# defaults (GRO on receive and GSO on send where available); aio_no_gso: neither offload.
AIO_ECHO: dict[str, dict[str, bool]] = {
    "aio": {},
    "aio_no_gro": {"gro": False},
    "aio_no_gso": {"gro": False, "gso": False},
    "aio_uvloop": {},
}
C_ECHO = {"c": 0, "c_gso": 1, "c_gro": 2}  # ref_echo's modes (bench/ref_udp.c)
# The two senders of bench/udp_load.c: a message per datagram, or UDP_SEGMENT trains.
ECHO_SENDERS = {"per_datagram": [], "gso_sender": ["gso"]}


async def _serve_async(loop: Any, kind: str, sock: Any, done_fd: int) -> None:
    """Echoes until the load generator writes its result (done_fd turns readable)."""
    if kind in AIO_ECHO:
        from . import aio

        transport, _ = await aio.create_datagram_endpoint(
            _EchoProtocol, sock=sock, **AIO_ECHO[kind]
        )  # type: ignore[type-var]
    else:
        transport, _ = await loop.create_datagram_endpoint(_EchoProtocol, sock=sock)
    done = loop.create_future()
    loop.add_reader(done_fd, lambda: done.done() or done.set_result(None))
    try:
        await done
    finally:
        loop.remove_reader(done_fd)
        transport.close()
    await asyncio_sleep0()


async def asyncio_sleep0() -> None:
    import asyncio

    await asyncio.sleep(0)


def _serve_blocking(sock: Socket, batch: DatagramBatch) -> None:
    """pysock2's plain blocking loop: recv_batch, send_batch back to each sender; the load
    generator's empty datagram stops it."""
    recv_batch, send_batch, length = sock.recv_batch, sock.send_batch, batch.length
    while True:
        n = recv_batch(batch)
        if length(n - 1) == 0:
            batch.count = n - 1
            if n > 1:
                send_batch(batch)
            return
        send_batch(batch)


def echo_round(
    ref: Reference,
    kind: str,
    sender: str,
    loop: Any,
    batch: DatagramBatch,
    count: int,
    lost: dict[str, int],
) -> float | None:
    """Server CPU ns per datagram for one run of the load generator against `kind`."""
    c_mode = C_ECHO.get(kind)
    if (
        (loop is None and kind != "blocking" and c_mode is None)
        or ref.udp_load is None
        or (c_mode is not None and getattr(ref.lib, "ref_echo", None) is None)
    ):
        return None
    sock = _echo_socket(kind)
    port = sock.getsockname()[1] if kind in ("asyncio", "uvloop") else sock.local_addr().port()
    proc = subprocess.Popen(
        [
            ref.udp_load,
            "127.0.0.1",
            str(port),
            str(count),
            str(ECHO_WINDOW),
            str(SMALL),
            *ECHO_SENDERS[sender],
        ],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        start = time.thread_time_ns()
        if kind == "blocking":
            _serve_blocking(sock, batch)
        elif c_mode is not None:
            if ref.lib.ref_echo(sock.fileno(), batch.capacity, c_mode) < 0:
                raise RuntimeError(f"the C echo server {kind} failed")
        else:
            loop.run_until_complete(_serve_async(loop, kind, sock, proc.stdout.fileno()))
        cpu = time.thread_time_ns() - start
        echoed, missing, _elapsed = map(int, proc.stdout.read().split())
    finally:
        proc.wait()
        proc.stdout.close()
        sock.close()  # the transports closed theirs already
    key = f"{sender}:{kind}"
    lost[key] = lost.get(key, 0) + missing
    return cpu / max(echoed, 1)


# Capacity ratios of each workload, X_vs_Y = cpu(Y) / cpu(X); in each, the first three
# are the targets.
ECHO_RATIOS: dict[str, dict[str, tuple[str, str]]] = {
    "per_datagram": {
        "aio_vs_asyncio": ("asyncio", "aio"),
        "aio_vs_uvloop": ("uvloop", "aio"),
        "aio_vs_blocking_batch": ("blocking", "aio"),
        "aio_uvloop_vs_uvloop": ("uvloop", "aio_uvloop"),
        "aio_vs_aio_no_gro": ("aio_no_gro", "aio"),
        "c_vs_asyncio": ("asyncio", "c"),
        "c_gso_vs_asyncio": ("asyncio", "c_gso"),
        "aio_vs_c_gso": ("c_gso", "aio"),
        "aio_no_gso_vs_blocking_batch": ("blocking", "aio_no_gso"),
        "aio_no_gso_vs_c": ("c", "aio_no_gso"),
    },
    "gso_sender": {
        "aio_vs_asyncio": ("asyncio", "aio"),
        "aio_vs_uvloop": ("uvloop", "aio"),
        "aio_vs_blocking_batch": ("blocking", "aio"),
        "aio_no_gro_vs_asyncio": ("asyncio", "aio_no_gro"),
        "aio_vs_aio_no_gro": ("aio_no_gro", "aio"),
        "c_gso_vs_asyncio": ("asyncio", "c_gso"),
        "c_gro_vs_asyncio": ("asyncio", "c_gro"),
        "aio_vs_c_gro": ("c_gro", "aio"),
    },
}
ECHO_SERVERS = {
    "per_datagram": [
        "asyncio",
        "uvloop",
        "blocking",
        "c",
        "c_gso",
        "aio",
        "aio_no_gro",
        "aio_no_gso",
        "aio_uvloop",
    ],
    "gso_sender": ["asyncio", "uvloop", "blocking", "c", "c_gso", "c_gro", "aio", "aio_no_gro"],
}


def bench_aio_echo(ref: Reference, p: dict[str, int]) -> dict[str, Any] | None:
    """Target 6: a UDP echo server (64 B, a closed-loop C load generator keeping
    ECHO_WINDOW in flight) in asyncio's DatagramProtocol, uvloop's, pysock2.aio's
    transport (on both loops) and pysock2's blocking recv_batch/send_batch loop: server
    CPU ns per datagram (time.thread_time). C echo servers (bench/ref_udp.c) give the
    floor. Two workloads, their rounds interleaved together: the generator sending each
    datagram as its own message (the top-level figures), and sending UDP_SEGMENT trains
    ("gso_sender"), which a UDP_GRO receiver takes as one coalesced receive per train."""
    if ref.udp_load is None or not hasattr(Socket, "recv_batch") or sys.platform != "linux":
        return None
    import asyncio

    uvloop: Any
    try:
        import uvloop
    except ImportError:
        uvloop = None

    def new_loop(kind: str) -> Any:
        if kind in ("uvloop", "aio_uvloop"):
            return uvloop.new_event_loop() if uvloop else None
        return asyncio.new_event_loop() if kind == "asyncio" or kind in AIO_ECHO else None

    loops = {kind: new_loop(kind) for kind in {k for ks in ECHO_SERVERS.values() for k in ks}}
    batch = DatagramBatch.allocate(64, 2048)
    count = p.get("echo_count", 2000)  # profiles set it; a bare dict (tests) runs short
    lost: dict[str, int] = {}
    runners = {
        f"{sender}:{kind}": (
            lambda kind=kind, sender=sender: echo_round(
                ref, kind, sender, loops[kind], batch, count, lost
            )
        )
        for sender, kinds in ECHO_SERVERS.items()
        for kind in kinds
    }
    try:
        samples = interleave(p.get("echo_rounds", 5), runners)
    finally:
        batch.release()
        for loop in loops.values():
            if loop is not None:
                loop.close()
    workloads = {}
    for sender, ratios in ECHO_RATIOS.items():
        mine = {kind: samples[f"{sender}:{kind}"] for kind in ECHO_SERVERS[sender]}
        result = summarise(mine, ratios)
        result["ranges"] = {}
        for key, (b, a) in ratios.items():
            pairs = [(x, y) for x, y in zip(mine[a], mine[b]) if x is not None and y is not None]
            if len(pairs) == len(mine[a]):  # a server that could not run gives no range
                per_round = [y / x for x, y in pairs]
                result["ranges"][key] = [round(min(per_round), 3), round(max(per_round), 3)]
        result["lost"] = {kind: lost.get(f"{sender}:{kind}", 0) for kind in mine}
        workloads[sender] = result
    result = workloads["per_datagram"]
    result["gso_sender"] = workloads["gso_sender"]
    result["uvloop"] = getattr(uvloop, "__version__", None)
    result["what"] = (
        f"server CPU ns per {SMALL}-byte datagram echoed (thread_time), "
        f"{count} datagrams per run, {ECHO_WINDOW} in flight (bench/udp_load.c) "
        "sending a message per datagram (top level) or UDP_SEGMENT trains "
        "(gso_sender); ratios are capacities (the other's CPU / pysock2.aio's); "
        "aio: create_datagram_endpoint's defaults (GRO, GSO), aio_no_gro: "
        "gro=False, aio_no_gso: neither; c/c_gso/c_gro: C servers "
        "(bench/ref_udp.c)"
    )
    return result


def bench_import(p: dict[str, int]) -> dict[str, Any]:
    """Target 5: a fresh interpreter importing pysock2 vs socket (wall time, and
    -X importtime's cumulative microseconds of the top-level module)."""
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
    # As installed, pysock2 has cached bytecode like the stdlib: the warm-up round of
    # interleave() writes it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    where = subprocess.run(
        [sys.executable, "-c", "import pysock2; print(pysock2.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    out: dict[str, Any] = {"pysock2_imported_from": where}
    modes = {"default": [], "no_site": ["-S"]}
    statements = {"baseline": "pass", "socket": "import socket", "pysock2": "import pysock2"}
    for mode, flags in modes.items():
        runners = {
            name: _interpreter(flags, statement, env) for name, statement in statements.items()
        }
        samples = interleave(p["import_runs"], runners)
        wall = summarise(samples, {"pysock2_vs_socket": ("pysock2", "socket")})
        only = {
            k: round(statistics.median(v) - statistics.median(samples["baseline"]), 2)
            for k, v in samples.items()
            if k != "baseline"
        }
        out[mode] = {
            "wall_ms": wall["ns"],
            "import_only_ms": only,
            "ratio": wall["ratios"]["pysock2_vs_socket"],
            "importtime_us": importtime(flags, env, max(5, p["import_runs"] // 3)),
        }
    out["what"] = (
        "fresh interpreter: median wall ms of python -c 'import X' (interleaved) "
        "and -X importtime cumulative us; default = with site, no_site = -S"
    )
    return out


def _interpreter(flags: list[str], statement: str, env: dict[str, str]) -> Callable[[], float]:
    """A runner: ms of wall time for a fresh interpreter running `statement`."""

    def run() -> float:
        start = perf_ns()
        subprocess.run([sys.executable, *flags, "-c", statement], env=env, check=True)
        return (perf_ns() - start) / 1e6

    return run


def importtime(flags: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    values: dict[str, list[int]] = {"socket": [], "pysock2": []}
    for _ in range(runs):
        for module in values:
            done = subprocess.run(
                [sys.executable, *flags, "-X", "importtime", "-c", f"import {module}"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            for line in done.stderr.splitlines():
                parts = [x.strip() for x in line.split("|")]
                if len(parts) == 3 and parts[2] == module:
                    values[module].append(int(parts[1]))
    return {k: statistics.median(v) for k, v in values.items() if v}


# ---------------------------------------------------------------- the report


def machine(ref: Reference) -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average_at_start": load,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "c_reference": ref.compiler or ref.note,
    }


def check_targets(report: dict[str, Any]) -> dict[str, Any]:
    values = {
        "roundtrip_pysock2_vs_c": report["roundtrip"]["ratios"]["pysock2_vs_c"],
        "roundtrip_stdlib_vs_pysock2": report["roundtrip"]["ratios"]["stdlib_vs_pysock2"],
        "batch_stdlib_vs_pysock2": report["batch"]["ratios"]["stdlib_vs_pysock2"],
        "batch_pysock2_vs_c": report["batch"]["ratios"]["pysock2_vs_c"],
        "gso_c_loop_vs_pysock2": (report["gso"] or {}).get("ratios", {}).get("c_loop_vs_pysock2"),
        "import_pysock2_vs_socket": max(
            (report["import"][m]["ratio"] for m in ("default", "no_site")), default=None
        ),
    }
    echo = (report.get("aio_echo") or {}).get("ratios", {})
    values["echo_aio_vs_asyncio"] = echo.get("aio_vs_asyncio")
    values["echo_aio_vs_uvloop"] = echo.get("aio_vs_uvloop")
    values["echo_aio_vs_blocking_batch"] = echo.get("aio_vs_blocking_batch")
    trains = (report.get("aio_echo") or {}).get("gso_sender", {}).get("ratios", {})
    for name in ("asyncio", "uvloop", "blocking_batch"):
        values[f"echo_gso_sender_aio_vs_{name}"] = trains.get(f"aio_vs_{name}")
    out: dict[str, Any] = {}
    for key, (op, limit) in TARGETS.items():
        value = values[key]
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        out[key] = {"value": value, "target": f"{op} {limit}", "met": met}
    out["zero_allocation"] = {"met": all(report["alloc"]["targets"].values())}
    echo_report = report.get("aio_echo") or {}
    lost = [echo_report.get("lost"), echo_report.get("gso_sender", {}).get("lost")]
    out["echo_no_datagram_lost"] = {
        "met": None if lost[0] is None else not any(n for d in lost if d for n in d.values())
    }
    return out


def run(profile: str, rounds: int | None = None) -> dict[str, Any]:
    p = dict(PROFILES[profile])
    if rounds is not None:
        p["rounds"] = rounds
        p["import_runs"] = max(5, rounds)
    with tempfile.TemporaryDirectory(prefix="pysock2-bench-") as workdir:
        ref = Reference(workdir)
        report: dict[str, Any] = {"profile": profile, "settings": p, "machine": machine(ref)}
        started = time.monotonic()
        benches: list[tuple[str, Callable[[], dict[str, Any] | None]]] = [
            ("roundtrip", lambda: bench_roundtrip(ref, p)),
            ("alloc", lambda: bench_alloc(p)),
            ("batch", lambda: bench_batch(ref, p)),
            ("gso", lambda: bench_gso(ref, p)),
            ("aio_echo", lambda: bench_aio_echo(ref, p)),
            ("import", lambda: bench_import(p)),
        ]
        for name, fn in benches:
            log(f"pysock2 bench: {name} ...")
            report[name] = fn()
        report["seconds"] = round(time.monotonic() - started, 1)
    report["targets"] = check_targets(report)
    return report


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def format_table(report: dict[str, Any]) -> str:
    """The report as a table a person reads: ns per operation of each implementation, the
    ratios the targets are about, and every target with its verdict."""
    m = report["machine"]
    out = [
        f"pysock2 bench: {report['profile']} profile, {report['settings']['rounds']} "
        f"interleaved rounds, {report['seconds']} s",
        f"  {m['python']} on {m['platform']}; {m['cpus']} CPUs; load {m['load_average_at_start']}",
        "",
        f"{'workload (ns per operation)':<34}{'stdlib':>10}{'pysock2':>10}{'C':>10}",
    ]
    rows = [
        ("roundtrip: send + recv_into, 64 B", report["roundtrip"]["ns"], "stdlib", "pysock2", "c"),
        ("batch: 64 B datagrams, 64 per call", report["batch"]["ns"], "stdlib", "pysock2", "c"),
    ]
    if report.get("gso"):
        rows.append(
            (
                "GSO: 1200 B, 40 segments (C: loop)",
                report["gso"]["ns"],
                "stdlib_loop",
                "pysock2_gso",
                "c_loop",
            )
        )
    for label, ns, std, ours, c in rows:
        out.append(
            f"{label:<34}{_number(ns.get(std)):>10}{_number(ns.get(ours)):>10}"
            f"{_number(ns.get(c)):>10}"
        )
    imp = report["import"]["default"]
    out.append(
        f"{'import (ms, fresh interpreter)':<34}"
        f"{_number(imp['import_only_ms'].get('socket'), 1):>10}"
        f"{_number(imp['import_only_ms'].get('pysock2'), 1):>10}{'':>10}"
    )
    width = max(map(len, report["targets"])) + 2
    out += ["", f"{'target':<{width}}{'value':>9}  {'wanted':<9} verdict"]
    for key, target in report["targets"].items():
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        out.append(
            f"{key:<{width}}{_number(target.get('value'), 3):>9}  "
            f"{target.get('target', ''):<9} {verdict}"
        )
    if m.get("c_reference") and "not found" in str(m["c_reference"]):
        out.append(f"\n(C columns: {m['c_reference']})")
    out.append(
        "\nratios are medians of per-round ratios; --json prints every figure (docs/performance.md)"
    )
    return "\n".join(out)


def missed_targets(report: dict[str, Any]) -> list[str]:
    """The targets measured and missed (a target that could not be measured, such as the C
    ratios without a compiler, is not a miss)."""
    return [key for key, target in report["targets"].items() if target["met"] is False]


def main(
    argv: list[str] | None = None,
    default_profile: str = "quick",
    prog: str = "python -m pysock2 bench",
) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="pysock2 vs the stdlib socket module vs C loops: a table of the figures "
        "and of every performance target (docs/performance.md).",
    )
    parser.add_argument(
        "--full",
        action="store_const",
        const="full",
        dest="profile",
        default=default_profile,
        help="the full run (~50 s)",
    )
    parser.add_argument(
        "--quick", action="store_const", const="quick", dest="profile", help="the short run (~9 s)"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds per workload")
    parser.add_argument(
        "--json", action="store_true", help="print the whole report as one JSON document instead"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a measured target is missed"
    )
    parser.add_argument("--output", help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 5:
        parser.error("--rounds must be at least 5")
    report = run(args.profile, args.rounds)
    report["command"] = " ".join([prog] + (sys.argv[1:] if argv is None else argv))
    text = json.dumps(report, indent=2)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    from .__main__ import emit

    emit(text if args.json else format_table(report))
    missed = missed_targets(report)
    if args.check and missed:
        log(f"{prog}: missed target(s): {', '.join(missed)}")
        return 1
    return 0
