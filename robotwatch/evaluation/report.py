"""Pictures a person looks at after an evaluation, and an index.html that links them.

The page opens with what a plant user asks first: the realized false-alarm and detection
rates at the threshold and the alarmed cycles as a table (robotwatch.evaluation.alarms).
Then ROC curves per category (thesis Fig. 8.3), score histograms of normal against anomalous
cycles with the threshold on a severity axis (Fig. 8.5), and single cycles marked ALARMED or
MISSED next to their nearest normal training cycle (Fig. 8.7, robotwatch.evaluation.cycle_figure).
Every score is shown as severity, its ratio to the threshold (rwcore.thresholds.severity).
Every function takes plain arrays and tables, so it runs without a trained model.
Figures are drawn on matplotlib's Agg canvas directly, without pyplot's global state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from rich.table import Table
from sklearn.metrics import roc_auc_score, roc_curve

from replay.schema import ANOMALY_CATEGORIES
from robotwatch.evaluation.alarms import MAX_ALARM_ROWS, alarm_rates, alarmed, alarmed_rows
from robotwatch.evaluation.cycle_figure import CycleView, cycle_figure, top_signal
from robotwatch.evaluation.metrics import check_results, roc_inputs, scores_by_category
from robotwatch.evaluation.report_html import alarms_html, page, rates_html, table_html
from robotwatch.evaluation.scales import compress, expand, linear_width, ticks
from rwcore.thresholds import severity, severity_text

__all__ = ["AlarmSource", "CycleView", "cycle_figure", "example_picks", "top_signal", "write_report"]


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def roc_grid(methods: Mapping[str, pd.DataFrame], path: Path) -> Path:
    """One panel per anomaly category present: its ROC against all normal test cycles, per method."""
    if not methods:
        raise ValueError("no results to draw ROC curves of")
    split = {name: scores_by_category(results) for name, results in methods.items()}
    present = [c.name for c in ANOMALY_CATEGORIES if any(c.name in per for _, per in split.values())]
    n_cols = min(4, len(present))
    n_rows = math.ceil(len(present) / n_cols)
    fig = Figure(figsize=(3.2 * n_cols, 3.0 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True)
    for ax, category in zip(axes.flat, present, strict=False):
        for method, (normal, per_category) in split.items():
            if category not in per_category:
                continue
            labels, scores = roc_inputs(normal, per_category[category])
            fpr, tpr, _ = roc_curve(labels, scores)
            auroc = roc_auc_score(labels, scores)
            ax.plot(fpr, tpr, lw=1.5, label=f"{method} {100 * auroc:.1f}")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        n = next(len(per[category]) for _, per in split.values() if category in per)
        ax.set_title(f"{category} (n={n})", fontsize=9)
        ax.legend(fontsize=7, loc="lower right", title="AUROC [%]", title_fontsize=7)
        ax.set_aspect("equal")
    for ax in axes.flat[len(present) :]:
        ax.set_visible(False)
    fig.supxlabel("false-positive rate (normal test cycles)")
    fig.supylabel("true-positive rate")
    return _save(fig, path)


def score_histogram(
    results: pd.DataFrame, path: Path, threshold: float | None = None, method: str = ""
) -> Path:
    """Histograms of the normal and anomalous test cycles, with the threshold line.

    With a threshold the axis shows severity (the score's ratio to the threshold, 1× at it);
    without one, the scores around the median normal one. The axis is linear over the normal
    cycles' spread and logarithmic beyond (robotwatch.evaluation.scales), so the normal cycles,
    the threshold and anomalies a million times further out are all readable in one picture.
    Cycles without a finite score are counted at the right edge, and the legend says how many.
    """
    check_results(results)
    scores = results["score"].to_numpy(dtype=float)
    anomaly = results["anomaly"].astype(bool).to_numpy()
    rated = threshold is not None and math.isfinite(threshold) and threshold != 0
    if rated:
        assert threshold is not None
        values = np.array([severity(s, threshold) for s in scores])
        center = 1.0
    else:
        values = scores
        normal = scores[~anomaly & np.isfinite(scores)]
        center = float(np.median(normal)) if len(normal) else 0.0
    width = linear_width(values[~anomaly], center)
    x = compress(values, center, width)
    finite = np.isfinite(x)
    shown = np.concatenate([x[finite], [0.0]])  # the centre (the threshold) is always on the axis
    low, high = float(shown.min()), float(shown.max())
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    bins = np.linspace(low, high, 81)
    fig = Figure(figsize=(8.5, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.axvspan(max(-1.0, low), min(1.0, high), color="0.94", lw=0, label="linear part of the axis")
    for mask, label, color in ((~anomaly, "normal", "tab:blue"), (anomaly, "anomalous", "tab:red")):
        if not mask.any():
            continue
        # not finite: +inf and NaN scores (both alarm) at the right edge, -inf at the left
        edge = np.where(np.isnan(x) | (x > 0), high, low)
        drawn = np.where(finite, x, edge)[mask]
        off_axis = int((~finite[mask]).sum())
        note = f", {off_axis} without a finite score at the edge" if off_axis else ""
        ax.hist(drawn, bins=bins.tolist(), alpha=0.6, color=color, label=f"{label} (n={mask.sum()}{note})")
    if rated:
        ax.axvline(0.0, color="black", ls="--", lw=1.2, label="threshold (1×)")
    value_low, value_high = expand(np.array([low, high]), center, width).tolist()
    values_at = ticks(value_low, value_high, center, width)
    ax.set_xticks(compress(np.array(values_at), center, width).tolist())
    ax.set_xticklabels([severity_text(v) if rated else _score_text(v) for v in values_at], fontsize=8)
    ax.set_xlim(low - 0.02 * (high - low), high + 0.02 * (high - low))
    ax.set_xlabel(
        "severity: the score as a ratio to the threshold"
        if rated
        else "anomaly score (this method has no threshold)"
    )
    ax.set_ylabel("test cycles")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    near = "the threshold" if rated else "the median normal score"
    ax.set_title(f"{method} test cycles: linear near {near}, one step per decade beyond".strip())
    ax.legend(fontsize=8)
    return _save(fig, path)


def typical_examples(results: pd.DataFrame, per_category: int = 1) -> list[int]:
    """Sample ids of anomalous cycles to show: per category the ones nearest its median score.

    Median rather than highest, so that the pictures show a typical case, not the easiest.
    """
    check_results(results)
    chosen: list[int] = []
    anomalous = results[results["anomaly"].astype(bool)]
    for category in ANOMALY_CATEGORIES:
        rows = anomalous[anomalous["category"].astype(int) == category]
        if rows.empty:
            continue
        # distance of each cycle's rank from the middle rank (ranks, so +inf scores are fine)
        rank = np.argsort(np.argsort(rows["score"].to_numpy(dtype=float), kind="stable"), kind="stable")
        off_middle = np.abs(rank - (len(rows) - 1) / 2)
        closest = np.argsort(off_middle, kind="stable")[:per_category]
        chosen += [int(s) for s in rows["sample"].to_numpy()[closest]]
    return chosen


def example_picks(results: pd.DataFrame, threshold: float | None, per_category: int = 1) -> dict[int, str]:
    """Sample id -> why to show it: the typical cycles per category (`typical_examples`), and
    with a threshold the clearest missed anomaly (lowest score under it) and the strongest
    false alarm (highest normal score over it), where there are such cycles."""
    picks = {s: "typical of its category (median score)" for s in typical_examples(results, per_category)}
    if threshold is None:
        return picks
    scores = results["score"].to_numpy(dtype=float)
    anomaly = results["anomaly"].astype(bool).to_numpy()
    flags = alarmed(scores, threshold)
    samples = results["sample"].to_numpy()
    missed = np.flatnonzero(anomaly & ~flags)
    if len(missed):
        lowest = missed[np.argmin(scores[missed])]
        picks[int(samples[lowest])] = "the clearest missed anomaly (the lowest-scored one)"
    false_alarms = np.flatnonzero(~anomaly & flags)
    if len(false_alarms):
        ranked = np.where(np.isnan(scores), np.inf, scores)
        strongest = false_alarms[np.argmax(ranked[false_alarms])]
        picks[int(samples[strongest])] = "the strongest false alarm"
    return picks


@dataclass(frozen=True)
class AlarmSource:
    """The per-cycle table the alarmed cycles and the rates come from: a replay's verdicts
    (with robot and start_time) or an evaluation's results; `source` names the robot where the
    table has none (the file), `normal_scores` are the model card's held-out normal scores."""

    results: pd.DataFrame
    threshold: float
    method: str = "MTS-Flow"
    source: str = ""
    normal_scores: Sequence[float] = ()


def write_report(
    out_dir: Path,
    methods: Mapping[str, pd.DataFrame],
    thresholds: Mapping[str, float] | None = None,
    cycles: Sequence[CycleView] = (),
    tables: Sequence[Table] = (),
    title: str = "robotwatch evaluation",
    alarms: AlarmSource | None = None,
) -> Path:
    """Write all figures into `out_dir` and an index.html linking them; returns the index path.

    The page opens with the rates at the threshold and the alarmed cycles, from `alarms` (by
    default the first method with a threshold); `tables` (e.g. auroc_table,
    localization_table) follow as rendered text, then the figures.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    thresholds = thresholds or {}
    if alarms is None:
        rated = next((m for m in methods if thresholds.get(m) is not None), None)
        if rated is not None:
            alarms = AlarmSource(methods[rated], thresholds[rated], rated)
    sections = [] if alarms is None else _alarm_sections(alarms)
    sections += [table_html(t) for t in tables]
    entries: list[tuple[str, str]] = []
    for i, (method, results) in enumerate(methods.items()):
        threshold = thresholds.get(method)
        png = score_histogram(results, out_dir / f"scores_{i}_{_slug(method)}.png", threshold, method)
        note = (
            "; the axis is the anomaly score around the median normal one (no threshold)"
            if threshold is None
            else "; the axis is severity, the score as a ratio to the threshold (dashed, 1×)"
        )
        entries.append(
            (
                png.name,
                f"{method}: normal and anomalous test cycles{note}, linear over the normal cycles' "
                "spread (grey) and one step per decade beyond.",
            )
        )
    for view in cycles:
        png = cycle_figure(view, out_dir / f"cycle_{view.sample}.png")
        entries.append((png.name, _cycle_caption(view)))
    roc = roc_grid(methods, out_dir / "roc_per_category.png")
    entries.append(
        (
            roc.name,
            "ROC curve per anomaly category against all normal test cycles; "
            "legend: AUROC in percent per method.",
        )
    )
    index = out_dir / "index.html"
    index.write_text(page(title, sections, entries), encoding="utf-8")
    return index


def _cycle_caption(view: CycleView) -> str:
    picked = f" Shown as {view.why}." if view.why else ""
    compared = f" Its score lies {view.compared}." if view.compared else ""
    why = " (the top signal of the strongest event)" if view.signal_name == top_signal(view.events) else ""
    units = (
        ""
        if view.scale is None
        else f", normalized on the left and in {view.unit or 'its units'} on the right,"
    )
    truth = "" if view.truth_s is None else " Orange: the ground-truth event."
    return (
        f"{view.verdict}: sample {view.sample} ({view.category}).{picked}{compared} Top: "
        f"{view.signal_name}{why}{units} against the nearest normal training cycle (grey); "
        f"below, the input-gradient profile with the found events (dashed) and the program's "
        f"steps, numbered as in the legend.{truth}"
    )


def _alarm_sections(alarms: AlarmSource) -> list[str]:
    results, threshold = alarms.results, alarms.threshold
    n_normal = len(alarms.normal_scores)
    calibrated = f", set on {n_normal} held-out normal cycles" if n_normal else ""
    robots = results["robot"].dropna().nunique() if "robot" in results.columns else 0
    played = f" ({robots} robots, each cycle once per robot)" if robots > 1 else ""
    note = (
        f"{alarms.method} alarms on a cycle whose score is over the model's threshold{calibrated} "
        f"(severity 1×; on the model's own scale a score of {threshold:.6g}){played}."
    )
    rows = alarmed_rows(results, threshold, alarms.source, alarms.normal_scores)
    return [rates_html(alarm_rates(results, threshold), note), alarms_html(rows, n_normal, MAX_ALARM_ROWS)]


def _score_text(value: float) -> str:
    """A score on an axis without a threshold: `13,700`, `0.25`, `1e+09`."""
    return f"{value:,.0f}" if 10 <= abs(value) < 1e6 else f"{value:.3g}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_") or "method"
