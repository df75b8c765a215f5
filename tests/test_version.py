"""The version is written once, as ``pysock2.__version__``; the package metadata, the command
line and the changelog take it from there or say it again where a test can see it."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

import pysock2

ROOT = Path(__file__).resolve().parent.parent
# PEP 440's public version: release, optional pre-release, post-release and dev parts.
PEP440 = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?")


def test_the_version_is_a_pep_440_string():
    assert PEP440.fullmatch(pysock2.__version__), pysock2.__version__


def test_the_installed_metadata_carries_the_same_version():
    assert importlib.metadata.version("pysock2") == pysock2.__version__, (
        "the metadata is from an older install: reinstall, and remove a stale "
        "pysock2.egg-info from the source tree"
    )


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is 3.11's")
@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="no pyproject.toml here")
def test_pyproject_reads_the_version_from_the_package_instead_of_writing_it():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in config["project"]
    assert "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "pysock2.__version__"}


@pytest.mark.skipif(not (ROOT / "CHANGELOG.md").exists(), reason="no CHANGELOG.md here")
def test_the_changelog_has_a_section_for_this_version():
    headings = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert headings[0] == "Unreleased"
    assert pysock2.__version__ in headings[1:]
