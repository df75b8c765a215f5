"""pysock2: socket2 for Python.

Every socket option typed and named, zero-copy I/O into your own buffers, and the kernel
features that performance-sensitive network code needs. See README.md and docs/API.md.
"""
from ._enums import Domain, Protocol, RecvFlags, Shutdown, Type
from ._socket import SockAddr, Socket

__all__ = [
    "Domain",
    "Protocol",
    "RecvFlags",
    "Shutdown",
    "SockAddr",
    "Socket",
    "Type",
]

__version__ = "0.1.0"
