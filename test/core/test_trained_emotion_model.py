"""The emotion models trained with fer_ros.training ship in models/, by registry name; one is the default."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from fer_ros.core.config import PipelineConfig
from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.core.model_registry import DEFAULT_EMOTION_MODEL
from fer_ros.core.pipeline import Pipeline


@pytest.mark.parametrize("name", ["fer-ensemble-ferplus", "fer-resnet-fer2013", "fer-resnet-fer2013-flip"])
def test_pipeline_with_trained_model_by_name_finds_the_smiling_astronaut(name):
    pipe = Pipeline(PipelineConfig(emotion_model=name))
    assert pipe.emotion.input_size == (40, 40) and tuple(pipe.emotion.labels) == EMOTION_LABELS
    result = pipe.process(np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1]))
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.emotion == "happy" and face.emotion_confidence > 0.5
    assert face.emotion_scores.shape == (7,) and abs(float(face.emotion_scores.sum()) - 1.0) < 1e-4


def test_the_ferplus_ensemble_is_the_default():
    assert DEFAULT_EMOTION_MODEL == "fer-ensemble-ferplus" and PipelineConfig().emotion_model == DEFAULT_EMOTION_MODEL


def test_the_default_carries_its_calibration_temperature():
    pipe = Pipeline(PipelineConfig())
    assert pipe.emotion.temperature == pytest.approx(1.1481)
