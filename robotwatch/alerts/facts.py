"""What an alert needs to know of a verdict (docs/architecture.md §5): is it one, whose, how
far over the threshold, and when it happened."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from robotwatch.alerts.settings import Kind
from robotwatch.stream.verdicts import Verdict
from rwcore import thresholds


def alert_kind(verdict: Verdict) -> Kind | None:
    """`error`: the cycle could not be scored (an operational problem, not the robot's);
    `anomaly`: over the threshold; None: a normal verdict, nothing to say."""
    if verdict.status == "error":
        return "error"
    return "anomaly" if verdict.anomalous else None


def subject(verdict: Verdict) -> str:
    """Whose verdict: the robot, or for a camera frame the cell."""
    return verdict.robot_id or verdict.cell_id or "unknown"


def severity(verdict: Verdict) -> float | None:
    """How far over the threshold, as a ratio (rwcore.thresholds.severity: 4.0 = four times
    the threshold). inf: an anomalous cycle whose score is not finite; None: no score, or a
    zero threshold."""
    if verdict.score is None:
        return math.inf if verdict.anomalous and verdict.status == "ok" else None
    ratio = thresholds.severity(verdict.score, verdict.threshold)
    return None if math.isnan(ratio) else ratio


def started_at(verdict: Verdict) -> datetime:
    return datetime.fromisoformat(verdict.start_time)


def happened_at(verdict: Verdict) -> datetime:
    """The moment of the strongest event when there is one (cycle start + its time), else the
    cycle's end (a camera frame: its capture time)."""
    if verdict.events:
        return started_at(verdict) + timedelta(seconds=verdict.events[0].time_s)
    return datetime.fromisoformat(verdict.end_time)


def rank(verdict: Verdict) -> float:
    """For choosing the worst: the severity, with no ratio lowest."""
    ratio = severity(verdict)
    return -math.inf if ratio is None else ratio
