"""Fixtures shared by every test directory (helpers live in testsupport.py)."""

from __future__ import annotations

import os
import zlib

import pytest
from testsupport import ros_env


@pytest.fixture(scope="module")
def ros_domain(request: pytest.FixtureRequest) -> int:
    """A ROS_DOMAIN_ID of this test module's own (1..100), also set for the test process itself."""
    domain = 1 + zlib.crc32(f"{request.module.__name__}:{os.getpid()}".encode()) % 100
    old = {k: os.environ.get(k) for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE",
                                          "FASTDDS_DEFAULT_PROFILES_FILE")}
    os.environ.update(ros_env(domain))
    yield domain
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
