"""Messages cross real process boundaries over DDS: FaceEmotionArray intact, camera-size images with
sensor-data QoS through the shipped Fast DDS profile."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from testsupport import require_ros_messages, ros_env

require_ros_messages()

import rclpy  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from fer_ros.msg import FaceEmotionArray  # noqa: E402

PUBLISHER = Path(__file__).with_name("ros_publisher.py")


def start_publisher(domain: int, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(PUBLISHER), *args], env=ros_env(domain),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


@pytest.fixture
def node(ros_domain: int) -> Iterator[rclpy.node.Node]:
    rclpy.init()
    node = rclpy.create_node("foundation_test")
    yield node
    node.destroy_node()
    rclpy.try_shutdown()


def collect(node, msg_type, topic: str, qos, wanted: int, timeout: float = 30.0) -> list:
    received: list = []
    node.create_subscription(msg_type, topic, received.append, qos)
    deadline = time.monotonic() + timeout
    while len(received) < wanted and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    return received


def test_face_emotion_array_arrives_intact(node, ros_domain):
    proc = start_publisher(ros_domain, "faces", "0", "0")
    try:
        got = collect(node, FaceEmotionArray, "/faces/emotion", 10, wanted=3)
    finally:
        log = stop(proc)
    assert len(got) >= 3, f"no FaceEmotionArray received from the publisher process; its output:\n{log}"
    msg = got[-1]
    assert msg.header.frame_id == "camera_optical" and msg.header.stamp.nanosec == 123
    assert list(msg.emotion_labels) == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    first, second = msg.faces
    assert (first.id, first.x, first.y, first.width, first.height) == ("7", 10.5, 20.0, 30.0, 40.0)
    assert first.detection_confidence == pytest.approx(0.9)
    assert list(first.landmarks) == [float(i) for i in range(10)]
    assert (first.emotion, first.gender) == ("happy", "female")
    assert first.emotion_confidence == pytest.approx(0.8) and first.gender_confidence == pytest.approx(0.75)
    assert list(first.emotion_scores) == pytest.approx([0.05, 0.0, 0.05, 0.8, 0.05, 0.0, 0.05])
    assert (second.id, second.emotion, len(second.landmarks)) == ("8", "sad", 0)


@pytest.mark.parametrize("width,height", [(640, 480), (1280, 720)])
def test_camera_image_crosses_processes_best_effort(node, ros_domain, width, height):
    proc = start_publisher(ros_domain, "image", str(width), str(height))
    try:
        got = collect(node, Image, "/camera/image_raw", qos_profile_sensor_data, wanted=10)
    finally:
        log = stop(proc)
    assert len(got) >= 10, (f"only {len(got)} {width}x{height} best-effort images arrived with "
                            f"{ros_env(0)['FASTDDS_DEFAULT_PROFILES_FILE']}; publisher output:\n{log}")
    msg = got[-1]
    assert (msg.width, msg.height, msg.encoding, msg.step) == (width, height, "bgr8", width * 3)
    assert len(msg.data) == width * height * 3 and bytes(msg.data[:3]) == b"\x01\x02\x03"
