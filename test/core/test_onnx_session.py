"""Execution providers: the one session factory on the real onnxruntime build of this machine.

The CPU path runs for real; cuda/tensorrt/openvino are used as providers this build lacks (the tests
skip where a machine has them), which must give a clear error, or a logged fall-back when cpu is listed.
"""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort
import pytest
import skimage.data

from fer_ros.cli import infer
from fer_ros.core.config import PipelineConfig
from fer_ros.core.model_registry import MODELS, find_model_file
from fer_ros.core.onnx_session import PROVIDERS, ProviderError, create_session, resolve_providers, session_providers
from fer_ros.core.pipeline import Pipeline

AVAILABLE = set(ort.get_available_providers())
MISSING = [name for name, pid in PROVIDERS.items() if pid not in AVAILABLE]
needs_missing = pytest.mark.skipif(not MISSING, reason="every execution provider of the table is installed here")
LOGGER = "fer_ros.core.onnx_session"


def model_path(name: str = "dlib-gender-v1"):
    return find_model_file(MODELS[name].file)


def test_table_names_real_onnxruntime_providers():
    assert set(PROVIDERS.values()) <= set(ort.get_all_providers())
    assert PROVIDERS["cpu"] == "CPUExecutionProvider"


def test_cpu_session_runs_on_cpu():
    session = create_session(model_path(), providers=("cpu",))
    assert session.get_providers() == ["CPUExecutionProvider"] and session_providers(session) == ("cpu",)
    x = np.zeros([1 if not isinstance(d, int) else d for d in session.get_inputs()[0].shape], np.float32)
    assert session.run(None, {session.get_inputs()[0].name: x})[0].shape[0] == 1


def test_pipeline_puts_every_session_on_the_configured_providers():
    pipe = Pipeline(PipelineConfig(detector="mtcnn", providers=("cpu",)))
    sessions = [s for s, _ in pipe.detector.detector.nets.values()] + [pipe.emotion.session, pipe.gender.session]
    assert len(sessions) == 5 and all(session_providers(s) == ("cpu",) for s in sessions)
    face = pipe.process(np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])).faces[0]
    assert face.emotion == "happy" and face.gender == "female"
    blazeface = Pipeline(PipelineConfig(detector="blazeface", providers=["cpu"]))
    assert session_providers(blazeface.detector.detector.session) == ("cpu",)


@needs_missing
def test_a_missing_provider_alone_is_a_clear_error():
    name = MISSING[0]
    with pytest.raises(ProviderError) as info:
        create_session(model_path(), providers=(name,))
    text = str(info.value)
    assert name in text and "not available" in text and "cpu" in text, text
    if name in ("cuda", "tensorrt"):
        assert "onnxruntime-gpu" in text
    with pytest.raises(ProviderError, match=name):
        Pipeline(PipelineConfig(providers=(name,)))


@needs_missing
def test_a_missing_provider_with_a_fallback_logs_a_warning_once_per_pipeline(caplog):
    name = MISSING[0]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        pipe = Pipeline(PipelineConfig(detector="mtcnn", providers=(name, "cpu")))
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # resolved once for the 5 sessions
    message = warnings[0].getMessage()
    assert name in message and "not available" in message and message.endswith("using cpu"), message
    assert pipe.providers == ("cpu",) and session_providers(pipe.emotion.session) == ("cpu",)
    assert len(pipe.process(np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])).faces) == 1


def test_available_providers_pass_without_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert resolve_providers(["cpu"]) == ("cpu",)
    assert not [r for r in caplog.records if r.name == LOGGER]


@pytest.mark.parametrize("providers,words", [
    (("gpu",), "unknown"), ((), "at least one"), (("cpu", "cpu"), "twice"), ("cpu", "list"),
])
def test_bad_provider_lists_are_rejected(providers, words):
    with pytest.raises(ValueError, match=words):
        PipelineConfig(providers=providers).validate()


@needs_missing
def test_infer_cli_providers(tmp_path, capsys, caplog):
    import cv2

    image = tmp_path / "astro.png"
    cv2.imwrite(str(image), np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1]))
    name = MISSING[0]
    assert infer.main([str(image), "--no-draw", "--quiet", "--providers", name]) == 2
    assert name in capsys.readouterr().err
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert infer.main([str(image), "--no-draw", "--quiet", "--providers", f"{name},cpu"]) == 0
    assert '"emotion": "happy"' in capsys.readouterr().out
    assert any(name in r.getMessage() and "using cpu" in r.getMessage() for r in caplog.records)
    with pytest.raises(SystemExit):
        infer.main([str(image), "--no-draw", "--providers", "gpu"])
    assert "unknown execution provider" in capsys.readouterr().err
