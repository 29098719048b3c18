"""camera_source over DDS: an image folder, a video file and the synthetic stream, at a set rate."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from ros_harness import NodeProcess, RosProbe, unique_namespace

from fer_ros.core.image_convert import image_to_bgr
from fer_ros.ros.synthetic_stream import SyntheticFaceStream

DOMAIN_ID = 85


@pytest.fixture
def probe():
    namespace = unique_namespace()
    probe = RosProbe(DOMAIN_ID, namespace)
    yield probe
    probe.close()


def run_source(probe: RosProbe, tmp_path, params: dict, min_frames: int = 10):
    from sensor_msgs.msg import Image

    inbox, _ = probe.subscribe(Image, "camera/image_raw", reliable=False, depth=50)
    node = NodeProcess("fer_ros.ros.camera_source", DOMAIN_ID, probe.namespace, tmp_path / "camera_source.log",
                       params={"wait_for_subscriber": True, **params})
    try:
        node.proc.wait(60)  # max_frames makes it finish by itself
    finally:
        code = node.stop()
    assert code == 0, node.log_tail()
    frames = inbox.messages()
    assert len(frames) >= min_frames, f"{len(frames)} frames received:\n{node.log_tail()}"
    return frames, node


def test_image_folder_is_published_frame_by_frame(probe, tmp_path):
    stream = SyntheticFaceStream(320, 240)
    images = [stream.frame(i * 20) for i in range(3)]
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"{i:03d}.png"), image)
    (folder / "notes.txt").write_text("not an image")
    frames, node = run_source(probe, tmp_path, {"source": str(folder), "rate": 20.0, "max_frames": 40,
                                                "frame_id": "folder_cam", "reliability": "reliable"})
    for msg in frames:
        assert (msg.width, msg.height, msg.encoding, msg.header.frame_id) == (320, 240, "bgr8", "folder_cam")
        pixels = image_to_bgr(msg)
        assert any(np.array_equal(pixels, image) for image in images)  # PNG: lossless
    assert "source finished after 40 frames" in node.log()


def test_video_file_is_published(probe, tmp_path):
    stream = SyntheticFaceStream(320, 240)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    assert writer.isOpened()
    for i in range(10):
        writer.write(stream.frame(i))
    writer.release()
    frames, _ = run_source(probe, tmp_path, {"source": str(video), "rate": 20.0, "max_frames": 30,
                                             "encoding": "rgb8"})
    first = image_to_bgr(frames[0]).astype(int)
    assert frames[0].encoding == "rgb8"
    assert min(np.abs(first - stream.frame(i).astype(int)).mean() for i in range(10)) < 8  # MJPG: lossy


def test_synthetic_stream_in_mono8(probe, tmp_path):
    frames, _ = run_source(probe, tmp_path, {"source": "synthetic", "rate": 30.0, "max_frames": 30,
                                             "encoding": "mono8", "width": 160, "height": 120})
    assert all((m.width, m.height, m.encoding, m.step) == (160, 120, "mono8", 160) for m in frames)


def test_missing_source_stops_with_a_reason(tmp_path):
    node = NodeProcess("fer_ros.ros.camera_source", DOMAIN_ID, unique_namespace(), tmp_path / "bad.log",
                       params={"source": str(tmp_path / "nope.mp4")})
    try:
        node.proc.wait(60)
    finally:
        code = node.stop()
    assert code == 1 and "nope.mp4" in node.log()
