"""Camera source node: frames from a video file, an image folder, a webcam or a generated stream.

Publishes at a set rate on ``camera/image_raw`` (and optionally ``camera/image_raw/compressed``).

    ros2 run fer_ros camera_source --ros-args -p source:=video.mp4 -p rate:=15.0
    ros2 run fer_ros camera_source --ros-args -p source:=0            # webcam index
    ros2 run fer_ros camera_source --ros-args -p source:=synthetic   # astronaut stream, no camera needed
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import rclpy
from rcl_interfaces.msg import IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from fer_ros.core.image_convert import encode_compressed, fill_image_msg
from fer_ros.core.image_input import IMAGE_SUFFIXES, image_files
from fer_ros.ros import shutdown
from fer_ros.ros.synthetic_stream import SyntheticFaceStream


def open_source(source: str, width: int, height: int, loop: bool, faces: int = 1) -> Iterator[np.ndarray]:
    """Yield BGR frames from ``synthetic`` (``faces`` faces), a webcam index, an image folder or a video."""
    if source == "synthetic":
        stream = SyntheticFaceStream(width, height, faces=faces)
        index = 0
        while True:
            yield stream.frame(index)
            index += 1
    path = Path(source)
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {source}")
        while True:
            for file in files:
                frame = cv2.imread(str(file), cv2.IMREAD_COLOR)
                if frame is not None:
                    yield frame
            if not loop:
                return
    if not source.isdigit() and not path.is_file():
        raise ValueError(f"source {source!r} is not 'synthetic', a webcam index, a folder or a video file")
    while True:
        capture = cv2.VideoCapture(int(source) if source.isdigit() else str(path))
        if not capture.isOpened():
            raise ValueError(f"OpenCV cannot open {source!r}")
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                yield frame
        finally:
            capture.release()
        if not loop or source.isdigit():
            return


class CameraSource(Node):
    """Publishes one frame per timer tick; shuts down after ``max_frames`` or at the end of the source."""

    def __init__(self, **kwargs) -> None:
        super().__init__("camera_source", **kwargs)

        def declare(name, default, description, **extra):
            d = ParameterDescriptor(description=description, read_only=True, **extra)
            return self.declare_parameter(name, default, d).value

        # source and rate accept any type: launch files and YAML turn "0" into 0 and "10" into 10
        source = str(declare("source", "synthetic", "'synthetic', a webcam index, an image folder or a "
                             "video file", dynamic_typing=True))
        rate = float(declare("rate", 10.0, "frames per second", dynamic_typing=True))
        if not 0.01 <= rate <= 1000.0:
            raise ValueError(f"rate must be in [0.01, 1000] frames per second, got {rate}")
        width = declare("width", 640, "frame width of the synthetic stream",
                        integer_range=[IntegerRange(from_value=16, to_value=8192, step=1)])
        height = declare("height", 480, "frame height of the synthetic stream",
                         integer_range=[IntegerRange(from_value=16, to_value=8192, step=1)])
        faces = declare("faces", 1, "faces in the synthetic stream (1 or 2)",
                        integer_range=[IntegerRange(from_value=1, to_value=2, step=1)])
        self._encoding = declare("encoding", "bgr8", "published encoding: bgr8, rgb8 or mono8")
        self._frame_id = declare("frame_id", "camera", "header.frame_id of the images")
        topic = declare("topic", "camera/image_raw", "image topic")
        compressed = declare("publish_compressed", False, "also publish JPEG on <topic>/compressed")
        reliability = declare("reliability", "best_effort", "QoS reliability: best_effort or reliable")
        self._max_frames = declare("max_frames", 0, "stop after this many frames (0 = never)",
                                   integer_range=[IntegerRange(from_value=0, to_value=2**31 - 1, step=1)])
        loop = declare("loop", True, "start again at the end of a video or folder")
        self._wait = declare("wait_for_subscriber", False, "publish nothing until a subscriber is matched "
                             "(finite sources: no frame lost to discovery)")
        if self._encoding not in ("bgr8", "rgb8", "mono8"):
            raise ValueError(f"encoding must be bgr8, rgb8 or mono8, got {self._encoding!r}")
        if reliability not in ("best_effort", "reliable"):
            raise ValueError(f"reliability must be best_effort or reliable, got {reliability!r}")

        self._frames = open_source(source, width, height, loop, faces)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=(ReliabilityPolicy.RELIABLE if reliability == "reliable"
                                      else ReliabilityPolicy.BEST_EFFORT))
        topic = self.resolve_topic_name(topic)  # expanded and remapped, so /compressed follows a remap
        self._pub = self.create_publisher(Image, topic, qos)
        self._compressed_pub = (self.create_publisher(CompressedImage, topic + "/compressed", qos)
                                if compressed else None)
        self.published = 0
        self.finished = False
        self.create_timer(1.0 / rate, self._tick)
        self.get_logger().info(f"publishing {source!r} at {rate:g} Hz on {topic}")

    def _tick(self) -> None:
        if self.finished or (self._wait and self._pub.get_subscription_count() == 0):
            return
        frame = next(self._frames, None)
        if frame is None or (self._max_frames and self.published >= self._max_frames):
            self.finished = True
            self.get_logger().info(f"source finished after {self.published} frames")
            return
        msg = Image()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self._frame_id
        if self._encoding == "rgb8":
            fill_image_msg(msg, frame[:, :, ::-1], "rgb8")
        elif self._encoding == "mono8":
            fill_image_msg(msg, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), "mono8")
        else:
            fill_image_msg(msg, frame)
        self._pub.publish(msg)
        if self._compressed_pub is not None:
            self._compressed_pub.publish(encode_compressed(CompressedImage(header=msg.header), frame, "jpeg"))
        self.published += 1


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run fer_ros camera_source``; exit code 0 after SIGINT/SIGTERM."""
    stop = shutdown.init(args)
    try:
        node = CameraSource()
    except Exception as exc:  # noqa: BLE001 - bad source or parameters: say why, exit non-zero
        rclpy.logging.get_logger("camera_source").error(f"cannot start: {exc}")
        rclpy.try_shutdown()
        return 1
    shutdown.spin_until_stopped(node, stop, done=lambda: node.finished)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
