"""``make demo``: camera_source on a generated stream plus the perception node, watched from outside.

Starts both nodes as separate processes in their own namespace, prints once a second what
``faces/emotion`` carries, writes one annotated debug frame as PNG and stops everything with SIGINT.

    python -m fer_ros.ros.demo [--seconds 10] [--rate 10] [--width 640 --height 480] [--out out/demo.png]
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image

from fer_ros.core.image_convert import image_to_bgr
from fer_ros.msg import FaceEmotionArray
from fer_ros.ros.processes import interrupt
from fer_ros.ros.shutdown import StopRequest

NAMESPACE = "/fer_demo"


def _start(module: str, args: list[str]) -> subprocess.Popen:
    # the whole environment goes to the child: the ROS wheels need LD_LIBRARY_PATH next to their marker
    cmd = [sys.executable, "-m", module, "--ros-args", "-r", f"__ns:={NAMESPACE}", *args]
    return subprocess.Popen(cmd, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def _describe(msg: FaceEmotionArray) -> str:
    if not msg.faces:
        return "no face"
    parts = []
    for f in msg.faces:
        gender = f" {f.gender}" if f.gender else ""
        parts.append(f"#{f.id or '-'} {f.emotion} {f.emotion_confidence:.2f}{gender} "
                     f"@({f.x:.0f},{f.y:.0f} {f.width:.0f}x{f.height:.0f})")
    return "; ".join(parts)


class Watcher:
    """Collects what the node publishes (runs in this process, in its own rclpy context)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.answers: list[FaceEmotionArray] = []
        self.health: dict[str, str] = {}
        self.debug_written = False
        self.context = rclpy.Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node("fer_demo_watcher", context=self.context)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(FaceEmotionArray, f"{NAMESPACE}/faces/emotion", self._on_answer, reliable)
        self._debug_sub = self.node.create_subscription(Image, f"{NAMESPACE}/faces/debug_image", self._on_debug,
                                                        QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, reliable)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - the context shutting down ends the spin
            pass

    def _on_answer(self, msg: FaceEmotionArray) -> None:
        with self.lock:
            self.answers.append(msg)

    def _on_debug(self, msg: Image) -> None:
        if self.debug_written:
            return
        with self.lock:
            seen_face = any(a.faces for a in self.answers[-3:])
        if seen_face and len(self.answers) >= 10:  # a frame with a face, after tracking has settled
            self.out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(self.out), image_to_bgr(msg))
            self.debug_written = True

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(f"{NAMESPACE}/perception_node"):
                with self.lock:
                    self.health = {kv.key: kv.value for kv in status.values}

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self.thread.join(timeout=5.0)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit status 0 when faces were reported and the debug PNG was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to watch once frames flow")
    parser.add_argument("--rate", type=float, default=10.0, help="camera frames per second")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--faces", type=int, default=2, choices=(1, 2), help="faces in the generated stream")
    parser.add_argument("--out", type=Path, default=Path("out/demo_debug_frame.png"), help="debug frame PNG")
    args = parser.parse_args(argv)

    print(f"[demo] starting perception_node and camera_source (synthetic, {args.faces} face(s), "
          f"{args.width}x{args.height} at {args.rate:g} Hz) in namespace {NAMESPACE}", flush=True)
    stop = StopRequest().install()  # Ctrl-C reaches the nodes too (same process group); the demo reports
    watcher = Watcher(args.out)
    node = _start("fer_ros.ros.perception_node", [])
    camera = _start("fer_ros.ros.camera_source", ["-p", "source:=synthetic", "-p", f"faces:={args.faces}",
                                                  "-p", f"rate:={args.rate}", "-p", f"width:={args.width}",
                                                  "-p", f"height:={args.height}"])
    ok = False
    try:
        deadline = time.monotonic() + 120.0
        while not watcher.answers:
            if stop.requested:
                print(f"[demo] {stop.signal_name} before the first answer: stopping", flush=True)
                return 0
            if node.poll() is not None or camera.poll() is not None or time.monotonic() > deadline:
                print("[demo] the nodes did not start: see their log lines above", flush=True)
                return 1
            stop.sleep(0.1)
        start = time.monotonic()
        shown = 0
        while time.monotonic() - start < args.seconds and not stop.sleep(1.0):
            with watcher.lock:
                new, shown = watcher.answers[shown:], len(watcher.answers)
                health = dict(watcher.health)
            latest = _describe(new[-1]) if new else "no answer this second"
            print(f"[demo] t={time.monotonic() - start:4.1f}s {len(new):2d} frames answered | {latest} | "
                  f"latency p50 {health.get('latency_p50_ms', '?')} ms, dropped {health.get('frames_dropped', '?')}",
                  flush=True)
        with watcher.lock:
            answers = list(watcher.answers)
        with_faces = [a for a in answers if a.faces]
        emotions = collections.Counter(f.emotion for a in with_faces for f in a.faces)
        ids = sorted({f.id for a in with_faces for f in a.faces}, key=lambda i: (len(i), i))
        print(f"[demo] {len(answers)} frames answered, {len(with_faces)} with faces; emotions "
              f"{dict(emotions)}; track ids {ids}", flush=True)
        if watcher.debug_written:
            print(f"[demo] wrote debug frame {args.out}", flush=True)
        else:
            print("[demo] no debug frame with a face arrived", flush=True)
        ok = (bool(with_faces) and watcher.debug_written) or stop.requested  # Ctrl-C: a normal end
    finally:
        stop.ignore_further()  # a second Ctrl-C must not cut the clean stop of the nodes short
        codes = (interrupt(camera), interrupt(node))
        watcher.close()
        print(f"[demo] stopped camera_source and perception_node (exit codes {codes[0]}, {codes[1]})", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
