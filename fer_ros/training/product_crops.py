"""Product-matched crops: the detector's box on training images, and the product's chips of photos.

FER-2013 / FER+ images are 48x48 faces cropped by their authors, not by our detector. The pipeline
classifies ``crop_chip(frame, haar_box, policy)``, so the training crop should be the same square around
the box Haar would report on a training image. :func:`measure_box_stats` measures that box on training
images (each upscaled and centred on a gray canvas so the detector can see it, like ``fer-ros-eval
--upscale 4 --canvas``): median side, log-size spread and centre spread feed ``AugmentConfig.box_*``.
:func:`photo_chips` turns a ``<class>/<photo>`` folder into the chips the product classifies (the
detection of ``fer-ros-eval --mode photos``, largest face, the model's crop policy), so training can
validate end to end every epoch. ``--detector`` picks the detector whose box is measured (default Haar).

    python -m fer_ros.training.product_crops ../shared/data/ferplus/train --limit 2000
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from fer_ros.core.config import DETECTORS, PHOTO_DETECTION
from fer_ros.core.detectors import create_detector
from fer_ros.core.face_crop import get_policy, largest_face_chip
from fer_ros.core.image_input import image_files
from fer_ros.core.results import largest_detection
from fer_ros.training.config import DataConfig
from fer_ros.training.data import ImageSet


@dataclass
class BoxStats:
    images: int
    found: int
    box_scale: float  # median box side / image side
    box_log_sd: float  # sd of log(box side)
    box_shift_sd: float  # sd of the box centre offset from its median, in box sides (x and y pooled)
    centre_x: float  # median box centre, fraction of the image
    centre_y: float


def measure_box_stats(paths: list[Path], upscale: int = 4, canvas: int = 400, detector: str = "haar") -> BoxStats:
    """Detector boxes on square training images, relative to the image (see the module docstring)."""
    det = create_detector(replace(PHOTO_DETECTION, detector=detector))
    boxes = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot decode image: {path}")
        side = image.shape[1] * upscale
        big = cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC)
        frame = np.full((max(canvas, side), max(canvas, side), 3), 128, np.uint8)
        o = (frame.shape[0] - side) // 2
        frame[o:o + side, o:o + side] = big
        found = largest_detection(det.detect(frame))
        if found is not None:
            x, y, w, h = found.box
            boxes.append(((x - o + w / 2) / side, (y - o + h / 2) / side, max(w, h) / side))
    if len(boxes) < 2:
        raise ValueError(f"the detector found a face in {len(boxes)} of {len(paths)} images: too few to measure")
    b = np.asarray(boxes)
    cx, cy = np.median(b[:, 0]), np.median(b[:, 1])
    shift = np.concatenate([(b[:, 0] - cx) / b[:, 2], (b[:, 1] - cy) / b[:, 2]])
    return BoxStats(len(paths), len(b), float(np.median(b[:, 2])), float(np.std(np.log(b[:, 2]))),
                    float(np.std(shift)), float(cx), float(cy))


def photo_chips(root: str | Path, data: DataConfig) -> ImageSet:
    """The chips the product classifies for every photo under ``root/<label>/``.

    Photos without a face are counted in ``missing`` (wrong, as in ``fer-ros-eval --mode photos``).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"photo folder not found: {root}")
    det = create_detector(PHOTO_DETECTION)
    policy = get_policy(data.face_crop)
    size = (data.input_size, data.input_size)
    chips, targets, paths, missing = [], [], [], 0
    for index, label in enumerate(data.labels):
        folder = root / label
        files = image_files(folder) if folder.is_dir() else []
        for path in files:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"cannot decode image: {path}")
            chip = largest_face_chip(image, det.detect(image), policy, size)
            if chip is None:
                missing += 1
                continue
            chips.append(cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY) if data.colour == "gray"
                         else cv2.cvtColor(chip, cv2.COLOR_BGR2RGB))
            targets.append(index)
            paths.append(str(path))
    if not chips:
        raise ValueError(f"no face found in any photo under {root}")
    return ImageSet(np.stack(chips), np.asarray(targets, np.int64), tuple(data.labels), paths, missing=missing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure where the face detector's box falls on training "
                                     "images (for AugmentConfig.box_*)")
    parser.add_argument("folder", type=Path, help="images (any depth), e.g. ../shared/data/ferplus/train")
    parser.add_argument("--limit", type=int, default=2000, help="every k-th image so that about this many are used")
    parser.add_argument("--detector", default="haar", choices=[d for d in DETECTORS if d != "yunet"])
    args = parser.parse_args(argv)
    paths = image_files(args.folder, recursive=True)
    if not paths:
        parser.error(f"no images under {args.folder}")
    step = max(1, len(paths) // max(args.limit, 1))
    print(json.dumps(asdict(measure_box_stats(paths[::step], detector=args.detector)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
