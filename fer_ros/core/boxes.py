"""Box arithmetic shared by the tracker, the benchmarks and the tests: boxes are (x, y, width, height)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, width, height) boxes; 0.0 when both are empty."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def greedy_matches(pairs: Iterable[tuple[float, int, int]]) -> list[tuple[int, int]]:
    """One-to-one matching of admissible (score, truth index, found index) pairs, highest score first."""
    used_t: set[int] = set()
    used_f: set[int] = set()
    matches = []
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            matches.append((i, j))
    return matches
