"""End-to-end benchmark through ROS: a publisher process -> perception node process -> ``faces/emotion``.

The one benchmark that needs rclpy (imported inside the functions that talk to ROS): it measures the node
over DDS. Two roles, each its own process:

* ``python -m fer_ros.bench.e2e node --stats S.json [--ros-args ...]`` runs the real ``PerceptionNode``
  and records the per-frame step times it reports through its ``timing_hook`` (``FrameTimings``: image
  conversion, ``Pipeline.process`` with its tracking part, the temporal model, building ``FaceEmotionArray``,
  ``publish`` and the whole worker step). It writes them to S.json when it is stopped (SIGINT); they are kept in a table
  allocated at start, so the measurement does not add to the memory growth it measures.
* ``python -m fer_ros.bench.e2e drive --json OUT.json ...`` starts that node pinned to its CPUs,
  publishes ``sensor_msgs/Image`` frames (bgr8, 640x480, composited faces) and listens on
  ``faces/emotion``: first closed loop (publish, wait for the answer: publish-to-receive latency and
  the closed-loop frame rate), then an open-loop stream at ``--rate`` fps for ``--soak-seconds`` while it
  samples the node's resident memory once a second.

Node overhead = conversion + message building + publish (the node's own work besides the pipeline).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from fer_ros.ros.processes import interrupt

REPO = Path(__file__).resolve().parents[2]
DDS_PROFILE = REPO / "config" / "fastdds_profile.xml"


# ----------------------------------------------------------------------------- node side
STEP_KEYS = ("convert", "pipeline", "tracking", "temporal", "build_msg", "publish", "step")  # FrameTimings


class StepRecords:
    """Per-frame step times in a table allocated (and touched) up front.

    Recording them therefore does not grow the node's memory during the stream being measured.
    """

    def __init__(self, capacity: int) -> None:
        self.table = np.ones((len(STEP_KEYS), max(int(capacity), 1)), np.float64)  # ones: pages touched now
        self.count = 0
        self.overflow = 0

    def add(self, timings) -> None:
        """Store one frame's ``FrameTimings`` (the node's timing hook)."""
        if self.count >= self.table.shape[1]:
            self.overflow += 1
            return
        self.table[:, self.count] = [getattr(timings, k) for k in STEP_KEYS]
        self.count += 1

    def as_dict(self) -> dict[str, list[float]]:
        return {k: self.table[i, :self.count].tolist() for i, k in enumerate(STEP_KEYS)}


def run_node(stats_path: Path, ros_args: list[str], capacity: int = 100_000) -> int:
    from fer_ros.ros import perception_node, shutdown

    stop = shutdown.init(["bench_e2e", "--ros-args", *ros_args])
    node = perception_node.PerceptionNode()
    records = StepRecords(capacity)
    node.timing_hook = records.add

    def write_stats() -> None:
        stats_path.write_text(json.dumps({"records_ms": records.as_dict(), "overflow": records.overflow,
                                          "pid": os.getpid()}))

    def on_stop() -> None:
        node.stop()
        write_stats()

    shutdown.spin_until_stopped(node, stop, on_stop=on_stop)
    return 0


# ----------------------------------------------------------------------------- driver side
def _ros_env(domain_id: int) -> dict[str, str]:
    """The current environment plus an own domain, localhost discovery and the shipped DDS profile."""
    env = dict(os.environ)
    env.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    if DDS_PROFILE.is_file():
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(DDS_PROFILE)
    return env


def _node_memory(pid: int) -> dict[str, float]:
    from fer_ros.bench.stats import proc_memory_mb

    return proc_memory_mb(pid)


def drive(args: argparse.Namespace) -> dict:
    """Run the node process and the two phases; returns the result dictionary."""
    from fer_ros.bench.frames import make_frames
    from fer_ros.bench.stats import pin_to_cpus, summarize

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    domain = 1 + (os.getpid() % 100)
    namespace = f"/fer_bench_{uuid.uuid4().hex[:6]}"
    os.environ.update(_ros_env(domain))
    stats_path, log_path = out_dir / "e2e_node_stats.json", out_dir / "e2e_node.log"
    stats_path.unlink(missing_ok=True)
    params = {"num_threads": args.threads, **dict(p.split(":=", 1) for p in args.param)}
    ros_args = ["-r", f"__ns:={namespace}"]
    for key, value in params.items():
        ros_args += ["-p", f"{key}:={value}"]
    node_cpus = {int(c) for c in args.node_cpus.split(",")}
    capacity = int(args.rate * args.soak_seconds * 1.2) + args.latency_frames + args.warmup + 2000
    cmd = [sys.executable, "-m", "fer_ros.bench.e2e", "node", "--stats", str(stats_path), "--capacity",
           str(capacity), "--ros-args", *ros_args]
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    node_proc = subprocess.Popen(cmd, env=_ros_env(domain), stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO),
                                 preexec_fn=lambda: os.sched_setaffinity(0, node_cpus))
    pin_to_cpus({int(c) for c in args.driver_cpus.split(",")})
    result: dict = {"node_cpus": sorted(node_cpus), "driver_cpus": args.driver_cpus, "params": params,
                    "faces_per_frame": args.faces_per_frame}
    try:
        result.update(_phases(args, namespace, node_proc, summarize, make_frames))
    finally:
        interrupt(node_proc, timeout=30.0)
        log.close()
    if stats_path.is_file():
        rec = json.loads(stats_path.read_text())["records_ms"]
        overhead = [c + b + p for c, b, p in zip(rec["convert"], rec["build_msg"], rec["publish"], strict=True)]
        # Pipeline.process calls the tracker: "tracking" is part of "pipeline"
        other = [s - pl - tm - o for s, pl, tm, o in zip(rec["step"], rec["pipeline"], rec["temporal"], overhead,
                                                         strict=True)]
        result["node"] = {k: summarize(v) for k, v in rec.items()}
        result["node"]["overhead"] = summarize(overhead)
        result["node"]["other"] = summarize(other)
    else:
        result["node_error"] = "node wrote no stats; log tail:\n" + "\n".join(
            log_path.read_text(errors="replace").splitlines()[-15:])
    return result


def _phases(args, namespace: str, node_proc, summarize, make_frames) -> dict:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from fer_ros.core.image_convert import fill_image_msg
    from fer_ros.msg import FaceEmotionArray

    frames = make_frames(args.faces_per_frame, args.distinct_frames, seed=args.seed, faces=args.faces)
    context = rclpy.Context()
    rclpy.init(args=["bench_e2e_driver"], context=context)  # not sys.argv: --param NAME:=V looks like a remap
    node = rclpy.create_node(f"bench_driver_{uuid.uuid4().hex[:6]}", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    camera_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    pub = node.create_publisher(Image, f"{namespace}/camera/image_raw", camera_qos)
    sent: dict[int, float] = {}
    answers: list[tuple[int, float, int]] = []  # (frame key, latency ms, faces)

    def on_answer(msg) -> None:
        key = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        t = sent.pop(key, None)
        if t is not None:
            answers.append((key, (time.perf_counter() - t) * 1e3, len(msg.faces)))

    reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(FaceEmotionArray, f"{namespace}/faces/emotion", on_answer, reliable)
    msgs = [fill_image_msg(Image(), f.bgr) for f in frames]
    for m in msgs:
        m.header.frame_id = "bench_camera"
    counter = [0]

    def publish(i: int) -> None:
        counter[0] += 1
        msg = msgs[i % len(msgs)]
        msg.header.stamp.sec, msg.header.stamp.nanosec = counter[0], 0
        sent[counter[0] * 1_000_000_000] = time.perf_counter()
        pub.publish(msg)

    def spin_until(predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            executor.spin_once(timeout_sec=0.005)
        return predicate()

    out: dict = {}
    try:
        # discovery and model loading: keep sending until the node answers
        ready = False
        deadline = time.monotonic() + args.startup_timeout
        while time.monotonic() < deadline and node_proc.poll() is None:
            publish(0)
            if spin_until(lambda: bool(answers), 1.0):
                ready = True
                break
        if not ready:
            raise RuntimeError(f"the perception node never answered (exit code {node_proc.poll()})")
        for i in range(args.warmup):  # warm-up, closed loop
            n = len(answers)
            publish(i)
            spin_until(lambda n=n: len(answers) > n, 5.0)
        out["memory_after_warmup"] = _node_memory(node_proc.pid)
        # phase 1: closed loop
        answers.clear()
        sent.clear()
        lost = 0
        t_start = time.perf_counter()
        for i in range(args.latency_frames):
            n = len(answers)
            publish(i)
            if not spin_until(lambda n=n: len(answers) > n, 5.0):
                lost += 1
        elapsed = time.perf_counter() - t_start
        lat = [a[1] for a in answers]
        out["closed_loop"] = {"latency_ms": summarize(lat), "frames": args.latency_frames, "lost": lost,
                              "fps": len(lat) / elapsed if elapsed > 0 else None,
                              "faces_per_answer": float(np.mean([a[2] for a in answers])) if answers else None}
        # phase 2: open-loop stream at a camera rate, memory sampled once a second
        answers.clear()
        sent.clear()
        period = 1.0 / args.rate
        samples = []
        t0 = time.monotonic()
        next_pub = next_sample = t0
        published = 0
        while time.monotonic() - t0 < args.soak_seconds and node_proc.poll() is None:
            now = time.monotonic()
            if now >= next_pub:
                publish(published)
                published += 1
                next_pub += period
                if next_pub < now:  # we fell behind (busy machine): do not burst
                    next_pub = now + period
            if now >= next_sample:
                samples.append((now - t0, *_node_memory(node_proc.pid).values()))
                next_sample += 1.0
            executor.spin_once(timeout_sec=max(0.0, min(next_pub, next_sample) - time.monotonic()))
        spin_until(lambda: not sent, 2.0)
        dur = time.monotonic() - t0
        rss = [s[1] for s in samples]
        times = [s[0] for s in samples]
        half = len(rss) // 2
        slope = float(np.polyfit(times[half:], rss[half:], 1)[0] * 60.0) if len(rss) - half >= 3 else None
        out["stream"] = {"rate_hz": args.rate, "seconds": dur, "published": published, "answered": len(answers),
                         "answered_fps": len(answers) / dur if dur > 0 else None,
                         "latency_ms": summarize([a[1] for a in answers]),
                         "rss_mb_first": rss[0] if rss else None, "rss_mb_last": rss[-1] if rss else None,
                         "rss_mb_max": max(rss) if rss else None,
                         "rss_slope_mb_per_min_second_half": slope,
                         "rss_samples": [[round(t, 1), round(r, 2)] for t, r in zip(times, rss, strict=True)]}
        out["memory_after_stream"] = _node_memory(node_proc.pid)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["node"]:
        parser = argparse.ArgumentParser(prog="fer_ros.bench.e2e node")
        parser.add_argument("--stats", required=True)
        parser.add_argument("--capacity", type=int, default=100_000, help="frames whose step times are kept")
        ros_args = argv[argv.index("--ros-args") + 1:] if "--ros-args" in argv else []
        own = parser.parse_args(argv[1:argv.index("--ros-args")] if "--ros-args" in argv else argv[1:])
        return run_node(Path(own.stats), ros_args, own.capacity)
    parser = argparse.ArgumentParser(prog="fer_ros.bench.e2e drive", description=__doc__)
    parser.add_argument("role", choices=["drive"])
    parser.add_argument("--json", required=True)
    parser.add_argument("--out-dir", default="out/bench")
    parser.add_argument("--faces-per-frame", type=int, default=4)
    parser.add_argument("--distinct-frames", type=int, default=10)
    parser.add_argument("--faces", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--param", action="append", default=[], help="extra node parameter NAME:=VALUE")
    parser.add_argument("--node-cpus", default="0")
    parser.add_argument("--driver-cpus", default="1")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--latency-frames", type=int, default=100)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    try:
        result = drive(args)
    except Exception as exc:  # noqa: BLE001 - reported in the JSON, the benchmark goes on
        result = {"error": f"{type(exc).__name__}: {exc}"}
    Path(args.json).write_text(json.dumps(result, indent=1))
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    raise SystemExit(main())
