"""Draw faces onto a copy of a frame (used by the CLI and by the ROS node's debug image)."""

from __future__ import annotations

import cv2
import numpy as np

from fer_ros.core.results import Face

# BGR colour per emotion label (unknown labels: white)
EMOTION_COLOURS = {
    "angry": (0, 0, 255), "disgust": (0, 128, 0), "fear": (128, 0, 128), "happy": (0, 215, 255),
    "sad": (255, 0, 0), "surprise": (255, 255, 0), "neutral": (200, 200, 200),
}


def face_caption(face: Face) -> str:
    parts = [f"#{face.track_id}"] if face.track_id else []
    parts.append(f"{face.emotion} {face.emotion_confidence:.2f}")
    if face.gender:
        parts.append(face.gender)
    return " ".join(parts)


def draw_faces(bgr: np.ndarray, faces: list[Face]) -> np.ndarray:
    """Annotated copy: box, track id (if set), emotion + confidence, gender, landmarks."""
    out = bgr.copy()
    thickness = max(1, round(min(out.shape[:2]) / 300))
    font_scale = max(0.4, min(out.shape[:2]) / 900)
    for face in faces:
        x, y, w, h = (round(float(v)) for v in face.detection.box)
        colour = EMOTION_COLOURS.get(face.emotion, (255, 255, 255))
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        if face.detection.landmarks is not None:
            for px, py in face.detection.landmarks:
                cv2.circle(out, (round(float(px)), round(float(py))), thickness + 1, colour, -1)
        text = face_caption(face)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        ty = y - 4 if y - th - base - 4 >= 0 else y + h + th + 4
        cv2.rectangle(out, (x, ty - th - base), (x + tw, ty + base), colour, -1)
        cv2.putText(out, text, (x, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return out
