"""AST's score and map: where the student fails to predict the teacher."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def distance_map(student_out: Tensor, teacher_out: Tensor) -> Tensor:
    """Squared student-teacher distance per position, mean over channels: (B, h, w)."""
    return ((student_out - teacher_out) ** 2).mean(dim=1)


def ast_score(distance: Tensor, foreground: Tensor | None) -> Tensor:
    """The mean distance, or with a foreground mask the maximum over the foreground (thesis §6.3)."""
    if foreground is None:
        return distance.flatten(1).mean(dim=1)
    return (distance * foreground).flatten(1).amax(dim=1)


def ast_map(distance: Tensor, foreground: Tensor | None, image_size: int) -> Tensor:
    """The (masked) distance map bilinearly upsampled to (B, S, S)."""
    if foreground is not None:
        distance = distance * foreground
    return F.interpolate(
        distance[:, None], size=(image_size, image_size), mode="bilinear", align_corners=False
    )[:, 0]
