"""Score every test cycle of a voraus-AD file with a model: the input of `evaluate` and `replay`.

Cycles are streamed from the file and scored in batches; nothing holds the whole file.
Cycles that cannot be scored are reported with the reason, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from replay import Cycle, VorausFile
from replay.reader import Part
from replay.simulator import truth_path
from robotwatch.artifact import TrainedModel
from robotwatch.datafile import DataError, divider_for, scorable_batches
from robotwatch.localization import Event, find_events
from robotwatch.scoring import Scorer


@dataclass
class FileScores:
    """One row per scored cycle, plus what was skipped and why."""

    results: pd.DataFrame
    skipped: list[tuple[int, str]] = field(default_factory=list)
    # per localized cycle: its gradient profile (T,), events and actions, for reports
    profiles: dict[int, np.ndarray] = field(default_factory=dict)
    events: dict[int, tuple[Event, ...]] = field(default_factory=dict)


def check_compatible(model: TrainedModel, path: str | PathLike[str]) -> int:
    """The divider that brings the file to the model's rate; clear errors when they do not fit."""
    file = VorausFile(path, signals=model.card.signals)  # names missing signals, if any
    del file
    _, divider = divider_for(path, model.card.sample_rate_hz)
    return divider


def score_file(
    model: TrainedModel,
    path: str | PathLike[str],
    *,
    part: Part = "test",
    localize: str = "anomalous",
    batch_size: int = 16,
    device: str = "auto",
    on_cycle: Callable[[], None] | None = None,
) -> FileScores:
    """Score the file's cycles of `part` at the model's rate and signals.

    `localize`: which cycles get events: all, anomalous (labelled so in the file, which
    is what measuring localization needs), flagged (over the threshold) or none.
    """
    divider = check_compatible(model, path)
    scorer = Scorer(model, device=device)
    rows: list[dict[str, object]] = []
    scored = FileScores(results=pd.DataFrame())

    def score_batch(batch: list[Cycle]) -> None:
        raw = [c.signals for c in batch]
        scores = scorer.score(raw)
        flagged = scores > scorer.threshold
        wanted = [
            i for i, c in enumerate(batch)
            if localize == "all" or (localize == "anomalous" and c.anomaly) or (localize == "flagged" and flagged[i])
        ]
        events: dict[int, tuple[Event, ...]] = {}
        if wanted:
            _, grads, profiles = scorer.gradients([raw[i] for i in wanted])
            for j, i in enumerate(wanted):
                cycle = batch[i]
                found = find_events(
                    grads[j], profiles[j], model.gradient_baseline,
                    length=min(cycle.n_steps, model.card.padded_length),
                    sample_rate_hz=model.card.sample_rate_hz, signals=model.card.signals, actions=cycle.action,
                )
                events[i] = tuple(found)
                scored.profiles[cycle.sample] = profiles[j][: cycle.n_steps]
                scored.events[cycle.sample] = events[i]
        for i, cycle in enumerate(batch):
            top = events.get(i, ())
            first = top[0] if top else None
            rows.append({
                "sample": cycle.sample, "category": cycle.category, "setting": cycle.setting,
                "anomaly": cycle.anomaly, "score": float(scores[i]), "anomalous": bool(flagged[i]),
                "n_steps": cycle.n_steps, "truncated": cycle.n_steps > model.card.padded_length,
                "event_time_s": first.time_s if first else np.nan,
                "event_action": first.action if first else None,
                "event_strength": first.strength if first else np.nan,
                "event_signal": first.top_signals[0][0] if first else None,
                "event_axis": first.top_axes[0][0] if first and first.top_axes else None,
            })
            if on_cycle is not None:
                on_cycle()

    cycles = VorausFile(path, signals=model.card.signals).cycles(part, divider=divider)
    for batch in scorable_batches(cycles, path, batch_size, scored.skipped):
        score_batch(batch)
    if not rows:
        raise DataError(f"{path}: no {part} cycles could be scored")
    scored.results = _with_truth(pd.DataFrame(rows), truth_path(path))
    return scored


def _with_truth(results: pd.DataFrame, truth_file: Path) -> pd.DataFrame:
    """Join the simulator's event times where a truth sidecar exists."""
    results["truth_start_s"] = np.nan
    results["truth_end_s"] = np.nan
    if not truth_file.exists():
        return results
    truth = pd.read_parquet(truth_file)
    columns = {"event_start_s": "truth_start_s", "event_end_s": "truth_end_s"}
    if not set(columns) <= set(truth.columns) or "sample" not in truth.columns:
        raise DataError(f"{truth_file}: expected columns sample, event_start_s, event_end_s")
    joined = results.drop(columns=list(columns.values())).merge(
        truth[["sample", *columns]].rename(columns=columns), on="sample", how="left"
    )
    return joined
