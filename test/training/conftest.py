"""Fixtures for the training tests: a tiny generated image-folder dataset (no ../shared needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_fixtures import write_folder


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("tiny_fer")
    return write_folder(base / "train", 6, 48, 0), write_folder(base / "val", 2, 48, 1)
