"""Preprocessing as the official voraus-AD loader does it: z-score, then zero-pad the end.

Raw signals are cast to float32 first, because that is what arrives on the wire
(DESIGN §2); offline and streamed cycles therefore see identical numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Normalizer:
    """Per-signal mean and standard deviation of the training time steps (population std,
    as scikit-learn's StandardScaler; a constant signal keeps scale 1)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, cycles: Iterable[np.ndarray]) -> Normalizer:
        """Streaming fit over (steps, signals) arrays, shifted by the first cycle's mean so
        that sums of squares do not cancel (supply voltages sit at 47.6 V with 0.03 V spread)."""
        shift = total = total_sq = None
        count = 0
        for signals in cycles:
            x = np.asarray(signals, dtype=np.float32).astype(np.float64)
            if shift is None:
                shift = x.mean(0)
                total = np.zeros_like(shift)
                total_sq = np.zeros_like(shift)
            d = x - shift
            total += d.sum(0)
            total_sq += np.square(d).sum(0)
            count += len(x)
        if count == 0 or shift is None or total is None or total_sq is None:
            raise ValueError("no training time steps to fit the normalization on")
        mean_d = total / count
        var = np.maximum(total_sq / count - mean_d**2, 0.0)
        std = np.sqrt(var)
        std[std < 1e-12] = 1.0
        return cls(mean=shift + mean_d, std=std)

    def transform(self, signals: np.ndarray) -> np.ndarray:
        """(steps, signals) raw -> (steps, signals) float32 z-scores."""
        x = np.asarray(signals, dtype=np.float32).astype(np.float64)
        return ((x - self.mean) / self.std).astype(np.float32)


def pad_batch(cycles: list[np.ndarray], length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack normalized (steps, signals) cycles into (B, S, length), zero-padded at the end.

    Longer cycles are cut to `length`. Returns the batch, the kept steps per cycle and a
    flag per cycle saying whether it was truncated.
    """
    n_signals = cycles[0].shape[1]
    batch = torch.zeros(len(cycles), n_signals, length)
    lengths = torch.tensor([min(len(c), length) for c in cycles])
    truncated = torch.tensor([len(c) > length for c in cycles])
    for i, c in enumerate(cycles):
        n = int(lengths[i])
        batch[i, :, :n] = torch.from_numpy(np.ascontiguousarray(c[:n].T))
    return batch, lengths, truncated
