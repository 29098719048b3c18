"""Clean stop of a node process on Ctrl-C and SIGTERM: exit code 0, no traceback, whatever arrives when.

A terminal's Ctrl-C sends SIGINT to the whole process group and ``ros2 launch`` forwards another one to
each child (then SIGTERM if it is still running). rclpy's own handlers turn each SIGINT into a
``KeyboardInterrupt`` wherever the main thread happens to be, e.g. inside ``destroy_node`` during the
shutdown the first one started. Here the signals only set a flag: the spin loop checks it, and the
shutdown that follows runs to its end with every further signal ignored (also while the interpreter
exits, where Python would otherwise restore the default action and die by the signal).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SPIN_PERIOD_S = 0.1  # how often the spin loop looks at the stop flag


class StopRequest:
    """Set by SIGINT or SIGTERM (any number of them); the process decides when and how to stop."""

    def __init__(self) -> None:
        self.requested = False  # a plain flag: the handler must not take locks the main thread may hold
        self.signal_name = ""

    def install(self) -> StopRequest:
        """Route SIGINT and SIGTERM to this request (call from the main thread)."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame) -> None:
        if not self.requested:
            self.signal_name = signal.Signals(signum).name
        self.requested = True

    def set(self) -> None:
        self.requested = True

    def ignore_further(self) -> None:
        """SIG_IGN for SIGINT and SIGTERM from now on (main thread only).

        The flag alone is not enough: interpreter finalization resets Python-level handlers to the
        default action, so a late Ctrl-C would still kill the process (exit code -2); SIG_IGN stays.
        """
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)

    def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, less when a stop is requested; True when one is."""
        deadline = time.monotonic() + seconds
        while not self.requested and time.monotonic() < deadline:
            time.sleep(min(SPIN_PERIOD_S, max(0.0, deadline - time.monotonic())))
        return self.requested


def init(args: list[str] | None = None) -> StopRequest:
    """``rclpy.init`` without rclpy's signal handlers; SIGINT/SIGTERM only request a stop from now on."""
    stop = StopRequest().install()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    return stop


def spin_until_stopped(node: Node, stop: StopRequest, done: Callable[[], bool] = lambda: False,
                       on_stop: Callable[[], None] | None = None) -> None:
    """Spin ``node`` until a stop signal, ``done()`` or ROS shutdown; then ``on_stop``, destroy, shut down."""
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        while not stop.requested and not done() and rclpy.ok(context=node.context):
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except ExternalShutdownException:
        pass
    finally:
        stop.set()  # from here on every signal is ignored: the shutdown below runs to its end
        stop.ignore_further()
        if stop.signal_name:
            node.get_logger().info(f"{stop.signal_name}: shutting down")
        if on_stop is not None:
            on_stop()
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown(context=node.context)
