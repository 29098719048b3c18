"""fer-ros-explain: guided-backpropagation saliency PNG for a face image and a trained checkpoint.

The image is a face crop (any size; it is resized to the model input), or with ``--detect`` a photo
whose largest face (the core's default detector, square crop) is explained. The PNG shows the input,
the saliency map for the predicted (or ``--target``) class and an overlay, with the label.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fer-ros-explain", description=__doc__)
    parser.add_argument("image", help="face image (jpg/png)")
    parser.add_argument("--model", required=True, help="checkpoint written by fer-ros-train (.pt)")
    parser.add_argument("--output", "-o", help="PNG to write (default: <image stem>_saliency.png)")
    parser.add_argument("--target", help="explain this label instead of the predicted one")
    parser.add_argument("--detect", action="store_true",
                        help="the image is a photo: explain its largest face (core default detector, square crop)")
    args = parser.parse_args(argv)
    try:
        import cv2
        import numpy as np
        import torch

        from fer_ros.training import augment as aug
        from fer_ros.training.checkpoint import load_model
        from fer_ros.training.guided_backprop import guided_backprop
    except ImportError as err:
        print(f"fer-ros-explain needs the training extra (pip install 'fer_ros[train]'): {err}", file=sys.stderr)
        return 2
    try:
        model, config, _ = load_model(args.model)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        print(f"fer-ros-explain: cannot load model {args.model}: {err}", file=sys.stderr)
        return 1
    d = config.data
    image = cv2.imread(args.image, cv2.IMREAD_GRAYSCALE if d.colour == "gray" and not args.detect
                       else cv2.IMREAD_COLOR)
    if image is None:
        print(f"fer-ros-explain: cannot read image {args.image}", file=sys.stderr)
        return 1
    if args.detect:
        image = largest_face(image, d.input_size)
        if image is None:
            print(f"fer-ros-explain: no face found in {args.image}", file=sys.stderr)
            return 1
        if d.colour == "gray":
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    from fer_ros.training.data import INTERPOLATIONS

    image = cv2.resize(image, (d.input_size, d.input_size), interpolation=INTERPOLATIONS[d.interpolation])
    if d.colour == "rgb":
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    target = None
    if args.target:
        if args.target not in d.labels:
            print(f"fer-ros-explain: unknown label {args.target!r}; labels: {', '.join(d.labels)}", file=sys.stderr)
            return 1
        target = d.labels.index(args.target)
    x = aug.normalise(aug.to_float(torch.from_numpy(image[None])), d.mean, d.std)
    saliency, cls, probs = guided_backprop(model, x, target)

    scale = 4
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    size = (d.input_size * scale, d.input_size * scale)
    face = cv2.cvtColor(cv2.resize(gray, size, interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR)
    heat = cv2.applyColorMap(cv2.resize((saliency * 255).astype(np.uint8), size), cv2.COLORMAP_JET)
    overlay = cv2.addWeighted(face, 0.5, heat, 0.5, 0)
    panel = np.concatenate([face, heat, overlay], axis=1)
    caption = f"{d.labels[cls]} {probs[cls]:.2f}"
    banner = np.zeros((28, panel.shape[1], 3), np.uint8)
    cv2.putText(banner, caption, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    output = Path(args.output) if args.output else Path(args.image).with_name(Path(args.image).stem + "_saliency.png")
    if not cv2.imwrite(str(output), np.concatenate([banner, panel], axis=0)):
        print(f"fer-ros-explain: cannot write {output}", file=sys.stderr)
        return 1
    print(f"{output}: {caption}")
    return 0


def largest_face(bgr, size: int):
    """Square BGR crop, ``size`` px as the product crops it, of the default detector's largest face; or None."""
    from fer_ros.core.config import PipelineConfig
    from fer_ros.core.detectors import create_detector
    from fer_ros.core.face_crop import crop_chip, get_policy
    from fer_ros.core.results import largest_detection

    largest = largest_detection(create_detector(PipelineConfig()).detect(bgr))
    if largest is None:
        return None
    return crop_chip(bgr, largest, get_policy("square"), (size, size))


if __name__ == "__main__":
    sys.exit(main())
