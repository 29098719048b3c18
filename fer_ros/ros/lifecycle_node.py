"""The managed (lifecycle) variant of the perception node, on rclpy's lifecycle support.

Same parameters, topics and processing as ``perception_node`` (it is that node, with its start-up split
into the lifecycle transitions):

- constructed (``unconfigured``): parameters declared and range-checked, nothing loaded;
- ``configure``: loads and checks the detector and models from the current parameters and creates the
  publishers; a bad model fails the transition with the reason in the log (the node stays
  ``unconfigured``: fix the parameter, e.g. ``ros2 param set``, and configure again);
- ``activate``: subscribes to the camera and starts the worker: frames are processed and answered;
- ``deactivate``: unsubscribes and stops the worker; the frame being processed is finished and answered,
  a waiting frame is dropped (nothing stays queued for the next activation);
- ``cleanup``: destroys the publishers and releases the pipeline (its onnxruntime sessions);
- ``shutdown`` (from any state): all of the above, then the process exits with status 0.

    ros2 run fer_ros perception_lifecycle_node --ros-args --params-file perception.yaml
    ros2 lifecycle set /perception_node configure   # then: activate, deactivate, cleanup, shutdown
"""

from __future__ import annotations

import gc
import time
from typing import Any

from rclpy.lifecycle import LifecycleNodeMixin, LifecycleState, TransitionCallbackReturn

from fer_ros.ros import perception_node
from fer_ros.ros.perception_node import PerceptionNode

EXIT_DELAY_S = 0.5  # after the shutdown transition: time to send its service response before exiting


class LifecyclePerceptionNode(LifecycleNodeMixin, PerceptionNode):
    """``PerceptionNode`` whose models, publishers and subscriptions follow the lifecycle state."""

    def __init__(self, **kwargs: Any) -> None:
        PerceptionNode.__init__(self, start=False, **kwargs)  # rclpy Node + parameters only
        LifecycleNodeMixin.__init__(self)
        self._outputs_open = False
        self._input = None
        self._exit_at: float | None = None  # set by the shutdown transition
        self.get_logger().info(f"unconfigured, waiting for configure ({self.get_fully_qualified_name()}"
                               "/change_state, e.g. ros2 lifecycle set)")

    # --- transitions (executor thread; the service answers when they return) ---
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.load_models()
        except Exception as exc:  # noqa: BLE001 - any model or detector problem fails the transition
            self.get_logger().error(f"configure failed, models not loaded: {type(exc).__name__}: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.open_outputs()
        self._health_timer.cancel()  # /diagnostics only while active: an inactive node is silent
        self._outputs_open = True
        v = self._values
        self.get_logger().info(f"configured: detector {v['detector']}, emotion model {v['emotion_model']}, "
                               f"gender model {v['gender_model'] or '(off)'}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._slot.reopen()
        self.open_inputs()
        self._health_timer.reset()
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._close_inputs()
        self._health_timer.cancel()
        self.get_logger().info("deactivated: not subscribed, no frame queued")
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.get_logger().info("cleaned up: publishers destroyed, models released")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._close_inputs()
        self._release()
        self.get_logger().info(f"shut down from {state.label}: exiting")
        self._exit_at = time.monotonic() + EXIT_DELAY_S
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error while {state.label}: releasing everything, back to unconfigured")
        self._close_inputs()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _on_set_parameters(self, params):
        """As the node's; while unconfigured a change is only validated, nothing stays loaded."""
        result = super()._on_set_parameters(params)
        if self._pipeline is None:  # configure loads from the accepted values
            with self._pending_lock:
                self._drop_pending()
        return result

    # --- helpers ---
    def _close_inputs(self) -> None:
        """Unsubscribe, then stop the worker (it finishes the frame in hand) and drop a waiting frame."""
        if self._input is not None:
            self._input.close()
            self._input = None
        self.stop_worker()

    def _release(self) -> None:
        """Destroy the publishers and the health timer, and let go of the pipeline's onnxruntime sessions."""
        if self._outputs_open:
            for publisher in (self._emotion_pub, self._debug_pub, self._diag_pub, self._detections_pub):
                if publisher is not None:
                    self.destroy_publisher(publisher)
            self.destroy_timer(self._health_timer)
            self._outputs_open = False
        with self._pending_lock:
            self._pipeline = self._tracker = self._temporal = None
            self._drop_pending()
        gc.collect()

    def finished(self) -> bool:
        """True shortly after the shutdown transition (its service response has been sent by then)."""
        return self._exit_at is not None and time.monotonic() >= self._exit_at


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run fer_ros perception_lifecycle_node``; exit code 0 after shutdown or SIGINT."""
    return perception_node.main(args, LifecyclePerceptionNode)


if __name__ == "__main__":
    raise SystemExit(main())
