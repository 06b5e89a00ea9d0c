"""Convolutional autoencoder baseline (thesis §8.2.1): reconstruction error of the whole series.

The thesis names the baseline but not all of its settings; these are ours:

- encoder: three Conv1d layers, kernel 7, stride 2, channels S → 64 → 32 → 16, ReLU
  after each: each halves the time axis, so the 16-channel code is 8× shorter than the
  input (for S = 130 that is ~65× fewer numbers), narrow enough that the network cannot
  learn the identity and must learn the normal cycle's shape;
- decoder: the mirror image with ConvTranspose1d (16 → 32 → 64 → S), ReLU between
  them and a linear output because z-scores are signed;
- the time axis is zero-padded to a multiple of 8 (the same zero padding the cycles
  already carry) and the output cut back, so any length works;
- Adam, learning rate 1e-3, batch 32, 50 epochs, loss = MSE over all signals and steps;
- score = mean squared reconstruction error of the cycle, padded steps included, as every
  baseline here sees the padded series as a whole.

Reproducible for a seed on the CPU (weights and batch order both come from it, without
touching the caller's global random state); on CUDA, cuDNN may still add tiny differences.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np
import torch
from torch import nn

from robotwatch.evaluation.baselines.base import as_cycles, fitted_shape
from robotwatch.evaluation.baselines.training import fit_network
from rwcore.device import pick_device

_CHANNELS = (64, 32, 16)
_KERNEL = 7
_STRIDE = 2


def _autoencoder(n_signals: int) -> nn.Sequential:
    widths = (n_signals, *_CHANNELS)
    layers: list[nn.Module] = []
    for a, b in pairwise(widths):
        layers += [nn.Conv1d(a, b, _KERNEL, stride=_STRIDE, padding=_KERNEL // 2), nn.ReLU()]
    for a, b in pairwise(widths[::-1]):
        # output_padding=1 makes each layer exactly double the length it was given
        layers += [
            nn.ConvTranspose1d(a, b, _KERNEL, stride=_STRIDE, padding=_KERNEL // 2, output_padding=1),
            nn.ReLU(),
        ]
    return nn.Sequential(*layers[:-1])  # linear output: z-scores are signed


class ConvAutoencoder:
    name = "cae"

    def __init__(
        self,
        epochs: int = 50,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        seed: int = 0,
        device: str = "auto",
        on_epoch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed
        self.device = pick_device(device)
        self.on_epoch = on_epoch
        self.net: nn.Sequential | None = None
        self.losses: list[float] = []
        self._shape: tuple[int, int] | None = None

    def _padded(self, x: np.ndarray) -> torch.Tensor:
        factor = _STRIDE ** len(_CHANNELS)
        extra = -x.shape[2] % factor
        return nn.functional.pad(torch.from_numpy(x), (0, extra))

    def fit(self, train: np.ndarray) -> None:
        train = as_cycles(train, "training cycles")
        self._shape = (train.shape[1], train.shape[2])
        data = self._padded(train)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = _autoencoder(train.shape[1]).to(self.device)
        self.losses = fit_network(
            net,
            data,
            lambda batch: nn.functional.mse_loss(net(batch), batch),
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            generator=torch.Generator().manual_seed(self.seed),
            device=self.device,
            on_epoch=self.on_epoch,
        )
        self.net = net

    def score(self, x: np.ndarray) -> np.ndarray:
        x = as_cycles(x, "cycles to score", fitted_shape(self._shape, self.name))
        assert self.net is not None
        data = self._padded(x)
        errors = []
        with torch.inference_mode():
            for batch in data.split(self.batch_size):
                batch = batch.to(self.device)
                restored = self.net(batch)[:, :, : x.shape[2]]
                errors.append((restored - batch[:, :, : x.shape[2]]).square().mean((1, 2)).double().cpu())
        return torch.cat(errors).numpy()
