"""Arriaga et al. 2017's pipeline as published, as the speed/recall baseline.

``face_classification/src/video_emotion_color_demo.py``: gray frame, Haar
``detectMultiScale(gray, 1.3, 5)`` on the full-resolution frame, then for each face one at a time:
the box grown by the emotion offsets (20, 40), numpy-sliced (clipped at the frame), resized to 64x64,
``x / 255``, ``(x - 0.5) * 2``, one mini-Xception call per face. The network is the converted seed model
(``mini-xception-fer2013`` ONNX, numerically equal to the Keras HDF5) on onnxruntime with the same
session settings as fer_ros, so the comparison measures the pipeline, not the inference engine.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from fer_ros.core.detectors import haar_cascade_path
from fer_ros.core.model_registry import resolve_model
from fer_ros.core.onnx_session import create_session

EMOTION_OFFSETS = (20, 40)


class ArriagaPipeline:
    """Haar full frame + per-face mini-Xception, exactly as the published demo does it."""

    def __init__(self, num_threads: int = 1):
        self.cascade = cv2.CascadeClassifier(str(haar_cascade_path()))
        if self.cascade.empty():
            raise RuntimeError(f"cannot load {haar_cascade_path()} (needs OpenCV 4.x)")
        _, path = resolve_model("mini-xception-fer2013", "emotion")  # the published model, not our default
        self.session = create_session(path, num_threads)
        self.input_name = self.session.get_inputs()[0].name

    def process(self, bgr: np.ndarray) -> tuple[list[tuple[float, float, float, float]], dict[str, float]]:
        """(face boxes x, y, w, h; stage timings in ms) for one BGR frame."""
        t0 = time.perf_counter()
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        faces = self.cascade.detectMultiScale(gray, 1.3, 5)
        t1 = time.perf_counter()
        boxes = []
        for x, y, w, h in faces:
            x_off, y_off = EMOTION_OFFSETS
            x1, x2, y1, y2 = x - x_off, x + w + x_off, y - y_off, y + h + y_off
            face = gray[max(y1, 0):y2, max(x1, 0):x2]
            face = cv2.resize(face, (64, 64)).astype(np.float32) / 255.0
            face = ((face - 0.5) * 2.0)[None, None]  # NCHW, one face per call
            self.session.run(None, {self.input_name: face})
            boxes.append((float(x), float(y), float(w), float(h)))
        t2 = time.perf_counter()
        return boxes, {"detect": (t1 - t0) * 1e3, "emotion": (t2 - t1) * 1e3, "total": (t2 - t0) * 1e3}
