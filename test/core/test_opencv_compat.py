"""OpenCV calls that differ between pip's wheels and Debian's python3-opencv 4.6 work on the one installed."""

from __future__ import annotations

import cv2

from fer_ros.core.opencv_compat import LOG_LEVEL_ERROR, quiet_opencv_logging


def _log_functions():
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    return (logging.getLogLevel, logging.setLogLevel) if logging is not None else (cv2.getLogLevel, cv2.setLogLevel)


def test_quiet_opencv_logging_sets_the_error_level():
    get_level, set_level = _log_functions()
    before = get_level()
    try:
        set_level(4)  # INFO
        quiet_opencv_logging()
        assert get_level() == LOG_LEVEL_ERROR
    finally:
        set_level(before)
