"""Keep-latest hand-over and health figures (no DDS involved)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from fer_ros.ros.health import HealthMonitor
from fer_ros.ros.latest_frame import LatestFrameSlot


def test_newer_frame_replaces_the_waiting_one_and_counts_a_drop():
    slot = LatestFrameSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.put(3) is True
    assert slot.dropped == 2
    assert slot.take(timeout=0.1) == 3
    assert slot.take(timeout=0.05) is None  # empty: times out
    assert slot.dropped == 2


def test_slow_consumer_always_gets_the_newest_and_nothing_is_lost_silently():
    slot = LatestFrameSlot()
    taken: list[int] = []

    def consume():
        while True:
            item = slot.take(timeout=1.0)
            if item is None:
                return
            taken.append(item)
            time.sleep(0.01)  # slower than the producer

    worker = threading.Thread(target=consume)
    worker.start()
    for i in range(1, 301):
        slot.put(i)
        time.sleep(0.001)
    time.sleep(0.05)
    slot.close()
    worker.join(5)
    assert taken == sorted(taken) and taken[-1] == 300
    assert len(taken) + slot.dropped == 300
    assert slot.dropped > 100


def test_close_wakes_a_waiting_worker():
    slot = LatestFrameSlot()
    result = []
    worker = threading.Thread(target=lambda: result.append(slot.take()))
    worker.start()
    time.sleep(0.05)
    slot.close()
    worker.join(2)
    assert result == [None] and not worker.is_alive()


def test_health_snapshot_percentiles_and_periods():
    now = [0.0]
    monitor = HealthMonitor(clock=lambda: now[0])
    latencies = np.linspace(0.010, 0.100, 10)
    for lat in latencies:
        monitor.frame_received()
        monitor.frame_processed(lat, lat / 2)
    monitor.frame_received()
    monitor.frame_invalid()
    now[0] = 2.0
    snap = monitor.snapshot(dropped=4)
    assert snap.fps == pytest.approx(5.0)
    assert snap.latency_p50_ms == pytest.approx(55.0)
    assert snap.latency_p95_ms == pytest.approx(float(np.percentile(latencies, 95)) * 1000)
    assert (snap.received, snap.processed, snap.invalid, snap.dropped) == (11, 10, 1, 4)
    now[0] = 3.0
    empty = monitor.snapshot(dropped=4)  # a new period: no frames, totals kept
    assert empty.fps == 0.0 and np.isnan(empty.latency_p50_ms) and empty.processed == 10
    assert "dropped=4" in empty.summary()
