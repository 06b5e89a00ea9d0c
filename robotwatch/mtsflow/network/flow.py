"""MTS-Flow (thesis §8.1): 4 x [fixed random signal permutation -> affine coupling]."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from robotwatch.mtsflow.network.config import FlowConfig
from robotwatch.mtsflow.network.coupling import AffineCoupling


class MTSFlow(nn.Module):
    """Maps a z-scored, zero-padded cycle (B, S, T) to a standard normal of the same shape.

    The model is fully convolutional along time, which `nll` exploits: beyond the end of
    the longest cycle in a batch plus the reach of all convolutions, every layer sees the
    zero padding alone and produces one constant per signal. That tail is computed once
    (from a single zero step) and counted (T - W) times instead of being convolved.
    The result is the same number the plain full-length computation gives.
    """

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.config = config
        generator = torch.Generator().manual_seed(config.permutation_seed)
        hidden = config.scale * config.n_signals
        for b in range(config.n_blocks):
            self.register_buffer(f"perm{b}", torch.randperm(config.n_signals, generator=generator))
        self.couplings = nn.ModuleList(
            AffineCoupling(
                config.n_signals, hidden, config.kernel_size, config.dilation, config.clamp, config.clamp_form
            )
            for _ in range(config.n_blocks)
        )

    @property
    def reach(self) -> int:
        """Steps after which the input no longer influences any output (two convs per block)."""
        return 2 * self.config.n_blocks * self.config.halo

    def _perm(self, b: int) -> torch.Tensor:
        return getattr(self, f"perm{b}")

    def blocks(self) -> list[tuple[torch.Tensor, AffineCoupling]]:
        """(permutation, coupling) of each block, in order."""
        return [(self._perm(b), cast(AffineCoupling, c)) for b, c in enumerate(self.couplings)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns z (B, S, T) and log|det J| per time step (B, T)."""
        logdet = x.new_zeros(x.shape[0], x.shape[2])
        for perm, coupling in self.blocks():
            x, ld = coupling(x[:, perm])
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        for perm, coupling in reversed(self.blocks()):
            z = coupling.inverse(z)
            z = z[:, torch.argsort(perm)]
        return z

    def nll(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Per-cycle 0.5*sum(z^2) - log|det J| over the whole padded length: the anomaly score.

        With `lengths` (steps of real data per cycle; x must be zero beyond them) only the
        window the data can influence is convolved.
        """
        n_steps = x.shape[2]
        window = n_steps if lengths is None else min(n_steps, int(lengths.max()) + self.reach + 1)
        z, logdet = self(x[:, :, :window])
        score = 0.5 * z.square().sum((1, 2)) - logdet.sum(1)
        if window < n_steps:
            z_tail, logdet_tail = self(x.new_zeros(1, x.shape[1], 1))
            per_step = 0.5 * z_tail.square().sum() - logdet_tail.sum()
            score = score + (n_steps - window) * per_step
        return score
