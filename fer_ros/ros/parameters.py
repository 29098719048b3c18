"""Every parameter of the perception node, declared in one place with its description and range.

Pipeline parameters carry the names of ``PipelineConfig`` fields and tracker parameters map onto
``TrackerConfig``; their defaults come from those dataclasses (defined once, in the core).
``config/perception.yaml`` lists the same values with a comment each (a test keeps them in sync).
The table and ``values_from_params_file`` import no ROS (rcl_interfaces only inside ``descriptor``), so
``fer-ros-infer`` on bags takes the node's parameters and params files without a ROS install.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fer_ros.core.config import DETECTORS, PipelineConfig
from fer_ros.core.face_crop import CROP_POLICIES
from fer_ros.core.image_convert import DEFAULT_MAX_PIXELS
from fer_ros.core.onnx_session import PROVIDERS
from fer_ros.core.temporal import DEFAULT_TEMPORAL_WINDOW, TemporalTracker
from fer_ros.core.temporal import temporal_tracker as _temporal_tracker
from fer_ros.core.tracking import SMOOTHING_MODES, TrackerConfig

if TYPE_CHECKING:
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.node import Node

# accepted values of the image input parameters (fer_ros/ros/image_input.py implements them); defined here,
# not there, so that this table imports no ROS
RELIABILITIES: tuple[str, ...] = ("auto", "best_effort", "reliable")
TRANSPORTS: tuple[str, ...] = ("raw", "compressed")
IMAGE_CONVERTERS: tuple[str, ...] = ("auto", "cv_bridge", "builtin")  # fer_ros/ros/image_converter.py

_PIPELINE_DEFAULTS = PipelineConfig()
_TRACKER_DEFAULTS = TrackerConfig()


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: name, default, meaning and what values it accepts."""

    name: str
    default: bool | int | float | str | list[str]  # a list: a string-array parameter (each item in choices)
    description: str
    group: str  # "pipeline" (PipelineConfig field), "tracker" (TrackerConfig field), "temporal" or "node"
    field: str = ""  # dataclass field for the pipeline/tracker groups; defaults to name
    low: float | None = None  # inclusive range for numbers
    high: float | None = None
    step: float = 0.0  # integer ranges: 1 (0 means any value in range for floats)
    choices: tuple[str, ...] = ()  # allowed strings
    read_only: bool = False  # fixed at start (topics, QoS)
    document_choices: bool = True  # False where the choices come from a core registry that may grow

    @property
    def target_field(self) -> str:
        return self.field or self.name


def _pipe(name: str, description: str, **kw: Any) -> ParamSpec:
    default = getattr(_PIPELINE_DEFAULTS, name)
    return ParamSpec(name, list(default) if isinstance(default, tuple) else default, description, "pipeline", **kw)


def _track(name: str, field: str, description: str, **kw: Any) -> ParamSpec:
    return ParamSpec(name, getattr(_TRACKER_DEFAULTS, field), description, "tracker", field=field, **kw)


PARAMETERS: tuple[ParamSpec, ...] = (
    # --- input and QoS (fixed at start) ---
    ParamSpec("image_topic", "camera/image_raw", "sensor_msgs/Image topic to process (relative names follow "
              "the node namespace)", "node", read_only=True),
    ParamSpec("transport", "raw", "image_transport to subscribe to, exactly one: raw = sensor_msgs/Image on "
              "image_topic, compressed = sensor_msgs/CompressedImage (jpeg/png) on <image_topic>/compressed",
              "node", choices=TRANSPORTS, read_only=True),
    ParamSpec("reliability", "auto", "QoS reliability of the image subscription; auto matches the topic's "
              "publishers as rosbag2 does (reliable if all are reliable, else best effort), re-checked when "
              "publishers come and go", "node", choices=RELIABILITIES, read_only=True),
    ParamSpec("qos_depth", 1, "QoS history depth of the image subscription", "node", low=1, high=100, step=1,
              read_only=True),
    ParamSpec("image_converter", "auto", "sensor_msgs/Image to BGR: builtin (numpy/OpenCV, faster), cv_bridge, or "
              "auto = builtin for the encodings it covers and cv_bridge (where installed) for the others", "node",
              choices=IMAGE_CONVERTERS, read_only=True),
    # --- detector and models (changing one rebuilds the pipeline before the next frame) ---
    _pipe("detector", "face detector: blazeface = MediaPipe BlazeFace short range, blazeface-full = its full-range "
          "model (yunet needs detector_model)", choices=DETECTORS),
    _pipe("detector_model", "path of a YuNet .onnx file, needed by detector yunet (e.g. OpenCV Zoo "
          "face_detection_yunet_2023mar.onnx)"),
    _pipe("detection_scale", "detect on the frame resized by this factor (1.0 = full resolution); boxes are "
          "mapped back", low=0.05, high=1.0),
    _pipe("min_face_size", "smallest face to report, in full-resolution pixels", low=1, high=4096, step=1),
    _pipe("detection_threshold", "minimum detector confidence (mtcnn, blazeface, yunet; haar has no score)",
          low=0.0, high=1.0),
    _pipe("max_faces", "at most this many faces per frame (highest score, then largest)",
          low=1, high=256, step=1),
    _pipe("detect_every", "full face detection on every N-th processed frame; in between, the previous faces "
          "are only re-found near their boxes (much faster; a new face waits up to N-1 frames). 1 = always",
          low=1, high=1000, step=1),
    _pipe("emotion_model", "emotion model: registry name or .onnx path"),
    _pipe("gender_model", "gender model: registry name or .onnx path; empty disables gender"),
    _pipe("emotion_crop", "crop policy for the emotion model (a name from CROP_POLICIES in "
          "fer_ros/core/face_crop.py); empty = the model's own", choices=("", *CROP_POLICIES),
          document_choices=False),
    _pipe("gender_crop", "crop policy for the gender model (a name from CROP_POLICIES in "
          "fer_ros/core/face_crop.py); empty = the model's own", choices=("", *CROP_POLICIES),
          document_choices=False),
    _pipe("num_threads", "onnxruntime intra-op threads per model", low=1, high=64, step=1),
    _pipe("providers", "onnxruntime execution providers in order of preference, e.g. [cuda, cpu]; a provider "
          "missing from the installed onnxruntime build is an error, or a logged warning when a later one is "
          "used instead (cuda and tensorrt need onnxruntime-gpu, openvino onnxruntime-openvino)",
          choices=tuple(PROVIDERS)),
    # --- tracking and smoothing ---
    _track("tracking", "enabled", "assign stable track ids to faces across frames"),
    _track("track_iou_threshold", "iou_threshold", "a face joins a track when its box overlaps the track's "
           "predicted box at least this much (and at all: 0 = any overlap)", low=0.0, high=1.0),
    _track("track_max_center_shift", "max_center_shift", "...or when its centre (landmarks if any) is within "
           "this many box sizes of the prediction", low=0.0, high=10.0),
    _track("track_max_missed", "max_missed", "frames a track survives unseen before its id is retired",
           low=0, high=10000, step=1),
    _track("smoothing", "smoothing", "per-track probability smoothing",
           choices=SMOOTHING_MODES),
    _track("smoothing_alpha", "ema_alpha", "weight of the newest frame for ema smoothing (1.0 = none)",
           low=0.01, high=1.0),
    _track("smoothing_window", "window", "frames averaged for window smoothing", low=1, high=1000, step=1),
    _track("gender_every", "gender_every", "run the gender model for a new track, then every N-th frame the "
           "track is seen (its gender is smoothed and kept in between); 1 = every frame. Without tracking every "
           "face is classified every frame", low=1, high=10000, step=1),
    # --- temporal expression per track ---
    ParamSpec("temporal_model", "", "temporal model over each track's recent frames (registry name, e.g. "
              "mgln-ckplus, or .onnx path); fills the temporal_* fields of FaceEmotion. Empty = off", "temporal"),
    ParamSpec("temporal_window", DEFAULT_TEMPORAL_WINDOW, "frames per track the temporal model looks at; its "
              "fields stay empty until a track has this many", "temporal", low=3, high=1000, step=1),
    # --- outputs and health ---
    ParamSpec("publish_detections", True, "publish vision_msgs/Detection2DArray on faces/detections (when "
              "vision_msgs is installed)", "node"),
    ParamSpec("publish_debug_image", True, "publish an annotated image on faces/debug_image (drawn only "
              "while it has subscribers)", "node"),
    ParamSpec("max_image_pixels", DEFAULT_MAX_PIXELS, "frames with more pixels than this are skipped with a warning",
              "node", low=1, high=400_000_000, step=1),
    ParamSpec("latency_warn_ms", 500.0, "warn when the p95 latency from receipt to publication exceeds this "
              "(milliseconds)", "node", low=1.0, high=600_000.0),
)

BY_NAME: dict[str, ParamSpec] = {p.name: p for p in PARAMETERS}


def _choices_text(spec: ParamSpec) -> str:
    each = "each " if isinstance(spec.default, list) else ""
    return f" ({each}one of: {', '.join(repr(c) for c in spec.choices)})"


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """ROS descriptor (type, description, range, read-only) for one parameter."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

    d = ParameterDescriptor(name=spec.name, read_only=spec.read_only)
    text = spec.description
    if spec.choices:
        text += _choices_text(spec)
    d.description = text
    if isinstance(spec.default, bool):
        d.type = ParameterType.PARAMETER_BOOL
    elif isinstance(spec.default, int):
        d.type = ParameterType.PARAMETER_INTEGER
        if spec.low is not None:
            d.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
    elif isinstance(spec.default, float):
        d.type = ParameterType.PARAMETER_DOUBLE
        if spec.low is not None:
            d.floating_point_range = [
                FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
    elif isinstance(spec.default, list):
        d.type = ParameterType.PARAMETER_STRING_ARRAY
        if spec.choices:
            d.additional_constraints = f"non-empty list of: {', '.join(repr(c) for c in spec.choices)}"
    else:
        d.type = ParameterType.PARAMETER_STRING
        if spec.choices:
            d.additional_constraints = f"one of: {', '.join(repr(c) for c in spec.choices)}"
    return d


def declare_all(node: Node) -> dict[str, Any]:
    """Declare every parameter on the node and return their current values by name.

    Raises ValueError naming the parameter when a start value (e.g. from a params file) is not allowed.
    """
    for spec in PARAMETERS:
        node.declare_parameter(spec.name, spec.default, descriptor(spec))
    values = {spec.name: node.get_parameter(spec.name).value for spec in PARAMETERS}
    for spec in PARAMETERS:
        problem = check_value(spec, values[spec.name])
        if problem:
            raise ValueError(problem)
    return values


def check_value(spec: ParamSpec, value: Any) -> str:
    """Return why ``value`` is not allowed for ``spec`` ("" when it is); ranges are checked by rclpy too."""
    if isinstance(spec.default, list):
        items = list(value) if isinstance(value, (list, tuple)) else None
        if not items or (spec.choices and any(v not in spec.choices for v in items)) or len(set(items)) < len(items):
            return (f"{spec.name}={value!r} must be a non-empty list of distinct names from: "
                    f"{', '.join(repr(c) for c in spec.choices)}")
        return ""
    if spec.choices and value not in spec.choices:
        return f"{spec.name}={value!r} is not one of: {', '.join(repr(c) for c in spec.choices)}"
    if spec.low is not None and isinstance(value, (int, float)) and not spec.low <= value <= spec.high:
        return f"{spec.name}={value!r} is outside [{spec.low}, {spec.high}]"
    return ""


def pipeline_config(values: dict[str, Any]) -> PipelineConfig:
    """PipelineConfig from parameter values (names map 1:1 onto its fields)."""
    fields = {s.target_field: values[s.name] for s in PARAMETERS if s.group == "pipeline"}
    return dataclasses.replace(_PIPELINE_DEFAULTS, **fields)


def tracker_config(values: dict[str, Any]) -> TrackerConfig:
    """TrackerConfig from parameter values; raises ValueError when a combination is invalid."""
    fields = {s.target_field: values[s.name] for s in PARAMETERS if s.group == "tracker"}
    config = dataclasses.replace(_TRACKER_DEFAULTS, **fields)
    config.validate()
    return config


def temporal_tracker(values: dict[str, Any]) -> TemporalTracker | None:
    """The temporal model per track for these values (None when ``temporal_model`` is empty).

    The node and ``fer-ros-infer`` on bags both build it here, on the same threads and providers as the
    pipeline's sessions.
    """
    return _temporal_tracker(values["temporal_model"], values["temporal_window"], values["num_threads"],
                             values["providers"])


def values_from_params_file(path: str | Path, node_name: str = "perception_node") -> dict[str, Any]:
    """Every parameter's value: the defaults, overridden by a ROS 2 params file (``--params-file`` format).

    Sections apply in file order when their key is ``/**``, ``*`` or a (namespaced) name ending in
    ``node_name``, e.g. ``perception_node``, ``/robot1/perception_node``. Raises ValueError naming the
    file and the parameter for a value of the wrong type or outside its range, or a parameter the node
    does not have (ROS's own, e.g. ``use_sim_time``, are ignored).
    """
    try:
        import yaml
    except ImportError:
        raise ValueError("reading a params file needs PyYAML (pip install pyyaml)") from None

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read params file {path}: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError(f"params file {path}: expected '<node name>: ros__parameters: ...' sections")
    values = {spec.name: spec.default for spec in PARAMETERS}
    for key, section in document.items():
        name = str(key).rstrip("/")
        if name not in ("/**", "**", "*", "/*") and name.split("/")[-1] != node_name:
            continue
        given = section.get("ros__parameters") if isinstance(section, dict) else None
        if not isinstance(given, dict):
            raise ValueError(f"params file {path}: section {key!r} has no 'ros__parameters' mapping")
        for pname, value in given.items():
            spec = BY_NAME.get(pname)
            if spec is None:
                if pname in _ROS_OWN_PARAMETERS:
                    continue
                raise ValueError(f"params file {path}: unknown parameter {pname!r} "
                                 f"(the node's parameters: {', '.join(BY_NAME)})")
            value, problem = _typed(spec, value)
            problem = problem or check_value(spec, value)
            if problem:
                raise ValueError(f"params file {path}: {problem}")
            values[pname] = value
    return values


_ROS_OWN_PARAMETERS = ("use_sim_time", "qos_overrides", "start_type_description_service")


def _typed(spec: ParamSpec, value: Any) -> tuple[Any, str]:
    """``value`` in the type of ``spec``'s default (an integer is a valid double), or why it is not."""
    want = type(spec.default)
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value), ""
    if type(value) is not want:
        return value, f"{spec.name}={value!r} must be {want.__name__}, got {type(value).__name__}"
    return value, ""


_YAML_SECTIONS = {
    "image_topic": "input and QoS",
    "detector": "detector and models (a change rebuilds the pipeline before the next frame)",
    "tracking": "tracking and smoothing",
    "temporal_model": "temporal expression per track (needs tracking; uses the detector's landmarks)",
    "publish_detections": "outputs and health",
}
_YAML_HEAD = """\
# Parameters of the fer_ros perception node, each with its default and meaning.
# Generated from fer_ros/ros/parameters.py (python -m fer_ros.ros.parameters > config/perception.yaml);
# a test keeps the two in sync. Copy it and pass your copy with
#   ros2 launch fer_ros perception.launch.py params_file:=/path/to/perception.yaml
#   ros2 run fer_ros perception_node --ros-args --params-file /path/to/perception.yaml
# Parameters marked [fixed at start] cannot change at run time; all others can
# (ros2 param set /perception_node NAME VALUE), and a bad value is rejected with its reason.
/**:
  ros__parameters:"""


def _yaml_value(value: bool | int | float | str | list[str]) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_yaml() -> str:
    """config/perception.yaml: every parameter with its default and a comment (description and range)."""
    import textwrap

    lines = [_YAML_HEAD]
    for spec in PARAMETERS:
        if spec.name in _YAML_SECTIONS:
            lines += ["", f"    # --- {_YAML_SECTIONS[spec.name]} ---"]
        text = spec.description
        if spec.choices and spec.document_choices:
            text += _choices_text(spec)
        if spec.low is not None:
            number = int if isinstance(spec.default, int) else float
            text += f"; range [{number(spec.low)}, {number(spec.high)}]"
        if spec.read_only:
            text += " [fixed at start]"
        lines += ["    # " + line for line in textwrap.wrap(text, 100)]
        lines.append(f"    {spec.name}: {_yaml_value(spec.default)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_yaml(), end="")
