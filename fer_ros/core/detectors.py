"""Face detectors behind one interface: ``detect(bgr) -> list[Detection]`` in full-resolution pixels.

* ``haar``: OpenCV's ``haarcascade_frontalface_default.xml`` (shipped in models/, registry name
  ``haar-frontalface-default``; not ``cv2.data``, which Debian's python3-opencv lacks) with Arriaga's
  ``detectMultiScale(gray, 1.3, 5)``; no landmarks, score 1.0.
* ``mtcnn``: ``fer_ros.core.mtcnn`` (shipped ONNX files), boxes + 5 landmarks.
* ``blazeface`` / ``blazeface-full``: MediaPipe's BlazeFace short / full range (``fer_ros.core.blazeface``,
  ONNX files derived from the .tflite), boxes + 5 landmarks (mouth corners estimated, see there).
* ``yunet``: ``cv2.FaceDetectorYN`` on a user-supplied YuNet ONNX file, boxes + 5 landmarks.

:class:`ScaledDetector` runs any of them on a frame resized by ``detection_scale`` and maps boxes and
landmarks back; it also applies ``min_face_size`` (full-res pixels) and ``max_faces``. Every detector
can also ``redetect(bgr, previous)``: find the previous frame's faces again near their boxes
(``fer_ros.core.redetect``; the pipeline's ``detect_every``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from fer_ros.core.config import PipelineConfig
from fer_ros.core.model_registry import resolve_model
from fer_ros.core.redetect import redetect_near
from fer_ros.core.results import Detection


class FaceDetector(Protocol):
    def detect(self, bgr: np.ndarray, min_face_size: int) -> list[Detection]:
        """Faces in ``bgr`` (pixels of that image), none smaller than ``min_face_size``."""
        ...

    def redetect(self, bgr: np.ndarray, previous: list[Detection]) -> list[Detection]:
        """The ``previous`` faces found again near their boxes (pixels of ``bgr``); lost ones are left out."""
        ...


HAAR_CASCADE = "haar-frontalface-default"  # registry name of the shipped cascade


def haar_cascade_path() -> Path:
    """The shipped cascade file, sha256-checked (ModelFileError naming the fix if missing or changed)."""
    return resolve_model(HAAR_CASCADE, kind="detector")[1]


class HaarDetector:
    """Viola-Jones frontal face cascade, Arriaga's settings (scaleFactor 1.3, minNeighbors 5)."""

    def __init__(self, scale_factor: float = 1.3, min_neighbors: int = 5):
        path = haar_cascade_path()
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise RuntimeError(f"OpenCV cannot load the Haar cascade {path} (OpenCV 5 dropped the old "
                               "cascade format: use opencv 4.x)")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors

    def detect(self, bgr: np.ndarray, min_face_size: int = 24) -> list[Detection]:
        side = max(round(float(min_face_size)), 1)
        return self._cascade(_gray(bgr), self.scale_factor, self.min_neighbors, minSize=(side, side))

    def redetect(self, bgr: np.ndarray, previous: list[Detection]) -> list[Detection]:
        # a finer scale step and fewer neighbours than a full search: the region holds one face of known size
        def find(region: np.ndarray, side: float) -> list[Detection]:
            return self._cascade(region, 1.1, 3, minSize=(int(0.7 * side),) * 2, maxSize=(int(1.4 * side) + 1,) * 2)

        return redetect_near(_gray(bgr), previous, find, target_side=48.0)

    def _cascade(self, gray: np.ndarray, scale_factor: float, min_neighbors: int, **sizes) -> list[Detection]:
        boxes = self.cascade.detectMultiScale(gray, scale_factor, min_neighbors, **sizes)
        return [Detection(box=(float(x), float(y), float(w), float(h)), score=1.0) for x, y, w, h in boxes]


