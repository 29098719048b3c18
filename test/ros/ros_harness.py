"""Helpers for the ROS tests: the node runs in its own process, the test talks to it over DDS.

Every test module picks its own ROS_DOMAIN_ID and a unique namespace; discovery stays on localhost and
the shipped Fast DDS profile is used by both sides. ``perception_session`` is the one way a test module
starts the perception node with its probe (and checks exit code 0 after SIGINT at the end); ``answer`` and
``node_health`` are the shared ways to get a frame's answer and the node's /diagnostics. Node processes are
stopped with SIGINT (then killed if they hang) and, as a last resort, at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import testsupport

REPO = testsupport.REPO
DDS_PROFILE = testsupport.FASTDDS_PROFILE
PERCEPTION_NODE = "fer_ros.ros.perception_node"
STARTUP_S = 90.0  # model loading on a busy 2-core machine

# The test process's own DDS participant must use the same settings as the node processes; this runs
# at import (collection), before any rclpy context exists.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(DDS_PROFILE)

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed (make setup)")
pytest.importorskip("fer_ros.msg", reason="fer_ros messages not generated (make build)")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from fer_ros.bench.stats import proc_memory_mb  # noqa: E402
from fer_ros.core.image_convert import fill_image_msg  # noqa: E402

_RUNNING: list[subprocess.Popen] = []


def _kill_leftovers() -> None:
    for proc in _RUNNING:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


atexit.register(_kill_leftovers)


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL if the test process dies without cleaning up (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def ros_env(domain_id: int, dds_profile: bool = True) -> dict[str, str]:
    """``testsupport.ros_env``; ``dds_profile=False``: no FASTDDS_DEFAULT_PROFILES_FILE at all, like a camera
    driver we do not configure."""
    env = testsupport.ros_env(domain_id)
    if not dds_profile:
        del env["FASTDDS_DEFAULT_PROFILES_FILE"]
    return env


def unique_namespace() -> str:
    """A namespace no other concurrent run uses, so runs sharing a domain do not see each other."""
    return f"/fer_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"


class NodeProcess:
    """A ROS executable (``python -m module`` or a script path) in its own process, with its log in a file.

    ``process_group``: None keeps the test's group, 0 starts a new one (as a terminal gives a command), a
    pid joins that process's group (e.g. a node started with 0), so a signal can go to the whole group.
    ``dds_profile=False`` leaves FASTDDS_DEFAULT_PROFILES_FILE out of the child's environment.
    """

    def __init__(self, module: str, domain_id: int, namespace: str, log_path: Path,
                 params: dict[str, object] | None = None, extra_args: list[str] | None = None,
                 process_group: int | None = None, dds_profile: bool = True) -> None:
        program = [module] if module.endswith(".py") else ["-m", module]
        args = [sys.executable, *program, "--ros-args", "-r", f"__ns:={namespace}"]
        args += extra_args or []
        for key, value in (params or {}).items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            args += ["-p", f"{key}:={text}"]
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()

        def before_exec() -> None:
            _die_with_parent()
            if process_group is not None:
                os.setpgid(0, process_group)

        self.proc = subprocess.Popen(args, env=ros_env(domain_id, dds_profile), stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=str(REPO), preexec_fn=before_exec)
        _RUNNING.append(self.proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, text: str, timeout: float) -> None:
        """Wait until ``text`` appears in the log (e.g. the node's start line); fail if the process exits."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if not self.alive():
                raise AssertionError(f"process exited before logging {text!r}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def wait(self, timeout: float) -> int:
        """Exit code once the process ends by itself (killed after ``timeout`` s: then a failure)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"process did not exit within {timeout:.0f} s:\n{self.log_tail()}") from None

    def rss_mb(self) -> float:
        """Resident memory of the process (MiB)."""
        return proc_memory_mb(self.pid)["rss_mb"]

    def stop(self, timeout: float = 20.0) -> int:
        """SIGINT, as Ctrl-C would; kill only if it does not exit in time. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if self.proc in _RUNNING:
            _RUNNING.remove(self.proc)
        return self.proc.returncode


class Inbox:
    """Messages received on one topic with their arrival time (time.monotonic)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.items: list[tuple[float, object]] = []

    def __call__(self, msg) -> None:
        with self._cond:
            self.items.append((time.monotonic(), msg))
            self._cond.notify_all()

    def messages(self) -> list:
        with self._lock:
            return [m for _, m in self.items]

    def wait_for(self, predicate, timeout: float):
        """First message satisfying ``predicate`` (also among those already received), or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = 0
            while True:
                for _, msg in self.items[seen:]:
                    if predicate(msg):
                        return msg
                seen = len(self.items)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)


def qos(reliable: bool, depth: int = 10) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)


