"""Rewrite the manylinux build paths baked into the ROS 2 wheels' exported CMake files.

The PyPI ROS wheels were built in a manylinux container, so their ``*Export.cmake`` files name
``/opt/python/cp311-cp311/include/python3.11`` and ``.../site-packages/numpy/_core/include``. Message
generation against them fails unless those paths point at this interpreter's headers.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

BUILD_PREFIX = r"/opt/python/cp3\d+-cp3\d+"


def replacements() -> list[tuple[re.Pattern[str], str]]:
    """Patterns of baked-in paths and what they become on this machine."""
    return [
        (re.compile(BUILD_PREFIX + r"/lib/python3\.\d+/site-packages/numpy/_core/include"), numpy.get_include()),
        (re.compile(BUILD_PREFIX + r"/include/python3\.\d+"), sysconfig.get_paths()["include"]),
    ]


def fix(venv: Path) -> int:
    """Rewrite every exported CMake file under ``venv/share``; return how many changed."""
    changed = 0
    rules = replacements()
    for path in (venv / "share").rglob("*.cmake"):
        text = path.read_text()
        new = text
        for pattern, real in rules:
            new = pattern.sub(real, new)
        if new != text:
            path.write_text(new)
            changed += 1
    return changed


if __name__ == "__main__":
    n = fix(Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix))
    print(f"[setup] {n} CMake export file(s) rewritten" if n else "[setup] CMake exports already point here")
