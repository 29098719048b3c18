"""MGLN: deformable conv, initialisation from the trained emotion model, training mode, LOSO and export."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from testsupport import write_face_sequences  # noqa: E402

from fer_ros.core.model_registry import resolve_model  # noqa: E402
from fer_ros.training.config import config_from_dict  # noqa: E402
from fer_ros.training.models import build_model  # noqa: E402
from fer_ros.training.models.mgln import DeformConv2d, init_from_fer_resnet, mgln_loss  # noqa: E402

TINY_MODEL = {"widths": [8, 8, 16, 16, 32], "part_widths": [8, 16], "lstm_hidden": 8, "deform_hidden": 4}


def test_deformable_conv_with_zero_offsets_is_a_plain_conv():
    torch.manual_seed(0)
    conv = DeformConv2d(5, 6)
    x = torch.randn(2, 5, 7, 9)
    expected = F.conv2d(x, conv.weight, conv.bias, padding=1)
    assert torch.allclose(conv(x), expected, atol=1e-5)
    # a learnt offset of one pixel to the right on every tap = the plain conv of the shifted input
    with torch.no_grad():
        conv.offset.bias.view(9, 2)[:, 0] = 1.0
    shifted = F.pad(x[..., 1:], (0, 1))  # column 0 differs: there the deformable tap still sees x[..., 0]
    expected = F.conv2d(shifted, conv.weight, conv.bias, padding=1)
    assert torch.allclose(conv(x)[..., 1:], expected[..., 1:], atol=1e-5)


def test_gfm_starts_as_the_shipped_emotion_model():
    import onnxruntime as ort

    model = build_model("mgln").eval()
    _, path = resolve_model("fer-resnet-fer2013", "emotion")
    init_from_fer_resnet(model, str(path))
    x = torch.randn(3, 1, 40, 40)
    with torch.no_grad():
        ours = torch.softmax(model.gfm(model.ssm(x)), 1).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = session.run(None, {"input": x.numpy()})[0]
    assert np.abs(ours - reference).max() < 1e-5


def test_multi_task_loss_trains_both_modules_and_fusion():
    model = build_model("mgln", **TINY_MODEL)
    face, parts = torch.randn(4, 1, 40, 40), torch.randn(4, 3, 3, 20, 32)
    loss, fused = mgln_loss(model, face, parts, torch.tensor([0, 3, 5, 6]))
    loss.backward()
    assert torch.allclose(fused.sum(1), torch.ones(4), atol=1e-5)
    for name in ("ssm.0.0.weight", "gfm.head.weight", "pbm.part_end.1.weight", "pbm.lstms.0.weight_ih_l0",
                 "fusion_logit"):
        assert dict(model.named_parameters())[name].grad.abs().sum() > 0, name


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    return write_face_sequences(tmp_path_factory.mktemp("seq"))


def mgln_config(run_dir, data, cache, **sequence):
    return config_from_dict({
        "run_dir": str(run_dir), "mode": "mgln", "epochs": 1, "batch_size": 8, "num_threads": 1, "progress": False,
        "data": {"train_dir": str(data), "val_dir": ""}, "model": {"name": "mgln", "kwargs": TINY_MODEL},
        "optim": {"lr": 0.01}, "sequence": {"samples_per_sequence": 2, "neutral_per_sequence": 1,
                                            "init_emotion_model": "", "cache_dir": str(cache), **sequence}})


def test_training_mode_resumes_and_exports_a_model_the_runtime_loads(sequences, tmp_path):
    from fer_ros.core.temporal import TemporalModel
    from fer_ros.training.checkpoint import load_checkpoint
    from fer_ros.training.export import export_checkpoint
    from fer_ros.training.trainer import train

    config = mgln_config(tmp_path / "run", sequences, tmp_path / "cache", holdout_subjects=["S002"])
    metrics = train(config)
    assert len(metrics["history"]) == 1
    assert sorted(metrics["val_sequences"]) == ["happy/S002_002", "surprise/S002_102"]
    config.epochs = 2
    metrics = train(config, resume=True)
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 2

    result = export_checkpoint(tmp_path / "run" / "last.pt", tmp_path / "mgln.onnx")
    assert result.max_abs_diff < 1e-4
    for key in ("labels", "input_size", "part_size", "window", "frames", "provenance"):
        assert key in result.metadata
    model = TemporalModel.from_model(str(tmp_path / "mgln.onnx"))
    p = model.predict(np.zeros((2, 40, 40), np.uint8), np.zeros((2, 3, 3, 20, 32), np.uint8))
    assert p.shape == (2, 7) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_loso_holds_out_each_subject_and_scores_the_baselines_on_the_same_folds(sequences, tmp_path):
    from fer_ros.training.loso import markdown, run_loso

    result = run_loso(mgln_config(tmp_path / "loso", sequences, tmp_path / "cache"))
    for subject in ("S001", "S002"):
        fold = json.loads((tmp_path / "loso" / f"fold_{subject}" / "metrics.json").read_text())
        assert fold["holdout_subjects"] == [subject] and fold["train_subjects"] == sorted({"S001", "S002"} - {subject})
        assert all(name.split("/")[1].startswith(subject) for name in fold["val_sequences"])
    assert set(result["methods"]) == {"mgln", "mgln_gfm", "mgln_pbm", "mgln_node_selection", "single_frame_peak",
                                         "temporal_average"}
    assert len(result["targets"]) == 4 and (tmp_path / "loso" / "loso.json").is_file()
    table = markdown(result)
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 6 + 1 + 2  # header + 6 methods, confusion header + 2 classes
    for scores in result["methods"].values():
        assert set(scores["present_classes"]["per_subject"]) == {"S001", "S002"}
        assert 0.0 <= scores["all_labels"]["accuracy"] <= scores["present_classes"]["accuracy"] <= 1.0


def test_unknown_holdout_subject_is_an_error(sequences, tmp_path):
    from fer_ros.training.trainer import train

    with pytest.raises(ValueError, match="S999"):
        train(mgln_config(tmp_path / "run", sequences, tmp_path / "cache", holdout_subjects=["S999"]))


def test_pretraining_on_stills_then_fine_tuning_on_sequences(sequences, tiny_dataset, tmp_path):
    from fer_ros.training.checkpoint import load_checkpoint
    from fer_ros.training.trainer import train

    pre = mgln_config(tmp_path / "pre", sequences, tmp_path / "cache", pretrain_stills=str(tiny_dataset[0]),
                      samples_per_sequence=1)
    metrics = train(pre)
    assert len(metrics["val_sequences"]) == 4  # every sequence is validation while training on stills
    pretrained = load_checkpoint(tmp_path / "pre" / "last.pt")["model_state"]
    fine = mgln_config(tmp_path / "fine", sequences, tmp_path / "cache", holdout_subjects=["S001"])
    fine.init_from = str(tmp_path / "pre" / "last.pt")
    fine.optim.lr = 0.0  # no update: the fine-tuned model must start from (and here stay at) the pre-trained one
    train(fine)
    tuned = load_checkpoint(tmp_path / "fine" / "last.pt")["model_state"]
    assert torch.equal(tuned["pbm.part_end.1.weight"], pretrained["pbm.part_end.1.weight"])
