"""The contract of a baseline: the methods of thesis Table 8.2 that MTS-Flow is compared with.

Every baseline MUST
- have a short `name` (what `--compare` takes, e.g. "1nn");
- `fit(train)` on normal training cycles only, given as the z-scored cycles zero-padded at
  the end to the longest training cycle, (N, S, T) float32 numpy, exactly MTS-Flow's input;
- `score(x)` cycles of that same (S, T) shape and return one float per cycle, higher =
  more anomalous, never NaN for finite input;
- refuse input it cannot score with a ValueError that names the problem (use `as_cycles`),
  including a (S, T) other than the fitted one and `score` before `fit`;
- be reproducible for a given seed and leave the caller's global random state alone.

Every baseline CAN
- take its settings (seed, epochs, device, ...) as constructor keywords;
- look at the padded series as a whole, as the voraus-AD baselines do, or at its own
  resampling of it (it then says so in its module docstring).

The evaluation protocol feeds a baseline through `BaselineScorer`, so it is scored by the
same loop, and gives the same result rows, as MTS-Flow.
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
        raise ValueError(
            f"{what} has (signals, steps) = {x.shape[1:]}, but the baseline was fitted on {shape}; "
            f"pad or cut cycles to the training length first"
        )
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or inf")
    return x


def fitted_shape(shape: tuple[int, int] | None, name: str) -> tuple[int, int]:
    if shape is None:
        raise RuntimeError(f"the {name} baseline is not fitted; call fit(train) before score(x)")
    return shape
