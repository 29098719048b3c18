"""Prototype of the "detect every k-th frame, track in between" lever, measured on a moving-face stream.

``KeyframePipeline`` wraps the core ``Pipeline``: on every ``every``-th frame it runs the full detector;
on the frames in between it only re-finds each tracked face inside a small region around its last box
(Haar: ``detectMultiScale`` on that region, scaled so the face is ~48 px; MTCNN: one batched O-Net call on
the last boxes, which also gives fresh landmarks; YuNet: the detector on that region scaled to ~64 px
faces). Faces that are not re-found are dropped until the next
full detection; new faces are found at the next full detection (at most ``every - 1`` frames late).
The classifiers run on every frame, on the current boxes.

This lives in the benchmark package as a measured proposal; the product pipeline/node would adopt it
through their own configuration (see BENCHMARKS.md).
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from fer_ros.core.boxes import box_iou
from fer_ros.core.config import PipelineConfig
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.results import Detection, FrameResult

REFINE_MARGIN = 0.5  # Haar: search region = last box grown by this fraction of its size on each side
ONET_GROW = 1.0  # MTCNN: O-Net sees the last box's square grown by this factor (1.15 and 1.3 measured: no gain)



def _region_around(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """Search region (x1, y1, x2, y2) around a tracked box, REFINE_MARGIN box sides each way; None if too small."""
    x, y, bw, bh = box
    side = max(bw, bh)
    x1, y1 = max(int(x - REFINE_MARGIN * side), 0), max(int(y - REFINE_MARGIN * side), 0)
    x2, y2 = min(int(x + bw + REFINE_MARGIN * side), width), min(int(y + bh + REFINE_MARGIN * side), height)
    return None if x2 - x1 < 24 or y2 - y1 < 24 else (x1, y1, x2, y2)

class KeyframePipeline:
    """Full detection every ``every`` frames, local re-detection of tracked faces in between."""

    def __init__(self, config: PipelineConfig, every: int = 5, gender_per_track: bool = False,
                 detector_attrs: dict | None = None):
        self.pipeline = Pipeline(config)
        self.every = max(int(every), 1)
        self.gender_per_track = gender_per_track
        self.index = 0
        self.tracked: list[Detection] = []
        self.genders: list[tuple[str, float]] = []  # cached gender of each tracked face
        base = self.pipeline.detector.detector
        for name, value in (detector_attrs or {}).items():  # bench-side detector settings (see BENCHMARKS.md)
            setattr(base, name, tuple(value) if isinstance(value, list) else value)
        self.kind = config.detector
        self._base = base

    def _refine_haar(self, bgr: np.ndarray) -> list[Detection]:
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        h, w = gray.shape
        out = []
        for d in self.tracked:
            x, y, bw, bh = d.box
            side = max(bw, bh)
            region = _region_around(d.box, w, h)
            if region is None:
                continue
            x1, y1, x2, y2 = region
            s = min(1.0, 48.0 / side)
            roi = gray[y1:y2, x1:x2]
            if s < 1.0:
                roi = cv2.resize(roi, (max(int((x2 - x1) * s), 24), max(int((y2 - y1) * s), 24)),
                                 interpolation=cv2.INTER_AREA)
            f = side * s
            found = self._base.cascade.detectMultiScale(roi, 1.1, 3, minSize=(int(0.7 * f), int(0.7 * f)),
                                                        maxSize=(int(1.4 * f) + 1, int(1.4 * f) + 1))
            if len(found) == 0:
                continue
            cx, cy = x + bw / 2, y + bh / 2
            best = min(found, key=lambda b: ((x1 + (b[0] + b[2] / 2) / s) - cx) ** 2
                       + ((y1 + (b[1] + b[3] / 2) / s) - cy) ** 2)
            bx, by, bw2, bh2 = (float(v) for v in best)
            out.append(Detection(box=(x1 + bx / s, y1 + by / s, bw2 / s, bh2 / s), score=1.0))
        return out

    def _refine_roi(self, bgr: np.ndarray) -> list[Detection]:
        """Any detector (YuNet): run it on the region around each tracked face, scaled to ~64 px faces."""
        h, w = bgr.shape[:2]
        out = []
        for d in self.tracked:
            x, y, bw, bh = d.box
            side = max(bw, bh)
            region = _region_around(d.box, w, h)
            if region is None:
                continue
            x1, y1, x2, y2 = region
            s = min(1.0, 64.0 / side)
            roi = cv2.resize(bgr[y1:y2, x1:x2], (max(int((x2 - x1) * s), 24), max(int((y2 - y1) * s), 24)),
                             interpolation=cv2.INTER_AREA)
            found = self._base.detect(roi, 0.6 * side * s)
            if not found:
                continue
            cx, cy = x + bw / 2, y + bh / 2
            best = min(found, key=lambda f: (x1 + (f.box[0] + f.box[2] / 2) / s - cx) ** 2
                       + (y1 + (f.box[1] + f.box[3] / 2) / s - cy) ** 2)
            bx, by, bw2, bh2 = best.box
            lm = None if best.landmarks is None else (best.landmarks / s + np.array([x1, y1], np.float32))
            out.append(Detection(box=(x1 + bx / s, y1 + by / s, bw2 / s, bh2 / s), score=best.score,
                                 landmarks=None if lm is None else lm.astype(np.float32)))
        return out

    def _refine_mtcnn(self, bgr: np.ndarray) -> list[Detection]:
        if not self.tracked:
            return []
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        boxes = np.array([[x, y, x + w, y + h, d.score] for d in self.tracked for x, y, w, h in [d.box]])
        side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * ONET_GROW
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        sq = np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2, boxes[:, 4]], axis=1)
        found, landmarks = self._base._stage3(rgb, sq)
        return [Detection(box=(float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])),
                          score=float(b[4]), landmarks=lm.astype(np.float32))
                for b, lm in zip(found, landmarks, strict=True)]

    def process(self, bgr: np.ndarray) -> FrameResult:
        t0 = time.perf_counter()
        if self.index % self.every == 0:
            detections = self.pipeline.detector.detect(bgr)
            stage = "detect"
        else:
            detections = (self._refine_mtcnn(bgr) if self.kind == "mtcnn" else self._refine_haar(bgr)
                          if self.kind == "haar" else self._refine_roi(bgr))
            stage = "refine"
        self.index += 1
        timings = {stage: (time.perf_counter() - t0) * 1e3}
        if self.gender_per_track and self.pipeline.gender is not None:
            faces = self._classify_gender_per_track(bgr, detections, timings)
        else:
            faces = self.pipeline.classify(bgr, detections, timings)
        self.tracked = detections
        timings["total"] = (time.perf_counter() - t0) * 1e3
        return FrameResult(width=bgr.shape[1], height=bgr.shape[0], faces=faces,
                           emotion_labels=self.pipeline.emotion_labels, timings_ms=timings)


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
        runner.index, runner.tracked, runner.genders = 0, [], []
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
