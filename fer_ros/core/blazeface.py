"""BlazeFace face detector (Bazarevsky et al. 2019, Google MediaPipe) on ONNX files derived from its .tflite.

Two variants, as MediaPipe ships them: ``short`` range (128x128 input, faces within ~2 m, 896 anchors on
16x16 and 8x8 grids) and ``full`` range (192x192, faces up to ~5 m, 2304 anchors on a 48x48 grid).
The decoding follows MediaPipe's graphs for these models:

* the frame is letterboxed (aspect kept, black border) to the network input, RGB, ``x / 127.5 - 1``;
* SSD anchors as ``SsdAnchorsCalculator`` makes them with MediaPipe's options (``fixed_anchor_size``:
  only the centres matter; one anchor per aspect ratio and per layer plus one interpolated scale, layers
  of the same stride on one grid);
* ``TensorsToDetectionsCalculator``: 16 numbers per anchor, box centre x, y, width, height and 6 keypoints
  (x, y), all in input pixels relative to the anchor centre; score = sigmoid(clip(logit, -100, 100));
* ``NonMaxSuppressionCalculator`` with the WEIGHTED algorithm, IoU threshold 0.3: every cluster of
  overlapping boxes is replaced by the score-weighted mean of its boxes and keypoints, with the best score.

Keypoints (MediaPipe order): 0 the subject's right eye (image left on an unmirrored camera), 1 left eye,
2 nose tip, 3 mouth centre, 4 right ear tragion, 5 left ear tragion. ``Detection.landmarks`` carries the
5 points every fer_ros detector gives (image-left eye, image-right eye, nose tip, image-left and
image-right mouth corner): eyes and nose as detected; BlazeFace has no mouth corners, so they are placed
at the mouth centre -/+ half the mouth width along the eye line, the mouth width being the eye distance
times the ratio of dlib's mean face (the shape the aligned gender chip is fitted to,
``fer_ros.core.face_crop.MEAN_FACE_5``), so the alignment fit sees a consistent 5-point shape. The ears
are not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from fer_ros.core.face_crop import MEAN_FACE_5
from fer_ros.core.model_registry import resolve_model
from fer_ros.core.onnx_session import DEFAULT_PROVIDERS, create_session
from fer_ros.core.redetect import redetect_near
from fer_ros.core.results import Detection

NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for both variants
# the last (coarsest) detection level: the whole image letterboxed to this fraction of the input, so that a face
# filling the image (a face crop, a face close to the camera) keeps some border (UTKFace dev crops: 1,655 of
# 2,000 faces found at 1.0, see EVALUATION.md)
LAST_LEVEL_FILL = 0.75


@dataclass(frozen=True)
class BlazeFaceVariant:
    """One BlazeFace model and the SsdAnchorsCalculator options MediaPipe runs it with."""

    model: str  # registry name
    input_size: int  # square input the model was trained at (pixels)
    strides: tuple[int, ...]  # one per SSD layer
    interpolated_scale_aspect_ratio: float  # > 0: one extra anchor per layer
    multiple: int  # other input sizes must be multiples of this (the network's total stride)
    min_face: float  # smallest face (input pixels) found reliably, measured on the bench's composite frames
    max_face_ratio: float  # faces up to min_face * this are found at one input scale
    region_input: int  # redetect: each search region (twice the face) is letterboxed to this size


VARIANTS = {
    "short": BlazeFaceVariant("blazeface-short", 128, (8, 16, 16, 16), 1.0, 16, 24.0, 4.0, 64),
    "full": BlazeFaceVariant("blazeface-full", 192, (4,), 0.0, 32, 40.0, 3.0, 96),
}
# PipelineConfig.detector name (fer_ros.core.config.DETECTORS) -> variant
DETECTOR_VARIANTS = {"blazeface": "short", "blazeface-full": "full"}


def anchor_centres(variant: BlazeFaceVariant, height: int | None = None, width: int | None = None) -> np.ndarray:
    """(A, 2) anchor centres (x, y) in input pixels, in the order of the network outputs.

    For an input of ``height`` x ``width`` (default: the trained size); MediaPipe's anchor offset 0.5 and
    fixed anchor size (the box size is regressed, so only the centres matter).
    """
    height, width = height or variant.input_size, width or variant.input_size
    out = []
    layer = 0
    strides = variant.strides
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 1 + (variant.interpolated_scale_aspect_ratio > 0)  # aspect ratio 1.0 (+ interpolated)
            last += 1
        rows, cols = int(np.ceil(height / strides[layer])), int(np.ceil(width / strides[layer]))
        ys, xs = np.mgrid[0:rows, 0:cols]
        centres = np.stack([(xs.ravel() + 0.5) * width / cols, (ys.ravel() + 0.5) * height / rows], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray,
                 threshold: float = NMS_IOU) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS: boxes (N, 4) x1, y1, x2, y2; keypoints (N, K, 2).

    Each cluster (the best remaining box and all boxes overlapping it with IoU > ``threshold``) becomes
    the score-weighted mean of its boxes and keypoints, with the best box's score.
    """
    order = np.argsort(-scores, kind="stable")
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    out_b, out_s, out_k = [], [], []
    while order.size:
        best = order[0]
        b = boxes[order]
        w = np.maximum(0.0, np.minimum(b[:, 2], boxes[best, 2]) - np.maximum(b[:, 0], boxes[best, 0]))
        h = np.maximum(0.0, np.minimum(b[:, 3], boxes[best, 3]) - np.maximum(b[:, 1], boxes[best, 1]))
        inter = w * h
        iou = inter / np.maximum(area[order] + area[best] - inter, 1e-12)
        cluster = order[iou > threshold]
        if cluster.size == 0:  # a degenerate (empty) best box overlaps nothing, not even itself
            cluster = order[:1]
        weights = scores[cluster][:, None]
        total = weights.sum()
        out_b.append((boxes[cluster] * weights).sum(0) / total)
        out_k.append((keypoints[cluster] * weights[:, :, None]).sum(0) / total)
        out_s.append(scores[best])
        order = order[(iou <= threshold) & (order != best)]
    k = keypoints.shape[1] if keypoints.ndim == 3 else 0
    if not out_b:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, k, 2), np.float32)
    return np.array(out_b, np.float32), np.array(out_s, np.float32), np.array(out_k, np.float32)


