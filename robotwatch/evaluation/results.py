"""The per-cycle results table: one row type for every method and every way of scoring.

`evaluate` (MTS-Flow and the baselines) and `replay` all emit `CycleResult` rows; metrics,
tables and the report read them. The columns are the fields below, declared once here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from rwcore.errors import UserError


@dataclass(frozen=True)
class CycleResult:
    sample: int  # the file's cycle id
    category: int  # replay.schema.Category of the file's label
    setting: int
    anomaly: bool  # labelled anomalous in the file
    score: float  # higher = more anomalous
    flagged: bool = False  # over the method's threshold (methods without one never flag)
    n_steps: int = 0
    truncated: bool = False  # longer than the model's padded length
    event_time_s: float = math.nan  # the strongest event, where the cycle was localized
    event_action: str | None = None
    event_strength: float = math.nan
    event_signal: str | None = None
    event_axis: int | None = None
    truth_start_s: float = math.nan  # the simulator's ground truth, where the file has one
    truth_end_s: float = math.nan
    robot: str | None = None  # replay: which robot played the cycle
    latency_ms: float = math.nan  # replay: cycle end to verdict
    incomplete: bool = False  # replay: closed by the idle timeout


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CycleResult))
# What the detection metrics need of a results table.
REQUIRED_COLUMNS: tuple[str, ...] = ("sample", "category", "setting", "anomaly", "score")


def results_frame(rows: Iterable[CycleResult]) -> pd.DataFrame:
    return pd.DataFrame([asdict(r) for r in rows], columns=list(COLUMNS))


def with_truth(results: pd.DataFrame, truth_file: Path) -> pd.DataFrame:
    """Fill truth_start_s / truth_end_s from the simulator's sidecar, where one exists."""
    if not truth_file.exists():
        return results
    truth = pd.read_parquet(truth_file)
    columns = {"event_start_s": "truth_start_s", "event_end_s": "truth_end_s"}
    if not set(columns) <= set(truth.columns) or "sample" not in truth.columns:
        raise UserError(f"{truth_file}: expected columns sample, event_start_s, event_end_s")
    joined = results.drop(columns=list(columns.values())).merge(
        truth[["sample", *columns]].rename(columns=columns), on="sample", how="left"
    )
    return joined[list(COLUMNS)]
