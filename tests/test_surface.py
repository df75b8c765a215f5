"""The public surface introspects: every public name of ``pysock2`` and ``pysock2.cmsg``
has a docstring, and every public callable (constructors, methods, class methods, and the
dunders users call through syntax) has an ``inspect.signature``.

The surface is enumerated at run time, so a method added without a docstring or a text
signature (``name($self, ...)\\n--\\n\\n...`` in C) fails here.
"""

from __future__ import annotations

import enum
import inspect
import sys
import types

import pytest

import pysock2
import pysock2.aio
import pysock2.cmsg

MODULES = (pysock2, pysock2.cmsg, pysock2.aio)
# Dunders that syntax or a builtin calls (`with`, bytes(), iter(), Class[...]): they are
# API too. The rest (__repr__, __eq__, __init__, ...) are covered by the class itself.
CALLED_DUNDERS = frozenset({"__enter__", "__exit__", "__bytes__", "__iter__", "__class_getitem__"})
# CPython 3.9's PyType_FromSpec drops the text signature from a C type's tp_doc (3.10 keeps
# it), so there a class constructed by C code alone has no signature.
C_CONSTRUCTOR_SIGNATURES = sys.version_info >= (3, 10)


def _constructed_in_c(cls: type) -> bool:
    return isinstance(cls.__new__, types.BuiltinMethodType) and not any(
        isinstance(vars(k).get("__init__"), types.FunctionType) for k in cls.__mro__
    )


def _ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in ("pysock2", "_pysock2")


def _public(name: str) -> bool:
    return not name.startswith("_") or name in CALLED_DUNDERS


def class_members(cls: type):
    """(name, attribute) for what pysock2 itself defines on cls or its bases: not what
    int, enum, tuple or object bring."""
    seen = set()
    for klass in cls.__mro__:
        if not _ours(klass):
            continue
        for name in vars(klass):
            if name in seen or not _public(name):
                continue
            seen.add(name)
            if isinstance(cls, enum.EnumMeta) and name in cls.__members__:
                continue  # a member, documented by its class
            try:
                value = getattr(cls, name)
            except AttributeError:
                continue  # hidden on purpose (SockRef.detach)
            yield name, value, vars(klass)[name]


def surface(modules=MODULES):
    """(qualified name, object, raw attribute) of every public name: module attributes,
    and the members of every public class."""
    for module in modules:
        for name in dir(module):
            if name.startswith("_"):
                continue
            value = getattr(module, name)
            if isinstance(value, types.ModuleType):
                continue  # pysock2.cmsg: enumerated as a module of its own
            if not callable(value) and not isinstance(value, type):
                continue  # constants: documented on their pages
            if not getattr(value, "__module__", "").startswith("pysock2"):
                continue  # an import (cmsg's typing names), not pysock2's own
            qualname = f"{module.__name__}.{name}"
            yield qualname, value, value
            if isinstance(value, type):
                for member, attr, raw in class_members(value):
                    yield f"{qualname}.{member}", attr, raw


def problems(entries) -> list[str]:
    found = []
    for qualname, value, raw in entries:
        if not (callable(value) or inspect.isdatadescriptor(raw)):
            continue  # a field's default value (TcpInfo.rtt): the class documents it
        doc = raw.__doc__ if isinstance(raw, property) else getattr(value, "__doc__", None)
        if not (doc or "").strip():
            found.append(f"{qualname}: no docstring")
        if callable(value):
            try:
                inspect.signature(value)
            except (TypeError, ValueError) as exc:
                if (
                    isinstance(value, type)
                    and _constructed_in_c(value)
                    and not C_CONSTRUCTOR_SIGNATURES
                ):
                    continue
                found.append(f"{qualname}: no signature ({exc})")
    return found


def test_the_surface_is_enumerated():
    names = {qualname for qualname, _, _ in surface()}
    # A sample of each kind of entry, so that a broken enumeration cannot pass vacuously.
    for expected in (
        "pysock2.Socket",
        "pysock2.Socket.recv_into",
        "pysock2.Socket.recvmsg",
        "pysock2.Socket.__enter__",
        "pysock2.Socket.set_tcp_keepalive",
        "pysock2.SockAddr.__bytes__",
        "pysock2.DatagramBatch.allocate",
        "pysock2.DatagramBatch.set",
        "pysock2.MsgHdrMut.take_fds",
        "pysock2.TcpKeepalive.with_time",
        "pysock2.RecvFlags.is_truncated",
        "pysock2.Domain.for_address",
        "pysock2.SockRef",
        "pysock2.segments",
        "pysock2.cmsg.build",
        "pysock2.cmsg.parse_int",
    ):
        assert expected in names
    assert len(names) > 300


def test_the_package_exports_what_it_declares():
    """A new public name of `pysock2` is a decision: it goes into __all__ (and so into the
    type checkers' view, which __all__ and the stub define)."""
    public = {name for name in dir(pysock2) if not name.startswith("_")}
    # TYPE_CHECKING: the import-cost idiom (a name type checkers recognise), not API.
    # pysock2.aio is a submodule: an attribute once imported (here, above), not an export.
    assert public - {"TYPE_CHECKING", "cmsg", "aio"} == set(pysock2.__all__)
    assert "cmsg" in public


def test_every_public_name_has_a_docstring_and_a_signature():
    assert problems(surface()) == []


@pytest.mark.skipif(not C_CONSTRUCTOR_SIGNATURES, reason="CPython 3.9 drops them")
@pytest.mark.parametrize(
    "cls",
    [
        pysock2.Socket,
        pysock2.SockAddr,
        pysock2.DatagramBatch,
        pysock2.MsgHdr,
        pysock2.MsgHdrMut,
        pysock2.SockRef,
    ],
)
def test_constructors_have_their_real_signature(cls):
    first = next(iter(inspect.signature(cls).parameters), None)
    assert first not in (None, "args", "kwargs")


def test_the_check_catches_what_it_is_for():
    class Undocumented:
        def method(self):
            pass

        # A builtin without a text signature, as a C method missing its "--" line is.
        opaque = staticmethod(getattr)

    Undocumented.__module__ = "pysock2.fake"
    module = types.ModuleType("pysock2.fake")
    module.Undocumented = Undocumented
    found = problems(surface([module]))
    # inspect's wording for the missing signature varies between CPython versions.
    assert sorted(line.partition(" (")[0] for line in found) == sorted(
        [
            "pysock2.fake.Undocumented: no docstring",
            "pysock2.fake.Undocumented.method: no docstring",
            "pysock2.fake.Undocumented.opaque: no signature",
        ]
    )
