"""Face classifiers on onnxruntime: one small runner class per model kind behind a common interface.

``FaceClassifier.from_model(name_or_path)`` loads a registry model or any ONNX file with the
metadata keys of ``fer_ros.core.model_registry``. ``predict(chips)`` takes BGR (or gray) uint8 face
chips of any size, runs them as ONE batch and returns (N, len(labels)) float32 probabilities, at the
model's calibration temperature (``fer_ros.core.calibration``; ``temperature`` attribute, from the file).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_ros.core.calibration import apply_temperature
from fer_ros.core.face_crop import CropPolicy, get_policy
from fer_ros.core.model_registry import ModelFileError, ModelSpec, resolve_model, temperature_from_metadata
from fer_ros.core.onnx_session import create_session


class FaceClassifier:
    """Common runner: preprocessing from the spec, one batched onnxruntime call, softmax if needed."""

    kind = ""

    def __init__(self, spec: ModelSpec, path: Path, num_threads: int = 1):
        self.spec, self.path = spec, path
        self.session = create_session(path, num_threads)
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelFileError(f"{path}: expected one NCHW image input, got "
                                 f"{[(i.name, i.shape) for i in inputs]}")
        self.input_name = inputs[0].name
        channels = 1 if spec.colour == "gray" else 3
        if isinstance(inputs[0].shape[1], int) and inputs[0].shape[1] != channels:
            raise ModelFileError(f"{path}: input has {inputs[0].shape[1]} channels but colour={spec.colour}")
        self.labels = spec.labels
        self.input_size = spec.input_size
        self.crop_policy: CropPolicy = get_policy(spec.face_crop)
        self._mean = np.asarray(spec.mean, np.float32).reshape(1, -1, 1, 1)
        self._inv_std = (1.0 / np.asarray(spec.std, np.float32)).reshape(1, -1, 1, 1)
        self.temperature = spec.temperature if spec.temperature is not None else temperature_from_metadata(
            path, dict(self.session.get_modelmeta().custom_metadata_map))

    @classmethod
    def from_model(cls, name_or_path: str, num_threads: int = 1):
        spec, path = resolve_model(name_or_path, cls.kind)
        return cls(spec, path, num_threads)

    def _convert(self, chip: np.ndarray) -> np.ndarray:
        if chip.ndim == 2:
            chip = chip[:, :, None] if self.spec.colour == "gray" else cv2.cvtColor(chip, cv2.COLOR_GRAY2BGR)
        if (chip.shape[1], chip.shape[0]) != tuple(self.input_size):
            chip = cv2.resize(chip, tuple(self.input_size), interpolation=cv2.INTER_LINEAR)
            if chip.ndim == 2:
                chip = chip[:, :, None]
        if self.spec.colour == "gray" and chip.shape[2] == 3:
            chip = cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY)[:, :, None]
        elif self.spec.colour == "rgb":
            chip = chip[:, :, ::-1]
        return chip

    def preprocess(self, chips: list[np.ndarray]) -> np.ndarray:
        """uint8 chips (BGR or gray, any size) -> normalised NCHW float32 batch."""
        batch = np.stack([self._convert(c) for c in chips]).astype(np.float32)  # N, H, W, C
        batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray((batch - self._mean) * self._inv_std, dtype=np.float32)

    def predict(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, len(self.labels)), np.float32)
        out = self.session.run(None, {self.input_name: self.preprocess(chips)})[0].astype(np.float32)
        out = out.reshape(len(chips), -1)
        if out.shape[1] != len(self.labels):
            raise ModelFileError(f"{self.path}: {out.shape[1]} outputs but {len(self.labels)} labels")
        if self.spec.output == "logits" or self.temperature != 1.0:
            out = apply_temperature(out, self.temperature, logits=self.spec.output == "logits")
        return out


class EmotionClassifier(FaceClassifier):
    """Seven FER-2013 emotions (default: Arriaga's mini-Xception, 64x64 gray)."""

    kind = "emotion"


class GenderClassifier(FaceClassifier):
    """Female / male (default: dlib's Cydral classifier, 32x32 RGB, 5-point aligned chips)."""

    kind = "gender"
