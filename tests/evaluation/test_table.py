"""The rich table (thesis Table 8.2 layout) and the machine JSON."""

from __future__ import annotations

import json
import re

import numpy as np
from rich.console import Console

from replay.schema import ANOMALY_CATEGORIES
from robotwatch.evaluation import (
    AurocResult,
    LocalizationResult,
    aggregate_runs,
    auroc_table,
    localization_table,
    results_json,
)


def run(values: dict[str, float]) -> AurocResult:
    return AurocResult(
        per_category=values,
        mean=float(np.mean(list(values.values()))),
        missing=tuple(c.name for c in ANOMALY_CATEGORIES if c.name not in values),
        n_normal=40,
        n_anomalous=dict.fromkeys(values, 7),
    )


def render(table: object, styles: bool = False) -> str:
    console = Console(record=True, width=200, force_terminal=True, color_system="standard")
    console.print(table)
    return console.export_text(styles=styles)


def test_auroc_table_shows_every_category_the_mean_and_std_over_runs() -> None:
    flow = aggregate_runs(
        [run({"AXIS_FRICTION": 0.95, "MISS_CAN": 0.80}), run({"AXIS_FRICTION": 0.97, "MISS_CAN": 0.84})]
    )
    nn = aggregate_runs([run({"AXIS_FRICTION": 0.60, "MISS_CAN": 0.90})])
    text = render(auroc_table({"MTS-Flow": flow, "1-NN": nn}))
    for category in ANOMALY_CATEGORIES:
        assert category.name in text
    assert "MTS-Flow" in text and "1-NN" in text and "mean" in text
    assert "96.0 ± 1.4" in text  # AXIS_FRICTION: mean 0.96, sample std 0.0141
    assert "82.0 ± 2.8" in text  # MISS_CAN
    assert "89.0 ± 2.1" in text  # mean: the runs' means are 0.875 and 0.905
    assert "60.0" in text and "90.0" in text and "75.0" in text
    missing_row = next(line for line in text.splitlines() if "WOBBLING_STATION" in line)
    assert "–" in missing_row


def test_the_best_method_per_row_is_bold() -> None:
    flow = aggregate_runs([run({"AXIS_FRICTION": 0.95, "MISS_CAN": 0.80})])
    nn = aggregate_runs([run({"AXIS_FRICTION": 0.60, "MISS_CAN": 0.90})])
    text = render(auroc_table({"MTS-Flow": flow, "1-NN": nn}), styles=True)
    bold = "\x1b[1m"
    friction = next(line for line in text.splitlines() if "AXIS_FRICTION" in line)
    miss = next(line for line in text.splitlines() if "MISS_CAN" in line)
    assert re.search(re.escape(bold) + r"95\.0", friction) and not re.search(
        re.escape(bold) + r"60\.0", friction
    )
    assert re.search(re.escape(bold) + r"90\.0", miss) and not re.search(re.escape(bold) + r"80\.0", miss)


def test_localization_table_lists_categories_with_ground_truth() -> None:
    result = LocalizationResult(
        median_abs_dt_s={"COLLISION_FOAM": 0.125, "LOSE_CAN": float("nan")},
        n_cycles={"COLLISION_FOAM": 9, "LOSE_CAN": 0},
        n_without_event={"COLLISION_FOAM": 1, "LOSE_CAN": 2},
    )
    text = render(localization_table({"MTS-Flow": result}))
    assert "COLLISION_FOAM" in text and "0.125" in text and "n=9 (1)" in text
    assert "LOSE_CAN" in text and "n=0 (2)" in text
    assert "AXIS_FRICTION" not in text


def test_json_of_a_single_run() -> None:
    summary = aggregate_runs([run({"AXIS_FRICTION": 0.9, "MISS_CAN": 0.7})])
    localization = LocalizationResult(
        median_abs_dt_s={"MISS_CAN": 0.25, "LOSE_CAN": float("nan")},
        n_cycles={"MISS_CAN": 4, "LOSE_CAN": 0},
        n_without_event={"MISS_CAN": 0, "LOSE_CAN": 3},
    )
    out = results_json(summary, localization)
    assert out["mean_auroc"] == 0.8
    assert out["auroc"] == {"AXIS_FRICTION": 0.9, "MISS_CAN": 0.7}
    assert out["localization_median_abs_dt_s"] == {"MISS_CAN": 0.25, "LOSE_CAN": None}
    assert "mean_auroc_std" not in out and "auroc_std" not in out
    assert len(out["missing_categories"]) == 10
    json.dumps(out, allow_nan=False)  # valid strict JSON


def test_json_of_several_runs_has_stds_and_empty_localization_without_ground_truth() -> None:
    summary = aggregate_runs([run({"AXIS_FRICTION": 0.9}), run({"AXIS_FRICTION": 0.8})])
    out = results_json(summary)
    assert out["n_runs"] == 2
    assert out["mean_auroc_std"] == out["auroc_std"]["AXIS_FRICTION"] == np.std([0.9, 0.8], ddof=1)
    assert out["localization_median_abs_dt_s"] == {}
    json.dumps(out, allow_nan=False)
