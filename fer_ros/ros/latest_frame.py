"""Keep-latest hand-over between the subscription callbacks and the processing worker.

A queue of one: ``put`` replaces a frame that is still waiting (and counts it as dropped), so the
worker always takes the newest frame and the node never falls behind the camera.
"""

from __future__ import annotations

import threading
from typing import Any


class LatestFrameSlot:
    """Thread-safe slot holding at most one pending item."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._closed = False
        self.dropped = 0  # items replaced before the worker took them

    def put(self, item: Any) -> bool:
        """Store ``item``; return True when it replaced one that was never taken."""
        with self._cond:
            replaced = self._item is not None
            if replaced:
                self.dropped += 1
            self._item = item
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> Any:
        """Wait for an item and remove it; None on timeout or after ``close``."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return None if self._closed else item

    def close(self) -> None:
        """Wake the worker and make every later ``take`` return None."""
        with self._cond:
            self._closed = True
            self._item = None
            self._cond.notify_all()

    def reopen(self) -> None:
        """Accept items again after ``close`` (empty; the ``dropped`` count goes on)."""
        with self._cond:
            self._closed = False
            self._item = None
