"""The byte decoder of the fuzz targets: a tiny FuzzedDataProvider that does not need
atheris, so that saved inputs replay anywhere.

A module of its own so that run.py can leave it uninstrumented: its arithmetic branches
say nothing about pysock2 (every byte value takes the same path), yet instrumenting them
made each execution several times slower (atheris hooks every comparison in it)."""

from __future__ import annotations

import datetime
import ipaddress
import math
import struct
from typing import Any, Sequence


class Data:
    """Decodes structured values from fuzzer bytes (a tiny FuzzedDataProvider that does
    not need atheris, so that saved inputs replay anywhere)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk

    def uint(self, nbytes: int) -> int:
        return int.from_bytes(self.take(nbytes).ljust(nbytes, b"\0"), "little")

    def below(self, n: int) -> int:
        return self.uint(2) % n if n > 0 else 0

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[self.below(len(seq))]

    def blob(self, max_len: int) -> bytes:
        return self.take(self.below(max_len + 1))

    def text(self, max_len: int) -> str:
        return self.blob(max_len).decode("utf-8", "replace")

    def rest(self) -> bytes:
        return self.take(len(self.data))

    def integer(self) -> int:
        """An int biased to the edges that matter: 0, +-1, C type limits, huge."""
        edges = [
            0,
            1,
            -1,
            2**7,
            2**8 - 1,
            2**8,
            2**15,
            2**16 - 1,
            2**16,
            2**31 - 1,
            2**31,
            2**32 - 1,
            2**32,
            2**63 - 1,
            2**63,
            2**64,
            -(2**31),
            -(2**63) - 1,
            10**30,
        ]
        kind = self.below(4)
        if kind == 0:
            return self.pick(edges)
        if kind == 1:
            return self.pick(edges) + self.below(5) - 2
        if kind == 2:
            return self.uint(2)
        return int.from_bytes(self.take(self.below(12)), "little", signed=True)

    def number(self) -> float:
        kind = self.below(3)
        if kind == 0:
            return self.pick(
                [0.0, -0.0, 1e-9, 0.5, 1.0, 1e9, 9.2e12, 1e300, -1.0, math.inf, -math.inf, math.nan]
            )
        if kind == 1:
            return struct.unpack("<d", self.take(8).ljust(8, b"\0"))[0]
        return self.uint(4) / 1000

    def value(self) -> Any:
        """Any kind of value a caller might pass to a setter."""
        kind = self.below(12)
        if kind == 0:
            return None
        if kind == 1:
            return self.below(2) == 1
        if kind in (2, 3):
            return self.integer()
        if kind == 4:
            return self.number()
        if kind == 5:
            return self.blob(20)
        if kind == 6:
            return self.text(20)
        if kind == 7:
            return datetime.timedelta(microseconds=self.integer() % 10**15)
        if kind == 8:
            return self.pick(
                [
                    "127.0.0.1",
                    "::1",
                    "0.0.0.0",
                    "224.0.0.1",
                    "ff02::1",
                    "lo",
                    "1.2.3.4%1",
                    ipaddress.IPv4Address("127.0.0.1"),
                ]
            )
        if kind == 9:
            return tuple(self.integer() for _ in range(self.below(5)))
        if kind == 10:
            return bytearray(self.blob(20))
        return [self.value() for _ in range(self.below(3))]
