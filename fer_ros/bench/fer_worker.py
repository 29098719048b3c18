"""Worker run INSIDE the separate ``fer`` baseline venv (python fer_worker.py FRAMES.npz OUT.json ...).

Standalone on purpose: it imports only numpy and the ``fer`` package (``fer==25.10.3``, its MTCNN
(facenet-pytorch) + Keras/TensorFlow HDF5 path: ``FER(mtcnn=True, use_tflite=False)``), never fer_ros.
It pins itself to the given CPUs, limits TensorFlow and torch to the given thread count, warms up,
then times ``detect_emotions`` on every frame of the .npz (``frames``: N x H x W x 3 BGR uint8) and
writes per-frame milliseconds and boxes as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("frames")
    parser.add_argument("out")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cpus", default="0", help="comma-separated CPU ids")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    cpus = {int(c) for c in args.cpus.split(",") if c}
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {c for c in cpus if c in allowed} or {min(allowed)})
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np
    import torch  # before tensorflow: importing torch after tensorflow segfaults (torch 2.13 / TF 2.21)

    # isort: split
    import facenet_pytorch  # noqa: F401  (fer's MTCNN)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    torch.set_num_threads(args.threads)
    import fer
    from fer.fer import FER  # 25.10.3: not re-exported by fer/__init__.py

    frames = np.load(args.frames)["frames"]
    t_load = time.perf_counter()
    detector = FER(mtcnn=True, use_tflite=False)
    load_ms = (time.perf_counter() - t_load) * 1e3
    for i in range(min(args.warmup, len(frames))):
        detector.detect_emotions(frames[i])
    times, boxes = [], []
    for rep in range(args.repeats):
        for frame in frames:
            t0 = time.perf_counter()
            found = detector.detect_emotions(frame)
            times.append((time.perf_counter() - t0) * 1e3)
            if rep == 0:
                boxes.append([[float(v) for v in f["box"]] for f in found])
    out = {"fer_version": fer.__version__, "tensorflow": tf.__version__, "torch": torch.__version__,
           "mode": "FER(mtcnn=True, use_tflite=False)", "threads": args.threads,
           "cpus": sorted(os.sched_getaffinity(0)), "load_ms": load_ms, "times_ms": times, "boxes": boxes,
           "n_frames": int(len(frames)), "repeats": args.repeats}
    with open(args.out, "w") as fh:
        json.dump(out, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
