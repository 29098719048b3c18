"""Pipeline: frame -> detect -> crop/align -> gender and emotion (one batch each) -> FrameResult.

    pipe = Pipeline(PipelineConfig(detector="haar"))
    result = pipe.process(bgr)   # uint8 HxWx3 BGR; gray and BGRA are converted, anything else: ValueError

Stage timings (ms) in ``result.timings_ms``: detect, align, gender, emotion, total (+ tracking).
``process(frame, tracker)`` also tracks the faces (``fer_ros.core.tracking``: ids, smoothed scores) and runs
the gender model only for the faces whose track needs it (a new track, then every ``gender_every`` frames);
without a tracker every face is classified. With ``detect_every`` N > 1,
``process`` treats its frames as one stream: the full detector runs on every N-th frame (and whenever no
face is known), the frames in between only re-find the previous faces (``fer_ros.core.redetect``) and
classify emotion on the re-found boxes; a frame where one of them is not found again gets a full detection
at once. ``reset()`` starts a new stream.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np

from fer_ros.core.classifiers import EmotionClassifier, GenderClassifier
from fer_ros.core.config import PipelineConfig
from fer_ros.core.detectors import create_detector
from fer_ros.core.face_crop import crop_chips, get_policy
from fer_ros.core.image_input import as_bgr
from fer_ros.core.onnx_session import resolve_providers
from fer_ros.core.results import Detection, Face, FrameResult
from fer_ros.core.tracking import Tracker


class Pipeline:
    """The whole per-frame perception; models and sessions are created once here."""

    def __init__(self, config: PipelineConfig | None = None):
        self.config = config or PipelineConfig()
        self.config.validate()
        # resolved once (a missing provider is an error, or one warning naming the fall-back)
        self.providers = resolve_providers(self.config.providers)
        cfg = dataclasses.replace(self.config, providers=self.providers)
        self.detector = create_detector(cfg)
        self.emotion = EmotionClassifier.from_model(cfg.emotion_model, cfg.num_threads, cfg.providers)
        self.gender = (GenderClassifier.from_model(cfg.gender_model, cfg.num_threads, cfg.providers)
                       if cfg.gender_model else None)
        self.emotion_policy = get_policy(self.config.emotion_crop or self.emotion.spec.face_crop)
        self.gender_policy = (get_policy(self.config.gender_crop or self.gender.spec.face_crop)
                              if self.gender else None)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame's faces: the next frame gets a full detection."""
        self._previous: list[Detection] = []
        self._previous_shape: tuple[int, ...] = ()
        self._since_full = 0

    @property
    def emotion_labels(self) -> tuple[str, ...]:
        return tuple(self.emotion.labels)

    def classify(self, bgr: np.ndarray, detections: list[Detection], timings: dict[str, float] | None = None,
                 gender_for: Sequence[bool] | None = None) -> list[Face]:
        """Faces for given detections (e.g. from another detector or a tracker).

        ``gender_for[i]`` False: no gender for face i (its track has one); None: gender for every face.
        """
        timings = {} if timings is None else timings
        t0 = time.perf_counter()
        emotion_chips = crop_chips(bgr, detections, self.emotion_policy, self.emotion.input_size)
        wanted = [i for i in range(len(detections)) if gender_for is None or gender_for[i]] if self.gender else []
        gender_chips = (crop_chips(bgr, [detections[i] for i in wanted], self.gender_policy, self.gender.input_size)
                        if wanted else [])
        t1 = time.perf_counter()
        gender_p = dict(zip(wanted, self.gender.predict(gender_chips), strict=True)) if wanted else {}
        t2 = time.perf_counter()
        emotion_p = self.emotion.predict(emotion_chips)
        t3 = time.perf_counter()
        timings.update(align=(t1 - t0) * 1e3, gender=(t2 - t1) * 1e3, emotion=(t3 - t2) * 1e3)
        faces = []
        for i, det in enumerate(detections):
            e = int(np.argmax(emotion_p[i]))
            if i in gender_p:
                g = int(np.argmax(gender_p[i]))
                gender, gender_conf = self.gender.labels[g], float(gender_p[i][g])
            else:
                gender, gender_conf = "", 0.0
            faces.append(Face(detection=det, emotion=self.emotion.labels[e],
                              emotion_confidence=float(emotion_p[i, e]),
                              emotion_scores=emotion_p[i].astype(np.float32), gender=gender,
                              gender_confidence=gender_conf, emotion_labels=self.emotion_labels))
        return faces

    def process(self, image: np.ndarray, tracker: Tracker | None = None) -> FrameResult:
        """The next frame of the stream; with ``tracker``, its faces are tracked (gender once per track)."""
        t0 = time.perf_counter()
        bgr = as_bgr(image)
        detections, full = self.detect_in_stream(bgr)
        timings = {"detect": (time.perf_counter() - t0) * 1e3}
        t1 = time.perf_counter()
        gender_for = tracker.gender_due(detections) if tracker is not None and self.gender else None
        due_ms = (time.perf_counter() - t1) * 1e3
        faces = self.classify(bgr, detections, timings, gender_for)
        if tracker is not None:
            t2 = time.perf_counter()
            faces = tracker.update(faces, gender_for)
            timings["tracking"] = due_ms + (time.perf_counter() - t2) * 1e3
        timings["total"] = (time.perf_counter() - t0) * 1e3
        return FrameResult(width=bgr.shape[1], height=bgr.shape[0], faces=faces,
                           emotion_labels=self.emotion_labels, timings_ms=timings, full_detection=full)

    def dry_run(self) -> None:
        """One dummy frame through the detector and one dummy face through every classifier (a batch each).

        Raises what the models raise at run time (e.g. normalisation metadata that does not fit the
        network); the stream state (``detect_every``) is not touched.
        """
        frame = np.full((120, 160, 3), 127, np.uint8)
        self.detector.detect(frame)
        self.classify(frame, [Detection(box=(40.0, 20.0, 80.0, 80.0), score=1.0)])

    def detect_in_stream(self, bgr: np.ndarray) -> tuple[list[Detection], bool]:
        """(detections, whether the full detector ran) for the next frame of the stream."""
        every = self.config.detect_every
        if (every > 1 and self._previous and self._since_full < every - 1
                and bgr.shape == self._previous_shape):
            detections, full = self.detector.redetect(bgr, self._previous), False
            self._since_full += 1
            if len(detections) < len(self._previous):  # a face was lost (moved far, occluded, left): search now
                detections, full = self.detector.detect(bgr), True
                self._since_full = 0
        else:
            detections, full = self.detector.detect(bgr), True
            self._since_full = 0
        if every > 1:
            self._previous, self._previous_shape = detections, bgr.shape
        return detections, full
