"""fer-ros-eval-detection: face-detector recall and single-thread time on composited 640x480 frames.

    python -m fer_ros.cli.eval_detection FACES_DIR --json OUT.json [--configs haar@1.0,haar@0.5,...]
    python -m fer_ros.cli.eval_detection --photos ../shared/data/detection_dev --json OUT.json [--configs ...]
    python -m fer_ros.cli.eval_detection --photos ../shared/data/tcce_dev --one-face --json OUT.json

``--photos DIR``: real photos instead of composites. With ``DIR/boxes.json`` ({file: [[x, y, w, h], ...]},
images under ``DIR/images``; detection_dev) a face is found when a detection overlaps its box with
IoU >= 0.4 or has its centre inside it (one-to-one, best IoU first; the rule of detection_dev's SOURCE.txt),
every other detection is a false positive. With ``--one-face`` (tcce_dev: one face per photo, no boxes) a
photo's face is found when at least one detection is reported, and every detection beyond the first is
counted as a false positive.
``--bench-frames N``: the frames ``fer-ros-bench`` times (``fer_ros.bench.frames.make_frames``, faces from
``--bench-faces``), N frames each with 1 and with 4 faces, matched as the bench does (IoU >= 0.4).

Each frame pastes 1 or 4 face crops from FACES_DIR (e.g. ../shared/data/utkface_dev; searched recursively)
scaled to a crop side drawn from ``--sizes`` onto a non-face background (skimage's coffee / rocket /
hubble photos). A face counts as found when a detection's centre lies inside a pasted crop and its box
side is between 0.25 and 1.3 crop sides (one detection per crop). Times are thread CPU time and wall
time of ``ScaledDetector.detect`` with OpenCV and onnxruntime on one thread.
Config syntax: ``detector@scale``, ``haar@scale:scaleFactor:minNeighbors``, ``mtcnn@scale:pnet:rnet``
(P-/R-Net thresholds), ``blazeface@scale:threshold`` / ``blazeface-full@scale:threshold`` or
``yunet@scale`` (needs ``--yunet``); ``/min_face_size`` after any of them overrides ``--min-face-size``
(e.g. ``blazeface@0.5:0.6/32``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fer_ros.cli.options import add_providers_argument
from fer_ros.core.blazeface import DETECTOR_VARIANTS, BlazeFaceDetector
from fer_ros.core.boxes import box_iou, greedy_matches
from fer_ros.core.config import PipelineConfig
from fer_ros.core.detectors import HaarDetector, ScaledDetector, YuNetDetector
from fer_ros.core.image_input import image_files
from fer_ros.core.onnx_session import DEFAULT_PROVIDERS, resolve_providers


def backgrounds(size=(640, 480)) -> list[np.ndarray]:
    import skimage.data

    out = []
    for name in ("coffee", "rocket", "hubble_deep_field", "immunohistochemistry"):
        rgb = getattr(skimage.data, name)()
        out.append(cv2.resize(np.ascontiguousarray(rgb[:, :, ::-1]), size, interpolation=cv2.INTER_AREA))
    return out


def make_frames(face_files: list[Path], n_frames: int, faces_per_frame: int, sizes: tuple[int, ...],
                seed: int = 0) -> list[tuple[np.ndarray, list[tuple[int, int, int]]]]:
    """(frame, [(x, y, side) of each pasted crop]) on a 640x480 background, crops do not overlap."""
    rng = np.random.default_rng(seed)
    bgs = backgrounds()
    frames = []
    for i in range(n_frames):
        frame = bgs[i % len(bgs)].copy()
        boxes: list[tuple[int, int, int]] = []
        while len(boxes) < faces_per_frame:
            side = int(rng.choice(sizes))
            if faces_per_frame == 4:  # one per quadrant
                qx, qy = (len(boxes) % 2) * 320, (len(boxes) // 2) * 240
                side = min(side, 230)
                x, y = qx + int(rng.integers(0, 320 - side + 1)), qy + int(rng.integers(0, 240 - side + 1))
            else:
                x, y = int(rng.integers(0, 640 - side + 1)), int(rng.integers(0, 480 - side + 1))
            face = cv2.imread(str(face_files[int(rng.integers(len(face_files)))]), cv2.IMREAD_COLOR)
            frame[y:y + side, x:x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
            boxes.append((x, y, side))
        frames.append((frame, boxes))
    return frames


def matched(detections, boxes) -> int:
    used, found = set(), 0
    for x, y, side in boxes:
        for k, d in enumerate(detections):
            cx, cy = d.box[0] + d.box[2] / 2, d.box[1] + d.box[3] / 2
            if k not in used and x <= cx <= x + side and y <= cy <= y + side and \
                    0.25 * side <= max(d.box[2], d.box[3]) <= 1.3 * side:
                used.add(k)
                found += 1
                break
    return found


def build(config: str, yunet: str, min_face_size: int = 48,
          providers: tuple[str, ...] = DEFAULT_PROVIDERS) -> ScaledDetector:
    config, _, min_size = config.partition("/")
    min_face_size = int(min_size) if min_size else min_face_size
    name, _, rest = config.partition("@")
    parts = rest.split(":") if rest else ["1.0"]
    scale = float(parts[0])
    if name == "haar":
        sf = float(parts[1]) if len(parts) > 1 else 1.3
        mn = int(parts[2]) if len(parts) > 2 else 5
        base = HaarDetector(sf, mn)
    elif name == "mtcnn":
        from fer_ros.core.mtcnn import MTCNNDetector

        p = float(parts[1]) if len(parts) > 1 else 0.6
        r = float(parts[2]) if len(parts) > 2 else 0.7
        base = MTCNNDetector(thresholds=(p, r, 0.7), providers=providers)
    elif name in DETECTOR_VARIANTS:
        base = BlazeFaceDetector(DETECTOR_VARIANTS[name],
                                 float(parts[1]) if len(parts) > 1 else PipelineConfig.detection_threshold,
                                 providers=providers)
    elif name == "yunet":
        base = YuNetDetector(yunet)
    else:
        raise SystemExit(f"error: unknown detector {name!r}")
    return ScaledDetector(base, scale, min_face_size=min_face_size, max_faces=20)


def measure(detector: ScaledDetector, frames) -> dict:
    detector.detect(frames[0][0])  # warm-up
    cpu, wall, found, total, false_pos = [], [], 0, 0, 0
    for frame, boxes in frames:
        c0, w0 = time.thread_time(), time.perf_counter()
        dets = detector.detect(frame)
        cpu.append((time.thread_time() - c0) * 1e3)
        wall.append((time.perf_counter() - w0) * 1e3)
        hit = matched(dets, boxes)
        found += hit
        total += len(boxes)
        false_pos += len(dets) - hit
    return {"recall": found / total, "faces": total, "false_positives": false_pos,
            "cpu_ms_mean": float(np.mean(cpu)), "cpu_ms_p50": float(np.median(cpu)),
            "wall_ms_mean": float(np.mean(wall)), "wall_ms_p50": float(np.median(wall))}


def photo_matches(truth: list[list[float]], found: list[tuple[float, float, float, float]]) -> int:
    """Faces found under detection_dev's rule: IoU >= 0.4 or the detection's centre inside the box."""
    pairs = []
    for i, t in enumerate(truth):
        for j, f in enumerate(found):
            cx, cy = f[0] + f[2] / 2, f[1] + f[3] / 2
            iou = box_iou(tuple(t), f)
            if iou >= 0.4 or (t[0] <= cx <= t[0] + t[2] and t[1] <= cy <= t[1] + t[3]):
                pairs.append((iou, i, j))
    return len(greedy_matches(pairs))


def load_photos(folder: Path, one_face: bool) -> list[tuple[Path, list[list[float]] | None]]:
    """(image path, truth boxes or None for one-face photos) of a photo folder (see the module docstring)."""
    boxes_file = folder / "boxes.json"
    if boxes_file.is_file() and not one_face:
        boxes = json.loads(boxes_file.read_text())
        return [(folder / "images" / name, truth) for name, truth in sorted(boxes.items())]
    if not one_face:
        raise SystemExit(f"error: {boxes_file} not found (give --one-face for photos with one face each)")
    return [(p, None) for p in image_files(folder, recursive=True)]


def measure_photos(detector: ScaledDetector, photos) -> dict:
    """Recall, false positives and per-photo single-thread time on real photos."""
    cpu, found, total, false_pos, per_photo = [], 0, 0, 0, {}
    for path, truth in photos:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"error: cannot read {path}")
        c0 = time.thread_time()
        dets = detector.detect(image)
        cpu.append((time.thread_time() - c0) * 1e3)
        if truth is None:
            hit, n = min(len(dets), 1), 1
        else:
            hit, n = photo_matches(truth, [d.box for d in dets]), len(truth)
        found, total, false_pos = found + hit, total + n, false_pos + len(dets) - hit
        per_photo[path.name] = {"faces": n, "found": hit, "detections": len(dets)}
    return {"recall": found / max(total, 1), "faces": total, "photos": len(photos), "false_positives": false_pos,
            "cpu_ms_mean": float(np.mean(cpu)), "cpu_ms_p50": float(np.median(cpu)),
            "per_photo": per_photo if len(per_photo) <= 50 else {}}


def write_json(path: Path, out: dict) -> None:
    """The results as indented JSON (the folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")


def main_photos(args) -> int:
    photos = load_photos(args.photos, args.one_face)
    if not photos:
        raise SystemExit(f"error: no photos under {args.photos}")
    results = {}
    for config in args.configs.split(","):
        detector = build(config, args.yunet, args.min_face_size, args.providers)
        detector.detect(cv2.imread(str(photos[0][0]), cv2.IMREAD_COLOR))  # warm-up
        r = results[config] = measure_photos(detector, photos)
        print(f"{config:28s} recall {r['recall']:.3f} ({r['faces']} faces)  false pos {r['false_positives']:3d}  "
              f"cpu ms/photo {r['cpu_ms_mean']:.1f}", file=sys.stderr)
    out = {"photos": str(args.photos), "one_face": args.one_face, "min_face_size": args.min_face_size,
           "results": results}
    write_json(args.json, out)
    return 0


def main_bench_frames(args) -> int:
    from fer_ros.bench.frames import count_matches, face_crops
    from fer_ros.bench.frames import make_frames as bench_frames

    sets = {n: bench_frames(n, args.bench_frames, seed=args.seed, faces=args.bench_faces) for n in (1, 4)}
    results = {}
    for config in args.configs.split(","):
        detector = build(config, args.yunet, args.min_face_size, args.providers)
        detector.detect(sets[1][0].bgr)  # warm-up
        results[config] = {}
        for n, frames in sets.items():
            cpu, found, total, false_pos = [], 0, 0, 0
            for f in frames:
                c0 = time.thread_time()
                dets = detector.detect(f.bgr)
                cpu.append((time.thread_time() - c0) * 1e3)
                tp, fp = count_matches(f.boxes, [d.box for d in dets])
                found, total, false_pos = found + tp, total + len(f.boxes), false_pos + fp
            results[config][f"{n}_faces"] = {"recall": found / total, "faces": total, "false_positives": false_pos,
                                             "cpu_ms_mean": float(np.mean(cpu)), "cpu_ms_p50": float(np.median(cpu))}
        r1, r4 = results[config]["1_faces"], results[config]["4_faces"]
        print(f"{config:28s} recall 1 face {r1['recall']:.3f}  4 faces {r4['recall']:.3f}  false pos "
              f"{r1['false_positives'] + r4['false_positives']:3d}  cpu ms {r1['cpu_ms_mean']:.1f} / "
              f"{r4['cpu_ms_mean']:.1f}", file=sys.stderr)
    out = {"bench_frames": args.bench_frames, "faces": face_crops(args.bench_faces)[0], "frame_size": [640, 480],
           "min_face_size": args.min_face_size, "results": results}
    write_json(args.json, out)
    return 0


def measure_stages(config: str, yunet: str, frames, providers: tuple[str, ...] = DEFAULT_PROVIDERS) -> dict:
    """Mean per-stage ms (Pipeline.timings_ms) of the whole pipeline, default settings otherwise."""
    from fer_ros.core.config import PipelineConfig
    from fer_ros.core.pipeline import Pipeline

    name, _, scale = config.partition("@")
    pipe = Pipeline(PipelineConfig(detector=name, detection_scale=float(scale or 1.0), detector_model=yunet,
                                   providers=providers))
    pipe.process(frames[0][0])
    stages: dict[str, list[float]] = {}
    cpu, faces = [], []
    for frame, _ in frames:
        c0 = time.thread_time()
        result = pipe.process(frame)
        cpu.append((time.thread_time() - c0) * 1e3)
        faces.append(len(result.faces))
        for key, value in result.timings_ms.items():
            stages.setdefault(key, []).append(value)
    out = {f"{k}_ms_mean": float(np.mean(v)) for k, v in stages.items()}
    out.update(total_cpu_ms_mean=float(np.mean(cpu)), faces_per_frame_mean=float(np.mean(faces)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fer-ros-eval-detection", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("faces", type=Path, nargs="?", help="folder of face crops (searched recursively)")
    parser.add_argument("--photos", type=Path, default=None, help="evaluate on real photos instead (see above)")
    parser.add_argument("--one-face", action="store_true", help="--photos: one face per photo, no boxes.json")
    parser.add_argument("--bench-frames", type=int, default=0, help="evaluate on N of fer-ros-bench's frames "
                        "per face count (1 and 4) instead")
    parser.add_argument("--bench-faces", default="auto", help="--bench-frames: face crops (as fer-ros-bench --faces)")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--configs", default="haar@1.0,haar@0.5,mtcnn@1.0,mtcnn@0.5")
    parser.add_argument("--yunet", default="", help="YuNet .onnx for yunet@... configs")
    parser.add_argument("--frames", type=int, default=60, help="frames per face count")
    parser.add_argument("--sizes", default="96,128,192,256",
                        help="pasted crop sides in pixels (UTKFace: the face box is about half the crop)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-face-size", type=int, default=48, help="full-resolution pixels")
    parser.add_argument("--pipeline-configs", default="", help="also time the whole Pipeline per stage for "
                        "these detector@scale configs (e.g. haar@0.5,mtcnn@0.5)")
    add_providers_argument(parser)
    args = parser.parse_args(argv)
    try:
        # once: one warning for a missing provider with a fall-back
        providers = args.providers = resolve_providers(args.providers)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from exc
    cv2.setNumThreads(1)
    if args.photos is not None:
        return main_photos(args)
    if args.bench_frames:
        return main_bench_frames(args)
    if args.faces is None:
        parser.error("give FACES_DIR (composites) or --photos DIR")
    files = image_files(args.faces, recursive=True)
    if not files:
        raise SystemExit(f"error: no face images under {args.faces}")
    sizes = tuple(int(s) for s in args.sizes.split(","))
    sets = {n: make_frames(files, args.frames, n, sizes, args.seed + n) for n in (1, 4)}
    results = {}
    for config in args.configs.split(","):
        detector = build(config, args.yunet, args.min_face_size, providers)
        results[config] = {f"{n}_faces": measure(detector, frames) for n, frames in sets.items()}
        r1, r4 = results[config]["1_faces"], results[config]["4_faces"]
        print(f"{config:24s} recall 1 face {r1['recall']:.3f}  4 faces {r4['recall']:.3f}  "
              f"cpu ms {r1['cpu_ms_mean']:.1f} / {r4['cpu_ms_mean']:.1f}  wall ms {r1['wall_ms_p50']:.1f}  "
              f"false pos {r1['false_positives'] + r4['false_positives']}", file=sys.stderr)
    stage_results = {}
    for config in [c for c in args.pipeline_configs.split(",") if c]:
        stage_results[config] = {f"{n}_faces": measure_stages(config, args.yunet, frames, providers)
                                  for n, frames in sets.items()}
        for n in (1, 4):
            r = stage_results[config][f"{n}_faces"]
            parts = " ".join(f"{k.removesuffix('_ms_mean')} {v:.2f}" for k, v in r.items())
            print(f"pipeline {config:14s} {n} face(s): {parts}", file=sys.stderr)
    out = {"frames_per_set": args.frames, "sizes": sizes, "frame_size": [640, 480], "providers": providers,
           "results": results,
           "pipeline_stages": stage_results}
    write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
