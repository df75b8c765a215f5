"""Message headers for ``Socket.sendmsg`` / ``Socket.recvmsg``.

``MsgHdr`` and ``MsgHdrMut`` are the C types themselves (nothing to convert on the Python
side). The receive calls return ``RecvFlags``: the C core calls the class registered here,
once per distinct value (cached), so no Python frame runs on the hot path.
"""

from __future__ import annotations

from . import _pysock2
from ._enums import RecvFlags

MsgHdr = _pysock2.MsgHdr
MsgHdrMut = _pysock2.MsgHdrMut

_pysock2._register_recv_flags(RecvFlags)

__all__ = ["MsgHdr", "MsgHdrMut"]
