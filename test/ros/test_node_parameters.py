"""Runtime parameter changes over the ROS parameter services of a running node.

Valid changes take effect on the next frame; invalid ones are rejected with a reason and change nothing.
This node also runs with a reliable image subscription (``reliability:=reliable``) and the shipped YAML.
"""

from __future__ import annotations

import time

import pytest
from ros_harness import (
    REPO,
    NodeProcess,
    get_params,
    parameter_client,
    perception_session,
    same_stamp,
    set_params,
    unique_namespace,
    wait_matched,
)

from fer_ros.msg import FaceEmotionArray
from fer_ros.ros.synthetic_stream import SyntheticFaceStream

DOMAIN_ID = 83


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from sensor_msgs.msg import Image

    with perception_session(DOMAIN_ID, tmp_path_factory.mktemp("node"),
                            extra_args=["--params-file", str(REPO / "config" / "perception.yaml")],
                            params={"reliability": "reliable", "qos_depth": 2}) as s:
        s["publisher"] = s["probe"].publisher(Image, reliable=True)
        s["client"] = parameter_client(s)
        wait_matched(s, s["publisher"])
        s.update(stream=SyntheticFaceStream(), index=[0])
        yield s


def next_frame(s) -> FaceEmotionArray:
    """Send the next frame of the moving face (reliable QoS: no retries needed) and return its answer."""
    s["index"][0] += 1
    msg = s["probe"].image(s["stream"].frame(s["index"][0]))
    s["publisher"].publish(msg)
    reply = s["emotion"].wait_for(lambda m: same_stamp(m.header.stamp, msg.header.stamp), 30.0)
    assert reply is not None, f"frame not answered:\n{s['node'].log_tail()}"
    return reply


def test_reliable_subscription_answers_frames(setup):
    reply = next_frame(setup)
    assert len(reply.faces) == 1 and reply.faces[0].emotion == "happy"


def test_valid_changes_take_effect_on_the_next_frame(setup):
    s = setup
    assert next_frame(s).faces[0].id != ""

    (result,) = set_params(s, tracking=False)
    assert result.successful, result.reason
    assert [f.id for f in next_frame(s).faces] == [""]

    (result,) = set_params(s, tracking=True)
    assert result.successful and next_frame(s).faces[0].id != ""

    (result,) = set_params(s, min_face_size=400)  # rebuilds the pipeline: the ~125 px face is too small now
    assert result.successful, result.reason
    assert list(next_frame(s).faces) == []

    results = set_params(s, min_face_size=48, detection_scale=1.0, smoothing="off")
    assert all(r.successful for r in results), [r.reason for r in results]
    face = next_frame(s).faces[0]
    assert face.emotion == "happy"
    assert get_params(s, "min_face_size", "detection_scale", "smoothing") == [48, 1.0, "off"]

    (result,) = set_params(s, gender_every=3)  # gender once per track, refreshed every 3rd frame
    assert result.successful, result.reason
    assert [next_frame(s).faces[0].gender for _ in range(4)] == ["female"] * 4
    assert get_params(s, "gender_every") == [3]


def test_execution_providers_change_with_an_error_or_a_logged_fallback(setup):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime build has cuda: the missing-provider paths cannot be shown with it")
    s = setup
    (result,) = set_params(s, providers=["cuda"])
    assert not result.successful and "cuda" in result.reason and "not available" in result.reason, result.reason
    assert get_params(s, "providers") == [["cpu"]]
    (result,) = set_params(s, providers=["cuda", "cpu"])  # a fall-back listed: accepted, with a warning
    assert result.successful, result.reason
    assert get_params(s, "providers") == [["cuda", "cpu"]]
    assert next_frame(s).faces[0].emotion == "happy"
    lines = [x for x in s["node"].log().splitlines() if "execution provider(s) cuda not available" in x]
    # in the node's ROS log (rosout), as a warning naming cuda and the provider used instead
    assert lines and lines[-1].startswith("[WARN]") and "perception_node]" in lines[-1], s["node"].log_tail()
    assert lines[-1].endswith("using cpu"), lines[-1]
    (result,) = set_params(s, providers=["cpu"])
    assert result.successful and len(next_frame(s).faces) == 1


