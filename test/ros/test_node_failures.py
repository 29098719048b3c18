"""Models that fail at run time, over DDS: counted as ``frames_failed`` with a throttled traceback (not as
invalid input); a parameter change is accepted only after one dummy batch ran through the rebuilt models.

The broken models are copies of the shipped gender model (dlib-gender-v1, RGB 32x32):
``fixed_batch.onnx`` takes a batch of exactly one face (an export without a dynamic batch axis: it passes
the one-face dummy batch, and fails on every frame with two faces); ``batch_of_two.onnx`` takes exactly
two (fails the dummy batch); ``two_means.onnx`` has metadata with 2 normalisation means for its 3
channels.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest
from ros_harness import (
    STARTUP_S,
    NodeProcess,
    node_health,
    parameter_client,
    perception_session,
    same_stamp,
    set_params,
    unique_namespace,
    wait_matched,
)

from fer_ros.ros.synthetic_stream import SyntheticFaceStream

DOMAIN_ID = 88


def gender_model_variant(path, mean: tuple[float, ...] | None = None, batch: int | None = None) -> str:
    """A copy of dlib-gender-v1 with full metadata, optionally other means or a fixed batch size."""
    onnx = pytest.importorskip("onnx", reason="onnx is needed to write the broken model files")
    from fer_ros.core.model_registry import resolve_model

    spec, source = resolve_model("dlib-gender-v1", "gender")
    model = onnx.load(str(source))
    metadata = {"labels": ",".join(spec.labels), "input_size": "{},{}".format(*spec.input_size),
                "colour": spec.colour, "normalisation_mean": ",".join(str(m) for m in (mean or spec.mean)),
                "normalisation_std": ",".join(str(s) for s in spec.std), "output": spec.output,
                "face_crop": spec.face_crop}
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, metadata)
    if batch is not None:
        dim = model.graph.input[0].type.tensor_type.shape.dim[0]
        dim.ClearField("dim_param")
        dim.dim_value = batch
    onnx.save(model, str(path))
    return str(path)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from sensor_msgs.msg import Image

    models = tmp_path_factory.mktemp("models")
    variants = {"fixed_batch": gender_model_variant(models / "fixed_batch.onnx", batch=1),
                "batch_of_two": gender_model_variant(models / "batch_of_two.onnx", batch=2),
                "two_means": gender_model_variant(models / "two_means.onnx", mean=(122.8, 117.0))}
    with perception_session(DOMAIN_ID, tmp_path_factory.mktemp("node"),
                            params={"gender_model": variants["fixed_batch"], "reliability": "reliable",
                                    "qos_depth": 5, "detect_every": 1,  # both faces on every frame,
                                    "gender_every": 1}) as s:  # gender for both of them, every frame
        s.update(variants)
        s["publisher"] = s["probe"].publisher(Image, reliable=True, depth=5)
        s["client"] = parameter_client(s)
        wait_matched(s, s["publisher"])
        yield s


def send(s, bgr: np.ndarray, timeout: float = 5.0):
    """Publish one frame (reliable) and return its answer, or None when none came within ``timeout``."""
    msg = s["probe"].image(bgr)
    s["publisher"].publish(msg)
    return s["emotion"].wait_for(lambda m: same_stamp(m.header.stamp, msg.header.stamp), timeout)


@functools.lru_cache(maxsize=1)
def _reference_pipeline():
    from fer_ros.core.config import PipelineConfig
    from fer_ros.core.pipeline import Pipeline

    return Pipeline(PipelineConfig(gender_model="", detect_every=1))


def pipeline_faces(bgr: np.ndarray) -> list:
    """The faces the node's default detector finds (no gender model), to check the test frames themselves."""
    return _reference_pipeline().process(bgr).faces


def health(s, received: int) -> dict[str, str]:
    return node_health(s, key="frames_received", at_least=received)


def test_run_time_model_failure_is_counted_as_failed_with_a_throttled_traceback(setup):
    s = setup
    one, two = SyntheticFaceStream(640, 480, faces=1), SyntheticFaceStream(640, 480, faces=2)
    reply = send(s, one.frame(0), timeout=20.0)
    assert reply is not None and len(reply.faces) == 1 and reply.faces[0].gender in ("female", "male")
    before = health(s, 1)
    sent = []
    for i in range(8):  # two faces: the fixed-batch gender model fails on every one of these frames
        sent.append(s["probe"].image(two.frame(10 * i)))
        assert len(pipeline_faces(two.frame(10 * i))) == 2, "the test frame does not show two faces"
        s["publisher"].publish(sent[-1])
        time.sleep(0.3)  # one at a time: none replaced by the next (keep-latest)
    after = health(s, int(before["frames_received"]) + 8)
    answered = [m for m in s["emotion"].messages() if any(same_stamp(m.header.stamp, f.header.stamp) for f in sent)]
    assert not answered, "a two-face frame was answered"
    assert int(after["frames_failed"]) - int(before["frames_failed"]) == 8, after
    assert after["frames_invalid"] == before["frames_invalid"] == "0", after
    log = s["node"].log()
    failures = [line for line in log.splitlines() if "frame failed (counted in frames_failed)" in line]
    assert failures and all("ERROR" in line for line in failures), log[-3000:]
    assert len(failures) <= 2, f"{len(failures)} failure lines for 8 frames in 2.4 s: not throttled"
    assert "Traceback (most recent call last)" in log, log[-3000:]
    reply = send(s, one.frame(5), timeout=20.0)  # the node still works on frames the model can take
    assert reply is not None and len(reply.faces) == 1


@pytest.mark.parametrize("model", ["batch_of_two", "two_means"])
def test_parameter_change_is_rejected_when_the_new_model_fails_a_dummy_batch(setup, model):
    s = setup
    (result,) = set_params(s, gender_model=s[model])
    assert not result.successful, f"{model}: a model that fails on one face was accepted"
    assert result.reason.startswith("gender_model:"), result.reason
    if model == "batch_of_two":  # loads and passes any metadata check: only running it shows the failure
        assert "dummy batch" in result.reason and "Expected: 2" in result.reason, result.reason
    assert "parameter change rejected" in s["node"].log()
    reply = send(s, SyntheticFaceStream(640, 480).frame(3), timeout=20.0)  # the old, working models
    assert reply is not None and len(reply.faces) == 1 and reply.faces[0].gender in ("female", "male")
    assert set_params(s, gender_model="dlib-gender-v1")[0].successful  # a good model is accepted


def test_node_does_not_start_with_a_model_failing_the_dummy_batch(setup, tmp_path):
    node = NodeProcess("fer_ros.ros.perception_node", DOMAIN_ID, unique_namespace(), tmp_path / "bad.log",
                       params={"gender_model": setup["batch_of_two"]})
    try:
        code = node.wait(STARTUP_S)
    finally:
        node.stop()
    assert code == 1, node.log_tail()
    assert "cannot start" in node.log() and "dummy batch" in node.log(), node.log_tail()
