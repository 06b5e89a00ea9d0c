"""Pictures a person looks at after an evaluation, and an index.html that links them.

ROC curves per category (thesis Fig. 8.3), score histograms of normal against anomalous
cycles with the threshold (Fig. 8.5), and single anomalous cycles next to their nearest
normal training cycle with the input-gradient profile and the found events (Fig. 8.7).
Every function takes plain arrays and tables, so it runs without a trained model.
Figures are drawn on matplotlib's Agg canvas directly, without pyplot's global state.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score, roc_curve

from replay.schema import ANOMALY_CATEGORIES, Action
from robotwatch.evaluation.metrics import check_results, roc_inputs, scores_by_category

if TYPE_CHECKING:  # only for annotations: importing it at run time would pull in torch
    from robotwatch.mtsflow.localize import Event


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
    """Histograms of the scores of normal and anomalous test cycles, with the threshold line.

    Anomalous scores often reach orders of magnitude past the normal ones; the axis ends
    at the 99th percentile of all finite scores and the rest are counted in the last bin
    (the legend says how many), so that the normal distribution stays readable.
    """
    check_results(results)
    scores = results["score"].to_numpy(dtype=float)
    anomaly = results["anomaly"].astype(bool).to_numpy()
    finite = scores[np.isfinite(scores)]
    low = float(finite.min()) if len(finite) else 0.0
    high = float(np.percentile(finite, 99)) if len(finite) else 1.0
    if threshold is not None and math.isfinite(threshold):
        low, high = min(low, threshold), max(high, threshold)
    if high <= low:
        high = low + 1.0
    bins = np.linspace(low, high, 61)
    fig = Figure(figsize=(7.5, 4.0), layout="constrained")
    ax = fig.subplots()
    for mask, label, color in ((~anomaly, "normal", "tab:blue"), (anomaly, "anomalous", "tab:red")):
        values = scores[mask]
        if len(values) == 0:
            continue
        beyond = int((values > high).sum())
        note = f", {beyond} beyond the axis in the last bin" if beyond else ""
        ax.hist(
            np.clip(values, low, high),
            bins=bins.tolist(),
            alpha=0.55,
            color=color,
            label=f"{label} (n={len(values)}{note})",
        )
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", lw=1.2, label=f"threshold {threshold:.4g}")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("test cycles")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{method} scores of the test cycles".strip())
    ax.legend(fontsize=8)
    return _save(fig, path)


@dataclass(frozen=True)
class CycleView:
    """What the cycle figure shows of one scored cycle; arrays at the model's sample rate.

    `signal` and `reference` hold the cycle's and its nearest normal training cycle's values
    of `signal_name` (normalized, each at its own length); `profile` is the cycle's smoothed
    input-gradient profile; `truth_s` is the ground-truth event interval where known.
    """

    sample: int
    category: str
    score: float
    sample_rate_hz: float
    signal_name: str
    signal: np.ndarray
    reference: np.ndarray
    profile: np.ndarray
    events: Sequence[Event] = ()
    truth_s: tuple[float, float] | None = None
    actions: np.ndarray | None = None
    reference_sample: int | None = None
    threshold: float | None = None


def top_signal(events: Sequence[Event]) -> str | None:
    """The signal carrying most of the gradient at the strongest event; None without events."""
    if not events:
        return None
    strongest = max(events, key=lambda e: e.strength)
    return strongest.top_signals[0][0] if strongest.top_signals else None


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


def _action_segments(actions: np.ndarray) -> list[tuple[int, int, int]]:
    """(first step, end step, action) of each run of one action."""
    change = np.flatnonzero(np.diff(actions.astype(int))) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(actions)]])
    return [(int(a), int(b), int(actions[a])) for a, b in zip(starts, ends, strict=True)]


def cycle_figure(view: CycleView, path: Path) -> Path:
    """The cycle's signal against its nearest normal cycle, the gradient profile with events
    and ground truth below, and the action segments as a band at the bottom."""
    rate = view.sample_rate_hz
    actions = view.actions if view.actions is not None and len(view.actions) else None
    ratios = [3, 2, 0.35] if actions is not None else [3, 2]
    fig = Figure(figsize=(10, 6.0), layout="constrained")
    axes = fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    top, mid = axes[0], axes[1]
    reference_label = "nearest normal training cycle"
    if view.reference_sample is not None:
        reference_label += f" (sample {view.reference_sample})"
    top.plot(
        np.arange(len(view.reference)) / rate, view.reference, color="0.45", lw=1.2, label=reference_label
    )
    top.plot(np.arange(len(view.signal)) / rate, view.signal, color="tab:red", lw=1.2, label="this cycle")
    top.set_ylabel(f"{view.signal_name}\n(normalized)")
    top.legend(fontsize=8, loc="best")
    mid.plot(
        np.arange(len(view.profile)) / rate,
        view.profile,
        color="tab:purple",
        lw=1.2,
        label="smoothed |∂score/∂input|, L1 over signals",
    )
    mid.set_ylabel("input gradient")
    mid.margins(y=0.15)  # room for the event labels above the peaks
    if view.truth_s is not None:
        start, end = view.truth_s
        for ax in (top, mid):
            if end > start:
                ax.axvspan(start, end, color="tab:orange", alpha=0.25, lw=0)
            else:
                ax.axvline(start, color="tab:orange", lw=2, alpha=0.6)
        mid.plot([], [], color="tab:orange", alpha=0.5, lw=6, label="ground-truth event")
    for i, event in enumerate(sorted(view.events, key=lambda e: -e.strength)):
        for ax in (top, mid):
            ax.axvline(event.time_s, color="black", ls="--", lw=1.0)
        # the label sits on the profile at the event, where the legend (placed "best") keeps clear
        height = float(view.profile[min(event.step, len(view.profile) - 1)]) if len(view.profile) else 0.0
        label = f"{event.strength:.1f}×" + (f" {event.action}" if event.action else "")
        mid.annotate(label, (event.time_s, height), xytext=(4, 4), textcoords="offset points", fontsize=8)
        if i == 0:
            mid.plot([], [], color="black", ls="--", lw=1.0, label="found events (strength over normal)")
    mid.legend(fontsize=8, loc="best")
    if actions is not None:
        band = axes[2]
        cmap = colormaps["tab20"]
        for a, b, action in _action_segments(actions):
            band.axvspan(a / rate, b / rate, color=cmap(action % cmap.N), lw=0)
            if (b - a) > 0.06 * len(actions):  # name only the segments wide enough to hold it
                band.text((a + b) / 2 / rate, 0.5, _action_name(action), ha="center", va="center", fontsize=6)
        band.set_yticks([])
        band.set_ylabel("action", rotation=0, ha="right", va="center")
    axes[-1].set_xlabel("time in cycle [s]")
    threshold = "" if view.threshold is None else f" (threshold {view.threshold:.4g})"
    fig.suptitle(f"sample {view.sample} · {view.category} · score {view.score:.4g}{threshold}", fontsize=11)
    return _save(fig, path)


def _action_name(action: int) -> str:
    try:
        return Action(action).name
    except ValueError:
        return str(action)


def write_report(
    out_dir: Path,
    methods: Mapping[str, pd.DataFrame],
    thresholds: Mapping[str, float] | None = None,
    cycles: Sequence[CycleView] = (),
    tables: Sequence[Table] = (),
    title: str = "robotwatch evaluation",
) -> Path:
    """Write all figures into `out_dir` and an index.html linking them; returns the index path.

    `tables` (e.g. auroc_table, localization_table) are shown above the figures as rendered text.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    thresholds = thresholds or {}
    entries: list[tuple[str, str]] = []
    roc = roc_grid(methods, out_dir / "roc_per_category.png")
    entries.append(
        (
            roc.name,
            "ROC curve per anomaly category against all normal test cycles; "
            "legend: AUROC in percent per method.",
        )
    )
    for i, (method, results) in enumerate(methods.items()):
        threshold = thresholds.get(method)
        png = score_histogram(results, out_dir / f"scores_{i}_{_slug(method)}.png", threshold, method)
        note = "" if threshold is None else f"; dashed line: the calibrated threshold {threshold:.4g}"
        entries.append((png.name, f"{method}: scores of normal and anomalous test cycles{note}."))
    for view in cycles:
        png = cycle_figure(view, out_dir / f"cycle_{view.sample}.png")
        why = (
            ", the top signal of the strongest event," if view.signal_name == top_signal(view.events) else ""
        )
        truth = "" if view.truth_s is None else " Orange: the ground-truth event."
        entries.append(
            (
                png.name,
                f"Sample {view.sample} ({view.category}): {view.signal_name}{why} against the "
                f"nearest normal training cycle; below, the input-gradient profile with the "
                f"found events (dashed).{truth}",
            )
        )
    index = out_dir / "index.html"
    index.write_text(_html(title, [_table_html(t) for t in tables], entries), encoding="utf-8")
    return index


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_") or "method"


def _table_html(table: Table) -> str:
    console = Console(record=True, width=160, file=io.StringIO())
    console.print(table)
    return console.export_html(inline_styles=True, code_format='<pre class="table">{code}</pre>')


def _html(title: str, tables: Sequence[str], entries: Sequence[tuple[str, str]]) -> str:
    figures = "\n".join(
        f'<figure><a href="{html.escape(src)}">'
        f'<img src="{html.escape(src)}" alt="{html.escape(caption)}"></a>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for src, caption in entries
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "img{max-width:100%;border:1px solid #ddd}figure{margin:0 0 2.5em}"
        "figcaption{color:#333;margin-top:.4em}pre.table{font-size:13px;line-height:1.25}</style></head>\n"
        f"<body>\n<h1>{html.escape(title)}</h1>\n{''.join(tables)}\n{figures}\n</body>\n</html>\n"
    )
