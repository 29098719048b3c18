"""Result dataclasses produced by the pipeline for one frame, and their JSON and message-field forms."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fer_ros.core.labels import EMOTION_LABELS


@dataclass
class Detection:
    """One detected face in full-resolution pixel coordinates of the input frame."""

    box: tuple[float, float, float, float]  # x, y, width, height
    score: float  # detector confidence in [0, 1] (Haar: 1.0)
    # (5, 2) float32 in image order: image-left eye, image-right eye, nose tip, image-left and
    # image-right mouth corner (MTCNN and YuNet both give this order); None for Haar
    landmarks: np.ndarray | None = None


@dataclass
class Face:
    """A detected face with its classifications (scores follow the label tuples)."""

    detection: Detection
    emotion: str
    emotion_confidence: float
    emotion_scores: np.ndarray  # float32, one per emotion label of the model, sums to 1
    gender: str
    gender_confidence: float
    track_id: str = ""  # stable id while tracked; "" when no tracker ran
    emotion_labels: tuple[str, ...] = EMOTION_LABELS  # the emotion model's labels, in emotion_scores order
    # temporal model over the track's recent frames (fer_ros.core.temporal); empty / 0 until its window is full
    temporal_emotion: str = ""
    temporal_confidence: float = 0.0
    temporal_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    temporal_frames: int = 0  # frames the temporal scores cover


@dataclass
class FrameResult:
    """Everything the pipeline learnt from one frame."""

    width: int
    height: int
    faces: list[Face] = field(default_factory=list)
    emotion_labels: tuple[str, ...] = EMOTION_LABELS
    timings_ms: dict[str, float] = field(default_factory=dict)  # stage name -> milliseconds
    full_detection: bool = True  # False: faces re-found near the previous frame's (PipelineConfig.detect_every)


def face_to_dict(face: Face, emotion_labels: tuple[str, ...] = EMOTION_LABELS) -> dict:
    """JSON-ready dict of one face (the format of fer-ros-infer's JSON lines)."""
    det = face.detection
    return {
        "track_id": face.track_id,
        "box": [round(float(v), 2) for v in det.box],
        "score": round(float(det.score), 4),
        "landmarks": None if det.landmarks is None else np.round(det.landmarks, 2).tolist(),
        "emotion": face.emotion,
        "emotion_confidence": round(float(face.emotion_confidence), 4),
        "emotion_scores": {k: round(float(v), 4)
                           for k, v in zip(emotion_labels, face.emotion_scores, strict=True)},
        "gender": face.gender,
        "gender_confidence": round(float(face.gender_confidence), 4),
        "temporal_emotion": face.temporal_emotion,
        "temporal_confidence": round(float(face.temporal_confidence), 4),
        "temporal_scores": {k: round(float(v), 4) for k, v in zip(emotion_labels, face.temporal_scores)},
        "temporal_frames": int(face.temporal_frames),
    }


def frame_to_dict(result: FrameResult) -> dict:
    """JSON-ready dict of one frame: width, height, full_detection, timings_ms, faces (see face_to_dict)."""
    return {
        "width": result.width,
        "height": result.height,
        "full_detection": result.full_detection,
        "timings_ms": {k: round(float(v), 3) for k, v in result.timings_ms.items()},
        "faces": [face_to_dict(f, result.emotion_labels) for f in result.faces],
    }


def face_emotion_fields(face: Face) -> dict:
    """Field values of a ``fer_ros/FaceEmotion`` message for one face (msg/FaceEmotion.msg documents them).

    ``float32[]`` fields are float32 numpy arrays (landmarks flattened x0, y0, ... x4, y4; empty for
    Haar). Shared by the rclpy publisher (fer_ros/ros/messages.py) and the bag writer (fer_ros/bag).
    """
    x, y, w, h = (float(v) for v in face.detection.box)
    landmarks = face.detection.landmarks
    temporal = face.temporal_frames > 0
    return {
        "id": face.track_id, "x": x, "y": y, "width": w, "height": h,
        "detection_confidence": float(face.detection.score),
        "landmarks": (np.zeros(0, np.float32) if landmarks is None
                      else np.asarray(landmarks, np.float32).reshape(-1)),
        "emotion": face.emotion, "emotion_confidence": float(face.emotion_confidence),
        "emotion_scores": np.asarray(face.emotion_scores, np.float32).reshape(-1),
        "gender": face.gender, "gender_confidence": float(face.gender_confidence),
        # temporal model over the track: empty / 0 until its window is full
        "temporal_emotion": face.temporal_emotion if temporal else "",
        "temporal_confidence": float(face.temporal_confidence) if temporal else 0.0,
        "temporal_scores": (np.asarray(face.temporal_scores, np.float32).reshape(-1) if temporal
                            else np.zeros(0, np.float32)),
        "temporal_frames": int(face.temporal_frames),
    }


def largest_detection(detections: list[Detection]) -> Detection | None:
    """The detection with the largest box area (the face a photo is about), None without one."""
    return max(detections, key=lambda d: d.box[2] * d.box[3]) if detections else None
