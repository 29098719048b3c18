"""The emotion models trained with fer_ros.training ship in models/, by registry name; one is the default."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from fer_ros.core.config import PipelineConfig
from fer_ros.core.labels import EMOTION_LABELS
from fer_ros.core.model_registry import DEFAULT_EMOTION_MODEL
from fer_ros.core.pipeline import Pipeline


@pytest.mark.parametrize("name,size", [("fer-ensemble-balanced", 40), ("fer-ensemble-lite", 64),
                                       ("fer-ensemble-ferplus", 40), ("fer-resnet-fer2013", 40),
                                       ("fer-resnet-fer2013-flip", 40)])
def test_pipeline_with_trained_model_by_name_finds_the_smiling_astronaut(name, size):
    pipe = Pipeline(PipelineConfig(emotion_model=name))
    assert pipe.emotion.input_size == (size, size) and tuple(pipe.emotion.labels) == EMOTION_LABELS
    result = pipe.process(np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1]))
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.emotion == "happy" and face.emotion_confidence > 0.5
    assert face.emotion_scores.shape == (7,) and abs(float(face.emotion_scores.sum()) - 1.0) < 1e-4


def test_the_balanced_ensemble_is_the_default():
    assert DEFAULT_EMOTION_MODEL == "fer-ensemble-balanced" and PipelineConfig().emotion_model == DEFAULT_EMOTION_MODEL


def test_the_default_carries_its_calibration_temperature():
    pipe = Pipeline(PipelineConfig())
    assert pipe.emotion.temperature == pytest.approx(1.0172)


def test_the_default_is_mirror_invariant_and_prior_corrected():
    """Flip and prior correction are inside the graph: a mirrored chip gets the same scores."""
    import json

    from fer_ros.core.classifiers import EmotionClassifier
    from fer_ros.core.model_registry import find_model_file, read_onnx_metadata

    clf = EmotionClassifier.from_model(DEFAULT_EMOTION_MODEL)
    chips = [np.random.default_rng(i).integers(0, 255, (40, 40, 3), dtype=np.uint8) for i in range(3)]
    mirrored = [np.ascontiguousarray(c[:, ::-1]) for c in chips]
    assert np.abs(clf.predict(chips) - clf.predict(mirrored)).max() < 1e-5
    provenance = json.loads(read_onnx_metadata(find_model_file("emotion_fer_ensemble_balanced.onnx"))["provenance"])
    assert provenance["flip_tta_in_graph"] and provenance["prior_correction"] == 1.0
    assert provenance["prior"] == [3995, 436, 4097, 7215, 4830, 3171, 4965]  # FER-2013 train, label order
