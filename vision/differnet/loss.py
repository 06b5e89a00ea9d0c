"""DifferNet's training loss and image score."""

from __future__ import annotations

from torch import Tensor

from vision.flows import Flow, negative_log_likelihood


def differnet_loss(flow: Flow, features: Tensor) -> Tensor:
    """Negative log-likelihood per dimension of the pooled feature vectors (B, D)."""
    z, logdet = flow([features])
    return negative_log_likelihood(z, logdet)


def differnet_score(z: Tensor) -> Tensor:
    """−log p_Z(z) up to a constant, per dimension: mean of ½z² over the D dimensions (B,)."""
    return 0.5 * (z**2).mean(dim=1)