class RosProbe:
    """The test's side of the conversation: an rclpy node in its own context, spun in a thread."""

    def __init__(self, domain_id: int, namespace: str) -> None:
        self.namespace = namespace
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(f"probe_{uuid.uuid4().hex[:8]}", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()
        self._stamp_counter = 0

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - shutdown of the context ends the spin
            pass

    def topic(self, name: str) -> str:
        return f"{self.namespace}/{name}"

    def subscribe(self, msg_type, name: str, reliable: bool = True, depth: int = 50):
        inbox = Inbox()
        sub = self.node.create_subscription(msg_type, self.topic(name) if not name.startswith("/") else name,
                                            inbox, qos(reliable, depth))
        return inbox, sub

    def publisher(self, msg_type, name: str = "camera/image_raw", reliable: bool = False, depth: int = 1):
        return self.node.create_publisher(msg_type, self.topic(name), qos(reliable, depth))

    def next_stamp(self):
        """A unique header stamp per frame (seconds count up, nanoseconds carry a counter)."""
        self._stamp_counter += 1
        stamp = self.node.get_clock().now().to_msg()
        stamp.nanosec = (stamp.nanosec // 1000) * 1000 + self._stamp_counter % 1000
        return stamp

    def image(self, bgr: np.ndarray, frame_id: str = "test_camera", encoding: str = "bgr8") -> Image:
        msg = fill_image_msg(Image(), bgr)
        msg.header.stamp = self.next_stamp()
        msg.header.frame_id = frame_id
        return msg

    def wait_until(self, condition, timeout: float, what: str, node: NodeProcess | None = None) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if node is not None and not node.alive():
                raise AssertionError(f"node exited while waiting for {what}:\n{node.log_tail()}")
            if time.monotonic() > deadline:
                tail = f"\n{node.log_tail()}" if node is not None else ""
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
            time.sleep(0.05)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=5.0)


def same_stamp(a, b) -> bool:
    return a.sec == b.sec and a.nanosec == b.nanosec


def stamp_key(stamp) -> tuple[int, int]:
    return stamp.sec, stamp.nanosec


def diagnostics_values(status) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


@contextmanager
def perception_session(domain_id: int, log_dir: Path, params: dict[str, object] | None = None,
                       extra_args: list[str] | None = None, emotion_depth: int = 50) -> Iterator[dict]:
    """The perception node in its own process and the test's probe in the node's namespace.

    Yields a dict (tests add their own entries): ``node`` (NodeProcess), ``probe`` (RosProbe), ``namespace``,
    ``emotion`` (Inbox of faces/emotion) and ``diagnostics`` (Inbox of /diagnostics), once the node publishes
    faces/emotion. At the end the node is stopped with SIGINT and must exit with code 0.
    """
    from diagnostic_msgs.msg import DiagnosticArray

    from fer_ros.msg import FaceEmotionArray

    namespace = unique_namespace()
    node = NodeProcess(PERCEPTION_NODE, domain_id, namespace, Path(log_dir) / "perception_node.log",
                       params=params, extra_args=extra_args)
    probe = RosProbe(domain_id, namespace)
    try:
        emotion, _ = probe.subscribe(FaceEmotionArray, "faces/emotion", depth=emotion_depth)
        diagnostics, _ = probe.subscribe(DiagnosticArray, "/diagnostics")
        probe.wait_until(lambda: probe.node.count_publishers(probe.topic("faces/emotion")) > 0, STARTUP_S,
                         "the node's topics", node)
        yield {"node": node, "probe": probe, "namespace": namespace, "emotion": emotion,
               "diagnostics": diagnostics}
    finally:
        probe.close()
        code = node.stop()
    assert code == 0, f"node exit code {code} after SIGINT:\n{node.log_tail()}"


def wait_matched(s: dict, *publishers, timeout: float = STARTUP_S) -> None:
    """Wait until the node's subscriptions match every one of ``publishers``."""
    s["probe"].wait_until(lambda: all(p.get_subscription_count() > 0 for p in publishers), timeout,
                          "the node's image subscription", s["node"])


def answer(s: dict, publisher, msg, timeout: float = 20.0, retries: int = 3):
    """Publish ``msg`` and return the faces/emotion answer carrying its stamp; best effort may lose a frame,
    so it is sent again (with a new stamp) up to ``retries`` times."""
    for _ in range(retries):
        publisher.publish(msg)
        reply = s["emotion"].wait_for(lambda m: same_stamp(m.header.stamp, msg.header.stamp), timeout)
        if reply is not None:
            return reply
        msg.header.stamp = s["probe"].next_stamp()
    raise AssertionError(f"no answer to frame {msg.header.frame_id!r} after {retries} tries:\n"
                         f"{s['node'].log_tail()}")


def node_health(s: dict, key: str = "frames_processed", at_least: int | None = None,
                timeout: float = 10.0) -> dict[str, str]:
    """The node's /diagnostics values once ``key`` counts ``at_least`` (default: every answer so far)."""
    name = f"{s['namespace']}/perception_node"
    wanted = len(s["emotion"].messages()) if at_least is None else at_least

    def counted(msg) -> bool:
        return any(st.name.startswith(name) and int(diagnostics_values(st)[key]) >= wanted for st in msg.status)

    msg = s["diagnostics"].wait_for(counted, timeout)
    assert msg is not None, f"no /diagnostics from {name} with {key} >= {wanted}:\n{s['node'].log_tail()}"
    status = next(st for st in msg.status if st.name.startswith(name))
    assert status.hardware_id == "fer_ros"
    return diagnostics_values(status)


def parameter_client(s: dict):
    """A parameter client of the session's node, once its parameter services answer."""
    from rclpy.parameter_client import AsyncParameterClient

    client = AsyncParameterClient(s["probe"].node, f"{s['namespace']}/perception_node")
    s["probe"].wait_until(client.services_are_ready, STARTUP_S, "the node's parameter services", s["node"])
    return client


def _result(future, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not future.done():
        assert time.monotonic() < deadline, "parameter service did not answer"
        time.sleep(0.02)
    return future.result()


def set_params(s: dict, atomically: bool = False, **values) -> list:
    """Set parameters of the session's node (``s["client"]``); one SetParametersResult per call/parameter."""
    from rclpy.parameter import Parameter

    params = [Parameter(name, value=value) for name, value in values.items()]
    if atomically:
        return [_result(s["client"].set_parameters_atomically(params)).result]
    return _result(s["client"].set_parameters(params)).results


def get_params(s: dict, *names: str) -> list:
    """Current values (Python types) of the session node's parameters ``names``."""
    from rclpy.parameter import parameter_value_to_python

    return [parameter_value_to_python(v) for v in _result(s["client"].get_parameters(list(names))).values]
