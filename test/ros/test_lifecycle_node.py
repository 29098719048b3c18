"""The managed perception node over DDS: its lifecycle services driven from this (second) process.

The node runs in its own process (``python -m fer_ros.ros.lifecycle_node``); this process calls
``<node>/change_state`` and ``<node>/get_state`` as ``ros2 lifecycle set`` / launch_ros do, publishes
camera frames of the smiling astronaut and listens on ``faces/emotion`` and ``/diagnostics``.
"""

from __future__ import annotations

import gc
import time
import weakref

import pytest
from ros_harness import NodeProcess, RosProbe, same_stamp, unique_namespace

from fer_ros.msg import FaceEmotionArray
from fer_ros.ros.synthetic_stream import SyntheticFaceStream

lifecycle_msgs = pytest.importorskip("lifecycle_msgs.srv", reason="lifecycle_msgs not installed (make setup)")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

DOMAIN_ID = 88
STARTUP_S = 90.0  # model loading on a busy 2-core machine
CALL_S = 60.0
REPLY_S = 20.0
QUIET_S = 2.0  # how long "nothing arrives" is watched
STREAM = SyntheticFaceStream(640, 480)
LARGE_STREAM = SyntheticFaceStream(2560, 1920)
SLOW = {"detection_scale": 1.0, "min_face_size": 24}  # full-resolution detection: large frames take ~1 s


class Managed:
    """The test's handle on one lifecycle node process: its services, a camera publisher, its outputs."""

    def __init__(self, probe: RosProbe, node: NodeProcess) -> None:
        self.probe, self.node = probe, node
        base = probe.topic("perception_node")
        self.change = probe.node.create_client(ChangeState, f"{base}/change_state")
        self.get = probe.node.create_client(GetState, f"{base}/get_state")
        self.set_params = probe.node.create_client(SetParameters, f"{base}/set_parameters")
        self.camera = probe.publisher(Image, reliable=True, depth=5)
        self.emotion, _ = probe.subscribe(FaceEmotionArray, "faces/emotion")
        self.diagnostics, _ = probe.subscribe(DiagnosticArray, "/diagnostics")
        self.frame_index = 0
        probe.wait_until(lambda: self.change.service_is_ready() and self.get.service_is_ready(), STARTUP_S,
                         "the lifecycle services", node)

    def call(self, client, request):
        future = client.call_async(request)
        self.probe.wait_until(future.done, CALL_S, f"{client.srv_name} to answer", self.node)
        return future.result()

    def state(self) -> str:
        return self.call(self.get, GetState.Request()).current_state.label

    def transition(self, transition_id: int) -> bool:
        return self.call(self.change, ChangeState.Request(transition=Transition(id=transition_id))).success

    def set_string(self, name: str, value: str) -> bool:
        param = Parameter(name=name, value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value))
        return self.call(self.set_params, SetParameters.Request(parameters=[param])).results[0].successful

    def publish(self, count: int = 1, period_s: float = 0.05) -> list:
        sent = []
        for _ in range(count):
            msg = self.probe.image(STREAM.frame(self.frame_index))
            self.frame_index += 1
            self.camera.publish(msg)
            sent.append(msg)
            time.sleep(period_s)
        return sent

    def answered(self, msg, timeout: float = REPLY_S):
        return self.emotion.wait_for(lambda m: same_stamp(m.header.stamp, msg.header.stamp), timeout)

    def own_diagnostics(self) -> list:
        name = f"{self.probe.namespace}/perception_node"
        return [m for m in self.diagnostics.messages() if any(s.name.startswith(name) for s in m.status)]


def start(tmp_path, params: dict | None = None):
    namespace = unique_namespace()
    node = NodeProcess("fer_ros.ros.lifecycle_node", DOMAIN_ID, namespace, tmp_path / "lifecycle_node.log",
                       params=params)
    probe = RosProbe(DOMAIN_ID, namespace)
    return node, probe


