"""The training loop the neural baselines share (CAE, LSTM-VAE): Adam over batches in an
order drawn from the baseline's own generator, one mean loss per epoch."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def fit_network(
    net: nn.Module,
    data: torch.Tensor,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    generator: torch.Generator,
    device: torch.device,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train `net` in place on `data` (cycles first) with `loss_of(batch)`; returns the mean
    loss of each epoch. `generator` draws the batch order (and whatever `loss_of` draws from
    it), so a seed gives the same fit, and the caller's global random state is left alone."""
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    losses: list[float] = []
    net.train()
    for epoch in range(epochs):
        total = 0.0
        for idx in torch.randperm(len(data), generator=generator).split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_of(data[idx].to(device))
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / len(data))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    net.eval()
    return losses
