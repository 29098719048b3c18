"""The emotion model trained with fer_ros.training ships in models/ and is selectable by registry name."""

from __future__ import annotations

import numpy as np
import skimage.data

from fer_ros.core.config import PipelineConfig
from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.core.pipeline import Pipeline


def test_pipeline_with_trained_model_by_name_finds_the_smiling_astronaut():
    pipe = Pipeline(PipelineConfig(emotion_model="fer-resnet-fer2013"))
    assert pipe.emotion.input_size == (40, 40) and tuple(pipe.emotion.labels) == EMOTION_LABELS
    result = pipe.process(np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1]))
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.emotion == "happy" and face.emotion_confidence > 0.5
    assert face.emotion_scores.shape == (7,) and abs(float(face.emotion_scores.sum()) - 1.0) < 1e-4
