"""A generated camera stream for demos and tests: known smiling faces moving and zooming.

The face is the public-domain astronaut portrait (NASA) that scikit-image ships as
``skimage.data.astronaut()``, moved and scaled over time on a plain background. With ``faces=2`` a
mirrored copy moves in the other half of the frame, in opposite phase (two tracks for the demo).

Frame ``i`` is a pure function of ``i``, so a stream is reproducible at any publishing rate.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

# The portrait is cropped to head and shoulders (x, y, w, h in the 512x512 image); the face inside the
# crop was located once with OpenCV's Haar detector (x, y, w, h relative to the crop).
PORTRAIT_CROP = (60, 0, 360, 330)
FACE_IN_PORTRAIT = (117, 66, 95, 95)


@lru_cache(maxsize=1)
def astronaut_bgr() -> np.ndarray:
    """The astronaut's head and shoulders as BGR uint8 (read-only)."""
    from skimage import data

    x, y, w, h = PORTRAIT_CROP
    bgr = np.ascontiguousarray(data.astronaut()[y:y + h, x:x + w, ::-1])
    bgr.setflags(write=False)
    return bgr


# where MTCNN finds the mouth centre and the brows in the portrait crop (pixels of the crop)
_MOUTH_IN_PORTRAIT = (162.0, 140.0)
_BROWS_IN_PORTRAIT = (164.0, 86.0)


def astronaut_with_expression(amount: float) -> np.ndarray:
    """The portrait with a changed expression (surprise-like), for streams whose expression changes.

    The mouth is opened and the brows raised by ``amount`` (0 = unchanged, 1 = strongest), a smooth local warp.
    """
    portrait = astronaut_bgr()
    if amount == 0:
        return portrait
    h, w = portrait.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    mx, my = _MOUTH_IN_PORTRAIT
    bx, by = _BROWS_IN_PORTRAIT
    near_mouth = np.exp(-(((xs - mx) / 28.0) ** 2 + ((ys - my) / 22.0) ** 2))
    near_brows = np.exp(-(((xs - bx) / 34.0) ** 2 + ((ys - by) / 12.0) ** 2))
    stretch = 1.0 + 1.2 * amount * near_mouth  # sample closer to the mouth centre: the mouth grows taller
    map_y = my + (ys - my) / stretch + 6.0 * amount * near_brows  # brows: sample from below, i.e. move up
    return cv2.remap(portrait, xs, map_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class SyntheticFaceStream:
    """Frames of ``width`` x ``height`` with the astronaut drifting on an ellipse and slowly zooming.

    ``step_px`` is roughly how far the face moves between consecutive frames; ``faces`` is 1 or 2.
    """

    def __init__(self, width: int = 640, height: int = 480, step_px: float = 6.0,
                 scale: float | None = None, faces: int = 1) -> None:
        if faces not in (1, 2):
            raise ValueError(f"the synthetic stream shows 1 or 2 faces, not {faces}")
        self.width, self.height, self.faces = int(width), int(height), faces
        default_scale = 0.9 * min(width, height) / PORTRAIT_CROP[3] * (1.0 if faces == 1 else 0.8)
        self.base_scale = scale if scale is not None else default_scale
        self._background = self._make_background()
        radius = 0.18 * min(width, height) / faces
        self._angle_step = step_px / max(radius, 1.0)
        self._radius = radius

    def _make_background(self) -> np.ndarray:
        y = np.linspace(0.0, 1.0, self.height, dtype=np.float32)[:, None]
        x = np.linspace(0.0, 1.0, self.width, dtype=np.float32)[None, :]
        b = 90 + 60 * x + 0 * y
        g = 100 + 40 * y + 0 * x
        r = 110 + 30 * (1 - x) * y
        return np.clip(np.stack([b, g, r], axis=2), 0, 255).astype(np.uint8)

    def placement(self, index: int, face: int = 0) -> tuple[float, float, float]:
        """Scale and top-left position of portrait ``face`` in frame ``index``."""
        angle = index * self._angle_step + face * math.pi
        scale = self.base_scale * (1.0 + 0.12 * math.sin(angle * 0.5))
        w, h = PORTRAIT_CROP[2] * scale, PORTRAIT_CROP[3] * scale
        cx = self.width * (2 * face + 1) / (2.0 * self.faces) + self._radius * math.cos(angle)
        cy = self.height / 2.0 + 0.6 * self._radius * math.sin(angle)
        return scale, cx - w / 2.0, cy - h / 2.0

    def face_boxes(self, index: int) -> list[tuple[float, float, float, float]]:
        """Where every face is in frame ``index`` (x, y, w, h), for checks."""
        boxes = []
        for face in range(self.faces):
            scale, left, top = self.placement(index, face)
            fx, fy, fw, fh = FACE_IN_PORTRAIT
            if face == 1:  # mirrored portrait
                fx = PORTRAIT_CROP[2] - fx - fw
            boxes.append((left + fx * scale, top + fy * scale, fw * scale, fh * scale))
        return boxes

    def face_box(self, index: int) -> tuple[float, float, float, float]:
        """Where the first face is in frame ``index`` (x, y, w, h), for checks."""
        return self.face_boxes(index)[0]

    def frame(self, index: int, portrait: np.ndarray | None = None) -> np.ndarray:
        """BGR uint8 frame number ``index``.

        ``portrait`` replaces the astronaut crop (same size), e.g. with a changed expression.
        """
        out = self._background.copy()
        source = astronaut_bgr() if portrait is None else portrait
        if source.shape != astronaut_bgr().shape:
            raise ValueError(f"portrait must be {astronaut_bgr().shape}, got {source.shape}")
        for face in range(self.faces):
            scale, left, top = self.placement(index, face)
            matrix = np.array([[scale, 0.0, left], [0.0, scale, top]], dtype=np.float32)
            portrait = source if face == 0 else np.ascontiguousarray(source[:, ::-1])
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            cv2.warpAffine(portrait, matrix, (self.width, self.height), dst=out, flags=interpolation,
                           borderMode=cv2.BORDER_TRANSPARENT)
        return out
