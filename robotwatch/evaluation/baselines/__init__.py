"""The baselines of thesis §8.2 behind one interface: fit(train), score(x); higher = more anomalous."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from robotwatch.evaluation.baselines.base import Baseline
from robotwatch.evaluation.baselines.cae import ConvAutoencoder
from robotwatch.evaluation.baselines.hmm import HiddenMarkovModel
from robotwatch.evaluation.baselines.lstm_vae import LSTMVariationalAutoencoder
from robotwatch.evaluation.baselines.nn import NearestNeighbor
from robotwatch.evaluation.baselines.pca import PCAReconstruction

BASELINES: dict[str, Callable[..., Baseline]] = {
    NearestNeighbor.name: NearestNeighbor,
    PCAReconstruction.name: PCAReconstruction,
    ConvAutoencoder.name: ConvAutoencoder,
    HiddenMarkovModel.name: HiddenMarkovModel,
    LSTMVariationalAutoencoder.name: LSTMVariationalAutoencoder,
}


def get_baseline(name: str, **options: Any) -> Baseline:
    """A fresh baseline by name (1nn, pca, cae, hmm, lstm-vae); `options` go to its constructor
    (e.g. seed, epochs)."""
    try:
        cls = BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}") from None
    return cls(**options)


__all__ = [
    "BASELINES",
    "Baseline",
    "ConvAutoencoder",
    "HiddenMarkovModel",
    "LSTMVariationalAutoencoder",
    "NearestNeighbor",
    "PCAReconstruction",
    "get_baseline",
]
