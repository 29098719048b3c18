"""Detectors behind one interface, on skimage's astronaut photo and generated frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from fer_ros.core.config import PipelineConfig
from fer_ros.core.detectors import HaarDetector, ScaledDetector, YuNetDetector, create_detector
from fer_ros.core.mtcnn import MTCNNDetector, nms
from fer_ros.core.pipeline import Pipeline

YUNET = Path(__file__).resolve().parents[3] / "shared" / "models" / "face_detection_yunet.onnx"


def astronaut_bgr() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])


def _centre(box):
    return np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])


@pytest.mark.parametrize("make", [HaarDetector, MTCNNDetector])
def test_one_face_on_astronaut(make):
    found = ScaledDetector(make(), 1.0, 24).detect(astronaut_bgr())
    assert len(found) == 1
    assert np.linalg.norm(_centre(found[0].box) - np.array([225, 120])) < 30


@pytest.mark.skipif(not YUNET.is_file(), reason=f"YuNet model not present at {YUNET} (never shipped)")
def test_yunet_from_a_user_supplied_file():
    if tuple(int(v) for v in cv2.__version__.split(".")[:2]) < (4, 8):  # e.g. Debian's python3-opencv 4.6
        with pytest.raises(RuntimeError, match=r"face_detection_yunet_2023mar.onnx needs OpenCV >= 4.8"):
            YuNetDetector(str(YUNET))
        return
    pipe = Pipeline(PipelineConfig(detector="yunet", detector_model=str(YUNET)))
    result = pipe.process(astronaut_bgr())
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.detection.landmarks.shape == (5, 2) and 0.5 < face.detection.score <= 1.0
    assert face.emotion == "happy" and face.gender == "female"


def test_yunet_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="OpenCV Zoo"):
        YuNetDetector(str(tmp_path / "none.onnx"))


def test_scaled_detection_keeps_full_resolution_coordinates():
    frame = astronaut_bgr()
    big = np.ascontiguousarray(np.repeat(np.repeat(frame, 2, axis=0), 2, axis=1))  # 1024x1024
    small = ScaledDetector(MTCNNDetector(), 1.0, 24).detect(frame)[0]
    scaled = ScaledDetector(MTCNNDetector(), 0.5, 24).detect(big)[0]
    np.testing.assert_allclose(np.array(scaled.box), 2 * np.array(small.box), rtol=0, atol=0.1 * small.box[2] * 2)
    np.testing.assert_allclose(scaled.landmarks, 2 * small.landmarks, atol=8)


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    scores = np.array([0.5, 0.9, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


def test_create_detector_follows_the_config():
    det = create_detector(PipelineConfig(detector="mtcnn", detection_scale=0.5, min_face_size=30, max_faces=3))
    assert isinstance(det.detector, MTCNNDetector)
    assert (det.scale, det.min_face_size, det.max_faces) == (0.5, 30, 3)


def test_haar_loads_the_shipped_cascade_without_cv2_data(monkeypatch):
    """Debian's python3-opencv has no cv2.data: the cascade comes from models/ (sha256-checked)."""
    import cv2

    from fer_ros.core.detectors import haar_cascade_path
    from fer_ros.core.model_registry import MODELS, find_model_file

    monkeypatch.delattr(cv2, "data", raising=False)
    path = haar_cascade_path()
    assert path == find_model_file(MODELS["haar-frontalface-default"].file)
    test_one_face_on_astronaut(HaarDetector)


def test_haar_with_a_changed_cascade_names_the_fix(tmp_path, monkeypatch):
    from fer_ros.core.model_registry import MODELS, ModelFileError, find_model_file

    name = MODELS["haar-frontalface-default"].file
    text = find_model_file(name).read_text().replace("<maxWeakCount>9", "<maxWeakCount>8", 1)
    (tmp_path / name).write_text(text)
    monkeypatch.setenv("FER_ROS_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelFileError, match="haarcascade_frontalface_default.xml.*fer-ros-models derive"):
        HaarDetector()
