"""The few OpenCV calls whose Python spelling differs between OpenCV builds.

pip's opencv-python(-headless) 4.8+ and Debian/Ubuntu's python3-opencv 4.6 (what rosdep installs) expose
some functions under different names; code calls them through here so it runs on both.
"""

from __future__ import annotations

import cv2

LOG_LEVEL_ERROR = 2  # cv::utils::logging::LOG_LEVEL_ERROR, the same number in every OpenCV 4.x


def quiet_opencv_logging() -> None:
    """Let OpenCV log errors only (its decoder warnings would print once per corrupt frame, unthrottled)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:  # pip wheels
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    elif hasattr(cv2, "setLogLevel"):  # Debian/Ubuntu python3-opencv 4.6
        cv2.setLogLevel(LOG_LEVEL_ERROR)
