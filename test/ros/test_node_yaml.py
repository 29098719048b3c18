"""A parameter YAML with non-default values takes effect in the running node, over DDS.

The YAML is the shipped config/perception.yaml with many values changed; the node reports every value
back through its parameter services, and each changed value shows in what the node does: the topic it
listens on, its QoS, at most one face per frame, no gender, no track ids, no debug image (although
subscribed), no detections, frames over max_image_pixels skipped, the builtin converter.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import yaml
from ros_harness import (
    REPO,
    get_params,
    node_health,
    parameter_client,
    perception_session,
    same_stamp,
    wait_matched,
)

from fer_ros.ros.parameters import PARAMETERS
from fer_ros.ros.synthetic_stream import SyntheticFaceStream

DOMAIN_ID = 89
CHANGED = {
    "image_topic": "front_camera/image",
    "reliability": "reliable",
    "qos_depth": 3,
    "image_converter": "builtin",
    "detection_scale": 1.0,
    "min_face_size": 60,
    "max_faces": 1,
    "gender_model": "",
    "tracking": False,
    "smoothing": "off",
    "publish_detections": False,
    "publish_debug_image": False,
    "max_image_pixels": 1280 * 720 - 1,
    "latency_warn_ms": 250.0,
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from sensor_msgs.msg import Image

    shipped = yaml.safe_load((REPO / "config" / "perception.yaml").read_text())
    values = shipped["/**"]["ros__parameters"]
    assert set(CHANGED) <= set(values) and all(values[k] != v for k, v in CHANGED.items())
    values.update(CHANGED)
    path = tmp_path_factory.mktemp("yaml") / "my_perception.yaml"
    path.write_text(yaml.safe_dump(shipped))
    with perception_session(DOMAIN_ID, tmp_path_factory.mktemp("node"), extra_args=["--params-file", str(path)]) as s:
        s["values"] = values
        s["client"] = parameter_client(s)
        s["camera"] = s["probe"].publisher(Image, CHANGED["image_topic"], reliable=True, depth=3)
        s["default_topic"] = s["probe"].publisher(Image, "camera/image_raw", reliable=True)
        s["best_effort"] = s["probe"].publisher(Image, CHANGED["image_topic"], reliable=False)
        wait_matched(s, s["camera"])
        yield s


def send(s, bgr: np.ndarray, timeout: float = 20.0):
    msg = s["probe"].image(bgr)
    s["camera"].publish(msg)
    return msg, s["emotion"].wait_for(lambda m: same_stamp(m.header.stamp, msg.header.stamp), timeout)


def test_the_node_reports_every_value_of_the_yaml(setup):
    names = [p.name for p in PARAMETERS]
    assert dict(zip(names, get_params(setup, *names), strict=True)) == setup["values"]


def test_image_topic_and_reliability_from_the_yaml(setup):
    s = setup
    time.sleep(1.0)  # discovery of subscriptions that should not exist would have happened by now
    assert s["camera"].get_subscription_count() == 1
    assert s["default_topic"].get_subscription_count() == 0, "still subscribed to camera/image_raw"
    assert s["best_effort"].get_subscription_count() == 0, "reliability: reliable was not used"
    log = s["node"].log()
    assert "front_camera/image (raw, reliable, depth 3)" in log and "image converter builtin" in log, log


def test_faces_follow_max_faces_gender_and_tracking_from_the_yaml(setup):
    from sensor_msgs.msg import Image

    s = setup
    debug, sub = s["probe"].subscribe(Image, "faces/debug_image", reliable=True, depth=5)
    s["probe"].wait_until(lambda: sub.get_publisher_count() > 0, 20.0, "debug image publisher", s["node"])
    time.sleep(0.5)
    two = SyntheticFaceStream(640, 480, faces=2)
    for index in range(3):
        _, reply = send(s, two.frame(index * 7))
        assert reply is not None, s["node"].log_tail()
        assert len(reply.faces) == 1, f"max_faces=1 but {len(reply.faces)} faces"
        face = reply.faces[0]
        assert face.id == "" and face.gender == "" and face.gender_confidence == 0.0
        assert face.emotion == "happy"
    time.sleep(1.0)
    assert debug.messages() == [], "publish_debug_image: false, yet a debug image was published"
    assert node_health(s)["debug_images_published"] == "0"


def test_max_image_pixels_from_the_yaml(setup):
    s = setup
    before = int(node_health(s)["frames_invalid"])
    _, reply = send(s, SyntheticFaceStream(1280, 720).frame(0), timeout=3.0)
    assert reply is None, "a 1280x720 frame was processed with max_image_pixels = 1280*720 - 1"
    assert int(node_health(s, "frames_invalid", before + 1)["frames_invalid"]) == before + 1
    assert f"exceeds max_image_pixels={1280 * 720 - 1}" in s["node"].log()
    _, reply = send(s, SyntheticFaceStream(640, 480).frame(0))
    assert reply is not None and len(reply.faces) == 1


def test_publish_detections_false_publishes_no_detections(setup):
    vision_msgs = pytest.importorskip("vision_msgs.msg", reason="vision_msgs is not installed here (not on PyPI);"
                                      " on ROS installs this checks that faces/detections stays silent")
    s = setup
    detections, _ = s["probe"].subscribe(vision_msgs.Detection2DArray, "faces/detections")
    time.sleep(1.0)
    _, reply = send(s, SyntheticFaceStream(640, 480).frame(3))
    assert reply is not None and len(reply.faces) == 1
    time.sleep(1.0)
    assert detections.messages() == [], "publish_detections: false, yet detections were published"
