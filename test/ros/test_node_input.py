"""The node's image input over DDS: ``reliability: auto`` matches an ordinary camera, one transport only.

The camera is a separate process that publishes with rclpy's default QoS (reliable, depth 10) and has no
FASTDDS_DEFAULT_PROFILES_FILE in its environment: most robots run a camera driver we do not configure.
With the old default (a best-effort subscription) only ~60 % of its 640x480 frames arrived.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from ros_harness import STARTUP_S, NodeProcess, RosProbe, perception_session, same_stamp, unique_namespace

DOMAIN_ID = 87
FRAMES = 100  # 10 s at 10 Hz
PUBLISHER = str(Path(__file__).with_name("camera_publisher.py"))


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


@pytest.fixture(scope="module")
def auto_node(tmp_path_factory):
    """The node with its defaults (reliability auto), started with our DDS profile as the launch file does."""
    log_dir = tmp_path_factory.mktemp("input")
    with perception_session(DOMAIN_ID, log_dir, emotion_depth=500) as s:
        s["log_dir"] = log_dir
        yield s


@pytest.mark.parametrize("width,height,run", [(640, 480, 1), (1280, 720, 2)])
def test_auto_reliability_answers_a_default_qos_camera_without_dds_profile(auto_node, width, height, run):
    s = auto_node
    camera = NodeProcess(PUBLISHER, DOMAIN_ID, s["namespace"], s["log_dir"] / f"camera_{width}.log",
                         params={"width": width, "height": height, "frames": FRAMES, "run": run},
                         dds_profile=False)
    try:
        assert "FASTDDS_DEFAULT_PROFILES_FILE" not in environment_of(camera.pid)
        assert "FASTDDS_DEFAULT_PROFILES_FILE" in environment_of(s["node"].pid)
        camera.wait_for_log(f"published {FRAMES} frames", STARTUP_S + FRAMES / 10.0)

        def answered() -> set[int]:
            return {m.header.stamp.nanosec for m in s["emotion"].messages()
                    if m.header.stamp.sec == run and m.header.frame_id == "plain_camera"}

        try:
            s["probe"].wait_until(lambda: len(answered()) >= FRAMES, 5.0, "the last answers")
        except AssertionError:
            pass  # counted below
        got = answered()
        log = s["node"].log()
        assert len(got) >= 0.95 * FRAMES, (f"{len(got)} of {FRAMES} {width}x{height} frames answered:\n"
                                           f"{s['node'].log_tail()}")
        assert "reliability auto: reliable" in log, log
        print(f"{width}x{height}: {len(got)} of {FRAMES} frames answered")
        replies = [m for m in s["emotion"].messages() if m.header.stamp.sec == run]
        assert len(replies) == len(got), "a frame was answered twice"
        assert sum(1 for m in replies if m.faces) >= 0.9 * len(replies)
    finally:
        camera.stop()
    # the camera is gone: with no publisher left, auto goes back to best effort (matches any new camera)
    s["probe"].wait_until(lambda: s["node"].log().count("reliability auto: best_effort (was reliable)") >= run,
                          10.0, "auto to notice the camera left", s["node"])


def switches(s, to: str) -> int:
    """How often the node's auto reliability has switched to ``to`` so far (from its log)."""
    was = "best_effort" if to == "reliable" else "reliable"
    return s["node"].log().count(f"reliability auto: {to} (was {was})")


def test_auto_chooses_best_effort_when_any_publisher_is_best_effort(auto_node):
    from sensor_msgs.msg import Image

    s, probe = auto_node, auto_node["probe"]
    to_reliable, to_best_effort = switches(s, "reliable"), switches(s, "best_effort")
    reliable = probe.publisher(Image, reliable=True)
    probe.wait_until(lambda: switches(s, "reliable") > to_reliable, 10.0, "a reliable subscription", s["node"])
    best_effort = probe.publisher(Image, reliable=False)
    probe.wait_until(lambda: switches(s, "best_effort") > to_best_effort, 10.0, "auto to switch to best effort",
                     s["node"])
    assert "2 publishers, 1 best effort" in s["node"].log_tail(3)
    probe.wait_until(lambda: reliable.get_subscription_count() > 0 and best_effort.get_subscription_count() > 0,
                     10.0, "both publishers matched", s["node"])
    for publisher in (reliable, best_effort):  # both reach the node now
        msg = probe.image(np.full((480, 640, 3), 90, np.uint8))
        publisher.publish(msg)
        reply = s["emotion"].wait_for(lambda m, msg=msg: same_stamp(m.header.stamp, msg.header.stamp), 20.0)
        assert reply is not None, s["node"].log_tail()
    probe.node.destroy_publisher(best_effort)
    probe.wait_until(lambda: switches(s, "reliable") > to_reliable + 1, 10.0, "back to reliable", s["node"])
    probe.node.destroy_publisher(reliable)


def test_explicit_reliability_never_changes(tmp_path):
    from sensor_msgs.msg import Image

    namespace = unique_namespace()
    node = NodeProcess("fer_ros.ros.perception_node", DOMAIN_ID, namespace, tmp_path / "node.log",
                       params={"reliability": "reliable"})
    probe = RosProbe(DOMAIN_ID, namespace)
    try:
        node.wait_for_log("listening on", STARTUP_S)
        best_effort = probe.publisher(Image, reliable=False)
        reliable = probe.publisher(Image, reliable=True)
        probe.wait_until(lambda: reliable.get_subscription_count() > 0, 20.0, "the reliable match", node)
        time.sleep(2.5)  # more than the auto re-check period
        assert best_effort.get_subscription_count() == 0  # incompatible: a reliable reader stays reliable
        assert "reliability auto" not in node.log()
        assert "(raw, reliable, depth 1)" in node.log()
    finally:
        probe.close()
        assert node.stop() == 0, node.log_tail()


def test_matching_rule_is_rosbag2s():
    """Reliable only when every publisher is; best effort with none (it matches any publisher later)."""
    from rclpy.qos import ReliabilityPolicy as R

    from fer_ros.ros.image_input import match_publishers, transport_topic

    assert match_publishers([])[0] == R.BEST_EFFORT
    assert match_publishers([R.RELIABLE])[0] == R.RELIABLE
    assert match_publishers([R.RELIABLE, R.RELIABLE]) == (R.RELIABLE, "2 publishers, all reliable")
    assert match_publishers([R.RELIABLE, R.BEST_EFFORT]) == (R.BEST_EFFORT, "2 publishers, 1 best effort")
    assert match_publishers([R.BEST_EFFORT])[0] == R.BEST_EFFORT
    assert transport_topic("/cam/image", "compressed")[1] == "/cam/image/compressed"
    assert transport_topic("/cam/image", "raw")[1] == "/cam/image"
