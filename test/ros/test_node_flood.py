"""Flooding the node at twice its processing rate: it keeps the newest frame, counts the dropped ones,
keeps latency bounded (no queue builds up) and does not grow in memory.

Bounds are generous on purpose (a shared 2-core machine); speed goals live in the benchmarks.
"""

from __future__ import annotations

import statistics
import time

import pytest
from ros_harness import REPO, diagnostics_values, node_health, perception_session, same_stamp, stamp_key, wait_matched

from fer_ros.ros.synthetic_stream import SyntheticFaceStream

DOMAIN_ID = 84
FLOOD_S = 10.0


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from sensor_msgs.msg import Image

    with perception_session(DOMAIN_ID, tmp_path_factory.mktemp("node"),
                            extra_args=["--params-file", str(REPO / "config" / "perception.yaml")],
                            params={"latency_warn_ms": 1.0},  # any real latency exceeds 1 ms: the warning must show
                            emotion_depth=500) as s:
        s["publisher"] = s["probe"].publisher(Image, reliable=False)
        wait_matched(s, s["publisher"])
        yield s


def test_flood_at_twice_the_processing_rate(setup):
    s, probe, node = setup, setup["probe"], setup["node"]
    stream = SyntheticFaceStream(1280, 720)
    frames = [stream.frame(i) for i in range(0, 120, 4)]

    # 1. the processing period, one frame at a time
    round_trips = []
    for i in range(12):
        msg = probe.image(frames[i % len(frames)])
        start = time.monotonic()
        s["publisher"].publish(msg)
        reply = s["emotion"].wait_for(lambda m, msg=msg: same_stamp(m.header.stamp, msg.header.stamp), 30.0)
        if reply is not None:  # best effort: a lost frame is simply not timed
            round_trips.append(time.monotonic() - start)
    assert len(round_trips) >= 8, node.log_tail()
    period = statistics.median(round_trips[2:])
    # the node's own pipeline time is a lower bound of its cost per frame: flooding at twice the rate it
    # allows is at least twice what the node can process
    name = f"{s['namespace']}/perception_node"
    reported = [float(diagnostics_values(st)["processing_p50_ms"]) / 1000.0
                for _, m in s["diagnostics"].items for st in m.status if st.name.startswith(name)]
    per_frame = min([period] + [p for p in reported if p == p and p > 0])  # p == p: not nan

    # 2. flood at twice that rate, sampling the node's memory
    sent: dict[tuple[int, int], float] = {}
    rss: list[tuple[float, float]] = []
    interval = per_frame / 2.0
    begin = next_send = next_rss = time.monotonic()
    i = 0
    while time.monotonic() - begin < FLOOD_S:
        now = time.monotonic()
        if now >= next_rss:
            rss.append((now - begin, node.rss_mb()))
            next_rss += 0.5
        if now < next_send:
            time.sleep(min(next_send - now, 0.005))
            continue
        msg = probe.image(frames[i % len(frames)])
        s["publisher"].publish(msg)
        sent[stamp_key(msg.header.stamp)] = time.monotonic()
        i += 1
        next_send += interval
    time.sleep(max(2.0, 4 * period))
    assert node.alive(), node.log_tail()

    # 3. every answer is for a frame that was sent, once; frames were dropped, not queued
    flood_replies = [(arrived, m) for arrived, m in s["emotion"].items if stamp_key(m.header.stamp) in sent]
    keys = [stamp_key(m.header.stamp) for _, m in flood_replies]
    assert len(keys) == len(set(keys)), "a frame was answered twice"
    assert len(sent) >= 20, f"only {len(sent)} frames sent in {FLOOD_S} s (interval {interval * 1000:.0f} ms)"
    assert 0 < len(keys) < 0.9 * len(sent), f"{len(keys)} of {len(sent)} flood frames answered"

    latencies = [arrived - sent[stamp_key(m.header.stamp)] for arrived, m in flood_replies]
    third = max(1, len(latencies) // 3)
    early, late = statistics.median(latencies[:third]), statistics.median(latencies[-third:])
    p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
    report = (f"round trip {period * 1000:.0f} ms, per frame {per_frame * 1000:.0f} ms, sent {len(sent)}, "
              f"answered {len(keys)}, latency early "
              f"{early * 1000:.0f} ms late {late * 1000:.0f} ms p95 {p95 * 1000:.0f} ms")
    assert late <= 2.0 * early + 0.25, "latency grows during the flood (a queue builds up): " + report
    assert p95 <= max(2.0, 8 * period), "latency not bounded: " + report

    # 4. memory: flat after warm-up
    warm = [mb for t, mb in rss if t >= 3.0]
    assert len(warm) >= 6
    growth = max(warm[-3:]) - min(warm[:3])
    assert growth < 40.0, f"node memory grew {growth:.1f} MiB during the flood: {rss}"

    # 5. the node counted the drops and warned about latency above latency_warn_ms
    values = node_health(s)
    received, processed, dropped = (int(values[k]) for k in ("frames_received", "frames_processed",
                                                               "frames_dropped"))
    assert dropped > 0, values
    assert processed + dropped <= received <= processed + dropped + int(values["frames_invalid"]) + 2, values
    assert "exceeds latency_warn_ms=1" in node.log()
    statuses = [st for _, m in s["diagnostics"].items for st in m.status if st.name.startswith(name)]
    assert any(st.level == b"\x01" or st.level == 1 for st in statuses), "no WARN level on /diagnostics"
    print(report, f"dropped {dropped}, rss {min(warm):.0f}-{max(warm):.0f} MiB")
