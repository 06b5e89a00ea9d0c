"""AST's two training losses: the teacher's likelihood and the student's regression."""

from __future__ import annotations

from torch import Tensor

from vision.flows import negative_log_likelihood


def teacher_loss(z: Tensor, logdet: Tensor, foreground: Tensor) -> Tensor:
    """Negative log-likelihood per dimension of the teacher, over foreground positions only."""
    return negative_log_likelihood([z], [logdet], weights=foreground)


def student_loss(student_out: Tensor, teacher_out: Tensor, foreground: Tensor) -> Tensor:
    """Mean squared distance to the teacher's output over the foreground positions."""
    distance = ((student_out - teacher_out) ** 2).mean(dim=1)
    return (distance * foreground).sum() / foreground.sum().clamp_min(1.0)
