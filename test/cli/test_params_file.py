"""The node's params-file format read without ROS (fer-ros-infer --params-file): sections, types, errors."""

from __future__ import annotations

import pytest
from testsupport import REPO

from fer_ros.ros import parameters


def test_shipped_yaml_gives_every_default():
    values = parameters.values_from_params_file(REPO / "config" / "perception.yaml")
    assert values == {spec.name: spec.default for spec in parameters.PARAMETERS}


def test_sections_for_this_node_apply_in_order_and_others_are_ignored(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "/**:\n  ros__parameters:\n    max_faces: 3\n    smoothing: window\n"
        "camera_source:\n  ros__parameters:\n    max_faces: 99\n"          # another node: ignored
        "/robot1/perception_node:\n  ros__parameters:\n    max_faces: 4\n    detection_scale: 1\n")
    values = parameters.values_from_params_file(path)
    assert values["max_faces"] == 4 and values["smoothing"] == "window"
    assert values["detection_scale"] == 1.0 and isinstance(values["detection_scale"], float)
    assert parameters.tracker_config(values).smoothing == "window"
    assert parameters.pipeline_config(values).max_faces == 4


@pytest.mark.parametrize(("body", "message"), [
    ("max_faces: many", "max_faces='many' must be int, got str"),
    ("tracking: 1", "tracking=1 must be bool, got int"),
    ("smoothing: gauss", "smoothing='gauss' is not one of"),
    ("max_faces: 0", "max_faces=0 is outside [1, 256]"),
])
def test_bad_values_name_the_file_and_parameter(tmp_path, body, message):
    path = tmp_path / "p.yaml"
    path.write_text(f"perception_node:\n  ros__parameters:\n    {body}\n")
    with pytest.raises(ValueError, match=r"params file .*p\.yaml") as info:
        parameters.values_from_params_file(path)
    assert message in str(info.value)


def test_a_file_that_is_not_a_params_file_is_an_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("perception_node:\n  max_faces: 3\n")
    with pytest.raises(ValueError, match="has no 'ros__parameters' mapping"):
        parameters.values_from_params_file(path)
    with pytest.raises(ValueError, match="cannot read params file"):
        parameters.values_from_params_file(tmp_path / "missing.yaml")
