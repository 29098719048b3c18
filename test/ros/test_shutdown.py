"""Stopping the node processes the way a terminal and ``ros2 launch`` do: every way exits 0, cleanly.

A terminal's Ctrl-C sends SIGINT to the whole process group; launch forwards one more SIGINT to each
child (so a node gets two, ~50 ms apart) and escalates to SIGTERM. Each way must end with exit code 0
and no traceback or error line in the node's output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from ros_harness import REPO, NodeProcess, RosProbe, ros_env, unique_namespace

from fer_ros.msg import FaceEmotionArray

DOMAIN_ID = 86
STARTUP_S = 90.0
STOP_S = 20.0
NODES = {"perception_node": ("fer_ros.ros.perception_node", "listening on"),
         "camera_source": ("fer_ros.ros.camera_source", "publishing"),
         "perception_lifecycle_node": ("fer_ros.ros.lifecycle_node", "waiting for configure")}


def assert_clean_exit(node: NodeProcess, how: str) -> None:
    code = node.wait(STOP_S)
    log = node.log()
    assert code == 0, f"{how}: exit code {code}:\n{node.log_tail()}"
    for bad in ("Traceback", "KeyboardInterrupt", "ERROR", "Exception"):
        assert bad not in log, f"{how}: {bad!r} in the output:\n{node.log_tail()}"
    node.stop()


def send(pids: list[int], *signals_and_pauses) -> None:
    """Send each signal (a negative pid: to that process group) with the given pauses in between."""
    for item in signals_and_pauses:
        if isinstance(item, float):
            time.sleep(item)
            continue
        for pid in pids:
            if pid < 0:
                os.killpg(-pid, item)
            else:
                os.kill(pid, item)


WAYS = {
    "sigint_once": [signal.SIGINT],
    "sigint_twice_50ms": [signal.SIGINT, 0.05, signal.SIGINT],  # what launch does after a Ctrl-C
    "sigint_three_times": [signal.SIGINT, 0.05, signal.SIGINT, 0.2, signal.SIGINT],
    "sigterm": [signal.SIGTERM],
    "sigint_then_sigterm": [signal.SIGINT, 0.05, signal.SIGTERM],  # launch escalating
}


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize("name", list(NODES))
def test_idle_node_stops_cleanly(tmp_path, name: str, way: str):
    module, ready = NODES[name]
    node = NodeProcess(module, DOMAIN_ID, unique_namespace(), tmp_path / f"{name}.log")
    try:
        node.wait_for_log(ready, STARTUP_S)
        send([node.pid], *WAYS[way])
        assert_clean_exit(node, f"{name} {way}")
    finally:
        node.stop()


def test_ctrl_c_in_a_launch_terminal_while_frames_flow(tmp_path):
    """Both nodes in one process group, frames being processed: SIGINT to the group, then to each again."""
    namespace = unique_namespace()
    probe = RosProbe(DOMAIN_ID, namespace)
    camera = node = None
    try:
        emotion, _ = probe.subscribe(FaceEmotionArray, "faces/emotion")
        node = NodeProcess("fer_ros.ros.perception_node", DOMAIN_ID, namespace, tmp_path / "perception_node.log",
                           process_group=0)
        camera = NodeProcess("fer_ros.ros.camera_source", DOMAIN_ID, namespace, tmp_path / "camera_source.log",
                             params={"rate": 10.0}, process_group=node.pid)
        probe.wait_until(lambda: len(emotion.messages()) >= 3, STARTUP_S, "answers to camera frames", node)
        assert os.getpgid(camera.pid) == os.getpgid(node.pid) == node.pid != os.getpgrp()
        send([-node.pid], signal.SIGINT)  # the terminal: the whole group
        send([node.pid, camera.pid], 0.05, signal.SIGINT)  # launch forwards it to each child
        assert_clean_exit(node, "perception_node under launch")
        assert_clean_exit(camera, "camera_source under launch")
    finally:
        for proc in (camera, node):
            if proc is not None:
                proc.stop()
        probe.close()


def test_ctrl_c_stops_the_demo_and_its_nodes_cleanly(tmp_path):
    """``make demo`` and Ctrl-C: the demo, perception_node and camera_source all get SIGINT (one group)."""
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        demo = subprocess.Popen([sys.executable, "-m", "fer_ros.ros.demo", "--seconds", "60", "--out",
                                 str(tmp_path / "debug.png")], env=ros_env(DOMAIN_ID), stdout=log,
                                stderr=subprocess.STDOUT, cwd=str(REPO), start_new_session=True)
        try:
            deadline = time.monotonic() + STARTUP_S
            while "frames answered |" not in log_path.read_text(errors="replace"):
                assert demo.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")
                time.sleep(0.2)
            os.killpg(demo.pid, signal.SIGINT)
            code = demo.wait(STOP_S + 10)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    output = log_path.read_text(errors="replace")
    assert code == 0, output[-3000:]
    assert "exit codes 0, 0" in output, output[-3000:]
    for bad in ("Traceback", "KeyboardInterrupt", "ERROR"):
        assert bad not in output, output[-3000:]
