"""PCA baseline: squared reconstruction error of the flattened series from its first principal components.

90 components as in the voraus-AD baselines. A PCA fitted on N cycles has at most N
components (and the data at most N - 1 directions of variance around its mean), so with
fewer than 91 training cycles the count is lowered to N - 1 and a warning says so.
The SVD solver is scikit-learn's choice for the shape (randomized for voraus-AD sizes),
seeded, so that a fit is reproducible.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA

from robotwatch.evaluation.baselines.base import as_cycles, fitted_shape

DEFAULT_COMPONENTS = 90


class PCAReconstruction:
    name = "pca"

    def __init__(
        self, n_components: int = DEFAULT_COMPONENTS, seed: int = 0, batch_cycles: int = 256
    ) -> None:
        if n_components < 1:
            raise ValueError(f"n_components must be at least 1, not {n_components}")
        self.n_components = n_components
        self.seed = seed
        self.batch_cycles = batch_cycles
        self.pca: PCA | None = None
        self._shape: tuple[int, int] | None = None

    def fit(self, train: np.ndarray) -> None:
        train = as_cycles(train, "training cycles")
        if len(train) < 2:
            raise ValueError("the PCA baseline needs at least 2 training cycles")
        flat = train.reshape(len(train), -1)
        n = min(self.n_components, len(train) - 1, flat.shape[1])
        if n < self.n_components:
            warnings.warn(
                f"PCA baseline: {len(train)} training cycles of {flat.shape[1]} values allow only "
                f"{n} components instead of {self.n_components}",
                stacklevel=2,
            )
        self.pca = PCA(n_components=n, random_state=self.seed).fit(flat)
        self._shape = (train.shape[1], train.shape[2])

    def score(self, x: np.ndarray) -> np.ndarray:
        x = as_cycles(x, "cycles to score", fitted_shape(self._shape, self.name))
        assert self.pca is not None
        errors = []
        for start in range(0, len(x), self.batch_cycles):
            flat = x[start : start + self.batch_cycles].reshape(-1, x.shape[1] * x.shape[2])
            restored = self.pca.inverse_transform(self.pca.transform(flat))
            errors.append(np.square(flat.astype(np.float64) - restored).sum(1))
        return np.concatenate(errors)
