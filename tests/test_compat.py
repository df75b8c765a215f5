"""csrc/compat.h reads a live memoryview's buffer in place (no second export per call) on
the CPython versions it names, through the object's layout and a private flag. These
tests hold what C reads (``_pysock2._memoryview_in_place``) against what Python says about
the same memory, so a CPython that changes the layout or the flag's meaning fails here,
and so does a version added to the range without being checked."""

import ctypes
import sys
import sysconfig

import pytest

import pysock2
from pysock2 import _pysock2

# The versions compat.h claims (COMPAT_MEMORYVIEW_IN_PLACE); the free-threaded build never
# reads in place, as another thread could release the view meanwhile.
IN_PLACE = (3, 9) <= sys.version_info[:2] <= (3, 14) and not sysconfig.get_config_var(
    "Py_GIL_DISABLED"
)
in_place_only = pytest.mark.skipif(not IN_PLACE, reason="compat.h uses the buffer API here")


def address_of(data: bytearray, offset: int = 0) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(data, offset))


@in_place_only
def test_a_live_view_is_read_where_its_exporter_keeps_the_bytes():
    data = bytearray(b"0123456789")
    assert _pysock2._memoryview_in_place(memoryview(data)) == (address_of(data), 10, False)


@in_place_only
def test_a_slice_starts_at_its_offset_and_counts_bytes_not_items():
    data = bytearray(64)
    view = memoryview(data)[8:40].cast("I")
    assert _pysock2._memoryview_in_place(view) == (address_of(data, 8), 32, False)


@in_place_only
def test_a_read_only_view_says_so():
    data = bytearray(b"abc")
    assert _pysock2._memoryview_in_place(memoryview(data).toreadonly()) == (
        address_of(data),
        3,
        True,
    )
    assert _pysock2._memoryview_in_place(memoryview(b"abc"))[1:] == (3, True)


def test_a_released_view_is_never_read():
    view = memoryview(bytearray(b"abc"))
    view.release()
    assert _pysock2._memoryview_in_place(view) is None


def test_only_memoryviews_are_read_in_place():
    for obj in (bytearray(b"abc"), b"abc", ctypes.create_string_buffer(3)):
        assert _pysock2._memoryview_in_place(obj) is None


@pytest.mark.skipif(IN_PLACE, reason="compat.h reads memoryviews in place here")
def test_elsewhere_every_memoryview_takes_the_buffer_api():
    assert _pysock2._memoryview_in_place(memoryview(bytearray(b"abc"))) is None


def test_a_released_view_sent_raises_the_buffer_apis_error():
    left, right = pysock2.Socket.pair(pysock2.Domain.UNIX, pysock2.Type.DGRAM)
    view = memoryview(b"abc")
    view.release()
    with left, right, pytest.raises(ValueError, match="released memoryview"):
        left.send(view)
