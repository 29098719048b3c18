"""Per-stage timing of one configuration, in a fresh child process pinned to the CPUs it may use.

Each measurement runs in its own spawned process so that thread pools (OpenCV, onnxruntime) are created
under the CPU affinity and thread count being measured. Stages per frame: ``decode`` (JPEG of the
frame, as a CompressedImage camera sends it), ``convert`` (rgb8 -> BGR, as the node does for rgb8
cameras; bgr8 is a zero-copy view), the pipeline's ``detect``, ``align``, ``gender``, ``emotion``,
``tracking`` (``Tracker.update``, with the default ``TrackerConfig``: gender once per track) and ``drawing``
(``draw_faces``, only done for the debug image). ``frame`` = pipeline total including tracking: the
per-frame cost of the node without ROS. The frames are independent composites (faces at new places in
every frame), so tracks rarely last and gender runs for nearly every face; the stream levers
(``fer_ros.bench.keyframe``) measure what gender once per track saves.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import asdict, dataclass, field

from fer_ros.bench.stats import summarize

STAGES = ("decode", "convert", "detect", "align", "gender", "emotion", "tracking", "drawing", "frame")


@dataclass
class StageJob:
    """What to measure: a pipeline configuration (or ``arriaga``) on frames with these face counts."""

    name: str
    pipeline: dict = field(default_factory=dict)  # PipelineConfig fields; {"baseline": "arriaga"} for Arriaga
    threads: int = 1  # intra-op threads (onnxruntime sessions and cv2.setNumThreads)
    cpus: tuple[int, ...] = (0,)  # CPU affinity of the measuring process
    face_counts: tuple[int, ...] = (0, 1, 4, 8)
    frames: int = 10  # distinct frames per face count
    repeats: int = 3  # passes over the frames (after warm-up)
    warmup: int = 3  # frames processed before timing
    seed: int = 0
    faces: str = "auto"  # face source for fer_ros.bench.frames
    detector_attrs: dict = field(default_factory=dict)  # bench-side detector settings, e.g. {"min_neighbors": 3}


def apply_detector_attrs(pipeline, attrs: dict) -> None:
    """Set bench-side detector settings that PipelineConfig does not expose (yet) on ``pipeline``'s detector."""
    for name, value in attrs.items():
        setattr(pipeline.detector.detector, name, tuple(value) if isinstance(value, list) else value)


def _measure(job: StageJob) -> dict:
    import cv2
    import numpy as np

    from fer_ros.bench.frames import count_matches, make_frames
    from fer_ros.bench.stats import pin_to_cpus, proc_memory_mb

    cpus = pin_to_cpus(set(job.cpus))
    cv2.setNumThreads(job.threads)
    if job.pipeline.get("baseline") == "arriaga":
        from fer_ros.bench.arriaga import ArriagaPipeline

        runner, pipeline, tracker, draw = ArriagaPipeline(job.threads), None, None, None
    else:
        from fer_ros.core.config import PipelineConfig
        from fer_ros.core.draw import draw_faces as draw
        from fer_ros.core.pipeline import Pipeline
        from fer_ros.core.tracking import Tracker

        # the frames are independent: every one gets a full detection (detect_every is measured on a stream,
        # fer_ros.bench.keyframe), whatever the default
        pipeline = Pipeline(PipelineConfig(**{"detect_every": 1, **job.pipeline, "num_threads": job.threads}))
        apply_detector_attrs(pipeline, job.detector_attrs)
        tracker, runner = Tracker(), None
    out: dict = {"name": job.name, "job": asdict(job), "cpus": sorted(cpus), "by_faces": {}}
    for n_faces in job.face_counts:
        frames = make_frames(n_faces, job.frames, seed=job.seed, faces=job.faces)
        jpegs = [cv2.imencode(".jpg", f.bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1] for f in frames]
        rgbs = [np.ascontiguousarray(f.bgr[:, :, ::-1]) for f in frames]
        for f in frames[: job.warmup]:
            runner.process(f.bgr) if runner else pipeline.process(f.bgr)
        times: dict[str, list[float]] = {s: [] for s in STAGES}
        per_frame_ms: list[list[float]] = [[] for _ in frames]
        matches: list[list[int]] = []  # per frame: true positives, false positives, ground-truth faces
        found = false_pos = truth = 0
        for rep in range(job.repeats):
            for i, f in enumerate(frames):
                t0 = time.perf_counter()
                cv2.imdecode(jpegs[i], cv2.IMREAD_COLOR)
                t1 = time.perf_counter()
                bgr = cv2.cvtColor(rgbs[i], cv2.COLOR_RGB2BGR)
                t2 = time.perf_counter()
                times["decode"].append((t1 - t0) * 1e3)
                times["convert"].append((t2 - t1) * 1e3)
                if runner is not None:
                    boxes, timing = runner.process(bgr)
                    for key in ("detect", "emotion"):
                        times[key].append(timing[key])
                    times["frame"].append(timing["total"])
                else:
                    result = pipeline.process(bgr, tracker)  # as the node: tracked, gender once per track
                    t4 = time.perf_counter()
                    draw(bgr, result.faces)
                    t5 = time.perf_counter()
                    for key in ("detect", "align", "gender", "emotion", "tracking"):
                        times[key].append(result.timings_ms.get(key, 0.0))
                    times["drawing"].append((t5 - t4) * 1e3)
                    times["frame"].append(result.timings_ms["total"])
                    boxes = [face.detection.box for face in result.faces]
                per_frame_ms[i].append(times["frame"][-1])
                if rep == 0:
                    tp, fp = count_matches(f.boxes, boxes)
                    matches.append([tp, fp, len(f.boxes)])
                    found, false_pos, truth = found + tp, false_pos + fp, truth + len(f.boxes)
        stats = {s: summarize(v) for s, v in times.items() if v}
        out["by_faces"][str(n_faces)] = {
            "stages": stats, "faces_true": truth, "faces_found": found, "false_positives": false_pos,
            "recall": (found / truth) if truth else None,
            "fps_p50": 1e3 / stats["frame"]["p50"] if stats["frame"]["p50"] else None,
            "per_frame": {"median_ms": [float(np.median(v)) for v in per_frame_ms], "matches": matches},
        }
    out["memory"] = proc_memory_mb()
    return out


def run_isolated(fn, args: tuple, timeout_s: float = 1800.0) -> dict:
    """``fn(*args)`` in a fresh spawned process (own thread pools, own CPU affinity); errors as {"error"}."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        try:
            return pool.apply_async(fn, args).get(timeout_s)
        except Exception as exc:  # noqa: BLE001 - one broken configuration must not end the benchmark
            return {"error": f"{type(exc).__name__}: {exc}"}


def run_job(job: StageJob, timeout_s: float = 1800.0) -> dict:
    """Measure ``job`` in a fresh spawned process; a failure is returned as {"name", "job", "error"}."""
    result = run_isolated(_measure, (job,), timeout_s)
    if "error" in result:
        result.update(name=job.name, job=asdict(job))
    return result
