"""fer-ros-infer on rosbag2 bags: small bags written with rosbags (sqlite3 and mcap, raw and compressed),
the real command in its own process, the output bag read back (one answer per frame, same stamps, faces)."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import pytest
from bagsupport import (
    IMAGE_TOPIC,
    STORE,
    STREAM,
    WRITE_ORDER,
    BagSpec,
    bag_time,
    camera_stamp,
    image_message,
    storage_file,
    write_image_bag,
)
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from fer_ros.core.boxes import box_iou

FRAMES = sorted(WRITE_ORDER)
ROS_MODULES = ("rclpy", "rcl_interfaces", "sensor_msgs", "std_msgs", "fer_ros.msg", "lifecycle_msgs")
# Runs fer-ros-infer's main in a fresh interpreter and reports which ROS modules got imported.
RUN = ("import sys, json; from fer_ros.cli.infer import main; rc = main(sys.argv[1:]); "
       f"ros = sorted(m for m in sys.modules if m.startswith({ROS_MODULES!r})); "
       "print('ROS_MODULES=' + json.dumps(ros), file=sys.stderr); sys.exit(rc)")


def infer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUN, *map(str, args), "--quiet"], capture_output=True,
                          text=True, timeout=300)


def read_bag(path):
    """(topic, msgtype, bag time, message) of every message, decoded with the bag's own stored definition."""
    out = []
    with Reader(path) as reader:
        store = get_typestore(Stores.EMPTY)  # nothing known: the bag must carry complete definitions
        for conn in reader.connections:
            store.register(get_types_from_msg(conn.msgdef.data, conn.msgtype))
        for conn, timestamp, raw in reader.messages():
            out.append((conn.topic, conn.msgtype, timestamp, store.deserialize_cdr(raw, conn.msgtype)))
    return out


@pytest.fixture(scope="module", params=[BagSpec("sqlite3", "rgb8"), BagSpec("mcap", "bgr8"),
                                        BagSpec("mcap", "jpeg")], ids=lambda s: f"{s.storage}-{s.encoding}")
def processed(request, tmp_path_factory):
    """A bag of the spec, processed once by the real command; returns (spec, folder, process result)."""
    spec = request.param
    folder = tmp_path_factory.mktemp(f"bag_{spec.storage}_{spec.encoding}")
    write_image_bag(folder / "recording", spec)
    result = infer(folder / "recording", "--topic", IMAGE_TOPIC, "--out", folder / "out",
                   "--jsonl", folder / "faces.jsonl")
    assert result.returncode == 0, result.stderr
    return spec, folder, result


def test_one_answer_per_frame_with_the_image_stamps_and_the_face(processed):
    spec, folder, _ = processed
    messages = read_bag(folder / "out" / "recording_faces")
    assert [(m[0], m[1]) for m in messages] == [("/faces/emotion", "fer_ros/msg/FaceEmotionArray")] * len(FRAMES)
    # bag time order, whatever order the recording was written in; each answer at its image's bag time
    assert [m[2] for m in messages] == [bag_time(i) for i in FRAMES]
    track_ids = set()
    for index, (_, _, _, msg) in zip(FRAMES, messages, strict=True):
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == camera_stamp(index)
        assert msg.header.frame_id == f"camera_optical_{index}"
        assert list(msg.emotion_labels)[3] == "happy"
        assert len(msg.faces) == 1, f"frame {index}: {len(msg.faces)} faces"
        face = msg.faces[0]
        assert box_iou((face.x, face.y, face.width, face.height), STREAM.face_box(index)) > 0.4
        assert face.emotion == "happy" and len(face.emotion_scores) == 7
        track_ids.add(face.id)
    assert len(track_ids) == 1 and "" not in track_ids  # the node's tracker: one stable id
    with Reader(folder / "out" / "recording_faces") as reader:  # same storage as the input by default
        assert storage_file(folder / "out" / "recording_faces").suffix == (".db3" if spec.storage == "sqlite3"
                                                                           else ".mcap")
        assert reader.message_count == len(FRAMES)