def drop_nested(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray,
                inside: float = 0.6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of two nested boxes (``inside`` of the smaller one's area within the larger), keep the higher score.

    Faces do not nest, but the pyramid's levels make such pairs: a fine level sees part of a near face (an eye
    and a brow) as a face, a coarse one a face with its hair and neck; both have too small an IoU with the
    real face for the NMS.
    """
    if len(boxes) < 2:
        return boxes, scores, keypoints
    x1, y1, x2, y2 = boxes.T
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    w = np.maximum(0.0, np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None]))
    h = np.maximum(0.0, np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None]))
    inter = w * h
    nested = inter / np.maximum(np.minimum(area[:, None], area[None]), 1e-12) >= inside
    kept: list[int] = []
    for k in np.argsort(-scores, kind="stable"):
        if not any(nested[k, j] for j in kept):
            kept.append(int(k))
    keep = np.sort(np.asarray(kept))
    return boxes[keep], scores[keep], keypoints[keep]


# mouth width / eye distance of dlib's mean face (the template the aligned chips are fitted to)
MOUTH_TO_EYE_RATIO = float(np.linalg.norm(MEAN_FACE_5[4] - MEAN_FACE_5[3])
                           / np.linalg.norm(MEAN_FACE_5[1] - MEAN_FACE_5[0]))


def five_landmarks(keypoints: np.ndarray) -> np.ndarray:
    """BlazeFace's 6 keypoints (K=6, 2) -> fer_ros's 5 landmarks (module docstring), float32."""
    eye_a, eye_b, nose, mouth = keypoints[0], keypoints[1], keypoints[2], keypoints[3]
    half = 0.5 * MOUTH_TO_EYE_RATIO * (eye_b - eye_a)  # along the eye line, from keypoint 0 towards 1
    return np.stack([eye_a, eye_b, nose, mouth - half, mouth + half]).astype(np.float32)


class BlazeFaceDetector:
    """Boxes, scores and 5 landmarks from BlazeFace short or full range (module docstring).

    ``detect(image, min_face_size)`` runs the network on the image itself (any size: it is scaled so that
    ``min_face_size`` becomes the variant's smallest reliable face, never enlarged, and padded to a multiple
    of the network stride), then on copies 4x (short) / 3x (full) smaller until the image fits the trained
    input size, where it is letterboxed; all candidates are merged by one weighted NMS, and of two nested
    boxes only the better one is kept (see ``drop_nested``). ``redetect`` searches
    each previous face's region at the trained input size, all regions in one batch.
    """

    def __init__(self, variant: str = "short", score_threshold: float = 0.5, num_threads: int = 1,
                 providers: Sequence[str] = DEFAULT_PROVIDERS):
        if variant not in VARIANTS:
            raise ValueError(f"BlazeFace variant must be one of {tuple(VARIANTS)}, got {variant!r}")
        self.variant = VARIANTS[variant]
        self.score_threshold = float(score_threshold)
        _, path = resolve_model(self.variant.model, "detector")
        self.session = create_session(path, num_threads, providers)
        self.input_name = self.session.get_inputs()[0].name
        outputs = self.session.get_outputs()
        # regressors [N, A, 16] and classificators [N, A, 1], told apart by their last dimension
        by_width = {o.shape[-1]: o.name for o in outputs}
        self._outputs = [by_width[16], by_width[1]]
        self._anchors: dict[tuple[int, int], np.ndarray] = {}

    def anchors(self, height: int, width: int) -> np.ndarray:
        key = (height, width)
        if key not in self._anchors:
            self._anchors[key] = anchor_centres(self.variant, height, width)
        return self._anchors[key]

    def run(self, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Raw (regressors [N, A, 16], logits [N, A]) for same-size RGB uint8 network images."""
        x = np.stack(images).astype(np.float32).transpose(0, 3, 1, 2) * (1.0 / 127.5) - 1.0
        reg, cls = self.session.run(self._outputs, {self.input_name: np.ascontiguousarray(x)})
        return reg, cls[..., 0]

    def candidates(self, regressors: np.ndarray, logits: np.ndarray, height: int, width: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One image's raw outputs -> (boxes x1, y1, x2, y2, scores, keypoints (K, 6, 2)), before NMS.

        Only anchors at or above the score threshold; network input pixels.
        """
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
        keep = np.nonzero(scores >= self.score_threshold)[0]
        reg, centres = regressors[keep], self.anchors(height, width)[keep]
        cx, cy = reg[:, 0] + centres[:, 0], reg[:, 1] + centres[:, 1]
        half_w, half_h = reg[:, 2] / 2, reg[:, 3] / 2
        boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
        keypoints = reg[:, 4:16].reshape(-1, 6, 2) + centres[:, None, :]
        return boxes, scores[keep].astype(np.float32), keypoints

    def decode(self, regressors: np.ndarray, logits: np.ndarray, height: int | None = None,
               width: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidates merged by MediaPipe's weighted NMS (network input pixels)."""
        size = self.variant.input_size
        return weighted_nms(*self.candidates(regressors, logits, height or size, width or size))

    def letterbox(self, bgr: np.ndarray, size: int = 0, fill: float = 1.0) -> tuple[np.ndarray, float, float, float]:
        """(S, S, 3) RGB uint8 network image and the mapping back: x_img = (x_net - dx) / s.

        S is ``size`` or the trained size; the image's longer side becomes ``fill`` x S, centred on black.
        """
        size = size or self.variant.input_size
        h, w = bgr.shape[:2]
        s = fill * size / max(h, w)
        nw, nh = max(round(w * s), 1), max(round(h * s), 1)
        canvas = np.zeros((size, size, 3), np.uint8)
        dx, dy = (size - nw) // 2, (size - nh) // 2
        canvas[dy:dy + nh, dx:dx + nw] = _rgb(_resize(bgr, nw, nh))
        return canvas, s, float(dx), float(dy)

    def padded(self, bgr: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
        """The image scaled by ``scale`` (<= 1), RGB, padded right/bottom to a multiple of the stride."""
        h, w = bgr.shape[:2]
        nw, nh = max(round(w * scale), 1), max(round(h * scale), 1)
        m = self.variant.multiple
        canvas = np.zeros((-(-nh // m) * m, -(-nw // m) * m, 3), np.uint8)
        canvas[:nh, :nw] = _rgb(_resize(bgr, nw, nh))
        return canvas, nw / w

    def pyramid(self, bgr: np.ndarray, min_face_size: float) -> list[tuple[np.ndarray, float, float, float]]:
        """(network image, s, dx, dy) per level: x_img = (x_net - dx) / s."""
        v = self.variant
        h, w = bgr.shape[:2]
        scale = min(1.0, v.min_face / max(float(min_face_size), 1.0))
        boxed = LAST_LEVEL_FILL * v.input_size / max(h, w)  # scale of the letterboxed last level
        # a level at scale s finds faces of min_face / s ... min_face * max_face_ratio / s image pixels: levels
        # are added until the letterboxed image's range (from min_face / boxed) joins on without a gap
        levels = []
        while scale > boxed:
            image, s = self.padded(bgr, scale)
            levels.append((image, s, 0.0, 0.0))
            if s <= boxed * v.max_face_ratio:
                break
            scale /= v.max_face_ratio
        levels.append(self.letterbox(bgr, fill=LAST_LEVEL_FILL))
        return levels

    def detect(self, bgr: np.ndarray, min_face_size: float = 0.0) -> list[Detection]:
        boxes, scores, keypoints = [], [], []
        for image, s, dx, dy in self.pyramid(bgr, min_face_size):
            reg, logits = self.run([image])
            b, sc, kp = self.candidates(reg[0], logits[0], image.shape[0], image.shape[1])
            offset = np.array([dx, dy], np.float32)
            boxes.append((b - np.tile(offset, 2)) / s)
            keypoints.append((kp - offset) / s)
            scores.append(sc)
        merged = weighted_nms(np.concatenate(boxes), np.concatenate(scores), np.concatenate(keypoints))
        return _detections(*drop_nested(*merged), min_face_size)

    def detect_many(self, images: list[np.ndarray], min_face_size: float = 0.0,
                    size: int = 0) -> list[list[Detection]]:
        """Faces of each image (pixels of that image), all in one batched network call.

        Each image is letterboxed to ``size`` (default: the trained size; else a multiple of the stride).
        """
        if not images:
            return []
        size = size or self.variant.input_size
        boxed = [self.letterbox(img, size) for img in images]
        regressors, logits = self.run([b[0] for b in boxed])
        out = []
        for (_, s, dx, dy), reg, logit in zip(boxed, regressors, logits, strict=True):
            boxes, scores, keypoints = self.decode(reg, logit, size, size)
            offset = np.array([dx, dy], np.float32)
            out.append(_detections((boxes - np.tile(offset, 2)) / s, scores, (keypoints - offset) / s, min_face_size))
        return out

    def redetect(self, bgr: np.ndarray, previous: list[Detection]) -> list[Detection]:
        """Each previous face searched again in its region (twice its size), all regions in one batch.

        The regions are letterboxed to ``variant.region_input`` (64 px short, 96 full: the face at about half
        of that, above the variant's smallest reliable face), a quarter of the trained input's pixels or less.
        """
        size = self.variant.region_input

        def find_many(regions: list[np.ndarray], sides: list[float]) -> list[list[Detection]]:
            return [[d for d in found if min(d.box[2], d.box[3]) >= 0.6 * side]
                    for found, side in zip(self.detect_many(regions, size=size), sides, strict=True)]

        return redetect_near(bgr, previous, find_many=find_many, target_side=size / 2)


def _resize(bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    if (width, height) == (bgr.shape[1], bgr.shape[0]):
        return bgr
    shrink = width < bgr.shape[1]
    return cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _rgb(bgr: np.ndarray) -> np.ndarray:
    return bgr[:, :, ::-1] if bgr.ndim == 3 else bgr[:, :, None]


def _detections(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray,
                min_face_size: float) -> list[Detection]:
    out = []
    for (x1, y1, x2, y2), score, kp in zip(boxes, scores, keypoints, strict=True):
        if min(x2 - x1, y2 - y1) >= min_face_size:
            out.append(Detection(box=(float(x1), float(y1), float(x2 - x1), float(y2 - y1)), score=float(score),
                                 landmarks=five_landmarks(kp)))
    return out
