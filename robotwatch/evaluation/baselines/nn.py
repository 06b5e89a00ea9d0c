"""1-NN baseline: the L1 distance of a cycle's whole flattened series to its nearest training cycle.

Distances are computed block by block (query chunk × training chunk) with a running
minimum, so memory stays at the training set plus one small block whatever the data
size. torch.cdist with p=1 computes each block without materializing the (a, b, S·T)
difference tensor. Sums run in float32: on a 100 Hz voraus-AD cycle (130 × ~1,000 steps)
that is a relative error of about 1e-5, far below the gap between normal and anomalous.
"""

from __future__ import annotations

import numpy as np
import torch

from robotwatch.evaluation.baselines.base import as_cycles, fitted_shape
from rwcore.device import pick_device


class NearestNeighbor:
    name = "1nn"

    def __init__(self, chunk_cycles: int = 64, device: str = "auto") -> None:
        if chunk_cycles < 1:
            raise ValueError(f"chunk_cycles must be at least 1, not {chunk_cycles}")
        self.chunk_cycles = chunk_cycles
        self.device = pick_device(device)
        self._train: torch.Tensor | None = None
        self._shape: tuple[int, int] | None = None

    def fit(self, train: np.ndarray) -> None:
        train = as_cycles(train, "training cycles")
        self._shape = (train.shape[1], train.shape[2])
        self._train = torch.from_numpy(train.reshape(len(train), -1)).to(self.device)

    def nearest(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """L1 distance (N,) to the nearest training cycle and that cycle's index (N,) in `train`."""
        x = as_cycles(x, "cycles to score", fitted_shape(self._shape, self.name))
        assert self._train is not None
        flat = torch.from_numpy(x.reshape(len(x), -1))
        best = torch.full((len(x),), float("inf"), dtype=torch.float64)
        index = torch.zeros(len(x), dtype=torch.int64)
        with torch.inference_mode():
            for q in range(0, len(x), self.chunk_cycles):
                query = flat[q : q + self.chunk_cycles].to(self.device)
                for t in range(0, len(self._train), self.chunk_cycles):
                    dist = torch.cdist(query, self._train[t : t + self.chunk_cycles], p=1.0)
                    value, arg = dist.min(1)
                    value = value.double().cpu()
                    better = value < best[q : q + len(query)]
                    best[q : q + len(query)][better] = value[better]
                    index[q : q + len(query)][better] = arg.cpu()[better] + t
        return best.numpy(), index.numpy()

    def score(self, x: np.ndarray) -> np.ndarray:
        return self.nearest(x)[0]
