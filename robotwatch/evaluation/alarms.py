"""What a plant user reads first in a report: which cycles alarmed, how strongly, and how often
the threshold alarms on normal cycles and catches anomalous ones.

A cycle alarms as the service decides it (robotwatch.mtsflow.score): its score is over the
threshold or not finite. Severity is the score's ratio to the threshold
(rwcore.thresholds.severity), and where the model's held-out normal scores are known, the share
of them the score lies above. Plain functions on the per-cycle results table
(robotwatch.evaluation.results); no figures here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from replay.schema import ANOMALY_CATEGORIES, TRAIN_SETTING, Category
from rwcore.thresholds import severity, severity_text

# The alarmed table lists at most this many cycles; a page with thousands of rows helps nobody.
MAX_ALARM_ROWS = 300
# Controller clocks before this are a replay's own (seconds since the file's start), not a day.
REAL_CLOCKS_FROM = datetime(2000, 1, 1, tzinfo=UTC)


def alarmed(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The service's rule: over the threshold, or no finite score at all (the strongest sign
    of an anomaly there is)."""
    scores = np.asarray(scores, dtype=float)
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(scores) | (scores > threshold)


def verdict_text(score: float, threshold: float | None, anomalous: bool) -> str:
    """`ALARMED (4.34× the threshold)`, `MISSED (0.6× the threshold)` or, for a normal cycle
    under the threshold, `not alarmed (0.8× the threshold)`; a false alarm says so."""
    if threshold is None:
        return "no threshold"
    ratio = severity_text(severity(score, threshold))
    if bool(alarmed(np.array([score]), threshold)[0]):
        return f"ALARMED ({ratio} the threshold)" + ("" if anomalous else ", a false alarm")
    return f"MISSED ({ratio} the threshold)" if anomalous else f"not alarmed ({ratio} the threshold)"


def normal_percentile(score: float, normal_scores: Sequence[float]) -> float:
    """The share of normal scores (in %) that lie below `score`: 100 above all of them; NaN
    without normal scores or a score."""
    normal = np.sort(np.asarray(normal_scores, dtype=float))
    if normal.size == 0 or math.isnan(score):
        return math.nan
    return 100.0 * float(np.searchsorted(normal, score, side="left")) / normal.size


def percentile_text(percent: float, n_normal: int) -> str:
    if math.isnan(percent):
        return "–"
    if percent >= 100:
        return f"above all {n_normal}"
    return f"above {percent:.0f} %"


@dataclass(frozen=True)
class Rate:
    """How many cycles of a group alarmed at the threshold."""

    group: str  # "normal", "anomalous" or an anomaly category's name
    alarmed: int
    total: int

    @property
    def fraction(self) -> float:
        return self.alarmed / self.total if self.total else math.nan

    @property
    def kind(self) -> str:
        return "false-alarm rate" if self.group == "normal" else "detection rate"

    def text(self) -> str:
        """`3 of 412 normal test cycles alarmed (0.7 %)`."""
        what = {"normal": "normal test cycles", "anomalous": "anomalous test cycles"}.get(
            self.group, f"{self.group} cycles"
        )
        return f"{self.alarmed} of {self.total} {what} alarmed ({100 * self.fraction:.1f} %)"


def alarm_rates(results: pd.DataFrame, threshold: float) -> list[Rate]:
    """The realized false-alarm rate on the labelled normal test cycles, the detection rate on
    all anomalous ones, then per anomaly category present (Category order).

    Training cycles (a replay of `--part all`) and cycles without a known label are left out:
    they say nothing about how the threshold does on new cycles.
    """
    category = results["category"].to_numpy(dtype=int)
    setting = results["setting"].to_numpy(dtype=int)
    flags = alarmed(results["score"].to_numpy(dtype=float), threshold)
    test = setting != TRAIN_SETTING
    normal = test & (category == Category.NORMAL_OPERATION)
    anomalous = test & np.isin(category, [int(c) for c in ANOMALY_CATEGORIES])
    rates = [
        Rate("normal", int(flags[normal].sum()), int(normal.sum())),
        Rate("anomalous", int(flags[anomalous].sum()), int(anomalous.sum())),
    ]
    for c in ANOMALY_CATEGORIES:
        members = test & (category == c)
        if members.any():
            rates.append(Rate(c.name, int(flags[members].sum()), int(members.sum())))
    return rates


@dataclass(frozen=True)
class AlarmRow:
    """One alarmed cycle as the report's table shows it."""

    robot: str
    sample: int
    time: str  # time of day of a replayed verdict, else the cycle's position among those scored
    severity: float
    percentile: float  # among the held-out normal cycles; NaN where unknown
    truth: str  # the file's label: a category name, "normal (false alarm)" or "–"
    event_time_s: float
    step: str
    axis: int | None
    signal: str


def truth_text(category: int, setting: int) -> str:
    if category == Category.NORMAL_OPERATION:
        return "normal (training cycle)" if setting == TRAIN_SETTING else "normal (false alarm)"
    if 0 <= category < Category.NORMAL_OPERATION:
        return Category(category).name
    return "–"


def time_text(start_time: object) -> str:
    """A verdict's ISO start time as people read it in a report read later: the local date and
    time of day; a replayed file's clock (before 2000, as the live view reads it,
    robotwatch.stream.dashboard) as the time since the replay began, `+0:04:01`."""
    if not isinstance(start_time, str) or not start_time:
        return "–"
    try:
        moment = datetime.fromisoformat(start_time)
    except ValueError:
        return start_time
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # verdicts write UTC
    if moment < REAL_CLOCKS_FROM:
        elapsed = int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
        return f"+{elapsed // 3600:d}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def alarmed_rows(
    results: pd.DataFrame,
    threshold: float,
    source: str = "",
    normal_scores: Sequence[float] = (),
) -> list[AlarmRow]:
    """Every cycle of `results` that alarmed at `threshold`, strongest first (an infinite score
    first of all). `source` names the robot where the table has no robot column (evaluate: the
    file); `time` is the verdict's `start_time` where the table has one."""
    scores = results["score"].to_numpy(dtype=float)
    flags = alarmed(scores, threshold)
    position = np.arange(1, len(results) + 1)
    # NaN (no score) ranks with +inf: both alarm as strongly as anything can
    order = np.argsort(-np.where(np.isnan(scores), np.inf, scores)[flags], kind="stable")
    rows = []
    for i in np.flatnonzero(flags)[order]:
        row = results.iloc[i]
        robot = row.get("robot")
        when = time_text(row["start_time"]) if "start_time" in results.columns else "–"
        if when == "–":
            when = f"#{position[i]} of {len(results)}"
        axis = row.get("event_axis")
        event_time = row.get("event_time_s")
        rows.append(
            AlarmRow(
                robot=str(robot) if isinstance(robot, str) and robot else source or "–",
                sample=int(row["sample"]),
                time=when,
                severity=severity(float(scores[i]), threshold),
                percentile=normal_percentile(float(scores[i]), normal_scores),
                truth=truth_text(int(row["category"]), int(row["setting"])),
                event_time_s=math.nan if event_time is None or pd.isna(event_time) else float(event_time),
                step=_text(row.get("event_action")),
                axis=None if axis is None or pd.isna(axis) else int(axis),
                signal=_text(row.get("event_signal")),
            )
        )
    return rows


def _text(value: object) -> str:
    return value if isinstance(value, str) and value else "–"
