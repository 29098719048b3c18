"""fer-ros-bench runs on a tiny input and writes the documented keys (no timing assertions: speed goals
live in the benchmark itself, BENCHMARKS.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from testsupport import REPO, require_ros_messages

from fer_ros.bench.fer_baseline import run_fer
from fer_ros.bench.frames import count_matches, make_frames
from fer_ros.core.boxes import box_iou as iou

HEADLINE_KEYS = ("fps_4faces_1core", "speedup_vs_arriaga", "speedup_vs_fer", "recall_ours", "recall_arriaga",
                 "node_overhead_ms")


def test_frames_are_reproducible_with_ground_truth_inside_the_frame():
    a = make_frames(4, 2, seed=3, faces="astronaut")
    b = make_frames(4, 2, seed=3, faces="astronaut")
    c = make_frames(4, 2, seed=4, faces="astronaut")
    assert all(np.array_equal(x.bgr, y.bgr) and x.boxes == y.boxes for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0].bgr, c[0].bgr)
    for frame in a + make_frames(8, 1, faces="astronaut"):
        assert frame.bgr.shape == (480, 640, 3) and frame.bgr.dtype == np.uint8
        for i, (x, y, w, h) in enumerate(frame.boxes):
            assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480
            assert all(iou(frame.boxes[i], other) == 0 for other in frame.boxes[i + 1:])


def test_matching_counts_true_and_false_positives():
    truth = [(10, 10, 100, 100), (300, 200, 80, 80)]
    assert count_matches(truth, [(12, 8, 96, 104), (500, 10, 50, 50)]) == (1, 1)
    assert count_matches(truth, []) == (0, 0)
    # one detection cannot find two faces
    assert count_matches([(0, 0, 100, 100), (5, 5, 100, 100)], [(2, 2, 100, 100)]) == (1, 0)


def test_fer_baseline_reports_why_it_cannot_run(tmp_path):
    result = run_fer([np.zeros((48, 64, 3), np.uint8)], tmp_path, tmp_path / "no-such-venv")
    assert "error" in result and "no-such-venv" in result["error"]


def _run_bench(tmp_path, *extra: str) -> dict:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "fer_ros.cli.bench", "--tiny", "--faces", "astronaut", "--skip-fer",
           "--json", str(out), "--out-dir", str(tmp_path), *extra]
    proc = subprocess.run(cmd, cwd=str(REPO), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert (tmp_path / "bench.png").stat().st_size > 0
    assert "### Per stage" in (tmp_path / "bench_tables.md").read_text()
    return result


def test_tiny_run_writes_documented_keys(tmp_path):
    result = _run_bench(tmp_path, "--skip-ros")
    for key in HEADLINE_KEYS:
        assert key in result and key in result["summary"]
    assert result["fps_4faces_1core"] > 0
    assert result["speedup_vs_arriaga"] > 0
    assert 0.0 <= result["recall_ours"] <= 1.0 and 0.0 <= result["recall_arriaga"] <= 1.0
    assert result["speedup_vs_fer"] is None and "skipped" in result["fer"]["error"]
    assert result["node_overhead_ms"] is None and "skipped" in result["e2e"]["error"]
    default = result["stages"][0]
    assert default["name"].startswith("default") and set(default["by_faces"]) == {"0", "4"}
    stages = default["by_faces"]["4"]["stages"]
    for stage in ("decode", "convert", "detect", "align", "gender", "emotion", "tracking", "drawing", "frame"):
        assert stages[stage]["n"] >= 1 and stages[stage]["p50"] >= 0.0
    assert result["environment"]["machine"] and result["environment"]["date_utc"]
    lever = result["stream_levers"][0]
    assert "error" not in lever, lever.get("error")
    assert lever["every"] == 2 and lever["gender_every"] > 1 and 0.0 <= lever["recall"] <= 1.0
    # gender once per track (the core's): fewer gender calls than faces on the stream
    assert 0.0 < lever["gender_faces_per_frame"] < lever["faces_per_frame"]
    assert lever["stages_ms_mean"]["gender"] >= 0.0 and lever["stages_ms_mean"]["tracking"] > 0.0
    assert result["providers"] == ["cpu"]
    assert lever["frame_ms"]["n"] == 6 and len(lever["new_face_delay_frames"]) == 4
    assert "haar-tuned" in result["comparison_other_configs"]


def test_tiny_run_through_ros_measures_node_overhead(tmp_path):
    require_ros_messages()
    result = _run_bench(tmp_path)
    e2e = result["e2e"]
    assert "error" not in e2e, e2e.get("error")
    assert e2e["closed_loop"]["latency_ms"]["n"] >= 1
    assert result["node_overhead_ms"] > 0
    node = e2e["node"]
    for key in ("convert", "pipeline", "tracking", "build_msg", "publish"):
        assert node[key]["n"] >= 1
    assert e2e["memory_after_warmup"]["rss_mb"] > 0 and e2e["memory_after_stream"]["peak_rss_mb"] > 0
