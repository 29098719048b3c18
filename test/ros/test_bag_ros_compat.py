"""Bags of fer-ros-infer against real ROS 2: rclpy reads the output bag's bytes as fer_ros/FaceEmotionArray,
the stored type hash is the one the colcon build generates, and images serialized by rclpy (as
``ros2 bag record`` stores them) are read by the ROS-free bag reader."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bagsupport import IMAGE_TOPIC, STREAM, BagSpec, bag_time, camera_stamp, write_image_bag
from testsupport import require_ros_messages

require_ros_messages()

from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from rosbags.rosbag2 import Reader, StoragePlugin, Writer  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from fer_ros.bag.types import typestore  # noqa: E402
from fer_ros.cli import infer  # noqa: E402
from fer_ros.core.image_convert import fill_image_msg  # noqa: E402
from fer_ros.msg import FaceEmotionArray  # noqa: E402


def installed_type_hash(type_name: str) -> str:
    """The RIHS01 hash rosidl generated for ``fer_ros/msg/<Name>`` in the colcon install tree."""
    name = type_name.split("/")[-1]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        description = Path(prefix) / "share" / "fer_ros" / "msg" / f"{name}.json"
        if description.is_file():
            hashes = json.loads(description.read_text())["type_hashes"]
            return next(h["hash_string"] for h in hashes if h["type_name"] == type_name)
    pytest.skip("no colcon-installed fer_ros/msg/*.json type descriptions (run `make build`)")


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_rclpy_reads_the_answers_and_the_type_hash_is_rosidls(tmp_path, storage):
    write_image_bag(tmp_path / "rec", BagSpec(storage, "bgr8"), order=(0, 1, 2))
    assert infer.main([str(tmp_path / "rec"), "--out", str(tmp_path / "out"), "--no-draw", "--quiet",
                       "--jsonl", str(tmp_path / "f.jsonl")]) == 0
    with Reader(tmp_path / "out" / "rec_faces") as reader:
        (connection,) = reader.connections
        assert connection.digest == installed_type_hash("fer_ros/msg/FaceEmotionArray")
        messages = [(t, deserialize_message(bytes(raw), FaceEmotionArray)) for _, t, raw in reader.messages()]
    assert [t for t, _ in messages] == [bag_time(i) for i in (0, 1, 2)]
    for index, (_, msg) in enumerate(messages):
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == camera_stamp(index)
        assert msg.header.frame_id == f"camera_optical_{index}"
        assert len(msg.faces) == 1 and msg.faces[0].emotion == "happy" and msg.faces[0].id == "1"
        assert len(msg.faces[0].emotion_scores) == len(msg.emotion_labels) == 7


def test_images_serialized_by_rclpy_are_read_without_ros(tmp_path):
    bag = tmp_path / "recorded"
    store = typestore()
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection(IMAGE_TOPIC, "sensor_msgs/msg/Image", typestore=store)
        for index in range(3):
            msg = fill_image_msg(Image(), STREAM.frame(index)[:, :, ::-1], "rgb8")
            msg.header.stamp.sec, msg.header.stamp.nanosec = camera_stamp(index)
            msg.header.frame_id = "cam"
            writer.write(connection, bag_time(index), serialize_message(msg))
    jsonl = tmp_path / "f.jsonl"
    assert infer.main([str(bag), "--out", str(tmp_path / "out"), "--no-draw", "--quiet", "--jsonl", str(jsonl)]) == 0
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [(r["stamp"]["sec"], r["stamp"]["nanosec"]) for r in records] == [camera_stamp(i) for i in range(3)]
    assert [[f["emotion"] for f in r["faces"]] for r in records] == [["happy"]] * 3
