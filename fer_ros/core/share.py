"""Where the package's data folders (``share/fer_ros/<folder>``: models, msg, config) are installed.

One lookup for every install kind: the prefix this module is installed under (pip or colcon), every
``AMENT_PREFIX_PATH`` entry, ``sys.prefix``, and finally the source checkout's own ``<folder>``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def share_dirs(folder: str) -> list[Path]:
    """Candidate ``share/fer_ros/<folder>`` directories, in lookup order, without duplicates."""
    dirs: list[Path] = []
    here = Path(__file__)
    for module_file in (here, here.resolve()):
        for parent in module_file.parents:
            if parent.name in ("site-packages", "dist-packages"):
                # <prefix>/lib/pythonX.Y/site-packages/fer_ros/core/share.py
                dirs.append(parent.parents[2] / "share" / "fer_ros" / folder)
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            dirs.append(Path(prefix) / "share" / "fer_ros" / folder)
    dirs.append(Path(sys.prefix) / "share" / "fer_ros" / folder)
    dirs.append(here.resolve().parents[2] / folder)  # source checkout
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique
