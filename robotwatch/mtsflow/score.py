"""Scoring raw cycles with a trained model: normalize, pad or truncate, score, localize.

`Scorer.score_cycles` is the one way a cycle gets its score, for `evaluate`, `replay` and
`serve` alike. A cycle's score and events are a function of the cycle and the model alone,
bit for bit, whatever else is scored with it (docs/architecture.md §5). Two things make it
so. Every cycle is computed over the whole padded length: skipping the padding beyond the
longest cycle of a batch (the flow allows it) makes the work, and the rounding, depend on
the neighbours. And every call of the flow has one shape, `canonical_batch` cycles (unused
places filled with zero cycles): matrix and convolution kernels choose their blocking by
shape, so a cycle scored alone and in a batch of eight would round differently in the last
bits, and one near the threshold could flip. On the CPU that shape is a single cycle, which
costs nothing when cycles come one at a time, as they do in a service; a GPU needs batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import torch

from robotwatch.mtsflow.data import pad_batch
from robotwatch.mtsflow.localize import Event, find_events, gradient_profile, input_gradient
from robotwatch.mtsflow.model_file import TrainedModel
from robotwatch.mtsflow.recommended_score import Evidence, evidence, local_onset, recommended_score
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


CANONICAL_BATCH = {"cpu": 1, "cuda": 16}  # cycles per call of the flow, by device type


class Scorer:
    """Scores batches of raw (steps, signals) cycles in the model's signal order."""

    def __init__(
        self, model: TrainedModel, device: str | torch.device = "auto", smoothing_s: float = 0.05
    ) -> None:
        self.model = model
        self.device = pick_device(device)
        self.canonical_batch = CANONICAL_BATCH.get(self.device.type, 8)
        self.flow = model.flow.to(self.device).eval()
        # Scoring never trains: frozen weights let the subnets keep their kernel spectra.
        self.flow.requires_grad_(False)
        self.rate = model.card.sample_rate_hz
        self.sigma_steps = max(smoothing_s * self.rate, 0.5)

    @property
    def threshold(self) -> float:
        return self.model.card.threshold

    def _chunks(self, raw: Sequence[np.ndarray]) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """(cycles it holds, batch, steps of each cycle in it) for consecutive chunks of the cycles."""
        card = self.model.card
        size = self.canonical_batch
        filler = np.zeros((1, len(card.signals)), np.float32)
        for start in range(0, len(raw), size):
            part = [self.model.normalizer.transform(c) for c in raw[start : start + size]]
            x, lengths, _ = pad_batch(part + [filler] * (size - len(part)), card.padded_length)
            yield len(part), x.to(self.device), lengths

    def score(self, raw: Sequence[np.ndarray]) -> np.ndarray:
        """Anomaly scores (higher = more anomalous) of the cycles: the NLL of the whole cycle
        (thesis preset) or the recommended score (recommended preset)."""
        if not raw:
            return np.empty(0)
        if self.model.normal_stats is not None:
            return self._recommended_scores(self.evidence(raw))
        scores = [np.empty(0)]
        with torch.inference_mode():
            for n, x, _ in self._chunks(raw):
                # Without lengths every cycle is computed over the whole padded length: the
                # same work, whatever its neighbours.
                scores.append(self.flow.nll(x).double().cpu().numpy()[:n])
        return np.concatenate(scores)

    def evidence(self, raw: Sequence[np.ndarray]) -> Evidence:
        """Each cycle's NLL per step and its latent channels' energy and offset (one pass)."""
        steps, signals = self.model.card.padded_length, len(self.model.card.signals)
        none = np.empty((0, signals))
        parts = [Evidence(np.empty((0, steps)), np.empty(0, np.int64), none, none)]
        with torch.inference_mode():
            for n, x, lengths in self._chunks(raw):
                parts.append(evidence(self.flow, x, lengths)[:n])
        return Evidence.concatenate(parts)

    def _recommended_scores(self, ev: Evidence) -> np.ndarray:
        rule, stats = self.model.card.score_rule, self.model.normal_stats
        assert rule is not None and stats is not None
        return recommended_score(ev, rule, stats, self.rate)

    def gradients(self, raw: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores (B,), input gradients (B, S, T) and smoothed profiles (B, T)."""
        scores, grads = [], []
        for n, x, _ in self._chunks(raw):
            s, g = input_gradient(self.flow, x)
            scores.append(s.double().cpu().numpy()[:n])
            grads.append(g.cpu().numpy()[:n])
        grad = np.concatenate(grads)
        return np.concatenate(scores), grad, gradient_profile(grad, self.sigma_steps)

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
        padded = self.model.card.padded_length
        stats, rule = self.model.normal_stats, self.model.card.score_rule
        ev = self.evidence(raw) if stats is not None else None
        scores = self.score(raw) if ev is None else self._recommended_scores(ev)
        # A score that is not finite is the strongest sign of an anomaly there is.
        flagged = ~np.isfinite(scores) | (scores > self.threshold)
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
                n = min(len(raw[i]), padded)
                profiles[i] = smoothed[j][:n]
                onset = None
                if ev is not None and stats is not None and rule is not None:
                    onset = local_onset(ev.step_nll[i], stats, rule, self.rate, n)
                events[i] = tuple(
                    find_events(
                        grads[j],
                        smoothed[j],
                        self.model.gradient_baseline,
                        length=n,
                        sample_rate_hz=self.rate,
                        signals=self.model.card.signals,
                        actions=None if actions is None else actions[i],
                        step_name=self.model.card.program.name_of,
                        first_step=onset,
                    )
                )
        return [
            CycleScore(
                score=float(scores[i]),
                flagged=bool(flagged[i]),
                n_steps=len(raw[i]),
                truncated=len(raw[i]) > padded,
                events=events.get(i, ()),
                profile=profiles.get(i),
            )
            for i in range(len(raw))
        ]
