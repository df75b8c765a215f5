# pyright: strict, reportUnnecessaryTypeIgnoreComment=true
"""Mistakes type checkers must reject (checked, not run, by .ci/typed-example.sh).

Every line below is an error, silenced by `# type: ignore[mypy's code]`. Both checkers
report an ignore that silences nothing (mypy: --warn-unused-ignores, part of --strict,
which also checks the code; pyright: reportUnnecessaryTypeIgnoreComment, set above), so a
line that stops being an error, because something became `Any` again, fails the check."""

from __future__ import annotations

import pysock2
from pysock2 import DatagramBatch, Domain, SockAddr, Socket, SockRef, TcpKeepalive


def mistakes(sock: Socket, ref: SockRef, addr: SockAddr) -> None:
    pysock2.cmsg.spcae(4)  # type: ignore[attr-defined]
    pysock2.Sockett  # type: ignore[attr-defined]
    SockAddr((object(), 80))  # type: ignore[arg-type]
    Domain.for_address(object())  # type: ignore[arg-type]
    sock.sendfile(object())  # type: ignore[arg-type]
    addr.ip().packed  # type: ignore[union-attr]
    conn, _ = sock.accept()
    conn.set_tcp_keepalive(60)  # type: ignore[arg-type]
    conn.set_tcp_keepalive(TcpKeepalive(time="60"))  # type: ignore[arg-type]
    sock.recv_into(bytearray(8), 10)  # type: ignore[call-arg]
    DatagramBatch.allocate(4, 64).buffer(0).decode()  # type: ignore[attr-defined]
    ref.try_clone().typo  # type: ignore[attr-defined]
