"""Loss functions: soft-target cross-entropy used by label distribution training.

Label distribution training follows Zhao, Liu & Wang, "Robust Lightweight Facial Expression
Recognition Network with Label Distribution Training", AAAI 2021: a frozen teacher network (the
label distribution generator, LDG) turns each training image into a distribution over the classes
(softmax of its logits), and the student is trained with cross-entropy against that distribution
instead of the one-hot label. The teacher may have its own input size and normalisation: the student's
batch is brought to them (``adapt_to_teacher``), so e.g. a 40x40 teacher can supervise an 80x80 student.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fer_ros.training.config import DataConfig


def soft_cross_entropy(logits: torch.Tensor, target_dist: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum_c q_c log softmax(logits)_c``."""
    if logits.shape != target_dist.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(target_dist.shape)} differ")
    return -(target_dist * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


@torch.no_grad()
def teacher_distribution(teacher: torch.nn.Module, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Label distribution produced by a frozen teacher: softmax(logits / T)."""
    teacher.eval()
    return F.softmax(teacher(x) / temperature, dim=1)


def check_teacher_colour(student: DataConfig, teacher: DataConfig) -> None:
    if student.colour != teacher.colour:
        raise ValueError(f"teacher sees {teacher.colour!r} images but the student {student.colour!r}; use a teacher "
                         "trained on the same colour")


def adapt_to_teacher(x: torch.Tensor, student: DataConfig, teacher: DataConfig) -> torch.Tensor:
    """The student's normalised batch as the teacher's input: same images at the teacher's size and normalisation."""
    check_teacher_colour(student, teacher)
    same_size = student.input_size == teacher.input_size
    if same_size and (student.mean, student.std) == (teacher.mean, teacher.std):
        return x
    raw = x * student.std + student.mean
    if not same_size:
        size = (teacher.input_size, teacher.input_size)
        raw = (F.interpolate(raw, size=size, mode="area") if teacher.input_size < student.input_size
               else F.interpolate(raw, size=size, mode="bilinear", align_corners=False))
    return (raw - teacher.mean) / teacher.std
