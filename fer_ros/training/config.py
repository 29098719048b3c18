"""Training configuration: one dataclass tree, loaded from a YAML or JSON file."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_ros.core.labels import EMOTION_LABELS


@dataclass
class DataConfig:
    train_dir: str = "../shared/data/fer2013/train"
    val_dir: str = "../shared/data/fer2013/val"
    labels: tuple[str, ...] = EMOTION_LABELS  # class folder names, in model output order
    input_size: int = 48
    interpolation: str = "linear"  # resize to input_size: "linear" (what the core classifier does) | "area"
    colour: str = "gray"  # "gray" | "rgb" (channel order of the tensors the model sees)
    mean: float = 0.5  # normalisation applied to x/255
    std: float = 0.25
    label_noise: float = 0.0  # fraction of training labels replaced by a different random class
    noise_seed: int = 1234
    train_subset: int = 0  # >0: use only this many (stratified-random) training images
    # FER+ folders (<dir>/label.csv, fer_ros.training.ferplus) are read natively; val is always "majority"
    ferplus_target: str = "majority"  # training target: "majority" | "distribution" | "probability"
    contempt: bool = False  # FER+ contempt as an 8th class (then labels must end with "contempt")
    source_size: int = 0  # >0: keep training images at this size; augmentation crops + resizes to input_size
    face_crop: str = "square"  # the core crop policy the exported model declares (fer_ros.core.face_crop)
    # more dev sets evaluated every epoch: [{name, dir, mode: crops|photos}]; photos = detect (default Haar),
    # crop with face_crop, classify, as ``fer-ros-eval --mode photos`` does
    extra_val: list = field(default_factory=list)
    # more training sets joined to train_dir: [{dir, target}] (target: the FER+ rule for FER+ folders), e.g.
    # FER-2013 with its original labels next to the FER+ votes of the same images (a mixture of both targets)
    extra_train: list = field(default_factory=list)


@dataclass
class AugmentConfig:
    hflip: bool = True
    rotation_deg: float = 10.0
    scale: float = 0.1  # zoom in [1-scale, 1+scale]
    translate_px: float = 4.0  # like random crop with this much padding
    brightness: float = 0.2  # additive, in units of full range
    contrast: float = 0.2  # multiplicative around the image mean
    erase_prob: float = 0.0  # random erasing probability
    # product-matched crops: the face box of a detector on the training image has median side box_scale
    # (fraction of the image side), log-normal size jitter box_log_sd and normal centre jitter box_shift_sd
    # (box sides) around its median centre (box_centre_x, box_centre_y: fractions of the image); box_log_sd > 0
    # replaces the uniform scale / translate_px jitter (clipped at 2 sd)
    box_scale: float = 1.0
    box_log_sd: float = 0.0
    box_shift_sd: float = 0.0
    box_centre_x: float = 0.5
    box_centre_y: float = 0.5
    # image degradations (uint8, as a camera / codec produces them), each with its probability
    blur_prob: float = 0.0  # Gaussian blur, sigma uniform in [0.3, blur_sigma] pixels of the model input
    blur_sigma: float = 1.2
    jpeg_prob: float = 0.0  # JPEG re-encoding, quality uniform in [jpeg_quality, 95]
    jpeg_quality: int = 30
    lowres_prob: float = 0.0  # down-scale to lowres_min..input px and back up (small, far faces)
    lowres_min: int = 20
    gray_prob: float = 0.0  # RGB models: colour -> gray (replicated to 3 channels)


@dataclass
class ModelConfig:
    name: str = "fer_resnet"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    optimizer: str = "sgd"  # "sgd" | "adamw"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    schedule: str = "cosine"  # "cosine" | "constant"
    label_smoothing: float = 0.1


@dataclass
class SCNConfig:
    """Self-Cure Network hyper-parameters (Wang et al. 2020 defaults)."""

    beta: float = 0.7
    margin: float = 0.15  # delta1
    relabel_margin: float = 0.2  # delta2
    relabel_start_epoch: int = 10  # warm-up epochs before relabelling
    rank_weight: float = 1.0
    dropout: float = 0.0


@dataclass
class SequenceConfig:
    """Mode ``mgln``: temporal training on ``<class>/<sequence>/<frames>`` (data.train_dir)."""

    holdout_subjects: tuple[str, ...] = ()  # subjects left out for validation (LOSO folds); () = train on all
    samples_per_sequence: int = 8  # random (onset, middle, peak) triplets per labelled sequence and epoch
    neutral_per_sequence: int = 2  # neutral pseudo-sequences (first frames) per sequence and epoch; 0 = none
    init_emotion_model: str = "fer-resnet-fer2013"  # fer_resnet (registry name, .onnx or .pt) for SSM + GFM
    backbone_lr_scale: float = 0.1  # learning rate factor of the initialised SSM + GFM weights
    detector: str = "mtcnn"  # landmarks for the part crops (cached once per data set)
    cache_dir: str = "~/.cache/fer_ros/detections"
    face_size: int = 40  # px, square face crop of the peak frame
    part_size: tuple[int, int] = (32, 20)  # (width, height) px of each part crop
    window: int = 15  # frames per track the runtime keeps (written to the ONNX metadata)
    jitter: float = 1.0  # scale of the random shifts / scales / rotations of the crops
    # pre-training: train on still face crops (<class>/<image>, e.g. FER-2013) as one-frame pseudo-sequences
    # instead of data.train_dir; fine-tune on the sequences afterwards with init_from = its last.pt
    pretrain_stills: str = ""
    pretrain_limit: int = 0  # >0: at most this many stills (class-stratified)


@dataclass
class TrainConfig:
    run_dir: str = "runs/default"
    mode: str = "ce"  # "ce" | "scn" | "ld" (label distribution from a frozen teacher) | "mgln" (sequences)
    teacher: str = ""  # checkpoint of the teacher for mode "ld"
    ld_temperature: float = 1.0
    init_from: str = ""  # checkpoint (.pt) or exported .onnx whose weights start a new run (fresh optimiser)
    keep_epochs: bool = False  # also save the model of every epoch as epoch_NNN.pt (for selection on several dev sets)
    epochs: int = 30
    batch_size: int = 128
    seed: int = 0
    num_threads: int = 2
    device: str = "auto"  # "auto" (CUDA when present) | "cpu" | "cuda"
    early_stopping_patience: int = 0  # epochs without val improvement; 0 disables
    progress: bool = True
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    scn: SCNConfig = field(default_factory=SCNConfig)
    sequence: SequenceConfig = field(default_factory=SequenceConfig)


def _build(cls: type, values: dict[str, Any]) -> Any:
    """Recursively build a dataclass from a dict, rejecting unknown keys with a clear error."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} key(s): {', '.join(unknown)}; known: {', '.join(known)}")
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ValueError(f"{cls.__name__}.{name} must be a mapping")
            kwargs[name] = _build(type(default), value)
        elif isinstance(default, tuple):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    return _build(TrainConfig, values)


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    def convert(obj: Any) -> Any:
        if isinstance(obj, tuple):
            return list(obj)
        if isinstance(obj, dict):
            return {k: convert(v) for k, v in obj.items()}
        return obj

    return convert(dataclasses.asdict(config))


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``: mappings merge key by key, anything else (lists too) replaces."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _config_values(path: Path, including: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file's mapping with its ``base:`` (a config path relative to it) merged underneath."""
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        values = yaml.safe_load(text) or {}
    else:
        values = json.loads(text)
    if not isinstance(values, dict):
        raise ValueError(f"{path}: top level must be a mapping")
    base = values.pop("base", None)
    if base is None:
        return values
    base_path = (path.parent / str(base)).resolve()
    if base_path in including or base_path == path.resolve():
        raise ValueError(f"{path}: base {base} includes itself")
    return _merged(_config_values(base_path, (*including, path.resolve())), values)


def load_config(path: str | Path) -> TrainConfig:
    """Load a TrainConfig from a ``.yaml``/``.yml`` or ``.json`` file.

    ``base: other.yaml`` (relative to the file) starts from that config and changes only what this file sets.
    """
    return config_from_dict(_config_values(Path(path)))


def save_config(config: TrainConfig, path: str | Path) -> None:
    Path(path).write_text(json.dumps(config_to_dict(config), indent=2) + "\n")
