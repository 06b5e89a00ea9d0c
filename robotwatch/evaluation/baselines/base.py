"""What every baseline is: fit on normal training cycles, score any cycles (higher = more anomalous).

Inputs are what robotwatch.mtsflow.data produces: z-scored cycles zero-padded at the end
to one length, (N, S, T) float32, as a numpy array. Baselines see the padded series as a
whole, as the voraus-AD baselines do; a length that differs from training is an error
rather than silently cut or padded here.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Baseline(Protocol):
    name: str

    def fit(self, train: np.ndarray) -> None: ...

    def score(self, x: np.ndarray) -> np.ndarray: ...


def as_cycles(x: np.ndarray, what: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """`x` as a (N, S, T) float32 array of finite values, or a ValueError naming the problem.

    `shape`, when given, is the (S, T) the baseline was fitted on.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"{what} must be (cycles, signals, steps), got shape {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{what} holds no cycles")
    if shape is not None and x.shape[1:] != shape:
        raise ValueError(f"{what} has (signals, steps) = {x.shape[1:]}, but the baseline was fitted on {shape}; "
                         f"pad or cut cycles to the training length first")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or inf")
    return x


def fitted_shape(shape: tuple[int, int] | None, name: str) -> tuple[int, int]:
    if shape is None:
        raise RuntimeError(f"the {name} baseline is not fitted; call fit(train) before score(x)")
    return shape
