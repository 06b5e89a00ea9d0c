"""Example cycles for the report (thesis Fig. 8.7): typical anomalous cycles, the clearest
missed anomaly and the strongest false alarm, each with its top signal, the nearest normal
training cycle (L1 in normalized space) and the gradient profile with the events.

The offline evaluation localizes the labelled anomalous cycles only, and a replay the alarmed
ones; what the report shows beyond that (an alarmed normal cycle, a false alarm: where and in
which step it alarmed; a missed cycle's profile) is localized here, for those cycles alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

from replay.schema import TRAIN_SETTING, Category, unit_of
from replay.simulator import truth_path
from robotwatch.evaluation.alarms import MAX_ALARM_ROWS, alarmed, normal_percentile
from robotwatch.evaluation.protocol import FileScores, MethodResult, evaluate_model
from robotwatch.evaluation.report import AlarmSource, CycleView, example_picks, top_signal, write_report
from robotwatch.evaluation.results import COLUMNS, with_truth
from robotwatch.mtsflow.data import iter_cycles, pad_batch, training_cycles
from robotwatch.mtsflow.model_file import TrainedModel

EVENT_COLUMNS = ("event_time_s", "event_action", "event_strength", "event_signal", "event_axis")


def localize_for_report(
    model: TrainedModel,
    data: Path,
    result: MethodResult,
    device: str = "auto",
    alarms: bool = True,
    per_category: int = 1,
) -> MethodResult:
    """`result` with what the report shows localized where it was not yet: the example cycles
    (`example_picks`) and, with `alarms`, the strongest MAX_ALARM_ROWS alarmed cycles (normal
    ones, false alarms, are not localized by the evaluation): their profiles and events, and
    the event columns of their rows, as the service reports them."""
    from robotwatch.mtsflow.score import Localize, Scorer

    scored = result.scored or FileScores(result.results)
    table = result.results
    threshold = model.card.threshold
    wanted = list(example_picks(table, threshold, per_category))
    if alarms:
        scores = table["score"].to_numpy(dtype=float)
        ranked = np.argsort(-np.where(np.isnan(scores), np.inf, scores), kind="stable")
        strongest = ranked[alarmed(scores, threshold)[ranked]][:MAX_ALARM_ROWS]
        wanted += [int(s) for s in table["sample"].to_numpy()[strongest]]
    wanted_set = {s for s in wanted if s not in scored.profiles}
    if not wanted_set:
        return result
    card = model.card
    cycles = [
        c for c in iter_cycles(data, card.signals, card.sample_rate_hz, part="test") if c.sample in wanted_set
    ]
    localized = Scorer(model, device=device).score_cycles(
        [c.signals for c in cycles], [c.action for c in cycles], Localize.ALL
    )
    profiles, events = dict(scored.profiles), dict(scored.events)
    table = table.copy()
    for cycle, found in zip(cycles, localized, strict=True):
        profiles[cycle.sample] = found.profile if found.profile is not None else np.zeros(0)
        events[cycle.sample] = found.events
        at = table.index[table["sample"] == cycle.sample]
        if found.events and table.loc[at, "event_time_s"].isna().all():
            first = found.events[0]
            table.loc[at, list(EVENT_COLUMNS)] = [
                first.time_s,
                first.action,
                first.strength,
                first.top_signals[0][0] if first.top_signals else None,
                first.top_axes[0][0] if first.top_axes else None,
            ]
    files = FileScores(table, scored.skipped, profiles, events)
    return replace(result, results=table, scored=files)


def replayed_result(replayed: pd.DataFrame, data: Path, threshold: float) -> MethodResult:
    """A replay's verdicts as the evaluation's per-cycle table: the first robot's labelled
    test cycles with a score (every robot plays the same cycles), with the file's ground truth."""
    first = replayed[replayed["robot"] == replayed["robot"].min()] if "robot" in replayed else replayed
    category = first["category"].astype(int)
    keep = (first["setting"] != TRAIN_SETTING) & first["score"].notna() & category.between(0, 12)
    table = with_truth(first.loc[keep, list(COLUMNS)].reset_index(drop=True), truth_path(data))
    return MethodResult("MTS-Flow", table, threshold=threshold)


def example_views(
    model: TrainedModel, data: Path, result: MethodResult, per_category: int = 1
) -> list[CycleView]:
    """The picked cycles (`example_picks`) that were localized, as figures to draw."""
    from robotwatch.evaluation.baselines import NearestNeighbor

    scored = result.scored
    if scored is None:
        return []
    card = model.card
    picks = example_picks(result.results, card.threshold, per_category)
    chosen = [s for s in picks if s in scored.profiles]
    if not chosen:
        return []
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
    steps = {s.code: s.name for s in card.program.steps}
    views = []
    for j, sample in enumerate(chosen):
        cycle, events = examples[sample], scored.events.get(sample, ())
        ref = int(nearest[j])
        n = min(cycle.n_steps, card.padded_length)
        reference = train[ref, :, : int(train_lengths[ref])].numpy()
        # without events (a missed cycle may have none): the signal furthest from its neighbour
        name = top_signal(events) or card.signals[_furthest(x[j, :, :n].numpy(), reference)]
        k = card.signals.index(name)
        row = rows[sample]
        start, end = row["truth_start_s"], row["truth_end_s"]
        score = float(row["score"])
        views.append(
            CycleView(
                sample=sample,
                category=Category(int(row["category"])).name,
                score=score,
                sample_rate_hz=card.sample_rate_hz,
                signal_name=name,
                signal=x[j, k, :n].numpy(),
                reference=reference[k],
                profile=scored.profiles[sample][:n],
                events=events,
                truth_s=None if np.isnan(start) else (float(start), float(end)),
                actions=cycle.action[:n],
                reference_sample=samples[keep[ref]],
                threshold=card.threshold,
                scale=(float(model.normalizer.mean[k]), float(model.normalizer.std[k])),
                unit=unit_of(name),
                steps=steps,
                percentile=normal_percentile(score, card.calibration_scores),
                n_normal=len(card.calibration_scores),
                why=picks[sample],
            )
        )
    return views


def _furthest(cycle: np.ndarray, reference: np.ndarray) -> int:
    """Index of the signal whose (signals, steps) values differ most, mean |Δ| over the common steps."""
    n = min(cycle.shape[1], reference.shape[1])
    return int(np.argmax(np.abs(cycle[:, :n] - reference[:, :n]).mean(1)))


def write_model_report(
    folder: Path,
    model: TrainedModel,
    data: Path,
    tables: Sequence[Table],
    title: str,
    device: str = "auto",
    replayed: pd.DataFrame | None = None,
) -> Path:
    """Write the report of the model on the file's test cycles, with example cycles.

    `replayed`: a replay's per-cycle results (with robot and start_time): the alarmed cycles,
    the rates and the figures are then the replay's verdicts, and only the example cycles are
    localized again; without it the file's test cycles are scored here (robot: the file).
    """
    card = model.card
    if replayed is None:
        result = evaluate_model(model, data, device)
    else:
        result = replayed_result(replayed, data, card.threshold)
    result = localize_for_report(model, data, result, device, alarms=replayed is None)
    source = replayed if replayed is not None else result.results
    return write_report(
        folder,
        {"MTS-Flow": result.results},
        thresholds={"MTS-Flow": card.threshold},
        cycles=example_views(model, data, result),
        tables=tables,
        title=title,
        alarms=AlarmSource(source, card.threshold, "MTS-Flow", data.name, card.calibration_scores),
    )
