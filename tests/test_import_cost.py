"""`import pysock2` stays cheaper than `import socket` (docs/performance.md, target 5):
what it must not load eagerly, and that the deferred names still appear on first use."""

import subprocess
import sys

import pysock2

from conftest import child_python

# Each of these costs as much as the rest of `import pysock2` put together.
DEFERRED_MODULES = ["dataclasses", "typing", "re", "ipaddress", "struct", "pysock2.cmsg"]


def modules_loaded_by(code: str) -> dict:
    """Run `code` in a fresh interpreter without site (which would preload some of these
    modules) and report which of DEFERRED_MODULES it left in sys.modules."""
    probe = f"{code}; import sys; print(*[m in sys.modules for m in {DEFERRED_MODULES!r}])"
    out = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        **child_python(),
    ).stdout.split()
    return dict(zip(DEFERRED_MODULES, (word == "True" for word in out)))


def test_import_pysock2_loads_none_of_the_expensive_modules():
    assert modules_loaded_by("import pysock2") == dict.fromkeys(DEFERRED_MODULES, False)


def test_the_option_value_types_load_dataclasses_on_first_use():
    loaded = modules_loaded_by("import pysock2; pysock2.TcpInfo")
    assert loaded["dataclasses"] and not loaded["pysock2.cmsg"]


def test_the_cmsg_submodule_loads_on_first_attribute_access():
    assert modules_loaded_by("import pysock2; pysock2.cmsg.space")["pysock2.cmsg"]


def test_deferred_names_are_listed_by_dir():
    assert {"SockFilter", "TcpInfo", "TcpKeepalive", "cmsg"} <= set(dir(pysock2))


def test_from_import_of_the_cmsg_submodule_works():
    from pysock2 import cmsg

    assert pysock2.cmsg is cmsg is sys.modules["pysock2.cmsg"]
