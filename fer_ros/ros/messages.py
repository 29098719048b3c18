"""Building the node's output messages from core results.

``FaceEmotionArray`` always; ``vision_msgs/Detection2DArray`` only where vision_msgs is installed
(``VISION_MSGS_ERROR`` says why not otherwise); ``diagnostic_msgs/DiagnosticArray`` for health.
"""

from __future__ import annotations

from array import array

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header

from fer_ros.core.results import Face, face_emotion_fields
from fer_ros.msg import FaceEmotion, FaceEmotionArray
from fer_ros.ros.health import HealthSnapshot

try:  # vision_msgs is a ROS package that is not on PyPI; real ROS installs have it
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    VISION_MSGS_ERROR = ""
except ImportError as exc:  # pragma: no cover - depends on the installation
    Detection2D = Detection2DArray = ObjectHypothesisWithPose = None
    VISION_MSGS_ERROR = str(exc)


def face_emotion(face: Face) -> FaceEmotion:
    """One FaceEmotion message from a core Face (pixels of the full-resolution image)."""
    fields = face_emotion_fields(face)
    for name in ("landmarks", "emotion_scores", "temporal_scores"):
        fields[name] = float32_array(fields[name])
    return FaceEmotion(**fields)


def float32_array(values) -> array:
    """A ``float32[]`` field value; array('f') skips the per-element checks a Python list gets (faster)."""
    return array("f", np.asarray(values, np.float32).reshape(-1).tobytes())


def face_emotion_array(header, faces: list[Face], labels: tuple[str, ...]) -> FaceEmotionArray:
    """The answer to one frame: the image's header, the label order and every face (may be empty)."""
    return FaceEmotionArray(header=header, emotion_labels=list(labels),
                            faces=[face_emotion(f) for f in faces])


def detection2d_array(header, faces: list[Face], labels: tuple[str, ...]):
    """vision_msgs/Detection2DArray: id = track id, bbox centre/size in pixels, one hypothesis per emotion.

    Hypotheses are sorted by score, so ``results[0]`` is the face's emotion label.
    """
    out = Detection2DArray(header=header)
    for face in faces:
        x, y, w, h = (float(v) for v in face.detection.box)
        det = Detection2D(header=header, id=face.track_id)
        center = det.bbox.center
        if hasattr(center, "position"):  # vision_msgs >= 4 (Humble and later)
            center.position.x, center.position.y = x + w / 2.0, y + h / 2.0
        else:  # vision_msgs 2/3: geometry_msgs/Pose2D
            center.x, center.y = x + w / 2.0, y + h / 2.0
        det.bbox.size_x, det.bbox.size_y = w, h
        order = sorted(range(len(labels)), key=lambda i: -float(face.emotion_scores[i]))
        for i in order:
            hyp = ObjectHypothesisWithPose()
            hyp.hypothesis.class_id = labels[i]
            hyp.hypothesis.score = float(face.emotion_scores[i])
            det.results.append(hyp)
        out.detections.append(det)
    return out


def diagnostic_array(stamp, name: str, snap: HealthSnapshot, latency_warn_ms: float) -> DiagnosticArray:
    """One DiagnosticStatus with the node's health: WARN when p95 latency exceeds the threshold."""
    status = DiagnosticStatus(name=name, hardware_id="fer_ros")
    if snap.latency_p95_ms > latency_warn_ms:  # nan compares False: no frames is not a latency problem
        status.level = DiagnosticStatus.WARN
        status.message = f"latency p95 {snap.latency_p95_ms:.0f} ms exceeds {latency_warn_ms:.0f} ms"
    elif snap.processed == 0:
        status.level = DiagnosticStatus.OK
        status.message = "waiting for images"
    else:
        status.level = DiagnosticStatus.OK
        status.message = f"{snap.fps:.1f} fps"
    values = {
        "fps": f"{snap.fps:.2f}",
        "latency_p50_ms": f"{snap.latency_p50_ms:.1f}",
        "latency_p95_ms": f"{snap.latency_p95_ms:.1f}",
        "processing_p50_ms": f"{snap.processing_p50_ms:.1f}",
        "frames_received": str(snap.received),
        "frames_processed": str(snap.processed),
        "frames_dropped": str(snap.dropped),
        "frames_invalid": str(snap.invalid),
        "frames_failed": str(snap.errors),
    }
    status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
    return DiagnosticArray(header=Header(stamp=stamp), status=[status])
