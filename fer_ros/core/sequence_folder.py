"""Labelled image sequences on disk: ``<root>/<class>/<sequence>/<frames in order>``.

The frames of a sequence are its image files sorted by name (CK+: ``S052_004_00000001.jpg`` ...; the
first frame is neutral, the last the peak). The subject of a sequence is its name up to the first
``_`` (CK+ ``S052``), so evaluations can leave whole subjects out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fer_ros.core.image_input import image_files


@dataclass(frozen=True)
class Sequence:
    """One labelled sequence: its class index in ``labels``, name, subject and frame files in order."""

    label: int
    name: str
    subject: str
    frames: tuple[Path, ...]


def list_sequences(root: str | Path, labels: tuple[str, ...]) -> list[Sequence]:
    """Every sequence under ``root/<label>/`` with at least one frame; other class folders are ignored."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"sequence folder not found: {root}")
    out = []
    for index, label in enumerate(labels):
        folder = root / label
        if not folder.is_dir():
            continue
        for seq in sorted(p for p in folder.iterdir() if p.is_dir()):
            frames = tuple(image_files(seq))
            if frames:
                out.append(Sequence(index, seq.name, seq.name.split("_")[0], frames))
    if not out:
        raise ValueError(f"no sequences under {root}/<{'|'.join(labels)}>/<sequence>/<frames>")
    return out
