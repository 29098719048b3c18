"""fer-ros-export: turn a training checkpoint into an ONNX model the core registry can load by path."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fer-ros-export", description=__doc__)
    parser.add_argument("checkpoint", help="checkpoint written by fer-ros-train (e.g. runs/NAME/best.pt)")
    parser.add_argument("--output", "-o", required=True, help="ONNX file to write")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--flip-tta", action="store_true",
                        help="average the face and its mirror image inside the graph (about 2x compute)")
    parser.add_argument("--note", default="", help="free text added to the provenance metadata")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="calibration temperature stored in the metadata (fit it with fer-ros-eval "
                             "--fit-temperature on a dev set); the core applies it")
    args = parser.parse_args(argv)
    try:
        from fer_ros.training.export import export_checkpoint
    except ImportError as err:
        print(f"fer-ros-export needs the training extra (pip install 'fer_ros[train]'): {err}", file=sys.stderr)
        return 2
    try:
        result = export_checkpoint(args.checkpoint, args.output, opset=args.opset, flip_tta=args.flip_tta,
                                   note=args.note, temperature=args.temperature)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"fer-ros-export: {err}", file=sys.stderr)
        return 1
    print(f"wrote {result.path} sha256 {result.sha256} (torch vs onnxruntime max |diff| {result.max_abs_diff:.2e})")
    for key, value in result.metadata.items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