def test_json_lines_record_bag_time_and_camera_stamp(processed):
    _, folder, _ = processed
    records = [json.loads(line) for line in (folder / "faces.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(len(FRAMES)))
    assert [r["bag_time_ns"] for r in records] == [bag_time(i) for i in FRAMES]
    assert [(r["stamp"]["sec"], r["stamp"]["nanosec"]) for r in records] == [camera_stamp(i) for i in FRAMES]
    assert {r["topic"] for r in records} == {IMAGE_TOPIC}
    assert all(len(r["faces"]) == 1 and r["faces"][0]["emotion"] == "happy" for r in records)


def test_annotated_video_has_every_frame(processed):
    _, folder, _ = processed
    capture = cv2.VideoCapture(str(folder / "out" / "recording.mp4"))
    assert capture.isOpened()
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == len(FRAMES)
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (640, 480)
    capture.release()


def test_the_bag_path_imports_no_ros(processed):
    _, _, result = processed
    line = next(x for x in result.stderr.splitlines() if x.startswith("ROS_MODULES="))
    assert json.loads(line.split("=", 1)[1]) == []


def test_params_file_and_output_storage(tmp_path):
    write_image_bag(tmp_path / "rec", BagSpec("sqlite3", "mono8"), order=FRAMES[:3])
    params = tmp_path / "perception.yaml"
    params.write_text("/**:\n  ros__parameters:\n    tracking: false\n    gender_model: \"\"\n"
                      "    use_sim_time: false\n")
    out_bag = tmp_path / "answers"
    result = infer(tmp_path / "rec", "--params-file", params, "--out-bag", out_bag, "--out-bag-storage", "mcap",
                   "--no-draw", "--jsonl", tmp_path / "f.jsonl")
    assert result.returncode == 0, result.stderr
    assert storage_file(out_bag).suffix == ".mcap"
    faces = [m[3].faces for m in read_bag(out_bag)]
    assert [len(f) for f in faces] == [1, 1, 1]
    assert {(f[0].id, f[0].gender) for f in faces} == {("", "")}  # tracking off, gender disabled
    assert "3 answers on /faces/emotion" in result.stderr


def test_a_corrupt_frame_is_skipped_and_named(tmp_path):
    bad = STORE.types["sensor_msgs/msg/Image"](
        header=STORE.types["std_msgs/msg/Header"](stamp=STORE.types["builtin_interfaces/msg/Time"](sec=1, nanosec=0),
                                                  frame_id="x"),
        height=480, width=640, encoding="bgr8", is_bigendian=0, step=1920, data=STREAM.frame(0).reshape(-1)[:1000])
    write_image_bag(tmp_path / "rec", BagSpec("mcap", "bgr8"), order=FRAMES[:4], broken={1: bad})
    result = infer(tmp_path / "rec", "--out", tmp_path / "out", "--no-draw", "--jsonl", tmp_path / "f.jsonl")
    assert result.returncode == 0, result.stderr
    assert f"frame 1 of {IMAGE_TOPIC} (bag time {bag_time(1)} ns) skipped: truncated data" in result.stderr
    assert [m[2] for m in read_bag(tmp_path / "out" / "rec_faces")] == [bag_time(i) for i in (0, 2, 3)]


@pytest.fixture(scope="module")
def small_bags(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    return {s: write_image_bag(folder / s, BagSpec(s, "bgr8"), order=(0, 1)) for s in ("sqlite3", "mcap")}


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_missing_topic_and_wrong_type_name_the_topic(small_bags, storage, tmp_path):
    bag = small_bags[storage]
    result = infer(bag, "--topic", "/camera/missing", "--out", tmp_path)
    assert result.returncode == 2
    assert f"topic /camera/missing is not in bag {bag}; image topics in it: {IMAGE_TOPIC}" in result.stderr
    result = infer(bag, "--topic", "/chatter", "--out", tmp_path)
    assert result.returncode == 2
    assert "topic /chatter in bag" in result.stderr and "has type std_msgs/msg/String" in result.stderr
    assert not (tmp_path / f"{bag.name}_faces").exists()  # nothing written for a bad request


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_truncated_bag_names_the_file(small_bags, storage, tmp_path):
    bag = tmp_path / "cut"
    bag.mkdir()
    for item in small_bags[storage].iterdir():
        data = item.read_bytes()
        (bag / item.name).write_bytes(data if item.name == "metadata.yaml" else data[: len(data) * 2 // 3])
    result = infer(bag, "--topic", IMAGE_TOPIC, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert f"file {storage_file(bag)} is truncated or corrupt" in result.stderr, result.stderr


def test_output_bag_is_never_overwritten_and_a_folder_must_be_a_bag(small_bags, tmp_path):
    (tmp_path / "taken").mkdir()
    result = infer(small_bags["mcap"], "--out-bag", tmp_path / "taken", "--no-draw")
    assert result.returncode == 2 and f"output bag {tmp_path / 'taken'} exists already" in result.stderr
    result = infer(tmp_path / "taken", "--topic", IMAGE_TOPIC)
    assert result.returncode == 2 and "has no metadata.yaml" in result.stderr


def test_bad_params_file_value_names_file_and_parameter(small_bags, tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("perception_node:\n  ros__parameters:\n    detection_scale: 3.0\n")
    result = infer(small_bags["mcap"], "--params-file", params, "--no-draw")
    assert result.returncode == 2
    assert f"params file {params}: detection_scale=3.0 is outside [0.05, 1.0]" in result.stderr
    params.write_text("perception_node:\n  ros__parameters:\n    detecter: mtcnn\n")
    result = infer(small_bags["mcap"], "--params-file", params, "--no-draw")
    assert result.returncode == 2 and "unknown parameter 'detecter'" in result.stderr


def test_two_image_topics_need_topic_and_each_can_be_chosen(tmp_path):
    bag = tmp_path / "two_cameras"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        left = writer.add_connection("/left/image_raw", "sensor_msgs/msg/Image", typestore=STORE)
        right = writer.add_connection("/right/image_raw/compressed", "sensor_msgs/msg/CompressedImage",
                                      typestore=STORE)
        for index in range(2):
            writer.write(left, bag_time(index), STORE.serialize_cdr(image_message(index, "bgr8"),
                                                                    "sensor_msgs/msg/Image"))
        writer.write(right, bag_time(5), STORE.serialize_cdr(image_message(5, "jpeg"),
                                                             "sensor_msgs/msg/CompressedImage"))
    result = infer(bag, "--no-draw", "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "name the image topic with --topic" in result.stderr
    assert "/left/image_raw (sensor_msgs/msg/Image)" in result.stderr
    assert "/right/image_raw/compressed (sensor_msgs/msg/CompressedImage)" in result.stderr
    result = infer(bag, "--topic", "/right/image_raw/compressed", "--no-draw", "--out-bag", tmp_path / "right")
    assert result.returncode == 0, result.stderr
    assert [m[2] for m in read_bag(tmp_path / "right")] == [bag_time(5)]  # only the chosen topic's frames
