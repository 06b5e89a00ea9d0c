"""Run a method over a voraus-AD file's test cycles: MTS-Flow from a model file, or a baseline
fitted on the training cycles. The results tables feed metrics, tables and the report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from replay.schema import Category
from robotwatch.artifact import TrainedModel
from robotwatch.datafile import iter_cycles, scorable_batches
from robotwatch.evaluation.report import CycleView, top_signal, typical_examples
from robotwatch.file_scoring import FileScores, score_file
from robotwatch.fitting import training_cycles
from robotwatch.preprocessing import Normalizer, pad_batch

METHOD_NAMES = {"mtsflow": "MTS-Flow", "1nn": "1-NN", "pca": "PCA", "cae": "CAE"}


@dataclass
class MethodResult:
    name: str
    results: pd.DataFrame
    skipped: list[tuple[int, str]] = field(default_factory=list)
    threshold: float | None = None
    scored: FileScores | None = None


def evaluate_model(model: TrainedModel, data: Path, device: str = "auto",
                   on_cycle: Callable[[], None] | None = None) -> MethodResult:
    """Score every test cycle; localize the anomalous ones (for |Δt| and the report)."""
    scored = score_file(model, data, part="test", localize="anomalous", device=device, on_cycle=on_cycle)
    return MethodResult(METHOD_NAMES["mtsflow"], scored.results, scored.skipped, model.card.threshold, scored)


def _padded_training_set(data: Path, signals: Sequence[str], rate_hz: float,
                         exclude: set[int]) -> tuple[Normalizer, int, np.ndarray]:
    samples, raw = training_cycles(data, signals, rate_hz)
    train = [c for s, c in zip(samples, raw, strict=True) if s not in exclude]
    normalizer = Normalizer.fit(train)
    length = max(len(c) for c in train)
    x, _, _ = pad_batch([normalizer.transform(c) for c in train], length)
    return normalizer, length, x.numpy()


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
    calibration cycles, so that both see the same training cycles) and score the test cycles,
    preprocessed exactly as MTS-Flow's input."""
    from robotwatch.evaluation.baselines import get_baseline

    normalizer, length, train = _padded_training_set(data, signals, rate_hz, set(exclude_samples))
    baseline = get_baseline(name, **(options or {}))
    baseline.fit(train)
    del train
    rows: list[dict[str, object]] = []
    skipped: list[tuple[int, str]] = []
    for batch in scorable_batches(iter_cycles(data, signals, rate_hz, part="test"), data, batch_size, skipped):
        x, _, _ = pad_batch([normalizer.transform(c.signals) for c in batch], length)
        for cycle, score in zip(batch, baseline.score(x.numpy()), strict=True):
            rows.append({"sample": cycle.sample, "category": cycle.category, "setting": cycle.setting,
                         "anomaly": cycle.anomaly, "score": float(score)})
    return MethodResult(METHOD_NAMES[name], pd.DataFrame(rows), skipped)


def example_views(model: TrainedModel, data: Path, result: MethodResult, per_category: int = 1) -> list[CycleView]:
    """Fig. 8.7 material: typical anomalous cycles with their top signal, the nearest normal
    training cycle (L1 in normalized space) and the gradient profile with the events."""
    from robotwatch.evaluation.baselines import NearestNeighbor

    scored = result.scored
    if scored is None:
        return []
    chosen = [s for s in typical_examples(result.results, per_category) if scored.events.get(s)]
    if not chosen:
        return []
    card = model.card
    wanted = set(chosen)
    examples = {c.sample: c for c in iter_cycles(data, card.signals, card.sample_rate_hz, part="test")
                if c.sample in wanted}
    samples, raw = training_cycles(data, card.signals, card.sample_rate_hz)
    keep = [i for i, s in enumerate(samples) if s not in set(card.training.calibration_samples)]
    train, train_lengths, _ = pad_batch([model.normalizer.transform(raw[i]) for i in keep], card.padded_length)
    neighbor = NearestNeighbor()
    neighbor.fit(train.numpy())
    x, _, _ = pad_batch([model.normalizer.transform(examples[s].signals) for s in chosen], card.padded_length)
    _, nearest = neighbor.nearest(x.numpy())
    rows = result.results.set_index("sample")
    views = []
    for j, sample in enumerate(chosen):
        cycle, events = examples[sample], scored.events[sample]
        name = top_signal(events) or card.signals[0]
        k = card.signals.index(name)
        ref = int(nearest[j])
        n = min(cycle.n_steps, card.padded_length)
        start, end = rows.loc[sample, "truth_start_s"], rows.loc[sample, "truth_end_s"]
        views.append(CycleView(
            sample=sample,
            category=Category(int(rows.loc[sample, "category"])).name,
            score=float(rows.loc[sample, "score"]),
            sample_rate_hz=card.sample_rate_hz,
            signal_name=name,
            signal=x[j, k, :n].numpy(),
            reference=train[ref, k, : int(train_lengths[ref])].numpy(),
            profile=scored.profiles[sample][:n],
            events=events,
            truth_s=None if np.isnan(start) else (float(start), float(end)),
            actions=cycle.action[:n],
            reference_sample=samples[keep[ref]],
            threshold=card.threshold,
        ))
    return views
