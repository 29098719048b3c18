"""Small rosbag2 bags for tests, written with ``rosbags`` itself: the synthetic smiling face as camera frames.

Each image has a camera stamp (header) different from its bag time, a ``frame_id``, and a ``/chatter``
String message next to it (a topic the reader must ignore). Messages are written out of time order on
purpose: the reader must return them sorted by bag time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from fer_ros.ros.synthetic_stream import SyntheticFaceStream  # ROS-free generator

IMAGE_TOPIC = "/camera/image_raw"
BAG_T0_NS = 1_700_000_000_000_000_000
FRAME_PERIOD_NS = 100_000_000
WRITE_ORDER = (2, 0, 1, 4, 3, 5)  # frame indices in the order they are written
STORE = get_typestore(Stores.ROS2_KILTED)
STREAM = SyntheticFaceStream(640, 480)


@dataclass(frozen=True)
class BagSpec:
    storage: str  # sqlite3 | mcap
    encoding: str  # bgr8 | rgb8 | mono8 | jpeg (CompressedImage)


def bag_time(index: int) -> int:
    return BAG_T0_NS + index * FRAME_PERIOD_NS


def camera_stamp(index: int) -> tuple[int, int]:
    return 500 + index, 1000 * index + 7


def image_message(index: int, encoding: str):
    types = STORE.types
    sec, nanosec = camera_stamp(index)
    header = types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                          frame_id=f"camera_optical_{index}")
    bgr = STREAM.frame(index)
    if encoding == "jpeg":
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        return types["sensor_msgs/msg/CompressedImage"](header=header, format="jpeg", data=data.reshape(-1))
    pixels = {"bgr8": bgr, "rgb8": bgr[:, :, ::-1], "mono8": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)}[encoding]
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    return types["sensor_msgs/msg/Image"](header=header, height=height, width=width, encoding=encoding,
                                          is_bigendian=0, step=pixels.strides[0], data=pixels.reshape(-1))


def write_image_bag(path: Path, spec: BagSpec, order=WRITE_ORDER, topic: str = IMAGE_TOPIC,
                    broken: dict[int, object] | None = None) -> Path:
    """A bag with one image per index of ``order`` on ``topic`` plus /chatter; ``broken`` replaces messages."""
    msgtype = "sensor_msgs/msg/CompressedImage" if spec.encoding == "jpeg" else "sensor_msgs/msg/Image"
    plugin = StoragePlugin.MCAP if spec.storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        images = writer.add_connection(topic, msgtype, typestore=STORE)
        chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=STORE)
        for index in order:
            msg = (broken or {}).get(index) or image_message(index, spec.encoding)
            writer.write(images, bag_time(index), STORE.serialize_cdr(msg, msgtype))
            writer.write(chatter, bag_time(index) + 1,
                         STORE.serialize_cdr(STORE.types["std_msgs/msg/String"](data="ignore me"),
                                             "std_msgs/msg/String"))
    return path


def storage_file(bag: Path) -> Path:
    return next(p for p in bag.iterdir() if p.suffix in (".db3", ".mcap"))
