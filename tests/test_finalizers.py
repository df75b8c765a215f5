"""Garbage collection of objects that were not closed or released: the finalizer's
ResourceWarning may keep the object alive (a warnings record holds it as `source`), and
such a resurrected object must stay a well-formed object the cycle collector still tracks,
then be destroyed for good once the record goes. (Before the fix, the deallocators stopped
tracking the object before running the finalizer: a debug CPython aborted, a release one
kept an untracked object.)"""

from __future__ import annotations

import gc
import os
import sys
import warnings

import pytest

import pysock2
from pysock2 import Domain, Type, _pysock2


def resurrected_by_a_warning_record(make) -> object:
    """Makes an object, drops it, and returns the `source` the ResourceWarning recorded."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always", ResourceWarning)
        obj = make()
        del obj
        gc.collect()
    sources = [r.source for r in records if issubclass(r.category, ResourceWarning)]
    assert len(sources) == 1
    return sources[0]


@pytest.mark.parametrize(
    "cls", [_pysock2.Socket, pysock2.Socket], ids=["C base type", "pysock2.Socket"]
)
def test_a_socket_kept_alive_by_its_warning_stays_tracked_and_closed(cls) -> None:
    source = resurrected_by_a_warning_record(lambda: cls(Domain.IPV4, Type.DGRAM))
    assert type(source) is cls
    assert gc.is_tracked(source)
    assert source.closed  # the finalizer closed the descriptor before it was resurrected
    source.close()
    del source
    gc.collect()  # destroyed for good: no second warning, no crash


@pytest.mark.skipif(
    not hasattr(pysock2, "MsgHdrMut") or sys.platform == "win32",
    reason="received descriptors need MsgHdrMut and SCM_RIGHTS",
)
def test_a_message_kept_alive_by_its_warning_stays_tracked() -> None:
    from pysock2 import MsgHdr, MsgHdrMut, cmsg

    a, b = pysock2.Socket.pair(Domain.UNIX, Type.DGRAM)
    r, w = os.pipe()
    try:
        with a, b:
            a.sendmsg(MsgHdr(buffers=[b"fd"], control=cmsg.scm_rights([w])))

            def received() -> MsgHdrMut:
                msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(4))
                b.recvmsg(msg)
                return msg  # its descriptor is never taken: the finalizer closes it

            source = resurrected_by_a_warning_record(received)
            assert type(source) is MsgHdrMut
            assert gc.is_tracked(source)
            del source
            gc.collect()
    finally:
        os.close(r)
        os.close(w)
