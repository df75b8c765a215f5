"""``DatagramBatch`` and ``segments``: batch datagram I/O and GRO segments (docs/batch.md).

The batch calls themselves (``Socket.recv_batch``/``send_batch``) and the per-index reads
(``length``, ``address``, ...) are C; this layer adds only cold-path conveniences.
"""

from __future__ import annotations

from . import _pysock2
from ._enums import RecvFlags

TYPE_CHECKING = False  # typing is not imported at run time: it would double import time
if TYPE_CHECKING:
    from collections.abc import Iterator

    from typing_extensions import Buffer, TypeVar

    # The slots' buffer type (`buffer(i)` returns the object given for slot i).
    _B_co = TypeVar("_B_co", bound=Buffer, covariant=True, default=Buffer)


# A string: the TypeVar exists for type checkers only (at run time the subscript is just a
# types.GenericAlias, whose __mro_entries__ gives _pysock2.DatagramBatch).
class DatagramBatch(_pysock2.DatagramBatch["_B_co"]):
    """Datagram slots over caller-owned writable buffers (one buffer per datagram),
    filled by ``Socket.recv_batch`` and sent by ``Socket.send_batch``.

    The buffers stay pinned (a ``bytearray`` cannot be resized) until ``release()`` or
    the end of a ``with`` block.
    """

    __slots__ = ()

    @classmethod
    def allocate(cls, count: int, size: int, *, control_size: int = 0) -> DatagramBatch[memoryview]:
        """A batch of ``count`` slots of ``size`` bytes each, carved from one new
        ``bytearray`` (``buffer(i)`` is a ``memoryview`` of slot ``i``)."""
        if not isinstance(count, int) or not isinstance(size, int):
            raise TypeError("allocate() takes an int count and an int size")
        if size < 0:
            raise ValueError(f"allocate() size must be >= 0, not {size}")
        if not 1 <= count <= _pysock2.BATCH_MAX:
            raise ValueError(f"allocate() count must be 1-{_pysock2.BATCH_MAX}, not {count}")
        view = memoryview(bytearray(count * size))
        # DatagramBatch, not cls: the slots' type is memoryview whatever cls says.
        return DatagramBatch(
            [view[i * size : (i + 1) * size] for i in range(count)], control_size=control_size
        )

    def flags(self, index: int) -> RecvFlags:
        """The flags received with datagram ``index`` (``RecvFlags.is_truncated``: the
        datagram was longer than its buffer)."""
        return RecvFlags(super().flags(index))

    def data(self, index: int) -> memoryview:
        """Datagram ``index`` as a ``memoryview`` of its buffer (no copy)."""
        length = self.length(index)
        return memoryview(self.buffer(index)).cast("B")[:length]

    def segments(self, index: int) -> Iterator[memoryview]:
        """The datagrams GRO coalesced into datagram ``index``, as ``memoryview`` slices
        (a datagram that was not coalesced is its own single segment)."""
        return segments(self.buffer(index), self.length(index), self.segment_size(index))


def segments(buffer: Buffer, nbytes: int, segment_size: int) -> Iterator[memoryview]:
    """Cuts the first ``nbytes`` of ``buffer`` into ``segment_size`` pieces (the last may
    be shorter), as ``memoryview`` slices of the buffer: no copy.

    For what ``Socket.recv_gro_into`` returns: ``for dgram in segments(buf, n, size)``.
    """
    view = memoryview(buffer).cast("B")
    if not isinstance(nbytes, int) or not isinstance(segment_size, int):
        raise TypeError("segments() takes int nbytes and segment_size")
    if not 0 <= nbytes <= len(view):
        raise ValueError(f"segments() nbytes must be 0-{len(view)}, not {nbytes}")
    if segment_size < 1 and nbytes > 0:
        raise ValueError(f"segments() segment_size must be >= 1, not {segment_size}")
    return _cut(view, nbytes, segment_size)


def _cut(view: memoryview, nbytes: int, size: int) -> Iterator[memoryview]:
    for start in range(0, nbytes, max(size, 1)):
        yield view[start : min(start + size, nbytes)]
