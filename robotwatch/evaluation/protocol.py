"""Run a method over a voraus-AD file's test cycles: MTS-Flow from a model file, or a baseline
fitted on the training cycles. Both go through one loop (`score_file`) and one scoring API
(`score_cycles`), and give one `CycleResult` row per scored cycle.

Cycles are streamed from the file and scored in batches; nothing holds the whole file.
Cycles that cannot be scored are reported with the reason, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from replay import VorausFile
from replay.reader import Part
from replay.simulator import truth_path
from robotwatch.evaluation.baselines.base import Baseline
from robotwatch.evaluation.results import CycleResult, results_frame, with_truth
from robotwatch.mtsflow.data import (
    DataError,
    Normalizer,
    divider_for,
    pad_batch,
    scorable_batches,
    training_cycles,
    training_set,
)
from robotwatch.mtsflow.localize import Event
from robotwatch.mtsflow.model_file import TrainedModel
from robotwatch.mtsflow.score import CycleScore, Localize, Scorer

METHOD_NAMES = {
    "mtsflow": "MTS-Flow",
    "1nn": "1-NN",
    "pca": "PCA",
    "cae": "CAE",
    "hmm": "HMM",
    "lstm-vae": "LSTM-VAE",
}


class CycleScorer(Protocol):
    """What `score_file` runs: raw cycles in, one CycleScore each (Scorer, BaselineScorer)."""

    @property
    def threshold(self) -> float | None: ...

    def score_cycles(
        self,
        raw: Sequence[np.ndarray],
        actions: Sequence[np.ndarray | None] | None = None,
        localize: Localize = Localize.FLAGGED,
        labels: Sequence[bool] | None = None,
    ) -> list[CycleScore]: ...


@dataclass
class FileScores:
    """One row per scored cycle, what was skipped and why, and per localized cycle its
    gradient profile and events (for the report)."""

    results: pd.DataFrame
    skipped: list[tuple[int, str]] = field(default_factory=list)
    profiles: dict[int, np.ndarray] = field(default_factory=dict)
    events: dict[int, tuple[Event, ...]] = field(default_factory=dict)


@dataclass
class MethodResult:
    name: str
    results: pd.DataFrame
    skipped: list[tuple[int, str]] = field(default_factory=list)
    threshold: float | None = None
    scored: FileScores | None = None


def score_file(
    scorer: CycleScorer,
    path: Path,
    signals: Sequence[str],
    rate_hz: float,
    *,
    part: Part = "test",
    localize: Localize = Localize.NONE,
    batch_size: int = 16,
    on_cycle: Callable[[], None] | None = None,
) -> FileScores:
    """Score the file's cycles of `part` at `rate_hz` with `signals` (the method's own)."""
    file = VorausFile(path, signals=signals)  # names the signals the file lacks
    cycles = file.cycles(part, divider=divider_for(path, rate_hz))
    rows: list[CycleResult] = []
    scored = FileScores(results=pd.DataFrame())
    for batch in scorable_batches(cycles, path, batch_size, scored.skipped):
        results = scorer.score_cycles(
            [c.signals for c in batch], [c.action for c in batch], localize, [c.anomaly for c in batch]
        )
        for cycle, result in zip(batch, results, strict=True):
            rows.append(_row(cycle.sample, cycle.category, cycle.setting, cycle.anomaly, result))
            if result.profile is not None:
                scored.profiles[cycle.sample] = result.profile
                scored.events[cycle.sample] = result.events
            if on_cycle is not None:
                on_cycle()
    if not rows:
        raise DataError(f"{path}: no {part} cycles could be scored")
    scored.results = with_truth(results_frame(rows), truth_path(path))
    return scored


def _row(sample: int, category: int, setting: int, anomaly: bool, result: CycleScore) -> CycleResult:
    first = result.events[0] if result.events else None
    return CycleResult(
        sample=sample,
        category=category,
        setting=setting,
        anomaly=anomaly,
        score=result.score,
        flagged=result.flagged,
        n_steps=result.n_steps,
        truncated=result.truncated,
        event_time_s=first.time_s if first else np.nan,
        event_action=first.action if first else None,
        event_strength=first.strength if first else np.nan,
        event_signal=first.top_signals[0][0] if first else None,
        event_axis=first.top_axes[0][0] if first and first.top_axes else None,
    )


def evaluate_model(
    model: TrainedModel,
    data: Path,
    device: str = "auto",
    on_cycle: Callable[[], None] | None = None,
    localize: Localize = Localize.LABELLED,
) -> MethodResult:
    """Score every test cycle; by default localize those labelled anomalous (for |Δt| and the
    report)."""
    card = model.card
    scorer = Scorer(model, device=device)
    scored = score_file(scorer, data, card.signals, card.sample_rate_hz, localize=localize, on_cycle=on_cycle)
    return MethodResult(METHOD_NAMES["mtsflow"], scored.results, scored.skipped, card.threshold, scored)


@dataclass
class BaselineScorer:
    """A fitted baseline behind `score_cycles`, fed exactly what MTS-Flow is fed: the cycles
    normalized with the training statistics and padded to the training length."""

    baseline: Baseline
    normalizer: Normalizer
    padded_length: int
    threshold: float | None = None

    def score_cycles(
        self,
        raw: Sequence[np.ndarray],
        actions: Sequence[np.ndarray | None] | None = None,
        localize: Localize = Localize.NONE,
        labels: Sequence[bool] | None = None,
    ) -> list[CycleScore]:
        x, _, truncated = pad_batch([self.normalizer.transform(c) for c in raw], self.padded_length)
        scores = self.baseline.score(x.numpy())
        return [
            CycleScore(score=float(s), flagged=False, n_steps=len(c), truncated=bool(t))
            for s, c, t in zip(scores, raw, truncated, strict=True)
        ]


def evaluate_baseline(
    name: str,
    data: Path,
    signals: Sequence[str],
    rate_hz: float,
    *,
    exclude_samples: Sequence[int] = (),
    options: dict[str, object] | None = None,
    batch_size: int = 64,
) -> MethodResult:
    """Fit baseline `name` on the PRE_A cycles (minus `exclude_samples`, e.g. a model's
    calibration cycles, so that both see the same training cycles) and score the test cycles."""
    from robotwatch.evaluation.baselines import get_baseline

    samples, raw = training_cycles(data, signals, rate_hz)
    exclude = set(exclude_samples)
    train = training_set([c for s, c in zip(samples, raw, strict=True) if s not in exclude])
    del raw
    baseline = get_baseline(name, **(options or {}))
    baseline.fit(train.x.numpy())
    scorer = BaselineScorer(baseline, train.normalizer, train.padded_length)
    del train
    scored = score_file(scorer, data, signals, rate_hz, batch_size=batch_size)
    return MethodResult(METHOD_NAMES[name], scored.results, scored.skipped)
