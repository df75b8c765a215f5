"""What the issue-14 cleanup must not change: each test pins what main (e2905a8) does where
the cleanup moved or rewrote code, found by running the old and the new build side by side.

- **ipaddress hosts.** A host may be an ``ipaddress`` address, and ``SockAddr.ip()`` returns
  one. Both follow the ``ipaddress`` module that ``sys.modules`` holds at the time of the
  call, as an ``import`` statement would: a module imported afresh (after
  ``del sys.modules["ipaddress"]``, as test isolation tools do) or reloaded is honoured,
  not a copy remembered from the first call.
- **The message path shared by the GRO receives.** ``recv_gro_from_into`` now runs on the
  same path as ``recv_from_vectored`` and ``recvmsg``: every receive reports the sender of
  its own datagram in full, also right after a datagram from an unnamed AF_UNIX peer (whose
  address is empty) and after a signal interrupted the wait.
"""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading

import pytest

from pysock2 import DatagramBatch, Domain, MsgHdrMut, SockAddr, Socket, Type

from conftest import child_python, needs_unix


def run_child(code: str) -> None:
    """Runs `code` in a fresh interpreter (ipaddress not yet imported) and fails on error."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        **child_python(),
    )
    assert proc.returncode == 0, proc.stderr


class TestIpaddressHosts:
    def test_an_ipaddress_imported_afresh_is_accepted_and_returned(self, monkeypatch):
        original = sys.modules["ipaddress"]
        SockAddr(("10.1.2.3", 1)).ip()  # a first use before the new import
        monkeypatch.delitem(sys.modules, "ipaddress")
        fresh = importlib.import_module("ipaddress")
        assert fresh is not original
        assert SockAddr((fresh.IPv4Address("10.1.2.3"), 1)) == SockAddr(("10.1.2.3", 1))
        assert SockAddr((fresh.IPv6Address("2001:db8::5"), 1)) == SockAddr(("2001:db8::5", 1))
        assert type(SockAddr(("10.1.2.3", 1)).ip()) is fresh.IPv4Address
        assert type(SockAddr(("2001:db8::5", 1)).ip()) is fresh.IPv6Address

    def test_a_reloaded_ipaddress_is_accepted_and_returned(self):
        run_child("""
            import importlib, ipaddress
            from pysock2 import SockAddr
            SockAddr((ipaddress.IPv4Address("10.1.2.3"), 1))  # a first use before the reload
            importlib.reload(ipaddress)
            assert SockAddr((ipaddress.IPv4Address("10.1.2.3"), 1)) == SockAddr(("10.1.2.3", 1))
            assert type(SockAddr(("10.1.2.3", 1)).ip()) is ipaddress.IPv4Address
        """)

    def test_none_in_sys_modules_is_the_import_error(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "ipaddress", None)
        with pytest.raises(ModuleNotFoundError):
            SockAddr(("10.1.2.3", 1)).ip()

    def test_threads_meeting_at_the_first_use_all_get_addresses(self):
        run_child("""
            import threading
            from pysock2 import SockAddr
            start, errors = threading.Barrier(8), []
            def use(i):
                start.wait()
                try:
                    ip = SockAddr((f"10.0.0.{i}", 1)).ip()
                    assert SockAddr((ip, 1)) == SockAddr((f"10.0.0.{i}", 1))
                except BaseException as e:
                    errors.append(repr(e))
            threads = [threading.Thread(target=use, args=(i,)) for i in range(8)]
            for t in threads: t.start()
            for t in threads: t.join()
            assert not errors, errors
        """)


def _gro(sock, buf):
    n, _, sender = sock.recv_gro_from_into(buf)
    return n, sender


def _vectored(sock, buf):
    n, _, sender = sock.recv_from_vectored([buf])
    return n, sender


def _recvmsg(sock, buf):
    with MsgHdrMut(True, [buf], None) as msg:
        return sock.recvmsg(msg), msg.addr


def _batch(sock, buf):
    with DatagramBatch([buf]) as batch:
        sock.recv_batch(batch)
        return batch.length(0), batch.address(0)


RECEIVES_WITH_SENDER = {
    "recv_gro_from_into": _gro,
    "recv_from_vectored": _vectored,
    "recvmsg": _recvmsg,
    "recv_batch": _batch,
}


@needs_unix
@pytest.mark.parametrize("receive", RECEIVES_WITH_SENDER.values(), ids=RECEIVES_WITH_SENDER)
def test_each_receive_reports_its_own_sender_after_an_unnamed_one_and_a_signal(receive):
    if receive is _gro and not hasattr(Socket, "recv_gro_from_into"):
        pytest.skip("UDP GRO is Linux only")
    rx, named, unnamed = (Socket(Domain.UNIX, Type.DGRAM) for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp, rx, named, unnamed:  # a short path: sun_path
        rx.bind(f"{tmp}/rx")
        named.bind(f"{tmp}/a-peer-with-a-long-name-" + "n" * 40)
        unnamed.send_to(b"anon", rx.local_addr())
        n, sender = receive(rx, bytearray(16))
        assert n == 4 and (sender is None or sender.as_pathname() is None)

        # The next receive waits; SIGALRM interrupts it (EINTR, the handler returns) and
        # the call retries until the named peer's datagram arrives.
        interrupted = []
        previous = signal.signal(signal.SIGALRM, lambda *_: interrupted.append(True))
        sender_thread = threading.Timer(0.1, named.send_to, (b"named", rx.local_addr()))
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.02)
            sender_thread.start()
            n, sender = receive(rx, bytearray(16))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            sender_thread.join()
        assert interrupted
        assert n == 5 and sender == named.local_addr()
