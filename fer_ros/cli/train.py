"""fer-ros-train: train an emotion classifier from a config file (needs the ``train`` extra)."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fer-ros-train", description=__doc__)
    parser.add_argument("--config", required=True, help="YAML or JSON training config")
    parser.add_argument("--resume", action="store_true", help="continue from <run_dir>/last.pt if present")
    parser.add_argument("--run-dir", help="override run_dir from the config")
    parser.add_argument("--epochs", type=int, help="override epochs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    try:
        from fer_ros.training.config import load_config
        from fer_ros.training.trainer import train
    except ImportError as err:
        print(f"fer-ros-train needs the training extra (pip install 'fer_ros[train]'): {err}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
    except (OSError, ValueError) as err:
        print(f"fer-ros-train: {err}", file=sys.stderr)
        return 2
    if args.run_dir:
        config.run_dir = args.run_dir
    if args.epochs:
        config.epochs = args.epochs
    if args.no_progress:
        config.progress = False
    metrics = train(config, resume=args.resume)
    print(f"best val accuracy {metrics['best_val_acc']:.4f} at epoch {metrics['best_epoch']} ({config.run_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
