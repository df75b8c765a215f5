"""Builds pysock2._pysock2 from csrc/, with exactly one platform layer."""

import glob
import os
import sys

from setuptools import Extension, setup

PLATFORM_LAYER = "sys_windows.c" if sys.platform == "win32" else "sys_unix.c"
# Every csrc/*.c file is part of the extension except the other platform's layer.
SOURCES = sorted(
    path
    for path in glob.glob(os.path.join("csrc", "*.c"))
    if not os.path.basename(path).startswith("sys_")
) + [os.path.join("csrc", PLATFORM_LAYER)]

extra_compile_args = []
extra_link_args = []
libraries = []
if sys.platform == "win32":
    # ws2_32: Winsock; iphlpapi: if_nametoindex (IPv6 scope names).
    libraries = ["ws2_32", "iphlpapi"]
    extra_compile_args = ["/W4", "/std:c11"]
else:
    # Hidden visibility: only PyInit__pysock2 is exported, so calls between the files are
    # direct (no PLT) and the loader has one symbol to bind instead of ~100.
    extra_compile_args = [
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Wno-missing-field-initializers",
        "-D_GNU_SOURCE",
        "-fvisibility=hidden",
    ]
    if os.environ.get("PYSOCK2_WERROR"):
        extra_compile_args.append("-Werror")
    # PYSOCK2_SANITIZE=address,undefined builds the extension instrumented (see .ci/run).
    sanitize = os.environ.get("PYSOCK2_SANITIZE")
    if sanitize:
        flags = [
            f"-fsanitize={sanitize}",
            "-fno-omit-frame-pointer",
            "-g",
            "-O1",
            "-fno-sanitize-recover=all",
        ]
        extra_compile_args += flags
        extra_link_args += flags

setup(
    packages=["pysock2"],
    # `pip install -e .` makes a link tree (build/__editable__.*) named by a plain .pth
    # line, not setuptools' default import hook: mypy and pyright cannot see through the
    # hook ("cannot find implementation"). Edits to existing files show at once; a new
    # module needs the install again. `--config-settings editable_mode=...` still wins.
    options={"editable_wheel": {"mode": "strict"}},
    package_data={"pysock2": ["py.typed", "*.pyi"]},
    ext_modules=[
        Extension(
            "pysock2._pysock2",
            sources=SOURCES,
            depends=glob.glob(os.path.join("csrc", "*.h")),
            libraries=libraries,
            extra_compile_args=extra_compile_args,
            extra_link_args=extra_link_args,
        )
    ],
)
