"""Example cycles for the report (thesis Fig. 8.7): typical anomalous cycles with their top
signal, the nearest normal training cycle (L1 in normalized space) and the gradient profile
with the events."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.table import Table

from replay.schema import Category
from robotwatch.evaluation.protocol import MethodResult, evaluate_model
from robotwatch.evaluation.report import CycleView, top_signal, typical_examples, write_report
from robotwatch.mtsflow.data import iter_cycles, pad_batch, training_cycles
from robotwatch.mtsflow.model_file import TrainedModel


def example_views(
    model: TrainedModel, data: Path, result: MethodResult, per_category: int = 1
) -> list[CycleView]:
    from robotwatch.evaluation.baselines import NearestNeighbor

    scored = result.scored
    if scored is None:
        return []
    chosen = [s for s in typical_examples(result.results, per_category) if scored.events.get(s)]
    if not chosen:
        return []
    card = model.card
    wanted = set(chosen)
    examples = {
        c.sample: c
        for c in iter_cycles(data, card.signals, card.sample_rate_hz, part="test")
        if c.sample in wanted
    }
    samples, raw = training_cycles(data, card.signals, card.sample_rate_hz)
    held_out = set(card.training.calibration_samples)
    keep = [i for i, s in enumerate(samples) if s not in held_out]
    train, train_lengths, _ = pad_batch(
        [model.normalizer.transform(raw[i]) for i in keep], card.padded_length
    )
    neighbor = NearestNeighbor()
    neighbor.fit(train.numpy())
    x, _, _ = pad_batch([model.normalizer.transform(examples[s].signals) for s in chosen], card.padded_length)
    _, nearest = neighbor.nearest(x.numpy())
    rows = result.results.set_index("sample").to_dict("index")
    views = []
    for j, sample in enumerate(chosen):
        cycle, events = examples[sample], scored.events[sample]
        name = top_signal(events) or card.signals[0]
        k = card.signals.index(name)
        ref = int(nearest[j])
        n = min(cycle.n_steps, card.padded_length)
        row = rows[sample]
        start, end = row["truth_start_s"], row["truth_end_s"]
        views.append(
            CycleView(
                sample=sample,
                category=Category(int(row["category"])).name,
                score=float(row["score"]),
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
            )
        )
    return views


def write_model_report(
    folder: Path, model: TrainedModel, data: Path, tables: Sequence[Table], title: str, device: str = "auto"
) -> Path:
    """Score the file's test cycles with the model and write the report with example cycles."""
    offline = evaluate_model(model, data, device)
    return write_report(
        folder,
        {"MTS-Flow": offline.results},
        thresholds={"MTS-Flow": model.card.threshold},
        cycles=example_views(model, data, offline),
        tables=tables,
        title=title,
    )
