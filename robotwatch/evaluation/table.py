"""The results as a person reads them (a rich table like thesis Table 8.2) and as a machine does (JSON)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rich.table import Table

from replay.schema import ANOMALY_CATEGORIES
from robotwatch.evaluation.metrics import LocalizationResult, RunSummary

_MISSING = "–"


def _percent(value: float, std: float) -> str:
    text = f"{100 * value:.1f}"
    return text if math.isnan(std) else f"{text} ± {100 * std:.1f}"


def _bold_best(cells: list[str], values: list[float], best: float) -> list[str]:
    # Compare at the shown precision, so that two methods that print the same number are both bold.
    return [
        f"[bold]{c}[/bold]" if not math.isnan(v) and round(100 * v, 1) == round(100 * best, 1) else c
        for c, v in zip(cells, values, strict=True)
    ]


def auroc_table(methods: Mapping[str, RunSummary], title: str = "AUROC per category [%]") -> Table:
    """Rows: the 12 anomaly categories and their mean; columns: methods; best per row in bold.

    Values are AUROC in percent, with ± std over runs where a method has several runs.
    """
    if not methods:
        raise ValueError("no methods to tabulate")
    n_runs = ", ".join(f"{name}: {s.n_runs}" for name, s in methods.items())
    table = Table(
        title=title, caption=f"runs per method: {n_runs}; {_MISSING} = category not in the test data"
    )
    table.add_column("category")
    table.add_column("cycles", justify="right")
    for name in methods:
        table.add_column(name, justify="right")
    summaries = list(methods.values())
    counts = summaries[0].n_anomalous
    for category in ANOMALY_CATEGORIES:
        name = category.name
        values = [s.per_category.get(name, float("nan")) for s in summaries]
        cells = [
            _percent(v, s.per_category_std[name]) if name in s.per_category else _MISSING
            for v, s in zip(values, summaries, strict=True)
        ]
        present = [v for v in values if not math.isnan(v)]
        if present:
            cells = _bold_best(cells, values, max(present))
        table.add_row(name, str(counts.get(name, 0)), *cells)
    means = [s.mean for s in summaries]
    mean_cells = _bold_best([_percent(s.mean, s.mean_std) for s in summaries], means, max(means))
    table.add_section()
    table.add_row("mean", f"{summaries[0].n_normal} normal", *mean_cells)
    return table


def localization_table(
    methods: Mapping[str, LocalizationResult], title: str = "Localization: median |Δt| per category [s]"
) -> Table:
    """Rows: categories with ground-truth event times; columns: methods; smallest per row in bold."""
    if not methods:
        raise ValueError("no methods to tabulate")
    table = Table(title=title, caption="cycles with ground truth (without a found event in brackets)")
    table.add_column("category")
    for name in methods:
        table.add_column(name, justify="right")
    results = list(methods.values())
    for category in ANOMALY_CATEGORIES:
        name = category.name
        if not any(name in r.median_abs_dt_s for r in results):
            continue
        values = [r.median_abs_dt_s.get(name, float("nan")) for r in results]
        present = [v for v in values if not math.isnan(v)]
        cells = []
        for value, result in zip(values, results, strict=True):
            if name not in result.n_cycles:
                cells.append(_MISSING)
                continue
            shown = _MISSING if math.isnan(value) else f"{value:.3f}"
            if present and value == min(present):
                shown = f"[bold]{shown}[/bold]"
            count = f"n={result.n_cycles[name]}"
            if result.n_without_event[name]:
                count += f" ({result.n_without_event[name]})"
            cells.append(f"{shown}  {count}")
        table.add_row(name, *cells)
    return table


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN; null says "not defined" (e.g. no localized cycle in a category).
    return None if math.isnan(value) else value


def results_json(summary: RunSummary, localization: LocalizationResult | None = None) -> dict[str, Any]:
    """The machine-readable result of one method.

    Keys: mean_auroc, auroc (category -> AUROC), missing_categories, n_runs, n_normal_cycles,
    n_anomalous_cycles, localization_median_abs_dt_s (category -> seconds, where ground truth
    exists; empty without it) and localization_n_cycles; with several runs also mean_auroc_std
    and auroc_std.
    """
    out: dict[str, Any] = {
        "mean_auroc": summary.mean,
        "auroc": dict(summary.per_category),
        "missing_categories": list(summary.missing),
        "n_runs": summary.n_runs,
        "n_normal_cycles": summary.n_normal,
        "n_anomalous_cycles": dict(summary.n_anomalous),
    }
    if summary.n_runs > 1:
        out["mean_auroc_std"] = summary.mean_std
        out["auroc_std"] = dict(summary.per_category_std)
    medians = {} if localization is None else localization.median_abs_dt_s
    out["localization_median_abs_dt_s"] = {k: _finite_or_none(v) for k, v in medians.items()}
    out["localization_n_cycles"] = {} if localization is None else dict(localization.n_cycles)
    return out
