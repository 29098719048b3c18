"""The perception node: camera images in, faces with emotion, gender and track ids out.

Subscription callbacks only hand the newest frame to a worker thread (keep-latest, queue of one); the
worker converts it, runs the core pipeline and the tracker, and publishes on ``faces/emotion``
(``fer_ros/FaceEmotionArray``, header copied from the image), ``faces/detections``
(``vision_msgs/Detection2DArray`` where installed) and ``faces/debug_image`` (only while subscribed).
Once a second it publishes its health on ``/diagnostics``.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image

from fer_ros.core.draw import draw_faces
from fer_ros.core.image_convert import ImageConversionError, compressed_to_bgr, fill_image_msg
from fer_ros.core.opencv_compat import quiet_opencv_logging
from fer_ros.core.pipeline import Pipeline
from fer_ros.core.tracking import Tracker
from fer_ros.msg import FaceEmotionArray
from fer_ros.ros import messages, parameters, shutdown
from fer_ros.ros.health import HealthMonitor
from fer_ros.ros.image_converter import ImageConverter
from fer_ros.ros.image_input import ImageSubscription
from fer_ros.ros.latest_frame import LatestFrameSlot
from fer_ros.ros.throttled_log import ThrottledLog


def build_pipeline(values: dict[str, Any]) -> Pipeline:
    """The pipeline for these parameter values, checked with one dummy batch through every model.

    Raises (with the reason) when a model cannot be loaded or fails on the dummy batch.
    """
    pipeline = Pipeline(parameters.pipeline_config(values))
    try:
        pipeline.dry_run()
    except Exception as exc:  # noqa: BLE001 - any run-time failure of a model: say which and why
        raise RuntimeError(f"a dummy batch through the models failed: {type(exc).__name__}: {exc}") from exc
    return pipeline


class RosLogHandler(logging.Handler):
    """Python ``logging`` records of the core (e.g. an execution-provider fall-back) into the node's ROS log."""

    def __init__(self, ros_logger) -> None:
        super().__init__(logging.INFO)
        self._ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if record.levelno >= logging.ERROR:
            self._ros_logger.error(text)
        elif record.levelno >= logging.WARNING:
            self._ros_logger.warning(text)
        else:
            self._ros_logger.info(text)


@dataclass(frozen=True)
class FrameTimings:
    """Milliseconds one processed frame spent in each step of the worker (for ``timing_hook``)."""

    convert: float  # sensor_msgs image -> BGR array
    pipeline: float  # Pipeline.process: detection, classification and tracking
    tracking: float  # the tracking part of it (the pipeline's own timing)
    temporal: float  # the temporal model per track (0 when off)
    build_msg: float  # FaceEmotionArray (and Detection2DArray)
    publish: float  # their publish calls
    step: float  # the whole worker step, debug image included


