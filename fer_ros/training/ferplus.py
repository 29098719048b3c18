"""FER+ (FERPlus) read natively: ``label.csv`` with 10 annotator votes per FER-2013 image.

``label.csv`` has no header; each row is ``image name, "(x, y, w, h)" face box, 10 vote counts`` in the
FER+ order ``neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF``.
The images (48x48 gray PNG) sit next to it. Targets, in this package's label order
(``fer_ros.core.labels.EMOTION_LABELS``, plus ``contempt`` last when asked for):

* ``majority`` (Barsoum et al. 2016): votes of 1 are dropped as outliers; an image is kept when its top
  emotion has more than half of the remaining votes (unknown and NF votes included in that sum) and
  that top is neither unknown nor NF (nor contempt for a 7-class model); the target is that emotion.
* ``distribution``: the emotion votes (single votes dropped as above, unknown / NF / unused contempt votes
  left out) normalised to sum 1; images kept where those emotion votes are at least half of the
  remaining votes (rows voted mostly unknown / not-a-face are not faces worth training on).
* ``probability``: the same distribution, used for probabilistic label drawing (the paper's PLD: every
  epoch draws one hard label per image from it); ``hard`` targets are its argmax.

Every kept image has a hard target (majority label or distribution argmax) and a soft target row.
numpy only (no torch): ``fer-ros-eval`` reads FER+ folders with it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_ros.core.labels import EMOTION_LABELS

FERPLUS_COLUMNS: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                                    "contempt", "unknown", "NF")
# FER+ column -> our label name (unknown / NF have none)
FERPLUS_TO_LABEL: dict[str, str] = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise",
                                    "sadness": "sad", "anger": "angry", "disgust": "disgust", "fear": "fear",
                                    "contempt": "contempt"}
FERPLUS_TARGETS: tuple[str, ...] = ("majority", "distribution", "probability")
LABEL_FILE = "label.csv"


def ferplus_labels(contempt: bool = False) -> tuple[str, ...]:
    """Class order of FER+ targets: our seven emotions, ``contempt`` appended when asked for."""
    return EMOTION_LABELS + (("contempt",) if contempt else ())


@dataclass
class FerPlusRow:
    name: str
    box: tuple[int, int, int, int]
    votes: np.ndarray  # int, 10 counts in FERPLUS_COLUMNS order


def read_label_csv(path: str | Path) -> list[FerPlusRow]:
    """Parse a FER+ ``label.csv``; raises ValueError naming the line for a malformed row."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FER+ label file not found: {path}")
    rows = []
    with path.open(newline="") as f:
        for number, fields in enumerate(csv.reader(f), start=1):
            if not fields or not "".join(fields).strip():
                continue
            if len(fields) != 12:
                raise ValueError(f"{path}:{number}: expected 12 fields (name, box, 10 votes), got {len(fields)}")
            try:
                box = tuple(int(v) for v in fields[1].strip().strip("()").split(","))
                votes = np.array([int(v) for v in fields[2:]], dtype=np.int64)
            except ValueError:
                raise ValueError(f"{path}:{number}: face box or vote counts are not integers: {fields}") from None
            if len(box) != 4 or (votes < 0).any():
                raise ValueError(f"{path}:{number}: bad face box or negative votes: {fields}")
            rows.append(FerPlusRow(fields[0].strip(), box, votes))  # type: ignore[arg-type]
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def _column_index(labels: tuple[str, ...]) -> np.ndarray:
    """For each FER+ column, the index of its class in ``labels`` (-1: not a class)."""
    return np.array([labels.index(FERPLUS_TO_LABEL[c]) if FERPLUS_TO_LABEL.get(c) in labels else -1
                     for c in FERPLUS_COLUMNS])


def ferplus_targets(votes: np.ndarray, target: str, contempt: bool = False,
                    drop_single_votes: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keep mask, hard targets, soft targets) for an (N, 10) vote array; targets only for kept rows."""
    if target not in FERPLUS_TARGETS:
        raise ValueError(f"FER+ target must be one of {', '.join(FERPLUS_TARGETS)}, got {target!r}")
    votes = np.asarray(votes, dtype=np.float64)
    if votes.ndim != 2 or votes.shape[1] != len(FERPLUS_COLUMNS):
        raise ValueError(f"votes must be (N, {len(FERPLUS_COLUMNS)}), got {votes.shape}")
    labels = ferplus_labels(contempt)
    column = _column_index(labels)
    if drop_single_votes:
        votes = np.where(votes <= 1, 0.0, votes)
    total = votes.sum(axis=1)
    soft = np.zeros((len(votes), len(labels)))
    for c, k in enumerate(column):
        if k >= 0:
            soft[:, k] += votes[:, c]
    emotion_votes = soft.sum(axis=1)
    if target == "majority":
        top = votes.argmax(axis=1)
        top_votes = votes.max(axis=1)
        keep = (top_votes > 0.5 * total) & (column[top] >= 0)
        hard = column[top]
        soft = np.eye(len(labels))[np.maximum(hard, 0)]
    else:
        keep = (emotion_votes > 0) & (emotion_votes >= 0.5 * total)
        soft = soft / np.maximum(emotion_votes, 1e-12)[:, None]
        hard = soft.argmax(axis=1)
    return keep, hard[keep].astype(np.int64), soft[keep].astype(np.float32)


def is_ferplus_folder(root: str | Path) -> bool:
    return (Path(root) / LABEL_FILE).is_file()


def ferplus_items(root: str | Path, labels: tuple[str, ...], limit: int = 0) -> list[tuple[Path, int]]:
    """(image path, class index in ``labels``) of a FER+ folder under the majority protocol.

    ``labels`` is a classifier's output order: FER+ contempt is a class only when ``labels`` has it;
    ``limit`` keeps at most that many images per class. Raises ValueError for labels FER+ does not know.
    """
    unknown = [label for label in labels if label not in FERPLUS_TO_LABEL.values()]
    if unknown:
        raise ValueError(f"FER+ has no class {unknown}; its classes: {', '.join(FERPLUS_TO_LABEL.values())}")
    root = Path(root)
    rows = read_label_csv(root / LABEL_FILE)
    keep, hard, _ = ferplus_targets(np.stack([r.votes for r in rows]), "majority", "contempt" in labels)
    order = ferplus_labels("contempt" in labels)
    items, per_class = [], dict.fromkeys(labels, 0)
    for row, target in zip([r for r, k in zip(rows, keep) if k], hard):
        label = order[target]
        if label not in labels or (limit and per_class[label] >= limit):
            continue
        per_class[label] += 1
        items.append((root / row.name, labels.index(label)))
    if not items:
        raise ValueError(f"{root}: no image is kept by the FER+ majority rule")
    return items
