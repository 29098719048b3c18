"""The "detect every k-th frame, re-find faces in between" lever, measured on a moving-face stream.

The lever itself is the core pipeline's ``detect_every`` (``fer_ros.core.redetect``: Haar and YuNet search a
small region around each previous box, MTCNN runs one batched O-Net call on the previous boxes).
``KeyframePipeline`` adds what is only measured here so far: gender classified once per tracked face
(``gender_per_track``) and bench-side detector settings (``detector_attrs``, see BENCHMARKS.md).
"""

from __future__ import annotations

import dataclasses
import time

import cv2
import numpy as np

from fer_ros.bench.stages import apply_detector_attrs
from fer_ros.core.boxes import box_iou
from fer_ros.core.config import PipelineConfig
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.results import Detection, FrameResult


class KeyframePipeline:
    """The core pipeline with ``detect_every`` = ``every``, optionally with gender kept per tracked face."""

    def __init__(self, config: PipelineConfig, every: int = 5, gender_per_track: bool = False,
                 detector_attrs: dict | None = None):
        self.pipeline = Pipeline(dataclasses.replace(config, detect_every=max(int(every), 1)))
        self.gender_per_track = gender_per_track
        apply_detector_attrs(self.pipeline, detector_attrs or {})  # bench-side settings (see BENCHMARKS.md)
        self.reset()

    def reset(self) -> None:
        self.pipeline.reset()
        self.tracked: list[Detection] = []
        self.genders: list[tuple[str, float]] = []  # cached gender of each tracked face

    def process(self, bgr: np.ndarray) -> FrameResult:
        if not (self.gender_per_track and self.pipeline.gender is not None):
            return self.pipeline.process(bgr)
        t0 = time.perf_counter()
        detections, full = self.pipeline.detect_in_stream(bgr)
        timings = {"detect": (time.perf_counter() - t0) * 1e3}
        faces = self._classify_gender_per_track(bgr, detections, timings)
        self.tracked = detections
        timings["total"] = (time.perf_counter() - t0) * 1e3
        return FrameResult(width=bgr.shape[1], height=bgr.shape[0], faces=faces,
                           emotion_labels=self.pipeline.emotion_labels, timings_ms=timings, full_detection=full)

    def _classify_gender_per_track(self, bgr: np.ndarray, detections: list[Detection], timings: dict) -> list:
        """Emotion for every face; gender only for faces not matched to a tracked face (kept per track)."""
        from fer_ros.core.face_crop import crop_chips

        previous = {}
        for i, d in enumerate(detections):
            best = max(range(len(self.tracked)), key=lambda j: box_iou(d.box, self.tracked[j].box), default=None)
            if best is not None and box_iou(d.box, self.tracked[best].box) >= 0.3 and best < len(self.genders):
                previous[i] = self.genders[best]
        gender, self.pipeline.gender = self.pipeline.gender, None
        try:
            faces = self.pipeline.classify(bgr, detections, timings)
        finally:
            self.pipeline.gender = gender
        t0 = time.perf_counter()
        new = [i for i in range(len(detections)) if i not in previous]
        if new:
            chips = crop_chips(bgr, [detections[i] for i in new], self.pipeline.gender_policy, gender.input_size)
            probs = gender.predict(chips)
            for i, p in zip(new, probs, strict=True):
                g = int(np.argmax(p))
                previous[i] = (gender.labels[g], float(p[g]))
        for i, face in enumerate(faces):
            face.gender, face.gender_confidence = previous[i]
        self.genders = [previous[i] for i in range(len(detections))]
        timings["gender"] = (time.perf_counter() - t0) * 1e3
        return faces


def measure_stream(config: dict, every: int, n_faces: int = 4, length: int = 150, seed: int = 0,
                   faces: str = "auto", threads: int = 1, cpus: tuple[int, ...] = (0,),
                   gender_per_track: bool = False, detector_attrs: dict | None = None, sequences: int = 1) -> dict:
    """Per-frame time, per-frame recall and new-face delay of a (keyframe) pipeline on FaceSequences.

    ``sequences`` streams (seeds ``seed``, ``seed + 1``, ...) are run one after the other with a fresh
    pipeline state each; times, recall and delays are pooled over them.
    """
    from fer_ros.bench.frames import FaceSequence, count_matches
    from fer_ros.bench.stats import pin_to_cpus, summarize
    from fer_ros.core.tracking import Tracker

    pin_to_cpus(set(cpus))
    cv2.setNumThreads(threads)
    runner = KeyframePipeline(PipelineConfig(**{**config, "num_threads": threads}), every, gender_per_track,
                              detector_attrs)
    times, found, truth, false_pos, delays, never = [], 0, 0, 0, [], 0
    for k in range(max(int(sequences), 1)):
        seq = FaceSequence(n_faces, length, seed=seed + k, faces=faces)
        frames = [seq.frame(i) for i in range(length)]
        tracker = Tracker()
        for f in frames[:every]:  # warm-up on the first frames, then start the stream over
            runner.process(f.bgr)
        runner.reset()
        first_seen: dict[int, int] = {}
        for i, f in enumerate(frames):
            t = time.perf_counter()
            result = runner.process(f.bgr)
            tracker.update(result.faces)
            times.append((time.perf_counter() - t) * 1e3)
            boxes = [face.detection.box for face in result.faces]
            tp, fp = count_matches(f.boxes, boxes)
            found, truth, false_pos = found + tp, truth + len(f.boxes), false_pos + fp
            visible = [j for j, tr in enumerate(seq.tracks) if i >= tr["enter"]]
            for j, box in zip(visible, f.boxes, strict=True):
                if j not in first_seen and any(box_iou(box, b) >= 0.4 for b in boxes):
                    first_seen[j] = i - seq.tracks[j]["enter"]
        delays += [first_seen.get(j, length - t["enter"]) for j, t in enumerate(seq.tracks)]
        never += sum(1 for j in range(len(seq.tracks)) if j not in first_seen)
    return {"config": config, "every": every, "gender_per_track": gender_per_track,
            "detector_attrs": detector_attrs or {}, "n_faces": n_faces, "frames": length, "sequences": sequences,
            "frame_ms": summarize(times), "fps_mean": 1e3 / float(np.mean(times)),
            "recall": found / truth if truth else None, "false_positives": false_pos,
            "new_face_delay_frames": delays, "never_found": never}
