"""Local re-detection: find already-seen faces again near their last boxes, much cheaper than a full search.

The pipeline's ``detect_every`` option runs the full detector on every N-th frame and this in between.
Each previous box is grown by ``REGION_MARGIN`` of its side on every side; that region is resized so the
face is about ``target_side`` pixels and searched for faces of roughly the previous size; the found face
nearest to the previous centre is kept. When a face is not found again the pipeline runs a full detection on
that frame; new faces wait for the next one (at most N - 1 frames). MTCNN has its own, cheaper way (one
batched O-Net call on the previous boxes, ``MTCNNDetector.redetect``); BlazeFace batches all regions
(``find_many``).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from fer_ros.core.results import Detection

REGION_MARGIN = 0.5  # search region = previous box grown by this fraction of its side on each side
MIN_REGION = 24  # px; smaller regions (faces at the border) are given up

# find(region image, expected face side in that image) -> faces in region pixels
FindInRegion = Callable[[np.ndarray, float], list[Detection]]
# find_many(region images, expected face sides) -> faces of each region, in region pixels
FindInRegions = Callable[[list[np.ndarray], list[float]], list[list[Detection]]]


def search_region(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """(x1, y1, x2, y2) to search around ``box`` inside a width x height frame; None if too small."""
    x, y, bw, bh = box
    side = max(bw, bh)
    x1, y1 = max(int(x - REGION_MARGIN * side), 0), max(int(y - REGION_MARGIN * side), 0)
    x2 = min(int(x + bw + REGION_MARGIN * side), width)
    y2 = min(int(y + bh + REGION_MARGIN * side), height)
    return None if x2 - x1 < MIN_REGION or y2 - y1 < MIN_REGION else (x1, y1, x2, y2)


def redetect_near(image: np.ndarray, previous: list[Detection], find: FindInRegion | None = None,
                  target_side: float = 48.0, find_many: FindInRegions | None = None) -> list[Detection]:
    """Each previous face searched again in its region, scaled so the face is ~``target_side`` px.

    ``find`` searches one region at a time; ``find_many`` (for batching detectors) gets all regions at once.
    """
    height, width = image.shape[:2]
    jobs = []  # (previous face, region, scale, region image)
    for prev in previous:
        region = search_region(prev.box, width, height)
        if region is None:
            continue
        x1, y1, x2, y2 = region
        side = max(prev.box[2], prev.box[3])
        s = min(1.0, target_side / side)
        roi = image[y1:y2, x1:x2]
        if s < 1.0:
            roi = cv2.resize(roi, (max(int((x2 - x1) * s), MIN_REGION), max(int((y2 - y1) * s), MIN_REGION)),
                             interpolation=cv2.INTER_AREA)
        jobs.append((prev, region, s, roi))
    if find_many is not None:
        results = find_many([j[3] for j in jobs], [max(j[0].box[2], j[0].box[3]) * j[2] for j in jobs])
    elif find is not None:
        results = [find(roi, max(prev.box[2], prev.box[3]) * s) for prev, _, s, roi in jobs]
    else:
        raise ValueError("redetect_near needs find or find_many")
    out = []
    for (prev, (x1, y1, _, _), s, _), found in zip(jobs, results, strict=True):
        if not found:
            continue
        # previous centre in region pixels; keep the found face nearest to it
        cx, cy = (prev.box[0] + prev.box[2] / 2 - x1) * s, (prev.box[1] + prev.box[3] / 2 - y1) * s
        best = min(found, key=lambda d: (d.box[0] + d.box[2] / 2 - cx) ** 2 + (d.box[1] + d.box[3] / 2 - cy) ** 2)
        bx, by, bw, bh = best.box
        landmarks = None
        if best.landmarks is not None:
            landmarks = (best.landmarks / s + np.array([x1, y1], np.float32)).astype(np.float32)
        out.append(Detection(box=(x1 + bx / s, y1 + by / s, bw / s, bh / s), score=best.score, landmarks=landmarks))
    return out
