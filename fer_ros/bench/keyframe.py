"""The "detect every k-th frame, re-find faces in between" lever, measured on a moving-face stream.

The lever itself is the core pipeline's ``detect_every`` (``fer_ros.core.redetect``: Haar and YuNet search a
small region around each previous box, MTCNN runs one batched O-Net call on the previous boxes), run with
the core tracker as the node runs it (``Pipeline.process(frame, tracker)``), so gender is classified once
per track and refreshed every ``gender_every`` frames (``TrackerConfig.gender_every``; 1 = every frame).
Bench-side detector settings (``detector_attrs``, see BENCHMARKS.md) are applied on top.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from fer_ros.bench.stages import apply_detector_attrs
from fer_ros.core.boxes import box_iou
from fer_ros.core.config import PipelineConfig
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.tracking import Tracker, TrackerConfig


def measure_stream(config: dict, every: int, n_faces: int = 4, length: int = 150, seed: int = 0,
                   faces: str = "auto", threads: int = 1, cpus: tuple[int, ...] = (0,),
                   gender_every: int = 1, detector_attrs: dict | None = None, sequences: int = 1) -> dict:
    """Per-frame time and stages, per-frame recall and new-face delay of a tracked stream on FaceSequences.

    The core pipeline with ``detect_every`` = ``every`` and a tracker with ``gender_every``; ``sequences``
    streams (seeds ``seed``, ``seed + 1``, ...) are run one after the other with a fresh pipeline and
    tracker state each; times, recall and delays are pooled over them.
    """
    from fer_ros.bench.frames import FaceSequence, count_matches
    from fer_ros.bench.stats import pin_to_cpus, summarize

    pin_to_cpus(set(cpus))
    cv2.setNumThreads(threads)
    pipeline = Pipeline(PipelineConfig(**{**config, "num_threads": threads, "detect_every": max(int(every), 1)}))
    apply_detector_attrs(pipeline, detector_attrs or {})  # bench-side settings (see BENCHMARKS.md)
    times, found, truth, false_pos, delays, never = [], 0, 0, 0, [], 0
    stages: dict[str, list[float]] = {}
    gender_faces = faces_seen = 0
    for k in range(max(int(sequences), 1)):
        seq = FaceSequence(n_faces, length, seed=seed + k, faces=faces)
        frames = [seq.frame(i) for i in range(length)]
        tracker = Tracker(TrackerConfig(gender_every=gender_every))
        for f in frames[:every]:  # warm-up on the first frames, then start the stream over
            pipeline.process(f.bgr, tracker)
        pipeline.reset()
        tracker.reset()
        before = pipeline.gender.faces_classified if pipeline.gender else 0
        first_seen: dict[int, int] = {}
        for i, f in enumerate(frames):
            t = time.perf_counter()
            result = pipeline.process(f.bgr, tracker)
            times.append((time.perf_counter() - t) * 1e3)
            for key, value in result.timings_ms.items():
                stages.setdefault(key, []).append(value)
            boxes = [face.detection.box for face in result.faces]
            faces_seen += len(boxes)
            tp, fp = count_matches(f.boxes, boxes)
            found, truth, false_pos = found + tp, truth + len(f.boxes), false_pos + fp
            visible = [j for j, tr in enumerate(seq.tracks) if i >= tr["enter"]]
            for j, box in zip(visible, f.boxes, strict=True):
                if j not in first_seen and any(box_iou(box, b) >= 0.4 for b in boxes):
                    first_seen[j] = i - seq.tracks[j]["enter"]
        delays += [first_seen.get(j, length - t["enter"]) for j, t in enumerate(seq.tracks)]
        never += sum(1 for j in range(len(seq.tracks)) if j not in first_seen)
        gender_faces += (pipeline.gender.faces_classified if pipeline.gender else 0) - before
    return {"config": config, "every": every, "gender_every": gender_every,
            "detector_attrs": detector_attrs or {}, "n_faces": n_faces, "frames": length, "sequences": sequences,
            "frame_ms": summarize(times), "fps_mean": 1e3 / float(np.mean(times)),
            "stages_ms_mean": {key: float(np.mean(v)) for key, v in stages.items()},
            "faces_per_frame": faces_seen / len(times), "gender_faces_per_frame": gender_faces / len(times),
            "recall": found / truth if truth else None, "false_positives": false_pos,
            "new_face_delay_frames": delays, "never_found": never}
