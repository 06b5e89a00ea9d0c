"""Training of MTS-Flow as in thesis §8.1 and the official voraus-AD code.

Adam 8e-4, 70 epochs, batch 32, learning rate x0.1 at epochs 11 and 61, loss = NLL per
dimension. (The official code drops the 0.5 in front of sum(z^2) in its training loss,
which fits N(0, 1/2) instead of N(0, 1); we train the true NLL that the score uses.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from robotwatch.model import FlowConfig, MTSFlow


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 70
    batch_size: int = 32
    learning_rate: float = 8e-4
    milestones: tuple[int, ...] = (11, 61)
    gamma: float = 0.1
    seed: int = 177
    device: str = "cpu"


@dataclass
class TrainingResult:
    flow: MTSFlow
    losses: list[float] = field(default_factory=list)


EpochCallback = Callable[[int, float], None]


def train_flow(
    data: torch.Tensor,
    lengths: torch.Tensor,
    config: FlowConfig,
    settings: TrainingSettings,
    on_step: Callable[[], None] | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainingResult:
    """Fit a fresh MTS-Flow to normalized, zero-padded training cycles (N, S, T).

    Reproducible for a given seed on the same device: the weights and the batch order
    both come from the seed.
    """
    if data.shape[0] == 0:
        raise ValueError("no training cycles")
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    flow = MTSFlow(config).to(device).train()
    optimizer = torch.optim.Adam(flow.parameters(), lr=settings.learning_rate)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(settings.milestones), gamma=settings.gamma
    )
    order = torch.Generator().manual_seed(settings.seed)
    n_dims = data.shape[1] * data.shape[2]
    result = TrainingResult(flow=flow)
    for epoch in range(settings.epochs):
        total, n_batches = 0.0, 0
        for idx in torch.randperm(len(data), generator=order).split(settings.batch_size):
            x = data[idx].to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = flow.nll(x, lengths[idx]).mean() / n_dims
            loss.backward()
            optimizer.step()
            total += loss.item()
            n_batches += 1
            if on_step is not None:
                on_step()
        scheduler.step()
        result.losses.append(total / n_batches)
        if on_epoch is not None:
            on_epoch(epoch, result.losses[-1])
    flow.eval()
    return result
