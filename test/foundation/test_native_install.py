"""Native install: package.xml vs rosdep (as recorded from ros/rosdistro), runtime requirements, CMake, executables.

What is checked here, without network: every dependency key of package.xml is one that
scripts/check_rosdep_keys.py found in ros/rosdistro (rosdep/base.yaml, rosdep/python.yaml, or a jazzy and
kilted distribution.yaml) at the commit recorded in scripts/rosdep_keys.txt. Re-run that script with
``--rosdistro <checkout> --write`` after adding a key. That ``colcon test`` really runs this suite is checked
by ``make colcon-test`` (scripts/check_colcon_test.sh), not here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

import pytest
from testsupport import REPO

spec = importlib.util.spec_from_file_location("check_rosdep_keys", REPO / "scripts" / "check_rosdep_keys.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def test_every_package_xml_key_was_found_in_rosdistro():
    commit, record = check.read_record()
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    keys = check.package_keys()
    assert {"rclpy", "python3-opencv", "python3-numpy", "python3-onnxruntime-pip"} <= set(keys)
    assert sorted(set(keys) - set(record)) == []
    assert check.main([]) == 0


def test_an_unknown_key_is_reported(tmp_path, capsys):
    xml = (REPO / "package.xml").read_text().replace("python3-onnxruntime-pip", "python3-onnxruntime")
    (tmp_path / "package.xml").write_text(xml)
    assert check.main(["--package-xml", str(tmp_path / "package.xml")]) == 1
    assert "'python3-onnxruntime' is not in rosdep_keys.txt" in capsys.readouterr().err


def requirement_names(name: str) -> set[str]:
    lines = (REPO / "scripts" / name).read_text().splitlines()
    return {re.split(r"[<>=!~ ]", line)[0].lower() for line in lines if line.strip() and line[0] not in "#-"}


def test_pip_keys_and_runtime_requirements_agree():
    _, record = check.read_record()
    runtime = requirement_names("requirements-runtime.txt")
    exec_keys = [k for k, tag in check.package_keys().items() if tag in ("exec_depend", "depend")]
    pip_packages = {p for k in exec_keys if record[k][1].startswith("pip:") for p in record[k][1][4:].split()}
    assert pip_packages == {"onnxruntime"}
    assert pip_packages <= runtime  # the README installs it with pip into the venv
    assert {"numpy", "onnxruntime"} <= runtime
    # no dev tool, and no OpenCV wheel (a ROS install takes python3-opencv from apt) on a robot
    assert not runtime & {"pytest", "ruff", "h5py", "onnx", "matplotlib", "scikit-image", "opencv-python-headless"}
    assert "-r requirements-runtime.txt" in (REPO / "scripts" / "requirements.txt").read_text()


def test_colcon_test_is_wired_to_pytest():
    cmake = (REPO / "CMakeLists.txt").read_text()
    block = cmake[cmake.index("if(BUILD_TESTING)"):]
    assert "find_package(ament_cmake_pytest" in block and "ament_add_pytest_test(" in block
    assert check.package_keys()["ament_cmake_pytest"] == "test_depend"


def test_installed_executables_run_with_the_build_python():
    """ros2 run / ros2 launch start the executables with the python they were built with (a venv's)."""
    prefix = next((Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)
                   if (Path(p) / "lib" / "fer_ros" / "perception_node").exists()), None)
    if prefix is None:
        pytest.skip("no colcon install of fer_ros on AMENT_PREFIX_PATH (run `make build`)")
    for program in ("perception_node", "camera_source"):
        path = prefix / "lib" / "fer_ros" / program
        assert os.access(path, os.X_OK), f"{path} is not executable"
        interpreter = path.read_text().splitlines()[0].removeprefix("#!")
        assert Path(interpreter).is_absolute() and os.access(interpreter, os.X_OK), interpreter
        # that interpreter sees the runtime requirements
        subprocess.run([interpreter, "-c", "import cv2, numpy, onnxruntime"], capture_output=True, check=True)
