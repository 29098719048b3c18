"""Shared test helpers: repository paths, dataset locations and environments for ROS processes.

Test modules import these from ``testsupport`` (not from ``conftest``: test/training has a conftest of its
own, and which one Python caches as ``conftest`` depends on collection order)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
FASTDDS_PROFILE = REPO / "config" / "fastdds_profile.xml"


def ros_env(domain_id: int, **extra: str) -> dict[str, str]:
    """Full environment for a ROS child process: own domain, localhost discovery, shipped DDS profile.

    The whole parent environment is passed on: the ROS wheels re-execute Python with LD_LIBRARY_PATH
    set, and a child that inherits the bootstrap marker without it cannot load rcl.
    """
    env = dict(os.environ)
    env.update(
        ROS_DOMAIN_ID=str(domain_id),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
        FASTDDS_DEFAULT_PROFILES_FILE=str(FASTDDS_PROFILE),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def require_ros_messages() -> None:
    """Skip the calling test module unless rclpy and the generated fer_ros messages import."""
    try:
        import rclpy  # noqa: F401

        import fer_ros.msg  # noqa: F401
    except ImportError as exc:  # a pip-only install has no colcon build
        pytest.skip(f"needs rclpy and the colcon-built fer_ros messages (run `make build`): {exc}",
                    allow_module_level=True)


def write_face_sequences(root: Path, subjects: tuple[str, ...] = ("S001", "S002"), frames: int = 4) -> Path:
    """A tiny ``<class>/<sequence>/<frames>`` folder: the astronaut drifting, per subject one "happy"
    sequence (expression unchanged) and one "surprise" sequence (mouth opening, brows rising)."""
    import cv2

    from fer_ros.ros.synthetic_stream import SyntheticFaceStream, astronaut_with_expression

    stream = SyntheticFaceStream(320, 300, step_px=3.0)
    for s, subject in enumerate(subjects):
        for c, label in enumerate(("happy", "surprise")):
            name = f"{subject}_{c}0{s + 1}"
            folder = root / label / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(frames):
                amount = i / (frames - 1) if label == "surprise" else 0.0
                frame = stream.frame(10 * s + i, astronaut_with_expression(amount))
                cv2.imwrite(str(folder / f"{name}_{i + 1:08d}.png"), frame)
    return root
