"""Scoring raw cycles with a trained model: normalize, pad or truncate, score, localize."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from robotwatch.artifact import TrainedModel
from robotwatch.localization import Event, find_events, gradient_profile, input_gradient
from robotwatch.preprocessing import pad_batch


def pick_device(device: str = "auto") -> torch.device:
    """CUDA when present (and asked for 'auto'), else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass(frozen=True)
class CycleScore:
    score: float
    anomalous: bool
    n_steps: int
    truncated: bool
    events: tuple[Event, ...] = ()


class Scorer:
    """Scores batches of raw (steps, signals) cycles in the model's signal order.

    Localization costs about two forward passes more, so it runs only where asked.
    """

    def __init__(self, model: TrainedModel, device: str = "auto", smoothing_s: float = 0.05) -> None:
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
        localize: str = "anomalous",
    ) -> list[CycleScore]:
        """Score, flag and (per `localize`: all | anomalous | none) localize each cycle."""
        if localize not in ("all", "anomalous", "none"):
            raise ValueError(f"localize must be all, anomalous or none, not {localize!r}")
        if not raw:
            return []
        _, lengths, truncated = self._batch(raw)
        scores = self.score(raw)
        flagged = scores > self.threshold
        wanted = [i for i in range(len(raw)) if localize == "all" or (localize == "anomalous" and flagged[i])]
        events: dict[int, tuple[Event, ...]] = {}
        if wanted:
            _, grads, profiles = self.gradients([raw[i] for i in wanted])
            for j, i in enumerate(wanted):
                events[i] = tuple(
                    find_events(
                        grads[j],
                        profiles[j],
                        self.model.gradient_baseline,
                        length=int(lengths[i]),
                        sample_rate_hz=self.rate,
                        signals=self.model.card.signals,
                        actions=None if actions is None else actions[i],
                    )
                )
        return [
            CycleScore(
                score=float(scores[i]),
                anomalous=bool(flagged[i]),
                n_steps=len(raw[i]),
                truncated=bool(truncated[i]),
                events=events.get(i, ()),
            )
            for i in range(len(raw))
        ]