def test_detect_every_follows_the_moving_face(setup):
    from fer_ros.core.boxes import box_iou

    s = setup
    results = set_params(s, detect_every=3, smoothing="off")
    assert all(r.successful for r in results), [r.reason for r in results]
    for _ in range(6):  # two full detections, four frames where the face is only re-found near its last box
        reply = next_frame(s)
        truth = s["stream"].face_box(s["index"][0])
        assert len(reply.faces) == 1 and reply.faces[0].emotion == "happy"
        face = reply.faces[0]
        assert box_iou((face.x, face.y, face.width, face.height), truth) > 0.5
    (result,) = set_params(s, detect_every=1)
    assert result.successful and len(next_frame(s).faces) == 1
    assert not set_params(s, detect_every=0)[0].successful


@pytest.mark.parametrize("values,words", [
    ({"detector": "sphinx"}, "not one of"),
    ({"smoothing": "median"}, "not one of"),
    ({"detection_scale": 3.0}, "out of range"),
    ({"smoothing_alpha": 0.0}, "out of range"),
    ({"max_faces": 0}, "out of range"),
    ({"detection_scale": "big"}, "type"),
    ({"reliability": "best_effort"}, "read-only"),
    ({"image_topic": "other/image"}, "read-only"),
    ({"detector": "yunet"}, "detector_model"),
    ({"detector": "yunet", "detector_model": "/nonexistent/yunet.onnx"}, "yunet.onnx"),
    ({"emotion_model": "no-such-model"}, "no-such-model"),
    ({"providers": ["gpu"]}, "distinct names"),
    ({"providers": "cpu"}, "type"),
    ({"gender_every": 0}, "out of range"),
], ids=lambda v: "-".join(v) if isinstance(v, dict) else None)
def test_invalid_changes_are_rejected_with_a_reason_and_change_nothing(setup, values, words):
    s = setup
    names = ["detector", "detector_model", "detection_scale", "smoothing", "smoothing_alpha", "max_faces",
             "emotion_model", "reliability", "image_topic", "min_face_size"]
    before = get_params(s, *names)
    (result,) = set_params(s, atomically=True, **values)
    assert not result.successful
    assert words in result.reason, result.reason
    assert get_params(s, *names) == before
    faces = next_frame(s).faces  # still working, with the old settings
    assert len(faces) == 1 and faces[0].emotion == "happy"
    assert s["node"].alive()


def test_bad_start_value_stops_the_node_with_a_reason(tmp_path):
    node = NodeProcess("fer_ros.ros.perception_node", DOMAIN_ID, unique_namespace(), tmp_path / "bad.log",
                       params={"detector": "sphinx"})
    try:
        node.proc.wait(60)
    finally:
        code = node.stop()
    assert code == 1
    assert "cannot start" in node.log() and "sphinx" in node.log()


def test_publish_debug_image_can_be_switched_off_and_on(setup):
    from sensor_msgs.msg import Image

    s = setup
    debug, sub = s["probe"].subscribe(Image, "faces/debug_image", reliable=True, depth=5)
    s["probe"].wait_until(lambda: sub.get_publisher_count() > 0, 20.0, "debug image publisher", s["node"])
    time.sleep(0.5)  # the node sees the subscriber too
    assert set_params(s, publish_debug_image=False)[0].successful
    off = [next_frame(s) for _ in range(3)]
    time.sleep(1.0)
    assert not any(same_stamp(m.header.stamp, r.header.stamp) for m in debug.messages() for r in off), \
        "debug images published with publish_debug_image: false"
    assert set_params(s, publish_debug_image=True)[0].successful
    reply = next_frame(s)
    assert debug.wait_for(lambda m: same_stamp(m.header.stamp, reply.header.stamp), 10.0) is not None
    s["probe"].node.destroy_subscription(sub)
