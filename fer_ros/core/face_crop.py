"""The one place faces are cropped / aligned for every classifier.

A :class:`CropPolicy` says how to cut a face chip out of the frame:

* ``tight``: the detector box as is (square detectors give square chips); ``square``: the box made
  square around its centre (MTCNN / YuNet boxes are taller than wide, Haar's are square);
* ``margin``-based: the box grown by a fraction of its size on each side;
* ``arriaga``: the box grown by absolute pixel offsets (Arriaga et al.'s emotion offsets (20, 40));
* ``align``: when the detection has 5 landmarks, a similarity transform maps them onto dlib's mean face
  (eye centres, nose tip, mouth corners) with dlib's chip padding, as dlib's ``get_face_chip_details``
  does; without landmarks the policy falls back to its box rule.

All chips are made with one affine warp (bilinear); a chip shrunk more than 2x is warped at an integer
multiple of its size first and then reduced with area averaging, to avoid aliasing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer_ros.core.results import Detection, largest_detection

# dlib's mean face shape (points 17..67 of the 68-point model, unit square), reduced to the 5 points
# MTCNN / YuNet give: image-left eye centre, image-right eye centre, nose tip, mouth left, mouth right.
_DLIB_X = (0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004,
           0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737,
           0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751,
           0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
           0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127,
           0.42689)
_DLIB_Y = (0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915,
           0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326,
           0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423,
           0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
           0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182,
           0.831803, 0.824182)


def _dlib_five_points() -> np.ndarray:
    pts = np.stack([_DLIB_X, _DLIB_Y], axis=1)  # index i = 68-point index i + 17
    return np.array([pts[36 - 17:42 - 17].mean(0), pts[42 - 17:48 - 17].mean(0), pts[30 - 17],
                     pts[48 - 17], pts[54 - 17]], dtype=np.float64)


MEAN_FACE_5 = _dlib_five_points()


@dataclass(frozen=True)
class CropPolicy:
    """How to cut a face chip for one classifier."""

    name: str
    margin: tuple[float, float] = (0.0, 0.0)  # grow the box by this fraction of w / h on each side
    offsets_px: tuple[int, int] = (0, 0)  # grow the box by these absolute pixels (x, y) on each side
    align: bool = False  # use the 5 landmarks when present
    padding: float = 0.2  # dlib chip padding for aligned chips
    shift_y: float = 0.0  # move the box down by this fraction of its height (box rule only)
    square: bool = False  # first make the box square (side = max(w, h), same centre), like Haar boxes


CROP_POLICIES: dict[str, CropPolicy] = {
    p.name: p
    for p in (
        CropPolicy("tight"),
        CropPolicy("square", square=True),
        CropPolicy("arriaga", offsets_px=(20, 40)),
        CropPolicy("margin-10", margin=(0.1, 0.1)),
        CropPolicy("margin-20", margin=(0.2, 0.2)),
        # box rule measured: the dlib chip (padding 0.2) is a square of the Haar box's size, 7% lower
        CropPolicy("dlib-aligned", align=True, padding=0.2, shift_y=0.07),
        CropPolicy("dlib-box", shift_y=0.07),
    )
}


def get_policy(name: str) -> CropPolicy:
    try:
        return CROP_POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown crop policy {name!r}; known: {', '.join(CROP_POLICIES)}") from None


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) src -> dst (Umeyama), 2x3."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[1, 1] = -1
    rot = u @ fix @ vt
    scale = np.trace(np.diag(sig) @ fix) / (s**2).sum(axis=1).mean()
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def box_region(detection: Detection, policy: CropPolicy) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) of the box rule of ``policy`` (not clipped)."""
    x, y, w, h = detection.box
    if policy.square and w != h:
        side = max(w, h)
        x, y, w, h = x + (w - side) / 2, y + (h - side) / 2, side, side
    y += policy.shift_y * h
    mx, my = policy.margin[0] * w + policy.offsets_px[0], policy.margin[1] * h + policy.offsets_px[1]
    return x - mx, y - my, x + w + mx, y + h + my


def chip_transform(detection: Detection, policy: CropPolicy, size: tuple[int, int],
                   image_shape: tuple[int, ...]) -> np.ndarray:
    """2x3 affine matrix mapping frame pixels to chip pixels (chip size = (width, height))."""
    cw, ch = size
    if policy.align and detection.landmarks is not None:
        p = policy.padding
        dst = (MEAN_FACE_5 + p) / (1 + 2 * p) * np.array([cw, ch])
        return similarity_transform(np.asarray(detection.landmarks, np.float64), dst)
    x1, y1, x2, y2 = box_region(detection, policy)
    if policy.offsets_px != (0, 0):  # Arriaga crops with numpy slicing: the region is clipped to the frame
        x1, y1 = max(x1, 0.0), max(y1, 0.0)
        x2, y2 = min(x2, float(image_shape[1])), min(y2, float(image_shape[0]))
    sx, sy = cw / max(x2 - x1, 1e-6), ch / max(y2 - y1, 1e-6)
    # pixel-centre convention of cv2.resize: chip (u + 0.5) = (x - x1 + 0.5) * s
    return np.array([[sx, 0.0, 0.5 * sx - 0.5 - x1 * sx], [0.0, sy, 0.5 * sy - 0.5 - y1 * sy]])


def crop_chip(image: np.ndarray, detection: Detection, policy: CropPolicy, size: tuple[int, int]) -> np.ndarray:
    """The chip of one face, ``size`` = (width, height), same channels as ``image``."""
    return warp_chip(image, chip_transform(detection, policy, size, image.shape), size)


def warp_chip(image: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The chip ``size`` = (width, height) that the 2x3 frame-to-chip matrix ``m`` cuts out of ``image``."""
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    factor = int(np.ceil(0.5 / scale)) if scale < 0.5 else 1
    if factor == 1:
        return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    big = (size[0] * factor, size[1] * factor)
    mb = m * factor
    mb[:, 2] += 0.5 * (factor - 1)  # keep pixel centres aligned between the big and the final chip
    chip = cv2.warpAffine(image, mb, big, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(chip, size, interpolation=cv2.INTER_AREA)


def crop_chips(image: np.ndarray, detections: list[Detection], policy: CropPolicy,
               size: tuple[int, int]) -> list[np.ndarray]:
    return [crop_chip(image, d, policy, size) for d in detections]


def largest_face_chip(image: np.ndarray, detections: list[Detection], policy: CropPolicy,
                      size: tuple[int, int]) -> np.ndarray | None:
    """The chip of the largest detection (by box area), None without one: how photos are evaluated."""
    face = largest_detection(detections)
    return None if face is None else crop_chip(image, face, policy, size)
