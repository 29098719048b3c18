"""A few real training steps for every model and mode on generated images; checkpoints and resume."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="training tests need the 'train' extra (torch)")

from training_fixtures import tiny_config  # noqa: E402

from fer_ros.training.checkpoint import load_model  # noqa: E402
from fer_ros.training.trainer import train  # noqa: E402

SMALL_MODELS = {
    "fer_resnet": {"widths": [8, 8, 16, 16, 32]},
    "mini_xception": {},
    "efficientface": {"widths": [16, 32, 64], "repeats": [1, 1, 1], "stem_width": 8, "last_width": 64},
    "arm": {"input_size": 32, "backbone_kwargs": {"widths": [8, 8, 16, 16, 32]}},
}


@pytest.mark.parametrize("model_name", sorted(SMALL_MODELS))
@pytest.mark.parametrize("mode", ["ce", "scn"])
def test_model_trains_and_checkpoints(tmp_path, tiny_dataset, model_name, mode):
    config = tiny_config(tmp_path / "run", tiny_dataset, mode=mode,
                         model={"name": model_name, "kwargs": SMALL_MODELS[model_name]},
                         scn={"relabel_start_epoch": 0})
    before = load_initial_weights(config)
    metrics = train(config)
    run = tmp_path / "run"
    for name in ("config.json", "last.pt", "best.pt", "metrics.json", "curves.png"):
        assert (run / name).is_file(), name
    entry = metrics["history"][0]
    assert entry["epoch"] == 1 and torch.isfinite(torch.tensor(entry["train_loss"]))
    assert 0.0 <= entry["val_acc"] <= 1.0 and len(entry["val_recall"]) == 7
    model, _, state = load_model(run / "last.pt")
    after = dict(model.state_dict())
    changed = [k for k, v in before.items() if v.dtype.is_floating_point and not torch.equal(v, after[k])]
    assert changed, "no parameter changed during training"
    if mode == "scn":
        assert "relabelled" in entry
        assert model.__class__.__name__ == "SelfCureNetwork"


def load_initial_weights(config):
    from fer_ros.training.checkpoint import build_training_model
    from fer_ros.training.trainer import seed_everything

    seed_everything(config.seed)
    return {k: v.clone() for k, v in build_training_model(config).state_dict().items()}


def test_label_distribution_mode_uses_teacher(tmp_path, tiny_dataset):
    teacher_cfg = tiny_config(tmp_path / "teacher", tiny_dataset)
    train(teacher_cfg)
    student_cfg = tiny_config(tmp_path / "student", tiny_dataset, mode="ld",
                              teacher=str(tmp_path / "teacher" / "best.pt"),
                              model={"name": "mini_xception", "kwargs": {}},
                              data={"input_size": 40})  # the teacher sees the batch resized to its own 32x32
    metrics = train(student_cfg)
    assert metrics["history"][0]["train_loss"] > 0
    with pytest.raises(ValueError, match="teacher"):
        train(tiny_config(tmp_path / "no_teacher", tiny_dataset, mode="ld"))


def test_resume_continues_from_last_checkpoint(tmp_path, tiny_dataset):
    config = tiny_config(tmp_path / "run", tiny_dataset, epochs=2)
    config.epochs = 1
    train(config)
    config.epochs = 2
    metrics = train(config, resume=True)
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(saved["history"]) == 2


def test_init_from_starts_a_new_run_from_trained_weights(tmp_path, tiny_dataset):
    """Fine-tuning: the new run starts from the given checkpoint's weights with a fresh history."""
    source = tiny_config(tmp_path / "source", tiny_dataset, epochs=2)
    train(source)
    source_weights = dict(load_model(tmp_path / "source" / "last.pt")[0].state_dict())
    config = tiny_config(tmp_path / "finetune", tiny_dataset, epochs=1,
                         init_from=str(tmp_path / "source" / "last.pt"), optim={"lr": 0.0, "warmup_epochs": 0})
    metrics = train(config)
    assert [h["epoch"] for h in metrics["history"]] == [1]
    tuned = dict(load_model(tmp_path / "finetune" / "last.pt")[0].state_dict())
    # lr 0 leaves the weights as loaded (only BatchNorm running statistics move)
    for name, value in source_weights.items():
        if "running" not in name and "num_batches" not in name:
            assert torch.equal(value, tuned[name]), name


