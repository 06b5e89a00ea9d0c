"""The training objective every flow here shares: negative log-likelihood per dimension."""

from __future__ import annotations

import torch
from torch import Tensor


def negative_log_likelihood(zs: list[Tensor], logdets: list[Tensor], weights: Tensor | None = None) -> Tensor:
    """Mean over the batch of (½‖z‖² − log|det J|) divided by the number of dimensions.

    `zs` are (B, C, *positions), `logdets` (B, *positions). The constant of the Gaussian is
    dropped. `weights` (B, *positions), only for a single tensor, restricts the likelihood to
    some positions (the AST foreground), normalizing by the weighted number of dimensions.
    """
    if weights is None:
        dims = sum(z[0].numel() for z in zs)
        per_tensor = [
            0.5 * (z**2).flatten(1).sum(1) - ld.reshape(len(ld), -1).sum(1)
            for z, ld in zip(zs, logdets, strict=True)
        ]
        return torch.stack(per_tensor).sum(0).mean() / dims
    (z,), (ld,) = zs, logdets
    per_position = 0.5 * (z**2).sum(1) - ld
    weighted_dims = (weights.sum() * z.shape[1]).clamp_min(1.0)
    return (per_position * weights).sum() / weighted_dims
