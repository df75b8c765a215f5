#!/usr/bin/env python3
"""Per-call cost of two builds of the extension, side by side in one process:

    python bench/ab.py OLD_BUILD_DIR NEW_BUILD_DIR [--rounds N] [--calls N]

Each directory holds a built ``pysock2/_pysock2*.so`` (``setup.py build_ext --build-lib
DIR``). Both are loaded under different package names; every workload (a send and a
receive on a loopback UDP pair) runs in chunks of --calls iterations, the two builds
interleaved round by round with the order alternating. Prints, per workload, the median
ns per iteration of each build, the median of the per-round ratios new/old and its range.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import socket
import statistics
import sys
import time


def load(build_dir: str, alias: str):
    paths = glob.glob(os.path.join(build_dir, "pysock2", "_pysock2*.so")) + glob.glob(
        os.path.join(build_dir, "pysock2", "_pysock2*.pyd")
    )
    if not paths:
        sys.exit(f"no built extension under {build_dir}/pysock2")
    spec = importlib.util.spec_from_file_location(f"{alias}._pysock2", paths[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pair(c):
    a = c.Socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = c.Socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.bind(("127.0.0.1", 0))
    a.bind(("127.0.0.1", 0))
    a.connect(b.local_addr())
    b.connect(a.local_addr())
    return a, b


def workloads(c):
    a, b = pair(c)
    data = b"x" * 64
    buf = bytearray(64)
    to = b.local_addr()
    send, recv_into, send_to, recv_from_into = a.send, b.recv_into, a.send_to, b.recv_from_into

    def positional(n):
        for _ in range(n):
            send(data)
            recv_into(buf)

    def keyword(n):
        for _ in range(n):
            send(data, flags=0)
            recv_into(buf, flags=0)

    def addressed(n):
        for _ in range(n):
            send_to(data, to)
            recv_from_into(buf)

    loads = {
        "send+recv_into": positional,
        "send+recv_into flags=0": keyword,
        "send_to+recv_from_into": addressed,
    }
    loads.update(message_workloads(c, a, b, data))
    return loads, (a, b)


def message_workloads(c, a, b, data):
    """The message-path calls (csrc/msg.c, batch.c, offload.c), where this build has them."""
    bufs = [bytearray(32), bytearray(32)]
    send_hdr = c.MsgHdr(buffers=[data])
    recv_hdr = c.MsgHdrMut(addr=True, buffers=bufs, control=64)
    batch = c.DatagramBatch([bytearray(64) for _ in range(8)])
    eight = [data] * 8
    big = bytearray(2048)
    gso_data = data * 8

    def vectored(n):
        for _ in range(n):
            a.send_vectored([data])
            b.recv_from_vectored(bufs)

    def message(n):
        for _ in range(n):
            a.sendmsg(send_hdr)
            b.recvmsg(recv_hdr)

    def batches(n):
        for _ in range(n):
            a.send_batch(eight)
            b.recv_batch(batch)

    def offloads(n):
        for _ in range(n):
            left = a.send_gso(gso_data, 64)
            while left > 0:  # as many receives as the kernel did not coalesce
                left -= b.recv_gro_from_into(big)[0]

    loads = {
        "send_vectored+recv_from_vectored": vectored,
        "sendmsg+recvmsg": message,
        "send_batch+recv_batch (8)": batches,
    }
    if hasattr(a, "send_gso"):
        b.set_udp_gro(True)
        loads["send_gso+recv_gro_from_into (8)"] = offloads
    return loads


def chunk(fn, calls):
    """(wall ns, CPU ns of this thread) per iteration: CPU time is what other processes on
    a shared machine disturb least."""
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    fn(calls)
    return ((time.perf_counter_ns() - wall) / calls, (time.thread_time_ns() - cpu) / calls)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--only", default="", help="run the workloads whose name contains this")
    args = parser.parse_args()
    builds = {"old": load(args.old, "ab_old"), "new": load(args.new, "ab_new")}
    loads = {name: workloads(c) for name, c in builds.items()}
    print(
        f"{args.rounds} rounds of {args.calls} iterations; ns per iteration (median), "
        "ratio = median of per-round new/old (min-max, IQR)"
    )
    print(f"{'workload':<33} {'clock':<5} {'old':>7} {'new':>7} {'new/old':>8}  range")
    for work in [w for w in loads["old"][0] if args.only in w]:
        samples = {"old": [], "new": []}
        for r in range(args.rounds + 1):
            order = ["old", "new"] if r % 2 else ["new", "old"]
            got = {name: chunk(loads[name][0][work], args.calls) for name in order}
            if r:  # round 0 warms up
                for name in order:
                    samples[name].append(got[name])
        for k, clock in enumerate(("wall", "cpu")):
            old = [s[k] for s in samples["old"]]
            new = [s[k] for s in samples["new"]]
            ratios = [n / o for n, o in zip(new, old)]
            q = statistics.quantiles(ratios, n=4)
            print(
                f"{work:<33} {clock:<5} {statistics.median(old):7.0f} "
                f"{statistics.median(new):7.0f} {statistics.median(ratios):8.3f}  "
                f"{min(ratios):.3f}-{max(ratios):.3f} (IQR {q[0]:.3f}-{q[2]:.3f})"
            )


if __name__ == "__main__":
    main()
