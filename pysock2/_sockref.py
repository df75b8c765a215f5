# pyright: reportIncompatibleMethodOverride=false
"""``SockRef``: a ``Socket`` on a descriptor it borrows and never closes (socket2's SockRef).

``SockRef(obj)`` takes any object with ``fileno()`` (a ``socket.socket``, a
``pysock2.Socket``, an asyncio transport's socket, ...) or a plain ``int`` descriptor, keeps
``obj`` alive for as long as the ``SockRef`` lives, and offers every ``Socket`` method except
those that transfer ownership.

Decisions (see docs/messages.md, "SockRef"):

* ``close()`` (and leaving a ``with`` block) only *releases the borrow*: the ``SockRef`` is
  closed afterwards (``closed`` is True, calls raise ``OSError(EBADF)``), the descriptor and
  ``obj`` are untouched. Garbage collection never closes the descriptor and never warns.
* ``detach``, ``into_stdlib`` and the class-level constructors ``from_fd``, ``from_stdlib``,
  ``new_raw``, ``pair`` and ``pair_raw`` are not offered: reading them raises
  ``AttributeError`` (so ``hasattr(SockRef, "detach")`` is False). ``try_clone()`` and
  ``accept()`` return ordinary owning ``Socket`` objects: that is how to get ownership.
* A ``SockRef`` cannot stop ``obj`` from being closed by its owner; do not use the
  ``SockRef`` after that (the descriptor number may already name another file).
"""

from __future__ import annotations

import errno
import operator
import os

from ._socket import Socket

# Not `from typing import ...` at run time: typing costs more than the rest of `import
# pysock2` (docs/performance.md); type checkers treat any TYPE_CHECKING name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn, Protocol, Union

    class _HasFileno(Protocol):
        def fileno(self) -> int: ...

    _FdOwner = Union[int, _HasFileno]


class _NotOnSockRef:
    """A class attribute that hides an inherited ownership-transferring method."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: object, objtype: type | None = None) -> NoReturn:
        raise AttributeError(
            f"SockRef has no {self._name!r}: it never owns its descriptor "
            "(try_clone() gives an owned duplicate)"
        )


class SockRef(Socket):
    """A borrowed socket: every ``Socket`` method, except ownership transfer, on the
    descriptor of ``obj``; never closes it. ``close()`` releases the borrow only."""

    __slots__ = ()
    _BORROWED = True  # repr says "borrowed"

    def __new__(cls, obj: _FdOwner) -> SockRef:
        if isinstance(obj, int) and not isinstance(obj, bool):
            fd = operator.index(obj)
        else:
            fileno = getattr(obj, "fileno", None)
            if fileno is None:
                raise TypeError(
                    "SockRef() takes an int descriptor or an object with fileno(), "
                    f"not {type(obj).__name__}"
                )
            fd = fileno()
            if not isinstance(fd, int):
                raise TypeError(f"{type(obj).__name__}.fileno() returned {type(fd).__name__}")
        if fd < 0:
            raise OSError(errno.EBADF, f"SockRef() of a closed socket: {os.strerror(errno.EBADF)}")
        return cls._borrow(fd, obj)

    # Reading one raises AttributeError: checkers see NoReturn (code after it unreachable).
    # Not substitutable for Socket there, on purpose (the pyright setting at the top).
    detach: _NotOnSockRef = _NotOnSockRef()
    into_stdlib: _NotOnSockRef = _NotOnSockRef()
    from_fd: _NotOnSockRef = _NotOnSockRef()
    from_stdlib: _NotOnSockRef = _NotOnSockRef()
    new_raw: _NotOnSockRef = _NotOnSockRef()
    if hasattr(Socket, "pair"):
        pair: _NotOnSockRef = _NotOnSockRef()
        pair_raw: _NotOnSockRef = _NotOnSockRef()


__all__ = ["SockRef"]
