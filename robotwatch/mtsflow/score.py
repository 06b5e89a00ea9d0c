"""Scoring raw cycles with a trained model: normalize, pad or truncate, score, localize.

`Scorer.score_cycles` is the one way a cycle gets its score, for `evaluate`, `replay` and
`serve` alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import torch

from robotwatch.mtsflow.data import pad_batch
from robotwatch.mtsflow.localize import Event, find_events, gradient_profile, input_gradient
from robotwatch.mtsflow.model_file import TrainedModel
from rwcore.device import pick_device


class Localize(StrEnum):
    """Which cycles get events; localization costs about two forward passes more."""

    FLAGGED = "flagged"  # over the threshold: what a service reports
    ALL = "all"
    LABELLED = "labelled"  # labelled anomalous in the file: what measuring localization needs
    NONE = "none"


@dataclass(frozen=True)
class CycleScore:
    score: float
    flagged: bool  # over the model's threshold
    n_steps: int
    truncated: bool
    events: tuple[Event, ...] = ()
    profile: np.ndarray | None = None  # the smoothed gradient profile (steps,), where localized


class Scorer:
    """Scores batches of raw (steps, signals) cycles in the model's signal order."""

    def __init__(
        self, model: TrainedModel, device: str | torch.device = "auto", smoothing_s: float = 0.05
    ) -> None:
        self.model = model
        self.device = pick_device(device)
        self.flow = model.flow.to(self.device).eval()
        # Scoring never trains: frozen weights let the subnets keep their kernel spectra.
        self.flow.requires_grad_(False)
        self.rate = model.card.sample_rate_hz
        self.sigma_steps = max(smoothing_s * self.rate, 0.5)

    @property
    def threshold(self) -> float:
        return self.model.card.threshold

    def _batch(self, raw: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        normalized = [self.model.normalizer.transform(c) for c in raw]
        x, lengths, truncated = pad_batch(normalized, self.model.card.padded_length)
        return x.to(self.device), lengths, truncated

    def score(self, raw: Sequence[np.ndarray]) -> np.ndarray:
        """Anomaly scores (higher = more anomalous) of the cycles."""
        if not raw:
            return np.empty(0)
        x, lengths, _ = self._batch(raw)
        with torch.inference_mode():
            return self.flow.nll(x, lengths).double().cpu().numpy()

    def gradients(self, raw: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores (B,), input gradients (B, S, T) and smoothed profiles (B, T)."""
        x, lengths, _ = self._batch(raw)
        scores, grad = input_gradient(self.flow, x, lengths)
        grad_np = grad.cpu().numpy()
        return scores.double().cpu().numpy(), grad_np, gradient_profile(grad_np, self.sigma_steps)

    def score_cycles(
        self,
        raw: Sequence[np.ndarray],
        actions: Sequence[np.ndarray | None] | None = None,
        localize: Localize = Localize.FLAGGED,
        labels: Sequence[bool] | None = None,
    ) -> list[CycleScore]:
        """Score and flag each cycle; localize those that `localize` selects (`labels`, the
        file's anomaly labels, are needed for Localize.LABELLED)."""
        localize = Localize(localize)
        if localize is Localize.LABELLED and (labels is None or len(labels) != len(raw)):
            raise ValueError("Localize.LABELLED needs one label per cycle")
        if not raw:
            return []
        _, lengths, truncated = self._batch(raw)
        scores = self.score(raw)
        flagged = scores > self.threshold
        selected = {
            Localize.ALL: [True] * len(raw),
            Localize.FLAGGED: list(flagged),
            Localize.LABELLED: list(labels or ()),
            Localize.NONE: [False] * len(raw),
        }[localize]
        wanted = [i for i, chosen in enumerate(selected) if chosen]
        events: dict[int, tuple[Event, ...]] = {}
        profiles: dict[int, np.ndarray] = {}
        if wanted:
            _, grads, smoothed = self.gradients([raw[i] for i in wanted])
            for j, i in enumerate(wanted):
                n = int(lengths[i])
                profiles[i] = smoothed[j][:n]
                events[i] = tuple(
                    find_events(
                        grads[j],
                        smoothed[j],
                        self.model.gradient_baseline,
                        length=n,
                        sample_rate_hz=self.rate,
                        signals=self.model.card.signals,
                        actions=None if actions is None else actions[i],
                    )
                )
        return [
            CycleScore(
                score=float(scores[i]),
                flagged=bool(flagged[i]),
                n_steps=len(raw[i]),
                truncated=bool(truncated[i]),
                events=events.get(i, ()),
                profile=profiles.get(i),
            )
            for i in range(len(raw))
        ]
