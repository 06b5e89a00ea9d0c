"""CS-Flow's training loss and image score."""

from __future__ import annotations

import torch
from torch import Tensor

from vision.flows import negative_log_likelihood


def csflow_loss(z: list[Tensor], logdet: list[Tensor]) -> Tensor:
    """Negative log-likelihood per dimension over all three scales jointly."""
    return negative_log_likelihood(z, logdet)


def csflow_score(z: list[Tensor]) -> Tensor:
    """Mean of ½z² over every dimension of every scale, per image (B,)."""
    flat = torch.cat([s.flatten(1) for s in z], dim=1)
    return 0.5 * (flat**2).mean(dim=1)
