"""Cost of the temporal model per track per frame, on one core (``python -m fer_ros.bench.temporal``).

The astronaut stream (``fer_ros.ros.synthetic_stream``) with its expression changing is detected once
(MTCNN) and given the default single-frame scores; then, pinned to one CPU with one onnxruntime thread,
``TemporalTracker.update`` runs frame after frame for 1, 2 and 4 tracks with a full window. Reported:
ms per track per frame for the whole update (part and face crops + the MGLN run) and for the MGLN run
alone (batch = tracks), p50 / p95 over the frames, as thread CPU time (``time.thread_time``: what the
work costs, independent of other jobs on a shared machine) and as wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np

from fer_ros.bench.stats import pin_to_cpus, summarize
from fer_ros.core.config import PipelineConfig
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.temporal import DEFAULT_TEMPORAL_WINDOW, TemporalModel, TemporalTracker
from fer_ros.ros.synthetic_stream import SyntheticFaceStream, astronaut_with_expression


def measure(model_name: str = "mgln-ckplus", frames: int = 200, tracks: tuple[int, ...] = (1, 2, 4),
            window: int = DEFAULT_TEMPORAL_WINDOW) -> dict:
    pin_to_cpus({0})
    stream = SyntheticFaceStream(640, 480, step_px=4.0)
    pipe = Pipeline(PipelineConfig(detector="mtcnn", gender_model=""))
    model = TemporalModel.from_model(model_name, num_threads=1)
    distinct = 30
    recorded = []
    for i in range(distinct):
        bgr = stream.frame(i, astronaut_with_expression(0.5 + 0.5 * np.sin(i / 5.0)))
        recorded.append((bgr, pipe.process(bgr).faces[:1]))
    result = {"model": model_name, "window": window, "frames": frames, "machine": platform.processor() or
              platform.machine(), "threads": 1, "per_tracks": {}}
    for n in tracks:
        temporal = TemporalTracker(model, window)
        update_ms, update_cpu_ms, model_ms, model_cpu_ms = [], [], [], []
        for i in range(frames + window):
            bgr, faces = recorded[i % distinct]
            copies = [dataclasses.replace(faces[0], track_id=str(t)) for t in range(n)]
            t0, c0 = time.perf_counter(), time.thread_time()
            temporal.update(bgr, copies, [str(t) for t in range(n)])
            t1, c1 = time.perf_counter(), time.thread_time()
            if i >= window:  # windows full: every frame runs the model
                update_ms.append((t1 - t0) * 1e3 / n)
                update_cpu_ms.append((c1 - c0) * 1e3 / n)
        face = np.zeros((n, *model.sizes.face[::-1]), np.uint8)
        parts = np.zeros((n, 3, 3, *model.sizes.part[::-1]), np.uint8)
        for _ in range(frames):
            t0, c0 = time.perf_counter(), time.thread_time()
            model.predict(face, parts)
            model_ms.append((time.perf_counter() - t0) * 1e3 / n)
            model_cpu_ms.append((time.thread_time() - c0) * 1e3 / n)
        result["per_tracks"][str(n)] = {"update_ms_per_track": summarize(update_ms),
                                        "update_cpu_ms_per_track": summarize(update_cpu_ms),
                                        "model_ms_per_track": summarize(model_ms),
                                        "model_cpu_ms_per_track": summarize(model_cpu_ms)}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_ros.bench.temporal", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="mgln-ckplus")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = measure(args.model, args.frames)
    for n, r in result["per_tracks"].items():
        u, uc = r["update_ms_per_track"], r["update_cpu_ms_per_track"]
        m, mc = r["model_ms_per_track"], r["model_cpu_ms_per_track"]
        print(f"{n} track(s), ms per track per frame, p50 (p95): update CPU {uc['p50']:.2f} ({uc['p95']:.2f}), "
              f"wall {u['p50']:.2f} ({u['p95']:.2f}); MGLN alone CPU {mc['p50']:.2f} ({mc['p95']:.2f}), "
              f"wall {m['p50']:.2f} ({m['p95']:.2f})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
