"""The voraus-AD evaluation protocol on a per-cycle results table.

Detection: one AUROC per anomaly category, that category's cycles against all normal
test cycles, then the mean of those AUROCs (Brockmann et al. 2023; thesis §8.2). One
pooled ROC over all anomalies is never computed: it would weight categories by their
cycle counts and let easy, frequent categories hide hard ones.

Localization: |Δt| between the strongest found event and the ground-truth event
interval, where the data carries one (the cell simulator does; the real dataset does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from replay.schema import ANOMALY_CATEGORIES, TRAIN_SETTING, Category
from robotwatch.evaluation.results import REQUIRED_COLUMNS

LOCALIZATION_COLUMNS: tuple[str, ...] = ("truth_start_s", "truth_end_s", "event_time_s")


@dataclass(frozen=True)
class AurocResult:
    """Detection result of one run: AUROC per present anomaly category (Category order)."""

    per_category: dict[str, float]
    mean: float
    missing: tuple[str, ...]
    n_normal: int
    n_anomalous: dict[str, int]


@dataclass(frozen=True)
class RunSummary:
    """Mean and standard deviation over runs (seeds); the std is NaN for a single run."""

    n_runs: int
    per_category: dict[str, float]
    per_category_std: dict[str, float]
    mean: float
    mean_std: float
    missing: tuple[str, ...]
    n_normal: int
    n_anomalous: dict[str, int]


def check_results(results: pd.DataFrame) -> None:
    """Raise a ValueError naming the problem if `results` is not a per-cycle test table."""
    absent = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if absent:
        raise ValueError(
            f"results table lacks the column(s) {', '.join(absent)}; needs {', '.join(REQUIRED_COLUMNS)}"
        )
    if results.empty:
        raise ValueError("results table is empty")
    duplicated = results["sample"][results["sample"].duplicated()].unique()
    if len(duplicated):
        raise ValueError(
            f"results table has more than one row for sample(s) {_few(duplicated)}; "
            f"it must hold one row per cycle"
        )
    unknown = sorted(set(results["category"].astype(int)) - {int(c) for c in Category})
    if unknown:
        raise ValueError(f"results table has unknown category value(s) {unknown}; valid are 0-12")
    anomaly = results["anomaly"].astype(bool)
    normal_category = results["category"].astype(int) == Category.NORMAL_OPERATION
    inconsistent = results["sample"][anomaly == normal_category]
    if len(inconsistent):
        raise ValueError(
            f"sample(s) {_few(inconsistent)} have anomaly and category that disagree "
            f"(anomaly must be False exactly for category 12, NORMAL_OPERATION)"
        )
    training = results["sample"][results["setting"].astype(int) == TRAIN_SETTING]
    if len(training):
        raise ValueError(
            f"results include training cycles (setting {int(TRAIN_SETTING)}, PRE_A): sample(s) "
            f"{_few(training)}; the protocol evaluates on test cycles only"
        )
    if np.isnan(results["score"].to_numpy(dtype=float)).any():
        raise ValueError(f"sample(s) {_few(results['sample'][results['score'].isna()])} have a NaN score")


def scores_by_category(results: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Score ranks of the normal test cycles, and of each present anomaly category's cycles.

    AUROC and ROC curves depend only on the order of the scores; ranks keep that order and
    make +inf (a flow that overflowed on a wild cycle: the most anomalous) usable by
    scikit-learn.
    """
    check_results(results)
    anomaly = results["anomaly"].astype(bool).to_numpy()
    ranks = results["score"].astype(float).rank(method="average").to_numpy()
    normal = ranks[~anomaly]
    if len(normal) == 0:
        raise ValueError(
            "results contain no normal test cycles (anomaly == False); "
            "AUROC per category needs them as the negatives"
        )
    categories = results["category"].astype(int).to_numpy()
    per_category = {}
    for category in ANOMALY_CATEGORIES:
        positive = ranks[anomaly & (categories == category)]
        if len(positive):
            per_category[category.name] = positive
    if not per_category:
        raise ValueError("results contain no anomalous cycles (anomaly == True); nothing to detect")
    return normal, per_category


