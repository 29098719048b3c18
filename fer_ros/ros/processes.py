"""Stopping node processes the way ROS expects: SIGINT first (a clean rclpy shutdown), kill as a last resort."""

from __future__ import annotations

import signal
import subprocess


def interrupt(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    """Send SIGINT to a still-running ``proc``, wait up to ``timeout`` s, kill it if needed; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
