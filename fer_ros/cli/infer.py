"""fer-ros-infer: run the perception pipeline on an image, a folder, a video file, a webcam or a rosbag2 bag.

    fer-ros-infer INPUT [--out DIR] [--jsonl FILE] [--params-file perception.yaml]
                  [--detector haar|mtcnn|blazeface|blazeface-full|yunet] ...
    fer-ros-infer BAG_DIR --topic /camera/image_raw [--out-bag OUT_DIR] [--jsonl FILE] [--out DIR]

INPUT is an image file, a folder of images, a video file, a webcam index (``0``) or a rosbag2 bag (a
folder with ``metadata.yaml``, or a ``.db3`` / ``.mcap`` file; see fer_ros/cli/infer_bag.py).
``--params-file`` takes the node's parameter YAML (config/perception.yaml format): its pipeline, tracking
and ``max_image_pixels`` values apply, and options given on the command line win over it.
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
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from fer_ros.bag import STORAGE_SUFFIXES, STORAGES  # plain constants: no rosbags import
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
    p.add_argument("input", help="image, folder, video file, webcam index or rosbag2 bag (folder, .db3, .mcap)")
    p.add_argument("--params-file", type=Path, help="the node's parameter YAML (pipeline, tracking, "
                   "max_image_pixels); command-line options win over it")
    p.add_argument("--topic", help="bags: the sensor_msgs/Image or CompressedImage topic (may be left out "
                   "when the bag has only one image topic)")
    p.add_argument("--out-bag", type=Path, help="bags: output bag with /faces/emotion "
                   "(default: <out>/<bag name>_faces)")
    p.add_argument("--out-bag-storage", choices=STORAGES,
                   help="bags: storage of the output bag (default: the input bag's)")
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


# command-line option (argparse dest) -> node parameter (fer_ros/ros/parameters.py)
ARG_FIELDS = {"detector": "detector", "detector_model": "detector_model", "detection_scale": "detection_scale",
              "min_face_size": "min_face_size", "detection_threshold": "detection_threshold",
              "max_faces": "max_faces", "emotion_model": "emotion_model", "gender_model": "gender_model",
              "threads": "num_threads", "detect_every": "detect_every", "providers": "providers",
              "gender_every": "gender_every"}


def explicit_options(argv: list[str] | None) -> set[str]:
    """The argparse dests the user gave on the command line (not just left at their defaults)."""
    parser = build_parser()
    for action in parser._actions:  # noqa: SLF001 - argparse has no public way to ask this
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def node_values(args, argv: list[str] | None) -> dict:
    """The node's parameter values: defaults, then ``--params-file``, then explicit pipeline options."""
    from fer_ros.ros import parameters  # the node's parameter table; imports no ROS

    values = (parameters.values_from_params_file(args.params_file) if args.params_file
              else {spec.name: spec.default for spec in parameters.PARAMETERS})
    given = explicit_options(argv) if args.params_file else set(ARG_FIELDS)
    for dest, field in ARG_FIELDS.items():
        if dest in given:
            values[field] = getattr(args, dest)
    return values


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from fer_ros.ros import parameters

    args = build_parser().parse_args(argv)
    try:
        values = node_values(args, argv)
        config = parameters.pipeline_config(values)
        tracker_config = parameters.tracker_config(values)
        pipe = Pipeline(config)
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    source = Path(args.input)
    if not args.no_draw:
        args.out.mkdir(parents=True, exist_ok=True)
    sink = sys.stdout if args.jsonl == "-" else open(args.jsonl, "w")  # noqa: SIM115 - closed below

    def emit(source: str, frame_index: int, result, **extra) -> None:
        record = {"source": source, "frame": frame_index, **extra, **frame_to_dict(result)}
        sink.write(json.dumps(record) + "\n")
        sink.flush()

    try:
        if is_bag(source, args.topic):
            try:
                from fer_ros.cli.infer_bag import run_bag
            except ModuleNotFoundError as exc:
                if not (exc.name or "").startswith("rosbags"):
                    raise
                print("error: reading rosbag2 bags needs the rosbags package: pip install rosbags==0.11.9 "
                      "(or pip install .[tools])", file=sys.stderr)
                return 2
            return run_bag(args, pipe, emit, values)
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
        return run_video(args, pipe, emit, tracker_config)
    finally:
        if sink is not sys.stdout:
            sink.close()


def is_bag(source: Path, topic: str | None) -> bool:
    """A rosbag2 bag: a folder with metadata.yaml (or any folder when --topic is given), a .db3/.mcap file."""
    if source.is_dir():
        return topic is not None or (source / "metadata.yaml").is_file()
    return source.suffix in STORAGE_SUFFIXES or topic is not None


def run_video(args, pipe: Pipeline, emit, tracker_config) -> int:
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
    tracker = Tracker(dataclasses.replace(tracker_config, enabled=tracker_config.enabled and not args.no_track))
    video = AnnotatedVideo(None if args.no_draw else args.out / f"{name}.mp4", fps)
    try:
        frames = tqdm(video_frames(capture, args.max_frames), total=total or None, desc=name, unit="frame",
                      disable=args.quiet, file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            for index, frame in enumerate(frames):
                result = pipe.process(frame, tracker)
                emit(args.input, index, result)
                video.write(frame, result.faces)
    finally:
        capture.release()
        video.close()
    return 0


class AnnotatedVideo:
    """The annotated ``.mp4`` of a stream (mp4v), opened at the first frame; ``path`` None writes nothing.

    Frames of another size than the first are resized to it (a bag's camera may change resolution).
    """

    def __init__(self, path: Path | None, fps: float) -> None:
        self.path = path
        self.fps = fps
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] = (0, 0)

    def write(self, frame: np.ndarray, faces) -> None:
        if self.path is None:
            return
        if self._writer is None:
            self._size = (frame.shape[1], frame.shape[0])
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self._size)
        drawn = draw_faces(frame, faces)
        if (drawn.shape[1], drawn.shape[0]) != self._size:
            drawn = cv2.resize(drawn, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(drawn)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


if __name__ == "__main__":
    sys.exit(main())
