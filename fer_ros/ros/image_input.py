"""The node's one image subscription: image_transport's topic naming, QoS reliability matched to the camera.

``transport`` picks exactly one topic, as image_transport does: ``raw`` subscribes to ``sensor_msgs/Image``
on the image topic, ``compressed`` to ``sensor_msgs/CompressedImage`` on ``<image topic>/compressed``.

``reliability: auto`` follows rosbag2's rule for the topic's publishers: reliable when every publisher is
reliable, best effort otherwise (a best-effort subscription matches any publisher, so it is also the choice
while there is none). The choice is made at start and again whenever the publishers change (the
subscription's matched/incompatible-QoS events, and a periodic look at the graph as a fallback); a change
re-creates the subscription. Explicit ``best_effort``/``reliable`` never change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from fer_ros.ros.parameters import RELIABILITIES, TRANSPORTS

RECHECK_PERIOD_S = 1.0  # fallback look at the topic's publishers (events normally trigger it sooner)
EVENT_CHECK_DELAY_S = 0.05  # after a matched/incompatible event: soon, but outside the event callback

_POLICIES = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}


def transport_topic(image_topic: str, transport: str) -> tuple[type, str]:
    """Message type and topic of one transport (image_transport naming: ``<topic>/compressed``)."""
    if transport == "raw":
        return Image, image_topic
    if transport == "compressed":
        return CompressedImage, image_topic.rstrip("/") + "/compressed"
    raise ValueError(f"transport {transport!r} is not one of: {', '.join(TRANSPORTS)}")


def match_publishers(reliabilities: Sequence[ReliabilityPolicy]) -> tuple[ReliabilityPolicy, str]:
    """rosbag2's rule: reliable if all publishers are reliable, else best effort; plus the reason in words."""
    if not reliabilities:
        return ReliabilityPolicy.BEST_EFFORT, "no publisher yet"
    best_effort = sum(r != ReliabilityPolicy.RELIABLE for r in reliabilities)
    n = len(reliabilities)
    noun = "publisher" if n == 1 else "publishers"
    if best_effort == 0:
        return ReliabilityPolicy.RELIABLE, f"{n} {noun}, all reliable"
    return ReliabilityPolicy.BEST_EFFORT, f"{n} {noun}, {best_effort} best effort"


def policy_name(policy: ReliabilityPolicy) -> str:
    return "reliable" if policy == ReliabilityPolicy.RELIABLE else "best_effort"


class ImageSubscription:
    """Subscribes ``callback`` to one transport of ``image_topic``; keeps the reliability matched in auto."""

    def __init__(self, node: Node, image_topic: str, transport: str, reliability: str, depth: int,
                 callback: Callable) -> None:
        if reliability not in RELIABILITIES:
            raise ValueError(f"reliability {reliability!r} is not one of: {', '.join(RELIABILITIES)}")
        self._node = node
        self.msg_type, self.topic = transport_topic(image_topic, transport)
        self.transport = transport
        self.mode = reliability
        self._depth = depth
        self._callback = callback
        self._subscription = None
        self._event_timer = None
        self.policy: ReliabilityPolicy | None = None
        self.changes = 0  # times auto re-created the subscription
        if reliability == "auto":
            steady = Clock(clock_type=ClockType.STEADY_TIME)
            self._recheck_timer = node.create_timer(RECHECK_PERIOD_S, self.update, clock=steady)
            self.update()
        else:
            self._subscribe(_POLICIES[reliability], "set explicitly")

    def describe(self) -> str:
        """E.g. ``/camera/image_raw (raw, auto: best_effort, depth 1)``."""
        auto = "auto: " if self.mode == "auto" else ""
        return f"{self.topic} ({self.transport}, {auto}{policy_name(self.policy)}, depth {self._depth})"

    def update(self) -> None:
        """Auto mode: match the topic's current publishers; re-subscribe when the choice changes."""
        if self._event_timer is not None:
            self._node.destroy_timer(self._event_timer)
            self._event_timer = None
        infos = self._node.get_publishers_info_by_topic(self.topic)
        policy, reason = match_publishers([info.qos_profile.reliability for info in infos])
        if policy != self.policy:
            self._subscribe(policy, reason)

    def close(self) -> None:
        """Unsubscribe and stop watching the publishers (the lifecycle node's deactivate)."""
        for timer in (getattr(self, "_recheck_timer", None), self._event_timer):
            if timer is not None:
                self._node.destroy_timer(timer)
        self._event_timer = None
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
            self._subscription = None

    def _on_event(self, _info) -> None:
        # publishers came or went: look again soon, from a timer (not from this subscription's own callback)
        if self._event_timer is None:
            steady = Clock(clock_type=ClockType.STEADY_TIME)
            self._event_timer = self._node.create_timer(EVENT_CHECK_DELAY_S, self.update, clock=steady)

    def _subscribe(self, policy: ReliabilityPolicy, reason: str) -> None:
        previous = self.policy
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)  # first: a frame is never taken twice
            self.changes += 1
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self._depth, reliability=policy)
        events = (SubscriptionEventCallbacks(matched=self._on_event, incompatible_qos=self._on_event)
                  if self.mode == "auto" else None)
        self._subscription = self._node.create_subscription(self.msg_type, self.topic, self._callback, qos,
                                                            event_callbacks=events)
        self.policy = policy
        if self.mode == "auto":
            was = f" (was {policy_name(previous)})" if previous is not None else ""
            self._node.get_logger().info(f"reliability auto: {policy_name(policy)}{was} for {self.topic}: "
                                         f"{reason}")
