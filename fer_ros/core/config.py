"""PipelineConfig: every knob of the core pipeline, with its default (names match the ROS parameters)."""

from __future__ import annotations

from dataclasses import dataclass

from fer_ros.core.model_registry import DEFAULT_EMOTION_MODEL, DEFAULT_GENDER_MODEL
from fer_ros.core.onnx_session import DEFAULT_PROVIDERS, check_provider_names

# blazeface = MediaPipe BlazeFace short range (128 px input), blazeface-full = full range (192 px)
DETECTORS = ("haar", "mtcnn", "blazeface", "blazeface-full", "yunet")


@dataclass
class PipelineConfig:
    """Configuration of ``fer_ros.core.pipeline.Pipeline``; every field has a default."""

    # one of DETECTORS (yunet needs detector_model); blazeface chosen by measurement (EVALUATION.md, "Choosing
    # the default detector": best recall per ms on the bench frames, detection_dev and tcce_dev)
    detector: str = "blazeface"
    detector_model: str = ""  # path to a YuNet .onnx file (e.g. OpenCV Zoo face_detection_yunet_2023mar.onnx)
    detection_scale: float = 0.5  # detect on the frame resized by this factor (0 < s <= 1), boxes mapped back
    min_face_size: int = 48  # px at full resolution; smaller faces are not searched for (see EVALUATION.md)
    detection_threshold: float = 0.7  # MTCNN O-Net / BlazeFace / YuNet score threshold (Haar has no score)
    max_faces: int = 10  # keep at most this many faces (highest score, then largest)
    # full detection on every N-th frame of a stream; in between, the previous faces are only re-found near
    # their boxes (much cheaper; new faces wait for the next full detection). 1 = every frame is searched.
    # 5 measured on the bench's moving-face stream: recall 0.987 vs 1.000, a new face found within 3 frames
    detect_every: int = 5
    emotion_model: str = DEFAULT_EMOTION_MODEL  # registry name or path to an .onnx file
    gender_model: str = DEFAULT_GENDER_MODEL  # registry name or path; "" disables gender
    emotion_crop: str = ""  # crop policy override (fer_ros.core.face_crop.CROP_POLICIES); "" = model's own
    gender_crop: str = ""  # idem for gender
    num_threads: int = 1  # onnxruntime intra-op threads per session (inter-op is always 1, no spinning)
    # onnxruntime execution providers in order of preference (fer_ros.core.onnx_session.PROVIDERS), e.g.
    # ("cuda", "cpu"); a missing one is an error, or a logged warning when a later one is used instead
    providers: tuple[str, ...] = DEFAULT_PROVIDERS

    def __post_init__(self) -> None:
        if isinstance(self.providers, list):  # e.g. from a ROS string-array parameter or a CLI
            self.providers = tuple(self.providers)

    def validate(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}, got {self.detector!r}")
        if self.detector == "yunet" and not self.detector_model:
            raise ValueError("detector 'yunet' needs detector_model: a path to a YuNet .onnx file "
                             "(download face_detection_yunet_2023mar.onnx from the OpenCV Zoo)")
        if not 0.0 < self.detection_scale <= 1.0:
            raise ValueError(f"detection_scale must be in (0, 1], got {self.detection_scale}")
        if min(self.min_face_size, self.max_faces, self.num_threads, self.detect_every) < 1:
            raise ValueError("min_face_size, max_faces, num_threads and detect_every must be >= 1")
        if isinstance(self.providers, str):
            raise ValueError(f"providers must be a list of names such as ['cuda', 'cpu'], not {self.providers!r}")
        check_provider_names(self.providers)


# how photos are searched when one face per photo is evaluated (fer-ros-eval --mode photos, and training's
# end-to-end dev check, fer_ros.training.product_crops): the product's default detector at full resolution,
# small faces allowed
PHOTO_DETECTION = PipelineConfig(detection_scale=1.0, min_face_size=20, max_faces=100)
