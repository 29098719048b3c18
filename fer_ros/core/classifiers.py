"""Face classifiers on onnxruntime: one small runner class per model kind behind a common interface.

``FaceClassifier.from_model(name_or_path)`` loads a registry model or any ONNX file with the
metadata keys of ``fer_ros.core.model_registry``. ``predict(chips)`` takes BGR (or gray) uint8 face
chips of any size, runs them as ONE batch and returns (N, len(labels)) float32 probabilities, at the
model's calibration temperature (``fer_ros.core.calibration``; ``temperature`` attribute, from the file).
``runs`` and ``faces_classified`` count the model calls and the faces they classified.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from fer_ros.core.calibration import apply_temperature
from fer_ros.core.face_crop import get_policy
from fer_ros.core.model_registry import ModelFileError, ModelSpec, check_spec, resolve_model, temperature_from_metadata
from fer_ros.core.onnx_session import DEFAULT_PROVIDERS, create_session


class FaceClassifier:
    """Common runner: preprocessing from the spec, one batched onnxruntime call, softmax if needed."""

    kind = ""

    def __init__(self, spec: ModelSpec, path: Path, num_threads: int = 1,
                 providers: Sequence[str] = DEFAULT_PROVIDERS):
        self.spec, self.path = spec, path
        check_spec(spec, path)
        try:
            get_policy(spec.face_crop)
        except ValueError as exc:
            raise ModelFileError(f"{path}: face_crop: {exc}") from None
        self.session = create_session(path, num_threads, providers)
        self.input_name, self.output_name = self._check_graph()
        self.runs = 0  # onnxruntime calls made by predict
        self.faces_classified = 0  # faces in those calls
        self.labels = spec.labels
        self.input_size = spec.input_size
        self._mean = np.asarray(spec.mean, np.float32).reshape(1, -1, 1, 1)
        self._inv_std = (1.0 / np.asarray(spec.std, np.float32)).reshape(1, -1, 1, 1)
        self.temperature = spec.temperature if spec.temperature is not None else temperature_from_metadata(
            path, dict(self.session.get_modelmeta().custom_metadata_map))

    def _check_graph(self) -> tuple[str, str]:
        """(input name, output name) after checking the graph against the spec; ModelFileError if not."""
        spec, path = self.spec, self.path
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelFileError(f"{path}: expected one NCHW image input, got "
                                 f"{[(i.name, i.shape) for i in inputs]}")
        _, channels, height, width = inputs[0].shape
        want = 1 if spec.colour == "gray" else 3
        if isinstance(channels, int) and channels != want:
            raise ModelFileError(f"{path}: input has {channels} channels but colour={spec.colour}")
        for side, fixed, meta in (("height", height, spec.input_size[1]), ("width", width, spec.input_size[0])):
            if isinstance(fixed, int) and fixed != meta:
                raise ModelFileError(f"{path}: graph input {side} is {fixed} px but input_size={spec.input_size}")
        outputs = {o.name: o for o in self.session.get_outputs()}
        name = spec.output_name or next(iter(outputs))
        if name not in outputs:
            raise ModelFileError(f"{path}: output_name={name!r} is not an output of the graph "
                                 f"(outputs: {', '.join(outputs)})")
        width_out = outputs[name].shape[-1] if outputs[name].shape else None
        if isinstance(width_out, int) and width_out != len(spec.labels):
            raise ModelFileError(f"{path}: output {name!r} has {width_out} scores but {len(spec.labels)} "
                                 f"labels {spec.labels}")
        return inputs[0].name, name

    @classmethod
    def from_model(cls, name_or_path: str, num_threads: int = 1, providers: Sequence[str] = DEFAULT_PROVIDERS):
        spec, path = resolve_model(name_or_path, cls.kind)
        return cls(spec, path, num_threads, providers)

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
        out = self.session.run([self.output_name], {self.input_name: self.preprocess(chips)})[0].astype(np.float32)
        self.runs += 1
        self.faces_classified += len(chips)
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