class PerceptionNode(Node):
    """ROS adapter around ``fer_ros.core.pipeline.Pipeline`` and ``fer_ros.core.tracking.Tracker``.

    ``timing_hook``: when set (e.g. by the end-to-end benchmark), called from the worker thread with the
    ``FrameTimings`` of every processed frame.
    """

    timing_hook: Callable[[FrameTimings], None] | None = None

    def __init__(self, *, start: bool = True, **kwargs: Any) -> None:
        super().__init__("perception_node", **kwargs)
        self._values = parameters.declare_all(self)
        self._log_handler = RosLogHandler(self.get_logger())
        logging.getLogger("fer_ros").addHandler(self._log_handler)
        self._pipeline: Pipeline | None = None
        self._tracker: Tracker | None = None
        self._temporal = None
        self._pending_temporal: tuple | None = None  # (tracker or None,) while a change waits for the worker
        self._pending_lock = threading.Lock()
        self._pending_pipeline: Pipeline | None = None
        self._pending_tracker = None
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._log = ThrottledLog(self.get_logger())
        # OpenCV's own decoder warnings (libpng/libjpeg) would print once per corrupt frame, unthrottled;
        # the node names each problem itself.
        quiet_opencv_logging()
        self._health = HealthMonitor()
        self._slot = LatestFrameSlot()
        self.debug_images_published = 0
        self._worker: threading.Thread | None = None
        self._running = False
        if start:  # the managed variant (fer_ros/ros/lifecycle_node.py) runs these on its transitions
            self.load_models()
            self.open_outputs()
            self.open_inputs()

    def load_models(self) -> None:
        """Build the pipeline and trackers from the current parameters (loads and checks every model)."""
        pipeline = build_pipeline(self._values)
        tracker = Tracker(parameters.tracker_config(self._values))
        temporal = parameters.temporal_tracker(self._values)
        to_bgr = ImageConverter(self._values["image_converter"])  # cv_bridge importable if asked for
        with self._pending_lock:
            self._pipeline, self._tracker, self._temporal, self._to_bgr = pipeline, tracker, temporal, to_bgr
            self._drop_pending()

    def open_outputs(self) -> None:
        """The publishers and the once-a-second health report."""
        self._emotion_pub = self.create_publisher(FaceEmotionArray, "faces/emotion", 10)
        self._debug_pub = self.create_publisher(Image, "faces/debug_image", 1)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._detections_pub = None
        if messages.VISION_MSGS_ERROR:
            self.get_logger().info(f"vision_msgs not available ({messages.VISION_MSGS_ERROR}): "
                                   "faces/detections is not published")
        else:
            self._detections_pub = self.create_publisher(messages.Detection2DArray, "faces/detections", 10)

        # steady clock: health reports go on when use_sim_time is set and /clock is paused or absent
        self._health_timer = self.create_timer(1.0, self._report_health,
                                               clock=Clock(clock_type=ClockType.STEADY_TIME))

    def open_inputs(self) -> None:
        """The image subscriptions and the worker: frames are processed from here on."""
        v = self._values
        image_topic = self.resolve_topic_name(v["image_topic"])  # expanded and remapped
        self._input = ImageSubscription(self, image_topic, v["transport"], v["reliability"], v["qos_depth"],
                                        self._on_image)

        self._running = True
        self._worker = threading.Thread(target=self._work, name="fer_ros_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(f"listening on {self._input.describe()}; image converter "
                               f"{self._to_bgr.describe()}; detector {v['detector']} on "
                               f"{', '.join(self._pipeline.providers)}, "
                               f"publishing {self.resolve_topic_name('faces/emotion')}")

    # --- callbacks (executor thread): hand over and return ---
    def _on_image(self, msg) -> None:
        self._health.frame_received()
        self._slot.put((msg, time.monotonic()))

    def _on_set_parameters(self, params) -> SetParametersResult:
        """Validate a change completely before accepting it; the worker applies it before its next frame."""
        new = dict(self._values)
        for p in params:
            spec = parameters.BY_NAME.get(p.name)
            if spec is None:
                continue  # e.g. use_sim_time, handled by rclpy
            problem = parameters.check_value(spec, p.value)
            if problem:
                return self._reject(problem)
            new[p.name] = p.value
        changed = {name for name in new if new[name] != self._values[name]}
        groups = {parameters.BY_NAME[name].group for name in changed}
        pipeline = tracker_config = temporal = None
        try:
            if "tracker" in groups:
                tracker_config = parameters.tracker_config(new)
            if "temporal" in groups or changed & {"providers", "num_threads"}:  # its session uses both
                temporal = (parameters.temporal_tracker(new),)
            if "pipeline" in groups:
                pipeline = build_pipeline(new)
        except Exception as exc:  # noqa: BLE001 - any failure to build means: reject, change nothing
            return self._reject(f"{', '.join(sorted(changed))}: {exc}")
        with self._pending_lock:
            if pipeline is not None:
                self._pending_pipeline = pipeline
            if tracker_config is not None:
                self._pending_tracker = tracker_config
            if temporal is not None:
                self._pending_temporal = temporal
            self._values = new
        if changed:
            listed = ", ".join(f"{n}={new[n]!r}" for n in sorted(changed))
            self.get_logger().info(f"parameters changed: {listed}")
        return SetParametersResult(successful=True)

    def _reject(self, reason: str) -> SetParametersResult:
        self.get_logger().warning(f"parameter change rejected, nothing changed: {reason}")
        return SetParametersResult(successful=False, reason=reason)

    def _report_health(self) -> None:
        snap = self._health.snapshot(self._slot.dropped)
        self.get_logger().debug(snap.summary() + f" debug_images={self.debug_images_published}")
        limit = self._values["latency_warn_ms"]
        if snap.latency_p95_ms > limit:
            self._log.warn("latency", f"latency p95 {snap.latency_p95_ms:.0f} ms exceeds "
                                f"latency_warn_ms={limit:.0f} ({snap.summary()})")
        diag = messages.diagnostic_array(self.get_clock().now().to_msg(),
                                         f"{self.get_fully_qualified_name()}: perception", snap, limit)
        diag.status[0].values.append(
            messages.KeyValue(key="debug_images_published", value=str(self.debug_images_published)))
        self._diag_pub.publish(diag)

    def _drop_pending(self) -> None:
        """Forget accepted changes not yet applied by the worker (call with ``_pending_lock`` held)."""
        self._pending_pipeline = self._pending_tracker = self._pending_temporal = None

    # --- worker thread ---
    def _apply_pending(self) -> None:
        with self._pending_lock:
            if self._pending_pipeline is not None:
                self._pipeline, self._pending_pipeline = self._pending_pipeline, None
            if self._pending_tracker is not None:
                self._tracker.config, self._pending_tracker = self._pending_tracker, None
            if self._pending_temporal is not None:
                (self._temporal,), self._pending_temporal = self._pending_temporal, None

    def _work(self) -> None:
        while self._running:
            item = self._slot.take(timeout=0.5)
            if item is None:
                continue
            try:
                self._process(*item)
            except Exception as exc:  # noqa: BLE001 - the node must survive anything one frame does
                if not self._running or not rclpy.ok(context=self.context):
                    return
                # not the input's fault (that is ImageConversionError): a model or the node failed
                self._health.frame_failed()
                self._log.error("failed", f"frame failed (counted in frames_failed): {type(exc).__name__}: "
                                f"{exc}\n{traceback.format_exc()}")

    def _process(self, msg, received: float) -> None:
        self._apply_pending()
        values = self._values
        t0 = time.perf_counter()
        try:
            if isinstance(msg, CompressedImage):
                bgr = compressed_to_bgr(msg, values["max_image_pixels"])
            else:
                bgr = self._to_bgr(msg, values["max_image_pixels"])
        except ImageConversionError as exc:
            self._health.frame_invalid()
            self._log.warn(exc.problem, f"frame skipped: {exc}")
            return
        t1 = time.perf_counter()
        # tracked faces, gender once per track; raising here is a failure, not bad input: see _work
        result = self._pipeline.process(bgr, self._tracker)
        t2 = time.perf_counter()
        faces = result.faces
        if self._temporal is not None:
            faces = self._temporal.update(bgr, faces, self._tracker.active_ids)
        t3 = time.perf_counter()
        labels = tuple(result.emotion_labels)
        outgoing = [(self._emotion_pub, messages.face_emotion_array(msg.header, faces, labels))]
        if self._detections_pub is not None and values["publish_detections"]:
            outgoing.append((self._detections_pub, messages.detection2d_array(msg.header, faces, labels)))
        t4 = time.perf_counter()
        for publisher, out in outgoing:
            publisher.publish(out)
        t5 = time.perf_counter()
        if values["publish_debug_image"] and self._debug_pub.get_subscription_count() > 0:
            debug = fill_image_msg(Image(header=msg.header), draw_faces(bgr, faces))
            self._debug_pub.publish(debug)
            self.debug_images_published += 1
        self._health.frame_processed(time.monotonic() - received, t2 - t1)
        if self.timing_hook is not None:
            t6 = time.perf_counter()
            ms = [(b - a) * 1e3 for a, b in ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t0, t6))]
            self.timing_hook(FrameTimings(ms[0], ms[1], result.timings_ms.get("tracking", 0.0), *ms[2:]))

    def stop(self) -> None:
        """Stop the worker (called before the node is destroyed)."""
        self.stop_worker()
        logging.getLogger("fer_ros").removeHandler(self._log_handler)

    def stop_worker(self) -> None:
        """Stop taking frames: the worker finishes the frame in hand, a waiting frame is dropped."""
        self._running = False
        self._slot.close()
        if self._worker is not None:
            self._worker.join(timeout=10.0)

    def finished(self) -> bool:
        """Whether the node asks its process to exit (the lifecycle variant after ``shutdown``)."""
        return False


def main(args: list[str] | None = None, node_type: type[PerceptionNode] = PerceptionNode) -> int:
    """Entry point of ``ros2 run fer_ros perception_node`` (``node_type``: the lifecycle variant's too).

    Exit code 0 after SIGINT/SIGTERM or when the node is finished, 1 when it cannot start.
    """
    stop = shutdown.init(args)
    try:
        node = node_type()
    except Exception as exc:  # noqa: BLE001 - bad parameters or models: say why and exit non-zero
        rclpy.logging.get_logger("perception_node").error(f"cannot start: {type(exc).__name__}: {exc}")
        rclpy.try_shutdown()
        return 1
    shutdown.spin_until_stopped(node, stop, done=node.finished, on_stop=node.stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