def test_transitions_gate_processing_and_shutdown_exits(tmp_path):
    node, probe = start(tmp_path, params=SLOW)
    try:
        m = Managed(probe, node)
        assert m.state() == "unconfigured"
        assert probe.node.count_publishers(probe.topic("faces/emotion")) == 0  # nothing before configure
        m.publish(5)
        time.sleep(QUIET_S)
        assert m.emotion.messages() == []

        assert m.transition(Transition.TRANSITION_CONFIGURE)
        assert m.state() == "inactive"
        probe.wait_until(lambda: probe.node.count_publishers(probe.topic("faces/emotion")) == 1, REPLY_S,
                         "the faces/emotion publisher", node)
        assert probe.node.count_subscribers(probe.topic("camera/image_raw")) == 0  # inactive: not listening
        m.publish(10)
        time.sleep(QUIET_S)
        assert m.emotion.messages() == [] and m.own_diagnostics() == []  # inactive: silent

        assert m.transition(Transition.TRANSITION_ACTIVATE)
        assert m.state() == "active"
        probe.wait_until(lambda: m.camera.get_subscription_count() == 1, REPLY_S, "the camera subscription", node)
        (frame,) = m.publish(1)
        reply = m.answered(frame)
        assert reply is not None, f"no answer while active:\n{node.log_tail()}"
        assert [f.emotion for f in reply.faces] == ["happy"]
        probe.wait_until(lambda: m.own_diagnostics(), 5.0, "/diagnostics while active", node)

        # deactivate while a large frame is being processed (~1 s at detection_scale 1.0) and a second one
        # waits in the node's slot: the first is finished and answered, the waiting one is dropped
        large = probe.image(LARGE_STREAM.frame(0), frame_id="large")
        m.camera.publish(large)
        time.sleep(0.3)
        (waiting,) = m.publish(1, period_s=0.1)
        assert m.transition(Transition.TRANSITION_DEACTIVATE)
        assert m.answered(large, timeout=1.0) is not None, f"the frame in hand was not finished:\n{node.log_tail()}"
        answers_at_deactivate = len(m.emotion.messages())
        assert m.state() == "inactive"
        probe.wait_until(lambda: m.camera.get_subscription_count() == 0, REPLY_S, "the node to unsubscribe", node)
        m.publish(5)
        time.sleep(QUIET_S)
        assert len(m.emotion.messages()) == answers_at_deactivate, "answers after deactivate"
        assert m.transition(Transition.TRANSITION_ACTIVATE)
        stale = m.answered(waiting, timeout=QUIET_S) is not None
        assert not stale, "a frame queued before deactivate was answered after re-activation"
        assert len(m.emotion.messages()) == answers_at_deactivate
        probe.wait_until(lambda: m.camera.get_subscription_count() == 1, REPLY_S, "the camera subscription", node)
        (frame,) = m.publish(1)
        assert m.answered(frame) is not None, f"no answer after re-activation:\n{node.log_tail()}"

        assert m.transition(Transition.TRANSITION_DEACTIVATE)
        assert m.transition(Transition.TRANSITION_CLEANUP)
        assert m.state() == "unconfigured"
        assert "models released" in node.log()
        probe.wait_until(lambda: probe.node.count_publishers(probe.topic("faces/emotion")) == 0, REPLY_S,
                         "the faces/emotion publisher to go", node)
        assert m.transition(Transition.TRANSITION_CONFIGURE)  # configurable again after cleanup
        assert m.transition(Transition.TRANSITION_ACTIVATE)
        assert m.transition(Transition.TRANSITION_ACTIVE_SHUTDOWN)
        node.proc.wait(timeout=20)
        assert node.proc.returncode == 0, node.log_tail()
        assert "Traceback" not in node.log(), node.log()
    finally:
        probe.close()
        node.stop()


def test_bad_model_fails_configure_with_the_reason(tmp_path):
    broken = tmp_path / "broken_emotion.onnx"
    broken.write_bytes(b"this is not an onnx model")
    node, probe = start(tmp_path, params={"emotion_model": str(broken)})
    try:
        m = Managed(probe, node)
        assert not m.transition(Transition.TRANSITION_CONFIGURE)
        assert m.state() == "unconfigured"
        log = node.log()
        assert "configure failed" in log and str(broken) in log and "cannot be loaded by onnxruntime" in log, log
        assert probe.node.count_publishers(probe.topic("faces/emotion")) == 0
        # fix the parameter and configure again: the node never had to restart
        assert m.set_string("emotion_model", "fer-resnet-fer2013")
        assert m.transition(Transition.TRANSITION_CONFIGURE)
        assert m.state() == "inactive"
        assert m.transition(Transition.TRANSITION_INACTIVE_SHUTDOWN)
        node.proc.wait(timeout=20)
        assert node.proc.returncode == 0, node.log_tail()
    finally:
        probe.close()
        node.stop()


def test_sigint_in_any_state_exits_cleanly(tmp_path):
    node, probe = start(tmp_path)
    try:
        m = Managed(probe, node)
        assert m.transition(Transition.TRANSITION_CONFIGURE) and m.transition(Transition.TRANSITION_ACTIVATE)
        assert m.state() == "active"
    finally:
        probe.close()
        code = node.stop()
    assert code == 0, node.log_tail()
    assert "Traceback" not in node.log(), node.log()



def test_cleanup_releases_the_onnxruntime_sessions():
    """In this process: every onnxruntime session that configure created is freed by cleanup."""
    import onnxruntime as ort
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn

    from fer_ros.ros.lifecycle_node import LifecyclePerceptionNode

    def live_sessions() -> list:
        gc.collect()
        return [o for o in gc.get_objects() if type(o) is ort.InferenceSession]  # type(): no proxy lookups

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    node = LifecyclePerceptionNode(context=context)
    try:
        before = {id(s) for s in live_sessions()}
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        created = [weakref.ref(s) for s in live_sessions() if id(s) not in before]
        assert len(created) >= 2  # at least the emotion and gender models
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert all(ref() is not None for ref in created)  # inactive keeps the models loaded
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        gc.collect()
        assert [ref() for ref in created if ref() is not None] == []
        assert node.trigger_shutdown() == TransitionCallbackReturn.SUCCESS
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
