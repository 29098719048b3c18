"""Command-line options shared by several tools (defined once): ``--providers``."""

from __future__ import annotations

import argparse

from fer_ros.core.config import PipelineConfig
from fer_ros.core.onnx_session import PROVIDERS, check_provider_names


def provider_list(text: str) -> tuple[str, ...]:
    """``"cuda,cpu"`` -> ("cuda", "cpu"); an argparse error for unknown or repeated names."""
    try:
        return check_provider_names(tuple(n.strip().lower() for n in text.split(",") if n.strip()))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_providers_argument(parser: argparse.ArgumentParser) -> None:
    default = PipelineConfig().providers
    parser.add_argument("--providers", type=provider_list, default=default,
                        help=f"onnxruntime execution providers in order of preference, comma-separated, from "
                             f"{', '.join(PROVIDERS)} (default: {','.join(default)}); e.g. cuda,cpu falls back to "
                             "cpu with a warning where cuda is missing")