def roc_inputs(normal: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels (0 = normal, 1 = anomalous) and scores for one category's ROC."""
    labels = np.concatenate([np.zeros(len(normal)), np.ones(len(positive))])
    return labels, np.concatenate([normal, positive])


def category_aurocs(results: pd.DataFrame) -> AurocResult:
    """AUROC of each anomaly category against all normal test cycles, and their mean."""
    normal, positives = scores_by_category(results)
    per_category = {name: float(roc_auc_score(*roc_inputs(normal, p))) for name, p in positives.items()}
    return AurocResult(
        per_category=per_category,
        mean=float(np.mean(list(per_category.values()))),
        missing=tuple(c.name for c in ANOMALY_CATEGORIES if c.name not in per_category),
        n_normal=len(normal),
        n_anomalous={name: len(p) for name, p in positives.items()},
    )


def aggregate_runs(runs: Sequence[AurocResult]) -> RunSummary:
    """Mean ± sample std (ddof=1) over runs; the std of the mean is over the runs' means."""
    if not runs:
        raise ValueError("no runs to aggregate")
    names = list(runs[0].per_category)
    for i, run in enumerate(runs[1:], start=2):
        if list(run.per_category) != names:
            raise ValueError(
                f"run {i} covers the categories {list(run.per_category)}, run 1 covers {names}; "
                f"runs must be evaluated on the same test cycles"
            )
    # rows = runs; the last column holds each run's mean over its categories
    table = np.array([[*(run.per_category[n] for n in names), run.mean] for run in runs])
    std = table.std(0, ddof=1) if len(runs) > 1 else np.full(table.shape[1], np.nan)
    average = table.mean(0)
    return RunSummary(
        n_runs=len(runs),
        per_category=dict(zip(names, average[:-1].tolist(), strict=True)),
        per_category_std=dict(zip(names, std[:-1].tolist(), strict=True)),
        mean=float(average[-1]),
        mean_std=float(std[-1]),
        missing=runs[0].missing,
        n_normal=runs[0].n_normal,
        n_anomalous=runs[0].n_anomalous,
    )


def localization_errors(results: pd.DataFrame) -> pd.Series:
    """|Δt| in seconds per row: 0 inside [truth_start_s, truth_end_s], else the distance to the
    nearer end; NaN where there is no ground truth or no predicted event."""
    absent = [c for c in ("sample", *LOCALIZATION_COLUMNS) if c not in results.columns]
    if absent:
        raise ValueError(f"results table lacks the localization column(s) {', '.join(absent)}")
    start = results["truth_start_s"].to_numpy(dtype=float)
    end = results["truth_end_s"].to_numpy(dtype=float)
    predicted = results["event_time_s"].to_numpy(dtype=float)
    if (np.isnan(start) != np.isnan(end)).any():
        raise ValueError("truth_start_s and truth_end_s must both be given or both be NaN per cycle")
    reversed_ = end < start
    if reversed_.any():
        raise ValueError(
            f"truth_end_s is before truth_start_s for sample(s) {_few(results['sample'][reversed_])}"
        )
    # Distance to the interval: one of the two terms is positive outside it, both are <= 0 inside.
    error = np.maximum(np.maximum(start - predicted, predicted - end), 0.0)
    return pd.Series(error, index=results.index, name="abs_dt_s")


@dataclass(frozen=True)
class LocalizationResult:
    """Median |Δt| per anomaly category over its cycles with ground truth and a predicted event."""

    median_abs_dt_s: dict[str, float]
    n_cycles: dict[str, int]
    n_without_event: dict[str, int]


def localization_summary(results: pd.DataFrame) -> LocalizationResult:
    """Median |Δt| per anomaly category where ground truth exists.

    Cycles with ground truth but no predicted event are counted, not silently dropped, so
    that a method that localizes few cycles cannot look precise.
    """
    check_results(results)
    errors = localization_errors(results)
    anomaly = results["anomaly"].astype(bool)
    has_truth = results["truth_start_s"].notna() & anomaly
    categories = results["category"].astype(int)
    medians: dict[str, float] = {}
    counts: dict[str, int] = {}
    without: dict[str, int] = {}
    for category in ANOMALY_CATEGORIES:
        rows = has_truth & (categories == category)
        if not rows.any():
            continue
        valid = errors[rows].dropna()
        without[category.name] = int(rows.sum()) - len(valid)
        counts[category.name] = len(valid)
        medians[category.name] = float(valid.median()) if len(valid) else float("nan")
    return LocalizationResult(median_abs_dt_s=medians, n_cycles=counts, n_without_event=without)


def _few(values: Sequence[object] | np.ndarray | pd.Series, limit: int = 5) -> str:
    shown = [str(v) for v in list(values)[:limit]]
    more = len(values) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
