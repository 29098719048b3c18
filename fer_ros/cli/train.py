"""fer-ros-train: train an emotion classifier from a config file (needs the ``train`` extra)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fer-ros-train", description=__doc__)
    parser.add_argument("--config", required=True, help="YAML or JSON training config")
    parser.add_argument("--resume", action="store_true", help="continue from <run_dir>/last.pt if present")
    parser.add_argument("--run-dir", help="override run_dir from the config")
    parser.add_argument("--epochs", type=int, help="override epochs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override device (auto: CUDA when present)")
    parser.add_argument("--num-threads", type=int, help="override the torch CPU threads")
    parser.add_argument("--train-subset", type=int, help="override data.train_subset (a quick trial run)")
    parser.add_argument("--loso", action="store_true", help="mode mgln: leave-one-subject-out, one run per subject "
                        "under <run_dir>/fold_<subject>, compared with the single-frame default (<run_dir>/loso.json)")
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
    if args.device:
        config.device = args.device
    if args.num_threads:
        config.num_threads = args.num_threads
    if args.train_subset:
        config.data.train_subset = args.train_subset
    config.run_dir = str(Path(config.run_dir).expanduser())
    if args.loso:
        if config.mode != "mgln":
            print("fer-ros-train: --loso needs mode 'mgln'", file=sys.stderr)
            return 2
        from fer_ros.training.loso import run_loso

        result = run_loso(config)
        for name, m in result["methods"].items():
            print(f"{name}: {m['present_classes']['accuracy']:.4f} ({m['all_labels']['accuracy']:.4f} over all labels)")
        return 0
    metrics = train(config, resume=args.resume)
    best = metrics["best_val_acc"]
    print(f"best val accuracy {best if best is None else round(best, 4)} at epoch {metrics['best_epoch']} "
          f"({config.run_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
