"""The parameter table: one declaration per parameter, descriptors with ranges, YAML in sync, 1:1 mapping."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="rclpy not installed (make setup)")
yaml = pytest.importorskip("yaml")

from rcl_interfaces.msg import ParameterType  # noqa: E402

from fer_ros.core.config import PipelineConfig  # noqa: E402
from fer_ros.core.tracking import TrackerConfig  # noqa: E402
from fer_ros.ros import parameters  # noqa: E402
from fer_ros.ros.parameters import PARAMETERS, check_value, descriptor, render_yaml  # noqa: E402

YAML_PATH = Path(__file__).resolve().parents[2] / "config" / "perception.yaml"


def test_yaml_file_is_the_rendered_table():
    assert YAML_PATH.read_text() == render_yaml(), (
        "config/perception.yaml is out of date: python -m fer_ros.ros.parameters > config/perception.yaml")


def test_yaml_lists_every_parameter_with_its_default():
    values = yaml.safe_load(YAML_PATH.read_text())["/**"]["ros__parameters"]
    assert list(values) == [p.name for p in PARAMETERS]
    for spec in PARAMETERS:
        assert values[spec.name] == spec.default and type(values[spec.name]) is type(spec.default), spec.name
    text = YAML_PATH.read_text().splitlines()
    for spec in PARAMETERS:  # a comment right above every entry
        line = next(i for i, t in enumerate(text) if t.strip().startswith(f"{spec.name}:"))
        assert text[line - 1].strip().startswith("#"), spec.name


def test_pipeline_and_tracker_fields_map_one_to_one():
    pipeline_names = {p.name for p in PARAMETERS if p.group == "pipeline"}
    assert pipeline_names == {f.name for f in dataclasses.fields(PipelineConfig)}
    tracker_fields = {p.target_field for p in PARAMETERS if p.group == "tracker"}
    assert tracker_fields == {f.name for f in dataclasses.fields(TrackerConfig)}
    values = {p.name: p.default for p in PARAMETERS}
    assert parameters.pipeline_config(values) == PipelineConfig()
    assert parameters.tracker_config(values) == TrackerConfig()
    values.update(detection_scale=0.25, track_max_missed=9, smoothing="window", providers=["cuda", "cpu"],
                  gender_every=3)
    config = parameters.pipeline_config(values)
    assert config.detection_scale == 0.25 and config.providers == ("cuda", "cpu")  # ROS lists -> tuple
    tracker = parameters.tracker_config(values)
    assert (tracker.max_missed, tracker.smoothing, tracker.gender_every) == (9, "window", 3)


def test_descriptors_carry_type_description_and_range():
    assert len({p.name for p in PARAMETERS}) == len(PARAMETERS)
    for spec in PARAMETERS:
        d = descriptor(spec)
        assert d.description and d.name == spec.name
        if isinstance(spec.default, bool):
            assert d.type == ParameterType.PARAMETER_BOOL
        elif isinstance(spec.default, int):
            assert d.type == ParameterType.PARAMETER_INTEGER and d.integer_range, spec.name
            assert d.integer_range[0].from_value <= spec.default <= d.integer_range[0].to_value
        elif isinstance(spec.default, float):
            assert d.type == ParameterType.PARAMETER_DOUBLE and d.floating_point_range, spec.name
            assert d.floating_point_range[0].from_value <= spec.default <= d.floating_point_range[0].to_value
        elif isinstance(spec.default, list):
            assert d.type == ParameterType.PARAMETER_STRING_ARRAY, spec.name
            assert spec.default and all(v in spec.choices for v in spec.default)
        else:
            assert d.type == ParameterType.PARAMETER_STRING
            if spec.choices:
                assert spec.default in spec.choices
    assert descriptor(parameters.BY_NAME["reliability"]).read_only
    assert not descriptor(parameters.BY_NAME["detector"]).read_only


@pytest.mark.parametrize("name,value,ok", [
    ("detector", "mtcnn", True), ("detector", "sphinx", False), ("smoothing", "window", True),
    ("smoothing", "median", False), ("detection_scale", 0.01, False), ("detection_scale", 1.0, True),
    ("reliability", "reliable", True), ("reliability", "auto", True), ("reliability", "sometimes", False),
    ("transport", "compressed", True), ("transport", "raw", True), ("transport", "both", False),
    ("providers", ["cuda", "cpu"], True), ("providers", ["openvino"], True), ("providers", ["gpu"], False),
    ("providers", [], False), ("providers", ["cpu", "cpu"], False), ("providers", "cpu", False),
    ("gender_every", 1, True), ("gender_every", 0, False),
])
def test_check_value(name, value, ok):
    problem = check_value(parameters.BY_NAME[name], value)
    assert (problem == "") == ok
    if not ok:
        assert name in problem


def test_readme_documents_every_parameter():
    readme = YAML_PATH.parents[1] / "README.md"
    if not readme.exists():
        pytest.skip("no README.md")
    text = readme.read_text()
    section = text.split("## ROS node", 1)[1].split("\n## ", 1)[0]
    missing = [p.name for p in PARAMETERS if f"| `{p.name}` |" not in section]
    assert not missing, f"README ## ROS node lacks parameters {missing}"


def _readme_value(value) -> str:
    """A default as the README table writes it (`true`, `[cpu]`, `""`, `0.5`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return '""' if value == "" else str(value)


def test_readme_table_has_each_parameters_default_and_range():
    readme = YAML_PATH.parents[1] / "README.md"
    if not readme.exists():
        pytest.skip("no README.md")
    section = readme.read_text().split("## ROS node", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`"):
            rows.setdefault(cells[0].strip("`"), cells)
    wrong = []
    for p in PARAMETERS:
        cells = rows.get(p.name)
        if cells is None:
            continue  # test_readme_documents_every_parameter names it
        if cells[1].strip("`") != _readme_value(p.default):
            wrong.append(f"{p.name}: default {cells[1]} in README, {p.default!r} in parameters.py")
        if p.low is not None:
            number = int if isinstance(p.default, int) else float
            if cells[2] != f"{number(p.low)} … {number(p.high)}":
                wrong.append(f"{p.name}: range {cells[2]} in README, [{p.low}, {p.high}] in parameters.py")
        if p.choices and p.document_choices and not isinstance(p.default, list):
            listed = ", ".join(f"`{c}`" for c in p.choices)
            if cells[2] != listed:
                wrong.append(f"{p.name}: choices {cells[2]} in README, {listed} in parameters.py")
    assert not wrong, "README ## ROS node parameter table out of date:\n" + "\n".join(wrong)
