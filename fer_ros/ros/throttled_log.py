"""Throttled log lines: one per kind of problem and period, saying how many similar events it stands for.

The node meets bad frames and failing models at camera rate; one line every few seconds per kind names
the problem without flooding the log.
"""

from __future__ import annotations

import time

WARN_PERIOD_S = 5.0  # at most one warning per problem kind in this period


class ThrottledLog:
    """One log line per problem kind per period, telling how many similar events it stands for."""

    def __init__(self, logger, period_s: float = WARN_PERIOD_S) -> None:
        self._logger = logger
        self._period = period_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warn(self, kind: str, text: str) -> None:
        self._log(kind, text, self._logger.warning)

    def error(self, kind: str, text: str) -> None:
        self._log(kind, text, self._logger.error)

    def _log(self, kind: str, text: str, emit) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -1e9) < self._period:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        count = self._suppressed.pop(kind, 0)
        more = f" ({count} more like this in the last {self._period:.0f} s)" if count else ""
        self._last[kind] = now
        emit(text + more)
