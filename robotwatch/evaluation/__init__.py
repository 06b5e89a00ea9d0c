"""Evaluation as in the voraus-AD protocol: AUROC per category, baselines, tables and report pictures.

The baselines (robotwatch.evaluation.baselines, torch) and the report
(robotwatch.evaluation.report, matplotlib) are imported from their own modules, so that
computing and printing metrics stays light.
"""

from robotwatch.evaluation.metrics import (
    AurocResult,
    LocalizationResult,
    RunSummary,
    aggregate_runs,
    category_aurocs,
    localization_errors,
    localization_summary,
)
from robotwatch.evaluation.table import auroc_table, localization_table, results_json

__all__ = [
    "AurocResult",
    "LocalizationResult",
    "RunSummary",
    "aggregate_runs",
    "auroc_table",
    "category_aurocs",
    "localization_errors",
    "localization_summary",
    "localization_table",
    "results_json",
]
