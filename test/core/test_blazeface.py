"""BlazeFace: our TFLite -> ONNX conversion against OpenCV's own TFLite runtime, anchors, weighted NMS, the detector."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
import skimage.data
from sources import blazeface_tflite_or_skip

from fer_ros.core.blazeface import (
    MOUTH_TO_EYE_RATIO,
    VARIANTS,
    BlazeFaceDetector,
    anchor_centres,
    drop_nested,
    five_landmarks,
    weighted_nms,
)
from fer_ros.core.config import PipelineConfig
from fer_ros.core.detectors import ScaledDetector, create_detector
from fer_ros.core.face_crop import MEAN_FACE_5
from fer_ros.core.model_registry import MODELS, find_model_file
from fer_ros.core.mtcnn import MTCNNDetector
from fer_ros.core.onnx_session import create_session
from fer_ros.core.pipeline import Pipeline


def astronaut_bgr() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])


def network_inputs(size: int) -> np.ndarray:
    """Real photos letterboxed to the network input as the detector feeds it, and one noise image.

    The astronaut filling the input and at half size, a cup of coffee; NCHW, x / 127.5 - 1.
    """
    images = []
    for photo, fill in ((skimage.data.astronaut(), 1.0), (skimage.data.astronaut(), 0.5),
                        (skimage.data.coffee(), 1.0)):
        h, w = photo.shape[:2]
        s = fill * size / max(h, w)
        canvas = np.zeros((size, size, 3), np.uint8)
        small = cv2.resize(photo, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        canvas[:small.shape[0], :small.shape[1]] = small
        images.append(canvas)
    images.append(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))
    return np.stack(images).astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0


@pytest.mark.parametrize("variant", ["short", "full"])
def test_onnx_matches_opencv_tflite_runtime(variant):
    """The shipped ONNX file against cv2.dnn running the original .tflite on the same input (NCHW).

    Differences stay within 1e-4 of each output's scale (max(1, max |reference|)): float32 summation order
    alone differs by ~1e-6 relative, and the short-range model gives logits of ~3e4 on the black letterbox
    border, where one float32 ulp is 2e-3."""
    tflite = blazeface_tflite_or_skip(variant)
    if not hasattr(cv2.dnn, "readNetFromTFLite"):
        pytest.skip(f"OpenCV {cv2.__version__} has no TFLite importer (the reference runtime)")
    net = cv2.dnn.readNetFromTFLite(np.frombuffer(tflite, np.uint8))
    spec = MODELS[VARIANTS[variant].model]
    session = create_session(find_model_file(spec.file))
    x = network_inputs(VARIANTS[variant].input_size)
    ours = session.run(None, {"input": x})
    names = [o.name for o in session.get_outputs()]
    for i in range(len(x)):
        net.setInput(x[i:i + 1])
        reference = dict(zip(net.getUnconnectedOutLayersNames(), net.forward(net.getUnconnectedOutLayersNames())))
        for name, out in zip(names, ours, strict=True):
            assert out.shape[1:] == reference[name].shape[1:], name
            scale = max(1.0, float(np.abs(reference[name]).max()))
            np.testing.assert_allclose(out[i:i + 1], reference[name], rtol=0, atol=1e-4 * scale,
                                       err_msg=f"{name} image {i}")
        if i == 0:  # the astronaut: decoded detections agree too
            det = BlazeFaceDetector(variant)
            reg, cls = (reference[n] for n in names)
            theirs = det.decode(reg[0], cls[0, :, 0])
            mine = det.decode(ours[0][0], ours[1][0, :, 0])
            assert len(mine[0]) == len(theirs[0]) == 1
            for a, b in zip(mine, theirs, strict=True):
                np.testing.assert_allclose(a, b, atol=1e-3)


@pytest.mark.parametrize("variant", ["short", "full"])
def test_conversion_is_reproducible(variant):
    from fer_ros.cli.models import derive_bytes

    blazeface_tflite_or_skip(variant)
    spec = MODELS[VARIANTS[variant].model]
    first, second = derive_bytes(spec.name), derive_bytes(spec.name)
    assert first == second
    assert hashlib.sha256(first).hexdigest() == spec.sha256


def test_anchors_follow_mediapipe_ssd_options():
    short, full = anchor_centres(VARIANTS["short"]), anchor_centres(VARIANTS["full"])
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # short: 16x16 grid (8 px cells) with 2 anchors per cell, then 8x8 (16 px) with 6 (three stride-16 layers)
    np.testing.assert_allclose(short[:3], [[4, 4], [4, 4], [12, 4]])
    np.testing.assert_allclose(short[512:518], [[8, 8]] * 6)
    np.testing.assert_allclose(short[-1], [120, 120])
    np.testing.assert_allclose(full[[0, 1, 48, -1]], [[2, 2], [6, 2], [2, 6], [190, 190]])
    # another input size (a multiple of the stride): the same cells over a wider grid
    wide = anchor_centres(VARIANTS["short"], 96, 160)
    assert wide.shape == ((12 * 20) * 2 + (6 * 10) * 6, 2)
    np.testing.assert_allclose(wide[[0, 2, 2 * 20]], [[4, 4], [12, 4], [4, 12]])


def test_weighted_nms_blends_overlapping_boxes_by_score():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.8], np.float32)
    keypoints = np.array([[[1, 1]], [[4, 1]], [[55, 55]]], np.float32)
    out_boxes, out_scores, out_kp = weighted_nms(boxes, scores, keypoints, 0.3)
    np.testing.assert_allclose(out_scores, [0.9, 0.8])  # the best score of each cluster
    np.testing.assert_allclose(out_boxes[0], [1.2, 0, 11.2, 10], atol=1e-5)  # (0.6 * 0 + 0.9 * 2) / 1.5
    np.testing.assert_allclose(out_kp[0], [[2.8, 1]], atol=1e-5)
    np.testing.assert_allclose(out_boxes[1], boxes[2])
    empty = weighted_nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 6, 2), np.float32))
    assert [len(a) for a in empty] == [0, 0, 0]


def test_of_two_nested_boxes_the_better_one_is_kept():
    boxes = np.array([[100, 100, 200, 200],  # a face
                      [120, 110, 160, 150],  # part of it (an eye and a brow), lower score
                      [60, 60, 250, 260],  # the face with hair and neck, lower score
                      [300, 100, 340, 140],  # another face inside a better false box below
                      [290, 90, 400, 200],
                      [500, 100, 560, 160]], np.float32)  # alone
    scores = np.array([0.95, 0.8, 0.75, 0.7, 0.72, 0.9], np.float32)
    keypoints = np.arange(len(boxes) * 12, dtype=np.float32).reshape(-1, 6, 2)
    kept_boxes, kept_scores, kept_kp = drop_nested(boxes, scores, keypoints)
    np.testing.assert_array_equal(kept_boxes, boxes[[0, 4, 5]])
    np.testing.assert_array_equal(kept_scores, scores[[0, 4, 5]])
    np.testing.assert_array_equal(kept_kp, keypoints[[0, 4, 5]])


def test_mouth_corners_sit_on_the_eye_line_through_the_mouth_centre():
    kp = np.array([[100, 100], [140, 110], [120, 125], [118, 145], [80, 120], [160, 130]], np.float32)
    five = five_landmarks(kp)
    np.testing.assert_allclose(five[:3], kp[:3])
    np.testing.assert_allclose((five[3] + five[4]) / 2, kp[3], atol=1e-4)
    np.testing.assert_allclose(five[4] - five[3], MOUTH_TO_EYE_RATIO * (kp[1] - kp[0]), atol=1e-4)
    ref = MEAN_FACE_5
    assert MOUTH_TO_EYE_RATIO == pytest.approx(np.linalg.norm(ref[4] - ref[3]) / np.linalg.norm(ref[1] - ref[0]))


@pytest.mark.parametrize("variant", ["short", "full"])
def test_one_face_on_astronaut_with_landmarks_like_mtcnn(variant):
    image = astronaut_bgr()
    found = BlazeFaceDetector(variant, 0.5).detect(image, 40)
    assert len(found) == 1
    face, ref = found[0], MTCNNDetector().detect(image)[0]
    x, y, w, h = face.box
    assert np.linalg.norm([x + w / 2 - 225, y + h / 2 - 120]) < 25 and 80 < w < 120 and abs(w - h) < 1
    assert face.score > 0.8
    # eyes and nose where MTCNN puts them (image-left eye first); the estimated mouth corners are near MTCNN's
    # (BlazeFace's mouth centre is the middle of the lips, a little below the corners of a smile)
    eye_distance = np.linalg.norm(ref.landmarks[1] - ref.landmarks[0])
    error = np.linalg.norm(face.landmarks - ref.landmarks, axis=1) / eye_distance
    np.testing.assert_array_less(error, [0.15, 0.15, 0.15, 0.35, 0.35])


@pytest.mark.parametrize("detector", ["blazeface", "blazeface-full"])
def test_pipeline_with_blazeface_classifies_the_aligned_face(detector):
    result = Pipeline(PipelineConfig(detector=detector)).process(astronaut_bgr())
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.detection.landmarks.shape == (5, 2)
    assert face.emotion == "happy" and face.gender == "female"


def test_scaled_blazeface_keeps_full_resolution_coordinates_and_min_size():
    frame = astronaut_bgr()
    big = np.ascontiguousarray(np.repeat(np.repeat(frame, 2, axis=0), 2, axis=1))  # 1024x1024
    small = ScaledDetector(BlazeFaceDetector("short"), 1.0, 24).detect(frame)[0]
    scaled = ScaledDetector(BlazeFaceDetector("short"), 0.5, 24).detect(big)[0]
    np.testing.assert_allclose(np.array(scaled.box), 2 * np.array(small.box), atol=0.05 * small.box[2] * 2)
    np.testing.assert_allclose(scaled.landmarks, 2 * small.landmarks, atol=6)
    assert ScaledDetector(BlazeFaceDetector("short"), 1.0, 150).detect(frame) == []  # the face is ~95 px


def test_redetect_follows_a_moved_face_in_one_batch():
    frame = astronaut_bgr()
    det = BlazeFaceDetector("short")
    previous = det.detect(frame)
    moved = np.ascontiguousarray(np.roll(frame, (12, -15), axis=(0, 1)))
    again = det.redetect(moved, previous + previous)  # two regions, one network call
    assert len(again) == 2
    def centre(d):
        return np.array([d.box[0] + d.box[2] / 2, d.box[1] + d.box[3] / 2])

    np.testing.assert_allclose(centre(again[0]), centre(previous[0]) + [-15, 12], atol=0.1 * previous[0].box[2])
    np.testing.assert_allclose(again[0].box, again[1].box)
    assert det.redetect(np.zeros_like(frame), previous) == []  # a face that left is dropped


def test_create_detector_builds_both_ranges_with_the_threshold():
    for name, size in (("blazeface", 128), ("blazeface-full", 192)):
        det = create_detector(PipelineConfig(detector=name, detection_threshold=0.55, detection_scale=0.5))
        assert isinstance(det.detector, BlazeFaceDetector) and det.scale == 0.5
        assert det.detector.variant.input_size == size and det.detector.score_threshold == 0.55
    with pytest.raises(ValueError, match="variant"):
        BlazeFaceDetector("long")


def _face_crop(side: int) -> np.ndarray:
    face = np.ascontiguousarray(skimage.data.astronaut()[40:240, 125:325, ::-1])  # the face with a little border
    return cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("side", [56, 80, 110, 160, 220, 260, 300, 360])
def test_every_face_size_from_min_face_size_up_is_found(side):
    """The levels (image scale, 4x smaller, letterboxed) leave no gap between their face sizes.

    The face is about 0.47 of the crop: 26 px (just above min_face_size 24) to 170 px in a 640x360 frame.
    """
    frame = np.full((360, 640, 3), 120, np.uint8)
    frame[:side, 100:100 + side] = _face_crop(side)
    found = BlazeFaceDetector("short", 0.7).detect(frame, 24)
    face = [d for d in found if 0.35 * side < d.box[2] < 0.65 * side
            and 100 < d.box[0] + d.box[2] / 2 < 100 + side and d.box[1] + d.box[3] / 2 < 0.6 * side]
    assert len(face) == 1, f"{side} px crop: {[d.box for d in found]}"


def test_faces_filling_the_whole_image_are_found():
    """Face crops (the face fills the image, as UTKFace's) keep a border in the letterboxed last level.

    skimage's LFW subset (tight 25x25 gray faces) at 200x200, detection scale 0.5: 39 of 100 are found when
    the image fills the whole 128 px input, 94 of 100 with LAST_LEVEL_FILL 0.75.
    """
    lfw = skimage.data.lfw_subset()
    detector = ScaledDetector(BlazeFaceDetector("short", 0.7), 0.5, 48)
    found = 0
    for gray in lfw[:40]:
        face = cv2.resize((gray * 255).astype(np.uint8), (200, 200), interpolation=cv2.INTER_CUBIC)
        found += len(detector.detect(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR))) == 1
    assert found >= 32, f"{found} of 40"


def test_levels_at_640x480():
    det = BlazeFaceDetector("short")
    levels = det.pyramid(np.zeros((480, 640, 3), np.uint8), 48)
    assert [lv[0].shape[:2] for lv in levels] == [(240, 320), (128, 128)]
    assert levels[0][1] == 0.5 and levels[1][1] == pytest.approx(0.75 * 128 / 640)
    assert [lv[0].shape[:2] for lv in det.pyramid(np.zeros((188, 250, 3), np.uint8), 12)] == [(192, 256), (128, 128)]


@pytest.mark.parametrize("variant", ["short", "full"])
def test_levels_cover_every_face_size_without_a_gap(variant):
    """Each level finds min_face / s ... min_face * max_face_ratio / s px faces; the next one starts below."""
    det = BlazeFaceDetector(variant)
    v = det.variant
    for shape in ((360, 640), (480, 640), (720, 1280), (1080, 1920), (100, 100)):
        for min_face in (12, 24, 48, 96):
            scales = [lv[1] for lv in det.pyramid(np.zeros((*shape, 3), np.uint8), min_face)]
            if len(scales) > 1:  # the finest level: min_face_size becomes the variant's smallest reliable face
                assert scales[0] == pytest.approx(min(1.0, v.min_face / min_face), rel=0.02)
            for finer, coarser in zip(scales, scales[1:]):
                assert v.min_face * v.max_face_ratio / finer >= 0.99 * v.min_face / coarser, (shape, min_face, scales)
