"""fer-ros-bench: per-stage latency, ROS end-to-end latency, node overhead, memory, and baselines.

Side by side on the same frames: Arriaga's published pipeline and the ``fer`` package.

    fer-ros-bench --quick --json out/bench/quick.json          # a few minutes
    fer-ros-bench --json out/bench/full.json --update-md BENCHMARKS.md   # full run (10-minute stream)

Writes the JSON (headline keys in ``summary`` and at the top level: ``fps_4faces_1core``,
``speedup_vs_arriaga``, ``speedup_vs_fer`` (null when fer could not run), ``recall_ours``,
``recall_arriaga``, ``node_overhead_ms``), a PNG plot and a markdown table next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from fer_ros.bench import report
from fer_ros.bench.fer_baseline import default_venv, run_fer, setup_venv
from fer_ros.bench.frames import face_crops, make_frames
from fer_ros.bench.keyframe import measure_stream
from fer_ros.bench.stages import StageJob, run_isolated, run_job
from fer_ros.cli.options import add_providers_argument
from fer_ros.core.config import PipelineConfig
from fer_ros.core.onnx_session import resolve_providers
from fer_ros.core.tracking import TrackerConfig

REPO = Path(__file__).resolve().parents[2]
# Bench-side detector settings that PipelineConfig does not expose yet (proposed to the core, see BENCHMARKS.md):
# Haar scaleFactor 1.2 / minNeighbors 3 at detection_scale 0.5, MTCNN P-/R-Net thresholds 0.8 / 0.9.
TUNED = {
    "haar-tuned": ({"detector": "haar"}, {"scale_factor": 1.2, "min_neighbors": 3}),
    "mtcnn-tuned": ({"detector": "mtcnn"}, {"thresholds": [0.8, 0.9, 0.7]}),
}
DEFAULT_YUNET = REPO.parent / "shared" / "models" / "face_detection_yunet.onnx"

# name -> (frames per face count, repeats, warm-up, fer frames per count, ROS closed-loop frames, stream seconds,
#          frames of each moving-face sequence for the keyframe lever, number of such sequences)
MODES = {
    "tiny": (1, 1, 1, 1, 3, 3.0, 6, 1),
    "quick": (6, 3, 3, 2, 100, 60.0, 90, 1),
    "full": (20, 5, 5, 6, 300, 600.0, 240, 3),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fer-ros-bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few minutes (shorter stream, fewer repetitions)")
    p.add_argument("--tiny", action="store_true", help="seconds: only checks that everything runs (tests)")
    p.add_argument("--json", type=Path, default=None, help="result JSON (default OUT_DIR/bench.json)")
    p.add_argument("--out-dir", type=Path, default=Path("out") / "bench", help="plot, table, logs (default out/bench)")
    p.add_argument("--faces", default="auto",
                   help="face crops: auto (../shared/data/utkface_dev, else astronaut) | utkface | astronaut | DIR")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--yunet-model", default=str(DEFAULT_YUNET) if DEFAULT_YUNET.is_file() else "",
                   help="YuNet .onnx for the yunet rows (default: ../shared/models/face_detection_yunet.onnx)")
    p.add_argument("--threads", default="1,2", help="intra-op thread counts to measure per stage")
    p.add_argument("--detectors", default="haar,mtcnn,blazeface,blazeface-full,yunet",
                   help="detectors for the per-stage rows")
    p.add_argument("--skip-fer", action="store_true", help="do not run the fer package baseline")
    p.add_argument("--setup-fer", action="store_true", help="create the fer baseline venv when missing (slow)")
    p.add_argument("--fer-venv", type=Path, default=None, help="fer baseline venv (default $FER_BASELINE_VENV or "
                   "~/.cache/fer_ros/fer-baseline-venv)")
    p.add_argument("--skip-ros", action="store_true", help="do not run the end-to-end ROS measurement")
    p.add_argument("--stream-seconds", type=float, default=None, help="override the 30 fps stream duration")
    p.add_argument("--e2e-param", action="append", default=[], help="extra node parameter NAME:=VALUE")
    p.add_argument("--update-md", type=Path, default=None, help="write the tables into this markdown file")
    add_providers_argument(p)  # for every fer_ros configuration (the Arriaga baseline stays on cpu, as published)
    return p.parse_args(argv)


def _stage_jobs(args, mode) -> list[StageJob]:
    frames, repeats, warmup = mode[:3]
    counts = (0, 4) if args.tiny else (0, 1, 4, 8)
    default = PipelineConfig()
    detectors = [d for d in args.detectors.split(",") if d and (d != "yunet" or args.yunet_model)]
    threads = [1] if args.tiny else [int(t) for t in args.threads.split(",")]
    common = dict(face_counts=counts, frames=frames, repeats=repeats, warmup=warmup, seed=args.seed, faces=args.faces)
    on = {"providers": args.providers}
    jobs = []
    for t in threads:
        cpus = (0,) if t == 1 else tuple(range(min(t, os.cpu_count() or 1)))
        jobs.append(StageJob(f"default ({default.detector})", on, threads=t, cpus=cpus, **common))
        if args.tiny:
            cfg, attrs = TUNED["haar-tuned"]
            jobs.append(StageJob("haar-tuned", {**cfg, **on}, threads=t, cpus=cpus, detector_attrs=attrs, **common))
            continue
        for det in detectors:
            if det == default.detector:
                continue
            cfg = {"detector": det, **({"detector_model": args.yunet_model} if det == "yunet" else {}), **on}
            jobs.append(StageJob(det, cfg, threads=t, cpus=cpus, **common))
        if t == 1:
            for name, (cfg, attrs) in TUNED.items():
                jobs.append(StageJob(name, {**cfg, **on}, threads=t, cpus=cpus, detector_attrs=attrs, **common))
    jobs.append(StageJob("arriaga", {"baseline": "arriaga"}, threads=1, cpus=(0,),
                         **{**common, "face_counts": tuple(c for c in counts if c > 0) or (1,)}))
    return jobs


def _run_e2e(args, mode, out_dir: Path) -> dict:
    seconds = args.stream_seconds if args.stream_seconds is not None else mode[5]
    out = out_dir / "e2e.json"
    cmd = [sys.executable, "-m", "fer_ros.bench.e2e", "drive", "--json", str(out), "--out-dir", str(out_dir),
           "--faces", args.faces, "--seed", str(args.seed), "--latency-frames", str(mode[4]),
           "--soak-seconds", str(seconds), "--warmup", "3" if args.tiny else "10",
           "--distinct-frames", "2" if args.tiny else "10", "--node-cpus", "0",
           "--driver-cpus", "1" if (os.cpu_count() or 1) > 1 else "0"]
    if args.providers != PipelineConfig().providers:
        cmd += ["--param", f"providers:=[{','.join(args.providers)}]"]
    for p in args.e2e_param:
        cmd += ["--param", p]
    out.unlink(missing_ok=True)
    try:
        proc = subprocess.run(cmd, cwd=str(REPO), capture_output=True, text=True, timeout=seconds + 600, check=False)
    except subprocess.TimeoutExpired:
        return {"error": "end-to-end driver timed out"}
    if out.is_file():
        return json.loads(out.read_text())
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-10:])
    return {"error": f"end-to-end driver exited {proc.returncode} without a result: {tail}"}


def _other_one_thread_jobs(result: dict, default: dict) -> list[dict]:
    """The measured 1-thread fer_ros configurations other than the default (compared with the baselines too)."""
    return [job for job in result["stages"] if job is not default and job["name"] != "arriaga"
            and job["job"]["threads"] == 1 and "error" not in job]


def _summary(result: dict) -> dict:
    stages = {(j["name"], j["job"]["threads"]): j for j in result["stages"] if "error" not in j}
    default = next((j for (name, t), j in stages.items() if name.startswith("default") and t == 1), None)
    s: dict = {}
    four = default["by_faces"].get("4") if default else None
    s["fps_4faces_1core"] = four["fps_p50"] if four else None
    s["frame_ms_4faces_1core_p50"] = four["stages"]["frame"]["p50"] if four else None
    arriaga = result["comparison"].get("arriaga", {})
    fer = result["comparison"].get("fer", {})
    s["speedup_vs_arriaga"] = arriaga.get("speedup")
    s["speedup_vs_fer"] = fer.get("speedup")
    parity = {name: c for name, c in result.get("comparison_other_configs", {}).items()
              if c and c["recall_ours"] >= c["recall_other"]}
    if arriaga and arriaga["recall_ours"] >= arriaga["recall_other"]:
        parity["default"] = arriaga
    best = max(parity.items(), key=lambda kv: kv[1]["speedup"], default=None)
    s["best_speedup_vs_arriaga_at_recall_parity"] = ({"config": best[0], "speedup": best[1]["speedup"],
                                                      "recall": best[1]["recall_ours"]} if best else None)
    levers = [r for r in result.get("stream_levers", []) if "error" not in r and (r["recall"] or 0.0) >= 0.9]
    if levers:
        top = max(levers, key=lambda r: r["fps_mean"])
        s["best_stream_lever"] = {k: top[k] for k in ("config", "every", "gender_every", "detector_attrs",
                                                      "fps_mean", "recall")}
    s["recall_ours"] = arriaga.get("recall_ours")
    s["recall_arriaga"] = arriaga.get("recall_other")
    s["recall_fer"] = fer.get("recall_other")
    s["recall_ours_on_fer_frames"] = fer.get("recall_ours")
    if result.get("fer", {}).get("error"):
        s["fer_error"] = result["fer"]["error"]
    e2e = result.get("e2e", {})
    node = e2e.get("node", {})
    s["node_overhead_ms"] = (node.get("overhead") or {}).get("p50")
    s["node_overhead_ms_p95"] = (node.get("overhead") or {}).get("p95")
    s["e2e_latency_ms_p50"] = (e2e.get("closed_loop", {}).get("latency_ms") or {}).get("p50")
    s["e2e_latency_ms_p95"] = (e2e.get("closed_loop", {}).get("latency_ms") or {}).get("p95")
    s["e2e_fps_closed_loop"] = e2e.get("closed_loop", {}).get("fps")
    s["stream_answered_fps"] = e2e.get("stream", {}).get("answered_fps")
    s["stream_seconds"] = e2e.get("stream", {}).get("seconds")
    s["node_peak_rss_mb_after_warmup"] = e2e.get("memory_after_warmup", {}).get("peak_rss_mb")
    s["node_peak_rss_mb_after_stream"] = e2e.get("memory_after_stream", {}).get("peak_rss_mb")
    s["node_rss_slope_mb_per_min"] = e2e.get("stream", {}).get("rss_slope_mb_per_min_second_half")
    if e2e.get("error"):
        s["e2e_error"] = e2e["error"]
    return s


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        resolve_providers(args.providers)  # a missing provider: stop here with the reason, not in every job
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mode_name = "tiny" if args.tiny else "quick" if args.quick else "full"
    mode = MODES[mode_name]
    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.json or out_dir / "bench.json"
    started = time.time()
    result: dict = {"mode": mode_name, "environment": report.environment(), "faces": face_crops(args.faces)[0],
                    "providers": list(args.providers), "stages": [], "comparison": {}}
    jobs = _stage_jobs(args, mode)
    for job in tqdm(jobs, desc="per-stage timing", unit="config"):
        result["stages"].append(run_job(job))
    arriaga = next(j for j in result["stages"] if j["name"] == "arriaga")
    default = next(j for j in result["stages"] if j["name"].startswith("default") and j["job"]["threads"] == 1)
    if "error" not in arriaga and "error" not in default:
        result["comparison"]["arriaga"] = report.comparison(default, arriaga)
        for job in _other_one_thread_jobs(result, default):  # against Arriaga too, for the analysis
            result.setdefault("comparison_other_configs", {})[job["name"]] = report.comparison(job, arriaga)

    result["stream_levers"] = []
    haar, haar_attrs = TUNED["haar-tuned"]
    mtcnn, mtcnn_attrs = TUNED["mtcnn-tuned"]
    g = TrackerConfig().gender_every  # gender once per track, refreshed every g frames (1 = every frame)
    if args.tiny:
        configs = [(haar, 2, g, haar_attrs)]
    else:
        # (config, k, gender_every, detector settings)
        configs = [({}, 1, 1, {}), ({}, 1, g, {}), ({}, 5, 1, {}), ({}, 5, g, {}), (haar, 5, g, haar_attrs),
                   (mtcnn, 1, 1, {}), (mtcnn, 1, g, {}), (mtcnn, 5, 1, {}), (mtcnn, 5, g, mtcnn_attrs),
                   (mtcnn, 10, g, mtcnn_attrs)]
        if args.yunet_model and "yunet" in args.detectors:
            yunet = {"detector": "yunet", "detector_model": args.yunet_model}
            configs += [(yunet, 1, 1, {}), (yunet, 5, g, {})]
    for cfg, every, gender_every, attrs in tqdm(configs, desc="keyframe lever on a moving-face stream",
                                                unit="config"):
        cfg = {**cfg, "providers": args.providers}
        r = run_isolated(measure_stream, (cfg, every, 4, mode[6], args.seed, args.faces, 1, (0,), gender_every,
                                          attrs, mode[7]))
        result["stream_levers"].append({"config": cfg, "every": every, "gender_every": gender_every,
                                        "detector_attrs": attrs, **r})

    if args.skip_fer:
        result["fer"] = {"error": "skipped (--skip-fer)"}
    else:
        venv = args.fer_venv or default_venv()
        if args.setup_fer:
            setup_venv(venv, out_dir / "fer_baseline_setup.log")
        counts = [str(c) for c in default["by_faces"]] if "error" not in default else []
        frames_by_count = {c: make_frames(int(c), mode[3], seed=args.seed, faces=args.faces) for c in counts
                           if c in report.COMPARISON_COUNTS}
        frames = [f.bgr for fs in frames_by_count.values() for f in fs]
        with tqdm(total=1, desc="fer package baseline (separate venv)") as bar:
            fer = run_fer(frames, out_dir, venv, threads=1, cpus=(0,), repeats=1 if args.tiny else 2,
                          warmup=1 if args.tiny else 3) if frames else {"error": "no frames"}
            bar.update()
        result["fer"] = {k: v for k, v in fer.items() if k not in ("boxes",)}
        if "error" not in fer:
            fer_stage = report.fer_as_stage_result(fer, frames_by_count)
            result["comparison"]["fer"] = report.comparison(default, fer_stage, n_frames=mode[3])
            for job in _other_one_thread_jobs(result, default):
                result.setdefault("comparison_other_configs_vs_fer", {})[job["name"]] = report.comparison(
                    job, fer_stage, n_frames=mode[3])

    if args.skip_ros:
        result["e2e"] = {"error": "skipped (--skip-ros)"}
    else:
        with tqdm(total=1, desc="end to end through ROS") as bar:
            result["e2e"] = _run_e2e(args, mode, out_dir)
            bar.update()
    result["environment"]["loadavg_end"] = list(os.getloadavg())
    result["environment"]["seconds"] = time.time() - started
    result["summary"] = _summary(result)
    result.update({k: result["summary"].get(k) for k in ("fps_4faces_1core", "speedup_vs_arriaga", "speedup_vs_fer",
                                                           "recall_ours", "recall_arriaga", "node_overhead_ms")})
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=1, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__")
                                    else str(o)))
    table = report.markdown(result)
    (out_dir / "bench_tables.md").write_text(table)
    try:
        report.plot(result, out_dir / "bench.png")
    except Exception as exc:  # noqa: BLE001 - a plotting problem must not lose the measurements
        print(f"plot failed: {exc}", file=sys.stderr)
    if args.update_md:
        report.update_markdown_file(args.update_md, table)
    print(json.dumps({k: result[k] for k in ("fps_4faces_1core", "speedup_vs_arriaga", "speedup_vs_fer",
                                             "recall_ours", "recall_arriaga", "node_overhead_ms")}, indent=1))
    print(f"wrote {json_path}, {out_dir / 'bench.png'}, {out_dir / 'bench_tables.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
