"""pysock2: socket2 for Python.

Every socket option typed and named, zero-copy I/O into your own buffers, and the kernel
features that performance-sensitive network code needs. See README.md and docs/API.md.
"""

from ._batch import DatagramBatch, segments
from ._enums import Domain, MsgFlags, Protocol, RecvFlags, Shutdown, Type
from ._msg import MsgHdr, MsgHdrMut
from ._socket import SockAddr, Socket
from ._sockref import SockRef

# Not `from typing import ...`: typing would cost more than the rest of the import
# (docs/performance.md); type checkers treat any TYPE_CHECKING name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import cmsg as cmsg
    from ._types import SockFilter, TcpInfo, TcpKeepalive

__all__ = [
    "DatagramBatch",
    "Domain",
    "MsgHdr",
    "MsgHdrMut",
    "MsgFlags",
    "Protocol",
    "RecvFlags",
    "Shutdown",
    "SockAddr",
    "SockFilter",
    "SockRef",
    "Socket",
    "TcpInfo",
    "TcpKeepalive",
    "Type",
    "segments",
]

# The option value types and the public `pysock2.cmsg` submodule load on first use:
# dataclasses, typing, struct and ipaddress would otherwise double the cost of
# `import pysock2`.
_LAZY_TYPES = frozenset({"SockFilter", "TcpInfo", "TcpKeepalive"})

# Hidden from type checkers, which see the real imports above: a module __getattr__
# would make them accept any misspelt `pysock2.name`.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        if name == "cmsg":
            import importlib

            # import_module, not `from . import cmsg`: that would look the attribute up
            # here again. The import binds it on the package, so later lookups skip
            # __getattr__.
            return importlib.import_module(".cmsg", __name__)
        if name in _LAZY_TYPES:
            from . import _types

            value = getattr(_types, name)
            globals()[name] = value
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_TYPES | {"cmsg"})


# The one place the version is written: pyproject.toml reads it from here (setuptools'
# dynamic `attr`, without importing the package), and so do `python -m pysock2 --version`
# and the wheel's metadata.
__version__ = "0.1.0"
