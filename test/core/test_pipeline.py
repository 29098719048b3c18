"""Pipeline on real models: skimage's astronaut photo (public domain) and generated images."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from fer_ros.core.config import PipelineConfig
from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.results import FrameResult, frame_to_dict

STAGES = {"detect", "align", "gender", "emotion", "total"}


def astronaut_bgr() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])


@pytest.fixture(scope="module", params=["haar", "mtcnn"])
def pipe(request) -> Pipeline:
    return Pipeline(PipelineConfig(detector=request.param))


def test_astronaut_is_one_happy_female(pipe):
    result = pipe.process(astronaut_bgr())
    assert isinstance(result, FrameResult)
    assert (result.width, result.height) == (512, 512)
    assert len(result.faces) == 1
    face = result.faces[0]
    x, y, w, h = face.detection.box
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 190  # her face, not the flag or the shuttle
    assert face.emotion == "happy" and face.emotion_confidence > 0.5
    assert face.gender == "female" and face.gender_confidence > 0.5
    assert face.emotion_scores.shape == (len(EMOTION_LABELS),)
    assert face.emotion_scores.dtype == np.float32
    assert abs(float(face.emotion_scores.sum()) - 1.0) < 1e-4
    assert set(result.timings_ms) == STAGES
    assert all(v >= 0 for v in result.timings_ms.values())


def test_mtcnn_gives_landmarks_inside_the_box():
    result = Pipeline(PipelineConfig(detector="mtcnn")).process(astronaut_bgr())
    lm = result.faces[0].detection.landmarks
    x, y, w, h = result.faces[0].detection.box
    assert lm.shape == (5, 2)
    assert np.all((lm[:, 0] > x) & (lm[:, 0] < x + w) & (lm[:, 1] > y) & (lm[:, 1] < y + h))
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # image-left eye / mouth corner first
    assert lm[0, 1] < lm[2, 1] < lm[3, 1]  # eyes above nose above mouth


def test_blank_and_noise_frames_have_no_faces(pipe):
    rng = np.random.default_rng(1)
    for frame in (np.zeros((480, 640, 3), np.uint8), rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)):
        result = pipe.process(frame)
        assert result.faces == []
        assert set(result.timings_ms) == STAGES


def test_four_faces_are_batched_and_found(pipe):
    face = astronaut_bgr()[30:250, 120:330]
    frame = np.full((480, 640, 3), 127, np.uint8)
    for (x, y) in ((10, 10), (330, 10), (10, 250), (330, 250)):
        frame[y:y + 220, x:x + 210] = face
    result = pipe.process(frame)
    assert len(result.faces) == 4
    assert {f.emotion for f in result.faces} == {"happy"}
    assert {f.gender for f in result.faces} == {"female"}


def test_max_faces_and_min_face_size():
    face = astronaut_bgr()[30:250, 120:330]
    frame = np.full((480, 640, 3), 127, np.uint8)
    for (x, y) in ((10, 10), (330, 10), (10, 250), (330, 250)):
        frame[y:y + 220, x:x + 210] = face
    assert len(Pipeline(PipelineConfig(max_faces=2)).process(frame).faces) == 2
    assert Pipeline(PipelineConfig(min_face_size=300)).process(frame).faces == []


def test_gray_and_bgra_are_converted(pipe):
    bgr = astronaut_bgr()
    gray = np.ascontiguousarray(bgr.mean(axis=2).astype(np.uint8))
    bgra = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
    assert pipe.process(bgra).faces[0].emotion == pipe.process(bgr).faces[0].emotion
    assert len(pipe.process(gray).faces) == 1
    assert len(pipe.process(gray[:, :, None]).faces) == 1


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (None, "None"),
        (np.zeros((0, 0, 3), np.uint8), "empty"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        (np.zeros((10, 10, 2), np.uint8), "shape"),
        ([[1, 2], [3, 4]], "numpy array"),
    ],
)
def test_bad_input_raises_clear_value_error(pipe, image, message):
    with pytest.raises(ValueError, match=message):
        pipe.process(image)


def test_gender_can_be_disabled():
    result = Pipeline(PipelineConfig(gender_model="")).process(astronaut_bgr())
    assert result.faces[0].gender == "" and result.faces[0].gender_confidence == 0.0


def test_downscaled_detection_maps_boxes_back_to_full_resolution():
    full = Pipeline(PipelineConfig(detector="mtcnn", detection_scale=1.0)).process(astronaut_bgr())
    half = Pipeline(PipelineConfig(detector="mtcnn", detection_scale=0.5)).process(astronaut_bgr())
    a, b = np.array(full.faces[0].detection.box), np.array(half.faces[0].detection.box)
    assert np.abs(a - b).max() < 0.15 * a[2]
    assert np.abs(full.faces[0].detection.landmarks - half.faces[0].detection.landmarks).max() < 6


def test_frame_to_dict_is_json_ready():
    import json

    result = Pipeline().process(astronaut_bgr())
    record = json.loads(json.dumps(frame_to_dict(result)))
    assert record["faces"][0]["emotion"] == "happy"
    assert list(record["faces"][0]["emotion_scores"]) == list(EMOTION_LABELS)


@pytest.mark.parametrize("bad", [{"detector": "dlib"}, {"detection_scale": 0.0}, {"detection_scale": 1.5},
                                 {"detector": "yunet"}, {"max_faces": 0}])
def test_bad_config_is_rejected(bad):
    with pytest.raises(ValueError):
        Pipeline(PipelineConfig(**bad))
