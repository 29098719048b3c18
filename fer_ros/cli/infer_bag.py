"""fer-ros-infer on a rosbag2 bag: the node's pipeline and tracker over one recorded image topic.

    fer-ros-infer BAG_DIR --topic /camera/image_raw [--out-bag OUT_DIR] [--jsonl FILE] [--out DIR]
                  [--params-file perception.yaml] [--out-bag-storage sqlite3|mcap]

Reads the ``sensor_msgs/Image`` or ``CompressedImage`` messages of ``--topic`` in bag time order
(sqlite3 and mcap bags; other topics are ignored) and, for every image, writes

- one ``fer_ros/msg/FaceEmotionArray`` on ``/faces/emotion`` of a new bag (default
  ``<out>/<bag name>_faces``, the input's storage format), at the image's bag time, header copied;
- one JSON line (fer-ros-infer's format plus ``topic``, ``bag_time_ns``, ``stamp`` {sec, nanosec} and
  ``frame_id``; ``frame`` = position on the topic);
- one frame of the annotated video ``<out>/<bag name>.mp4`` (unless ``--no-draw``).

A frame that cannot be decoded is skipped with a warning, as the node does. No ROS install is used.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from fer_ros.bag import COMPRESSED_TYPE, BagError
from fer_ros.bag.reader import ImageTopicReader
from fer_ros.bag.writer import FACES_TOPIC, FacesBagWriter
from fer_ros.cli.infer import AnnotatedVideo
from fer_ros.core.image_convert import ImageConversionError, compressed_to_bgr, image_to_bgr
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.tracking import Tracker
from fer_ros.ros import parameters  # the node's parameter table; imports no ROS

MAX_WARNINGS = 20  # skipped frames named one by one; the rest are counted


def bag_name(path: Path) -> str:
    return path.stem if path.is_file() else path.resolve().name


def run_bag(args, pipe: Pipeline, emit, values: dict) -> int:
    """Process the bag ``args.input`` with the node's parameter ``values``; the exit code (2: bag error)."""
    from tqdm import tqdm

    path = Path(args.input)
    max_image_pixels = values["max_image_pixels"]
    skipped = 0
    try:
        tracker = Tracker(parameters.tracker_config(values))
        temporal = parameters.temporal_tracker(values)
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with ImageTopicReader(path, args.topic) as bag:
            name = bag_name(path)
            out_bag = args.out_bag or args.out / f"{name}_faces"
            fps = (bag.count - 1) / (bag.duration_ns / 1e9) if bag.count > 1 and bag.duration_ns > 0 else 10.0
            video = AnnotatedVideo(None if args.no_draw else args.out / f"{name}.mp4", fps)
            decode = compressed_to_bgr if bag.msgtype == COMPRESSED_TYPE else image_to_bgr
            provenance = {"generated_by": "fer-ros-infer", "source_bag": str(path), "source_topic": bag.topic}
            with FacesBagWriter(out_bag, args.out_bag_storage or bag.storage, custom_data=provenance) as faces_bag:
                images = tqdm(bag, total=bag.count, desc=f"{name} {bag.topic}", unit="frame",
                              disable=args.quiet, file=sys.stderr)
                try:
                    with contextlib.suppress(KeyboardInterrupt):
                        for image in images:
                            problem = image.error
                            if not problem:
                                try:
                                    bgr = decode(image.msg, max_image_pixels)
                                except ImageConversionError as exc:
                                    problem = (f"frame {image.index} of {bag.topic} (bag time "
                                               f"{image.bag_time_ns} ns) skipped: {exc}")
                            if problem:
                                skipped += 1
                                if skipped <= MAX_WARNINGS:
                                    tqdm.write(f"warning: {problem}", file=sys.stderr)
                                continue
                            result = pipe.process(bgr, tracker)  # tracked as the node does it
                            if temporal is not None:  # the node's temporal_model, per track
                                result.faces = temporal.update(bgr, result.faces, tracker.active_ids)
                            header = image.msg.header
                            faces_bag.write(image.bag_time_ns, header, result.faces, result.emotion_labels)
                            emit(str(path), image.index, result, topic=bag.topic, bag_time_ns=image.bag_time_ns,
                                 stamp={"sec": int(header.stamp.sec), "nanosec": int(header.stamp.nanosec)},
                                 frame_id=header.frame_id)
                            video.write(bgr, result.faces)
                finally:
                    video.close()
                    summary = (f"{faces_bag.written} answers on {FACES_TOPIC} in {out_bag} "
                               f"({faces_bag.storage}) for {bag.count} messages of {bag.topic}")
                    if skipped:
                        summary += f", {skipped} skipped"
                    print(summary, file=sys.stderr)
    except BagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
