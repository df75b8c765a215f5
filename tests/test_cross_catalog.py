""".ci/cross_catalog.py tells what `python -m pysock2 info` lists on other platforms from
their preprocessed sources. Run for this machine, it must give exactly what the real,
imported pysock2 has: the same socket2 methods and enum members."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig

import pytest

import pysock2
from pysock2 import _catalog, _enums

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, ".ci", "cross_catalog.py")

pytestmark = [
    pytest.mark.skipif(not os.path.exists(SCRIPT), reason="needs the source checkout (.ci/)"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="preprocesses with cc"),
    pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler"),
]


def load_script():
    spec = importlib.util.spec_from_file_location("cross_catalog", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_catalog_from_preprocessed_sources_matches_the_imported_module() -> None:
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        pytest.skip("no Python headers")
    script = load_script()
    flags = ["-std=c11", "-D_GNU_SOURCE", f"-I{include}", f"-I{os.path.join(ROOT, 'csrc')}"]
    methods, constants = script.compiled_names(ROOT, ["cc"], flags)
    result = script.catalog(ROOT, "linux", methods, constants)

    names = set(_catalog.LIFECYCLE) | set(_catalog.IO) | set(_catalog.OPTIONS)
    real = sorted(n for n in names if n == "new" or hasattr(pysock2.Socket, n))
    assert result["socket2"] == real
    for enum_name, members in _catalog.ENUM_MEMBERS.items():
        enum_class = getattr(_enums, enum_name)
        assert result["enums"][enum_name] == [m for m in members if hasattr(enum_class, m)]
