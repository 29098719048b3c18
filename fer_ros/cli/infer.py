"""fer-ros-infer: run the perception pipeline on an image, a folder, a video file or a webcam.

    fer-ros-infer INPUT [--out DIR] [--jsonl FILE] [--detector haar|mtcnn|blazeface|blazeface-full|yunet] ...

INPUT is an image file, a folder of images, a video file or a webcam index (``0``).
Writes annotated images (``DIR/<name>``) or an annotated video (``DIR/<name>.mp4``; webcam:
``DIR/webcam<i>.mp4``) unless ``--no-draw``, and one JSON line per frame to ``--jsonl`` (default:
stdout): ``{"source", "frame", "width", "height", "timings_ms", "faces": [{"track_id", "box"
[x, y, w, h], "score", "landmarks" [[x, y] x5] | null, "emotion", "emotion_confidence",
"emotion_scores" {label: p}, "gender", "gender_confidence"}]}``. Videos and webcams are tracked
(stable ``track_id``, smoothed scores; ``--no-track`` to disable). Ctrl-C stops a webcam cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from fer_ros.cli.options import add_providers_argument
from fer_ros.core.config import DETECTORS, PipelineConfig
from fer_ros.core.draw import draw_faces
from fer_ros.core.image_input import image_files, is_image_file
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.results import frame_to_dict
from fer_ros.core.tracking import TrackerConfig


def video_frames(capture: cv2.VideoCapture, max_frames: int) -> Iterator[np.ndarray]:
    count = 0
    while not max_frames or count < max_frames:
        ok, frame = capture.read()
        if not ok:
            return
        count += 1
        yield frame


def build_parser() -> argparse.ArgumentParser:
    defaults = PipelineConfig()
    p = argparse.ArgumentParser(prog="fer-ros-infer", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("input", help="image, folder, video file or webcam index")
    p.add_argument("--out", type=Path, default=Path("out"), help="folder for annotated output (default: out)")
    p.add_argument("--jsonl", default="-", help="JSON lines file ('-' = stdout)")
    p.add_argument("--no-draw", action="store_true", help="do not write annotated images/video")
    p.add_argument("--no-track", action="store_true", help="videos: no tracking/smoothing")
    p.add_argument("--gender-every", type=int, default=TrackerConfig().gender_every,
                   help="videos: gender for a new track, then every N-th frame of the track (1 = every frame)")
    p.add_argument("--max-frames", type=int, default=0, help="videos/webcam: stop after this many frames")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--detector", default=defaults.detector, choices=DETECTORS)
    p.add_argument("--detector-model", default=defaults.detector_model, help="YuNet .onnx path")
    p.add_argument("--detection-scale", type=float, default=defaults.detection_scale)
    p.add_argument("--min-face-size", type=int, default=defaults.min_face_size)
    p.add_argument("--detection-threshold", type=float, default=defaults.detection_threshold)
    p.add_argument("--max-faces", type=int, default=defaults.max_faces)
    p.add_argument("--detect-every", type=int, default=defaults.detect_every,
                   help="videos/webcam: full face detection on every N-th frame, faces re-found near their "
                        "last boxes in between (images are always searched in full)")
    p.add_argument("--emotion-model", default=defaults.emotion_model)
    p.add_argument("--gender-model", default=defaults.gender_model, help="'' disables gender")
    p.add_argument("--threads", type=int, default=defaults.num_threads, help="onnxruntime intra-op threads")
    add_providers_argument(p)
    return p


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    args = build_parser().parse_args(argv)
    config = PipelineConfig(
        detector=args.detector, detector_model=args.detector_model, detection_scale=args.detection_scale,
        min_face_size=args.min_face_size, detection_threshold=args.detection_threshold,
        max_faces=args.max_faces, emotion_model=args.emotion_model, gender_model=args.gender_model,
        num_threads=args.threads, detect_every=args.detect_every, providers=args.providers,
    )
    try:
        TrackerConfig(gender_every=args.gender_every).validate()
        pipe = Pipeline(config)
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.no_draw:
        args.out.mkdir(parents=True, exist_ok=True)
    sink = sys.stdout if args.jsonl == "-" else open(args.jsonl, "w")  # noqa: SIM115 - closed below

    def emit(source: str, frame_index: int, result) -> None:
        record = {"source": source, "frame": frame_index, **frame_to_dict(result)}
        sink.write(json.dumps(record) + "\n")
        sink.flush()

    try:
        source = Path(args.input)
        if source.is_dir() or is_image_file(source):
            files = image_files(source) if source.is_dir() else [source]
            if not files:
                print(f"error: no images in {source}", file=sys.stderr)
                return 2
            for path in tqdm(files, desc="images", unit="img", disable=args.quiet, file=sys.stderr):
                image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
                if image is None or image.dtype != np.uint8:
                    print(f"warning: skipping unreadable or non-8-bit image {path}", file=sys.stderr)
                    continue
                pipe.reset()  # unrelated images: no re-finding of the previous image's faces
                result = pipe.process(image)
                emit(str(path), 0, result)
                if not args.no_draw:
                    cv2.imwrite(str(args.out / path.name), draw_faces(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
                                                                      if image.ndim == 2 else image[:, :, :3],
                                                                      result.faces))
            return 0
        return run_video(args, pipe, emit)
    finally:
        if sink is not sys.stdout:
            sink.close()


def run_video(args, pipe: Pipeline, emit) -> int:
    from tqdm import tqdm

    from fer_ros.core.tracking import Tracker

    is_webcam = args.input.isdigit()
    capture = cv2.VideoCapture(int(args.input) if is_webcam else args.input)
    if not capture.isOpened():
        kind = "webcam" if is_webcam else "video file or image"
        print(f"error: cannot open {args.input} as a {kind}", file=sys.stderr)
        return 2
    name = f"webcam{args.input}" if is_webcam else Path(args.input).stem
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if not is_webcam else 0
    if args.max_frames:
        total = min(total, args.max_frames) if total > 0 else args.max_frames
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    tracker = Tracker(TrackerConfig(enabled=not args.no_track, gender_every=args.gender_every))
    writer = None
    try:
        frames = tqdm(video_frames(capture, args.max_frames), total=total or None, desc=name, unit="frame",
                      disable=args.quiet, file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            for index, frame in enumerate(frames):
                result = pipe.process(frame, tracker)
                emit(args.input, index, result)
                if args.no_draw:
                    continue
                if writer is None:
                    path = args.out / f"{name}.mp4"
                    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(draw_faces(frame, result.faces))
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
