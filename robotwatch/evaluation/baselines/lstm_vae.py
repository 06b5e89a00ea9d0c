"""LSTM-VAE baseline (thesis §8.2.1, after Park et al. 2018): how unlikely each step of the
cycle is under the distribution a variational autoencoder of LSTMs reconstructs for it.

The thesis' settings: the series at 10 Hz, 128 hidden units, a latent of 32, learning rate
1e-3, 90 epochs, and a floor of 0.05 on the standard deviation the decoder outputs. Ours
where the thesis is silent:

- 10 Hz by averaging blocks of round(input rate / 10) steps (the input's own rate below
  10 Hz); `input_rate_hz` is the rate of the cycles given to `fit` and `score`;
- encoder: one LSTM layer over the signals, then per step a linear map to the mean and log
  variance of a 32-dimensional latent; decoder: one LSTM layer over the latent sequence, then
  per step a linear map to the mean and, through softplus plus the floor, the standard
  deviation of every signal;
- loss = Gaussian negative log-likelihood of the input plus the KL divergence of the latent
  from a standard normal, per step; Adam, batch 32;
- score = the mean negative log-likelihood per step of the cycle, decoded from the latent's
  mean (no sampling, so a score is reproducible), padded steps included.

Reproducible for a seed on the CPU (weights, batch order and the latent's noise all come
from it, without touching the caller's global random state).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from robotwatch.evaluation.baselines.base import as_cycles, fitted_shape
from robotwatch.evaluation.baselines.training import fit_network
from rwcore.device import pick_device

MODEL_RATE_HZ = 10.0
STD_FLOOR = 0.05


class _Net(nn.Module):
    def __init__(self, n_signals: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.encoder = nn.LSTM(n_signals, hidden, batch_first=True)
        self.to_latent = nn.Linear(hidden, 2 * latent)
        self.decoder = nn.LSTM(latent, hidden, batch_first=True)
        self.to_signals = nn.Linear(hidden, 2 * n_signals)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.to_latent(self.encoder(x)[0]).chunk(2, dim=-1)
        return mean, log_var

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw = self.to_signals(self.decoder(z)[0]).chunk(2, dim=-1)
        return mean, STD_FLOOR + nn.functional.softplus(raw)


def _nll_per_step(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """-log N(x; mean, std) summed over the signals: (B, T)."""
    return (((x - mean) / std).square() / 2 + std.log() + math.log(2 * math.pi) / 2).sum(-1)


class LSTMVariationalAutoencoder:
    name = "lstm-vae"

    def __init__(
        self,
        epochs: int = 90,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        hidden: int = 128,
        latent: int = 32,
        input_rate_hz: float = MODEL_RATE_HZ,
        seed: int = 0,
        device: str = "auto",
        on_epoch: Callable[[int, float], None] | None = None,
    ) -> None:
        if input_rate_hz <= 0:
            raise ValueError(f"input_rate_hz must be positive, not {input_rate_hz}")
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.hidden = hidden
        self.latent = latent
        self.block = max(1, round(input_rate_hz / MODEL_RATE_HZ))
        self.seed = seed
        self.device = pick_device(device)
        self.on_epoch = on_epoch
        self.net: _Net | None = None
        self.losses: list[float] = []
        self._shape: tuple[int, int] | None = None

    def _at_model_rate(self, x: np.ndarray) -> torch.Tensor:
        """(N, S, T) at the input rate -> (N, T', S) at about 10 Hz."""
        pooled = nn.functional.avg_pool1d(torch.from_numpy(x), self.block, ceil_mode=True)
        return pooled.transpose(1, 2).contiguous()

    def fit(self, train: np.ndarray) -> None:
        train = as_cycles(train, "training cycles")
        self._shape = (train.shape[1], train.shape[2])
        data = self._at_model_rate(train)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = _Net(train.shape[1], self.hidden, self.latent).to(self.device)
        draws = torch.Generator().manual_seed(self.seed)

        def loss_of(batch: torch.Tensor) -> torch.Tensor:
            z_mean, z_log_var = net.encode(batch)
            noise = torch.randn(z_mean.shape, generator=draws).to(self.device)
            x_mean, x_std = net.decode(z_mean + (z_log_var / 2).exp() * noise)
            kl = 0.5 * (z_mean.square() + z_log_var.exp() - 1 - z_log_var).sum(-1)
            return (_nll_per_step(batch, x_mean, x_std) + kl).mean()

        self.losses = fit_network(
            net,
            data,
            loss_of,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            generator=draws,
            device=self.device,
            on_epoch=self.on_epoch,
        )
        self.net = net

    def score(self, x: np.ndarray) -> np.ndarray:
        x = as_cycles(x, "cycles to score", fitted_shape(self._shape, self.name))
        assert self.net is not None
        scores = []
        with torch.inference_mode():
            for batch in self._at_model_rate(x).split(self.batch_size):
                batch = batch.to(self.device)
                x_mean, x_std = self.net.decode(self.net.encode(batch)[0])
                scores.append(_nll_per_step(batch, x_mean, x_std).mean(1).double().cpu())
        return torch.cat(scores).numpy()