def _gray(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr


class YuNetDetector:
    """YuNet via cv2.FaceDetectorYN; the model file is given by the user (none ships with fer_ros)."""

    def __init__(self, model_path: str, score_threshold: float = 0.7, nms_threshold: float = 0.3):
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"YuNet model file {path} not found; download face_detection_yunet_2023mar"
                                    ".onnx from the OpenCV Zoo and set detector_model to its path")
        self.detector = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold, nms_threshold, 5000)
        self._size = (320, 320)
        try:  # an OpenCV too old for the file fails only when it runs: find out now, not on the first frame
            self.detector.detect(np.zeros((320, 320, 3), np.uint8))
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1]
            raise RuntimeError(f"OpenCV {cv2.__version__} cannot run the YuNet model {path} ({reason}); "
                               "face_detection_yunet_2023mar.onnx needs OpenCV >= 4.8 (Debian 12 / Ubuntu 24.04 "
                               "python3-opencv is 4.6: use face_detection_yunet_2022mar.onnx there)") from None

    def detect(self, bgr: np.ndarray, min_face_size: int = 10) -> list[Detection]:
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._size:
            self.detector.setInputSize(size)
            self._size = size
        _, faces = self.detector.detect(bgr)
        out = []
        for f in faces if faces is not None else []:
            if min(f[2], f[3]) < min_face_size:
                continue
            out.append(Detection(box=(float(f[0]), float(f[1]), float(f[2]), float(f[3])), score=float(f[14]),
                                 landmarks=np.asarray(f[4:14], np.float32).reshape(5, 2)))
        return out

    def redetect(self, bgr: np.ndarray, previous: list[Detection]) -> list[Detection]:
        return redetect_near(bgr, previous, lambda region, side: self.detect(region, 0.6 * side), target_side=64.0)


class ScaledDetector:
    """Detect on a downscaled copy of the frame and map results back to full resolution."""

    def __init__(self, detector: FaceDetector, detection_scale: float = 1.0, min_face_size: int = 24,
                 max_faces: int = 10):
        self.detector, self.scale = detector, float(detection_scale)
        self.min_face_size, self.max_faces = min_face_size, max_faces

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        s = self.scale
        small = bgr
        if s != 1.0:
            size = (max(round(float(bgr.shape[1] * s)), 1), max(round(float(bgr.shape[0] * s)), 1))
            small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if s <= 0.5 else cv2.INTER_LINEAR)
        sx, sy = bgr.shape[1] / small.shape[1], bgr.shape[0] / small.shape[0]
        found = self.detector.detect(small, max(self.min_face_size / max(sx, sy), 1.0))
        out = []
        for d in found:
            x, y, w, h = d.box
            lm = None if d.landmarks is None else (d.landmarks * np.array([sx, sy], np.float32)).astype(np.float32)
            out.append(Detection(box=(x * sx, y * sy, w * sx, h * sy), score=d.score, landmarks=lm))
        return self._select(out)

    def redetect(self, bgr: np.ndarray, previous: list[Detection]) -> list[Detection]:
        """Previous faces found again near their boxes; the regions are scaled on their own, not by ``scale``."""
        return self._select(self.detector.redetect(bgr, previous)) if previous else []

    def _select(self, found: list[Detection]) -> list[Detection]:
        out = [d for d in found if min(d.box[2], d.box[3]) >= self.min_face_size]
        out.sort(key=lambda d: (-d.score, -d.box[2] * d.box[3]))
        return out[: self.max_faces]


def create_detector(config: PipelineConfig) -> ScaledDetector:
    config.validate()
    if config.detector == "haar":
        # Arriaga's (1.3, 5) also at scale 0.5: minNeighbors 3 finds more faces there (recall 0.865 vs 0.805)
        # but also false ones (one on skimage's astronaut photo); see EVALUATION.md.
        base: FaceDetector = HaarDetector(1.3, 5)
    elif config.detector == "mtcnn":
        from fer_ros.core.mtcnn import MTCNNDetector

        base = MTCNNDetector(thresholds=(0.6, 0.7, config.detection_threshold), num_threads=config.num_threads,
                             providers=config.providers)
    elif config.detector.startswith("blazeface"):
        from fer_ros.core.blazeface import DETECTOR_VARIANTS, BlazeFaceDetector

        base = BlazeFaceDetector(DETECTOR_VARIANTS[config.detector], score_threshold=config.detection_threshold,
                                 num_threads=config.num_threads, providers=config.providers)
    else:
        base = YuNetDetector(config.detector_model, score_threshold=config.detection_threshold)
    return ScaledDetector(base, config.detection_scale, config.min_face_size, config.max_faces)