def test_learns_separable_classes(tmp_path, tiny_dataset):
    """The generated classes are trivially separable: a few epochs must beat chance (1/7) clearly."""
    config = tiny_config(tmp_path / "run", tiny_dataset, epochs=8, batch_size=8,
                         augment={"rotation_deg": 0, "scale": 0, "translate_px": 0, "hflip": False},
                         optim={"lr": 0.05, "label_smoothing": 0.0})
    metrics = train(config)
    assert metrics["best_val_acc"] >= 0.5


def test_early_stopping_stops(tmp_path, tiny_dataset):
    config = tiny_config(tmp_path / "run", tiny_dataset, epochs=6, early_stopping_patience=1,
                         optim={"lr": 0.0, "warmup_epochs": 0})
    metrics = train(config)
    assert len(metrics["history"]) < 6


def test_unknown_config_key_is_rejected(tmp_path):
    from fer_ros.training.config import config_from_dict

    with pytest.raises(ValueError, match="unknown OptimConfig key"):
        config_from_dict({"optim": {"learning_rate": 1.0}})


def test_a_config_with_a_base_changes_only_what_it_sets(tmp_path):
    from fer_ros.training.config import config_to_dict, load_config

    (tmp_path / "base.yaml").write_text("epochs: 5\nseed: 3\ndata: {input_size: 64, colour: gray}\n"
                                        "augment: {box_scale: 0.9, box_log_sd: 0.1}\n"
                                        "sequence: {holdout_subjects: [S1, S2]}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "variant.yaml").write_text("base: ../base.yaml\nepochs: 9\naugment: {box_scale: 0.8}\n"
                                                   "sequence: {holdout_subjects: [S3]}\n")
    variant, base = load_config(tmp_path / "sub" / "variant.yaml"), load_config(tmp_path / "base.yaml")
    assert (variant.epochs, variant.seed) == (9, 3)
    assert (variant.data.input_size, variant.data.colour) == (64, "gray")  # nested keys not set are kept
    assert (variant.augment.box_scale, variant.augment.box_log_sd) == (0.8, 0.1)
    assert variant.sequence.holdout_subjects == ("S3",)  # a list replaces, it does not extend
    expected = config_to_dict(base)
    expected["epochs"], expected["augment"]["box_scale"], expected["sequence"]["holdout_subjects"] = 9, 0.8, ["S3"]
    assert config_to_dict(variant) == expected
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ValueError, match="includes itself"):
        load_config(tmp_path / "loop.yaml")


def test_the_shipped_variant_configs_differ_from_their_base_only_where_they_say():
    from pathlib import Path

    from fer_ros.training.config import config_to_dict, load_config

    configs = Path(__file__).resolve().parents[2] / "fer_ros" / "training" / "configs"
    variant = config_to_dict(load_config(configs / "mini_xception_fer2013_finetune_blazeface.yaml"))
    base = config_to_dict(load_config(configs / "mini_xception_fer2013_finetune.yaml"))
    changed = {f"{section}.{key}" for section in ("augment", "data", "optim", "model")
               for key in base[section] if base[section][key] != variant[section][key]}
    assert changed == {"augment.box_scale", "augment.box_log_sd", "augment.box_shift_sd", "augment.box_centre_x",
                       "augment.box_centre_y"}
    assert variant["epochs"] == base["epochs"] == 8 and variant["init_from"] == base["init_from"]
    assert load_config(configs / "mini_xception_fer2013_finetune_long.yaml").epochs == 16
