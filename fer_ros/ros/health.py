"""Rolling health figures of the node: frame rate, latency percentiles and counters.

ROS-free bookkeeping; ``messages.diagnostic_array`` turns a snapshot into a ``diagnostic_msgs`` status.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class HealthSnapshot:
    """Figures for the period since the previous snapshot plus running totals."""

    period_s: float
    fps: float  # processed frames per second over the period
    latency_p50_ms: float  # receipt -> publication, over the period (nan when nothing was processed)
    latency_p95_ms: float
    processing_p50_ms: float  # pipeline time only
    received: int  # totals since start
    processed: int
    dropped: int  # replaced in the keep-latest slot before processing
    invalid: int  # skipped as malformed
    errors: int  # pipeline failures

    def summary(self) -> str:
        return (f"fps={self.fps:.1f} latency p50={self.latency_p50_ms:.0f} ms "
                f"p95={self.latency_p95_ms:.0f} ms processing p50={self.processing_p50_ms:.0f} ms "
                f"received={self.received} processed={self.processed} dropped={self.dropped} "
                f"invalid={self.invalid} errors={self.errors}")


class HealthMonitor:
    """Collects per-frame timings from the worker; ``snapshot`` is called once a second by a timer."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._latencies: list[float] = []
        self._processing: list[float] = []
        self._period_start = clock()
        self.received = 0
        self.processed = 0
        self.invalid = 0
        self.errors = 0

    def frame_received(self) -> None:
        with self._lock:
            self.received += 1

    def frame_invalid(self) -> None:
        with self._lock:
            self.invalid += 1

    def frame_failed(self) -> None:
        with self._lock:
            self.errors += 1

    def frame_processed(self, latency_s: float, processing_s: float) -> None:
        with self._lock:
            self.processed += 1
            self._latencies.append(latency_s)
            self._processing.append(processing_s)

    def snapshot(self, dropped: int) -> HealthSnapshot:
        """Figures since the last snapshot; starts a new period."""
        with self._lock:
            now = self._clock()
            period = max(now - self._period_start, 1e-9)
            lat = np.asarray(self._latencies) * 1000.0
            proc = np.asarray(self._processing) * 1000.0
            self._latencies, self._processing, self._period_start = [], [], now
            received, processed, invalid, errors = self.received, self.processed, self.invalid, self.errors

        def pct(values: np.ndarray, q: float) -> float:
            return float(np.percentile(values, q)) if values.size else float("nan")

        return HealthSnapshot(period, lat.size / period, pct(lat, 50), pct(lat, 95), pct(proc, 50),
                              received, processed, dropped, invalid, errors)
