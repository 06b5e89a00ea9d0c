"""The evaluation report: ROC curves, score histograms and localization overlays as PNG, and
the metrics as JSON. Uses matplotlib's object API with the Agg canvas (no global pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from vision.datasets import GOOD, image_to_tensor, read_image
from vision.evaluation.evaluate import EvaluationResult, TestScores


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, bbox_inches="tight")


def plot_roc(ts: TestScores, result: EvaluationResult, path: Path) -> None:
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    normal = ~ts.labels
    curves = [("all", ts.labels | normal)] + [(d, (ts.defects == d) | normal) for d in result.auroc_by_defect]
    for name, select in curves:
        fpr, tpr, _ = roc_curve(ts.labels[select], ts.scores[select])
        auc = result.image_auroc if name == "all" else result.auroc_by_defect[name].image_auroc
        ax.plot(fpr, tpr, lw=2.5 if name == "all" else 1.2, label=f"{name} ({auc:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(
        xlabel="false-positive rate", ylabel="true-positive rate", title=f"{result.method}: image-level ROC"
    )
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, path)


def plot_histogram(ts: TestScores, result: EvaluationResult, path: Path) -> None:
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    bins = np.histogram_bin_edges(ts.scores, bins=40)
    for name in [GOOD, *result.auroc_by_defect]:
        ax.hist(
            ts.scores[ts.defects == name], bins=bins.tolist(), alpha=0.55 if name == GOOD else 0.4, label=name
        )
    ax.axvline(result.threshold, color="k", ls="--", lw=1, label="threshold")
    ax.set(xlabel="anomaly score", ylabel="images", title=f"{result.method}: scores by defect type")
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_overlay(ts: TestScores, index: int, vmax: float | None, path: Path) -> None:
    sample = ts.samples[index]
    size = ts.maps.shape[-1]
    image = image_to_tensor(read_image(sample.image), size).permute(1, 2, 0).numpy()
    fig = Figure(figsize=(8, 4))
    left, right = fig.subplots(1, 2)
    left.imshow(image)
    if ts.masks[index].any():
        left.contour(ts.masks[index], levels=[0.5], colors="lime", linewidths=1)
    left.set_title(f"{sample.defect}/{sample.image.name}", fontsize=9)
    right.imshow(image)
    right.imshow(ts.maps[index], cmap="jet", alpha=0.5, vmin=0, vmax=vmax)
    right.set_title(f"score {ts.scores[index]:.3g}", fontsize=9)
    for ax in (left, right):
        ax.axis("off")
    _save(fig, path)


def write_report(ts: TestScores, result: EvaluationResult, out: Path, per_defect: int = 3) -> Path:
    """Writes roc.png, histogram.png, overlays/*.png and metrics.json into `out`."""
    out = Path(out)
    (out / "overlays").mkdir(parents=True, exist_ok=True)
    plot_roc(ts, result, out / "roc.png")
    plot_histogram(ts, result, out / "histogram.png")
    # One colour scale for all overlays, so that maps can be compared across images.
    vmax = float(np.percentile(ts.maps[~ts.labels], 99.9)) * 2 if (~ts.labels).any() else None
    for defect in result.auroc_by_defect:
        for i in np.flatnonzero(ts.defects == defect)[:per_defect]:
            plot_overlay(ts, int(i), vmax, out / "overlays" / f"{defect}_{ts.samples[i].image.stem}.png")
    normal = np.flatnonzero(~ts.labels)
    if normal.size:  # the normal image that looks most anomalous: where false alarms come from
        worst = int(normal[np.argmax(ts.scores[normal])])
        plot_overlay(ts, worst, vmax, out / "overlays" / f"good_highest_{ts.samples[worst].image.stem}.png")
    (out / "metrics.json").write_text(result.model_dump_json(indent=2))
    return out
