"""SCN rank regularisation / relabelling and the label-distribution loss on hand-made tensors."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="training tests need the 'train' extra (torch)")

from torch import nn  # noqa: E402

from fer_ros.training.config import DataConfig  # noqa: E402
from fer_ros.training.losses import adapt_to_teacher, soft_cross_entropy, teacher_distribution  # noqa: E402
from fer_ros.training.scn import rank_regularisation, relabel  # noqa: E402


def test_rank_loss_zero_when_groups_far_apart():
    alpha = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    # high group (top 7): mean 0.6; low group: mean(0.2, 0.1, 0.05) = 0.11667; gap 0.483 > 0.15
    assert rank_regularisation(alpha, beta=0.7, margin=0.15).item() == 0.0


def test_rank_loss_hand_computed_margin_violation():
    alpha = torch.tensor([0.45, 0.5, 0.5, 0.45, 0.5, 0.5, 0.5, 0.5, 0.5, 0.45], requires_grad=True)
    loss = rank_regularisation(alpha, beta=0.7, margin=0.15)
    assert loss.item() == pytest.approx(0.15 - (0.5 - 0.45), abs=1e-6)
    loss.backward()
    # d/d alpha: -1/7 for the seven high weights, +1/3 for the three low ones
    expected = torch.tensor([1 / 3, -1 / 7, -1 / 7, 1 / 3, -1 / 7, -1 / 7, -1 / 7, -1 / 7, -1 / 7, 1 / 3])
    assert torch.allclose(alpha.grad, expected, atol=1e-6)


def test_rank_loss_equal_weights_gives_full_margin():
    assert rank_regularisation(torch.full((8,), 0.3), 0.7, 0.15).item() == pytest.approx(0.15)


def test_relabel_only_low_importance_and_only_beyond_margin():
    # 10 samples, beta 0.7 -> the 3 lowest weights (indices 7, 8, 9) form the low group
    alpha = torch.tensor([0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.2, 0.1, 0.15])
    targets = torch.zeros(10, dtype=torch.long)
    probs = torch.tensor([[0.1, 0.9, 0.0]] * 10)  # predicted class 1 beats the given label 0 by 0.8
    probs[8] = torch.tensor([0.35, 0.5, 0.15])  # margin 0.15 < 0.2: keep
    probs[9] = torch.tensor([0.2, 0.7, 0.1])  # margin 0.5 > 0.2: relabel
    logits = torch.log(probs.clamp_min(1e-12))
    new = relabel(logits, targets, alpha, beta=0.7, margin=0.2)
    assert new.tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 1]


def test_soft_cross_entropy_matches_hand_computation():
    logits = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    q = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    z = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    first = -(0.2 * (1 - z) + 0.3 * (2 - z) + 0.5 * (3 - z))
    second = math.log(3.0)
    assert soft_cross_entropy(logits, q).item() == pytest.approx((first + second) / 2, abs=1e-6)


def test_soft_cross_entropy_rejects_shape_mismatch():
    with pytest.raises(ValueError):
        soft_cross_entropy(torch.zeros(2, 3), torch.zeros(2, 4))


def test_teacher_distribution_is_softmax_of_frozen_teacher():
    teacher = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        teacher.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    x = torch.tensor([[1.0, 2.0]])
    dist = teacher_distribution(teacher, x, temperature=2.0)
    expected = torch.softmax(torch.tensor([[0.5, 1.0, 1.5]]), dim=1)
    assert torch.allclose(dist, expected, atol=1e-6)
    assert not dist.requires_grad


def test_adapt_to_teacher_resizes_and_renormalises():
    student = DataConfig(input_size=4, mean=0.5, std=0.25)
    raw = torch.full((2, 1, 4, 4), 0.75)
    raw[:, :, :2, :] = 0.25  # top half dark
    x = (raw - 0.5) / 0.25
    assert adapt_to_teacher(x, student, DataConfig(input_size=4, mean=0.5, std=0.25)) is x
    teacher = DataConfig(input_size=2, mean=0.0, std=1.0)
    out = adapt_to_teacher(x, student, teacher)
    # 4x4 -> 2x2 averages each 2x2 block; teacher normalisation (x - 0) / 1 gives the raw values back
    assert out.shape == (2, 1, 2, 2)
    assert torch.allclose(out[:, :, 0, :], torch.tensor(0.25)) and torch.allclose(out[:, :, 1, :], torch.tensor(0.75))
    with pytest.raises(ValueError, match="colour"):
        adapt_to_teacher(x, student, DataConfig(colour="rgb"))
