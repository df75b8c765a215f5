"""pysock2: socket2 for Python.

Every socket option typed and named, zero-copy I/O into your own buffers, and the kernel
features that performance-sensitive network code needs. See README.md and docs/API.md.
"""
from ._enums import Domain, Protocol, RecvFlags, Shutdown, Type
from ._socket import SockAddr, Socket
from ._msg import MsgHdr, MsgHdrMut
from ._sockref import SockRef
from . import cmsg

__all__ = [
    "Domain",
    "MsgHdr",
    "MsgHdrMut",
    "Protocol",
    "RecvFlags",
    "Shutdown",
    "SockAddr",
    "SockRef",
    "Socket",
    "Type",
]

__version__ = "0.1.0"
