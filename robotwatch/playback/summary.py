"""What `robotwatch replay` reports: detection per category, the alerts with their events,
and the latency and throughput of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike

import numpy as np
import pandas as pd
from rich.table import Table

from replay.schema import TRAIN_SETTING, Category
from robotwatch.evaluation import aggregate_runs, auroc_table, category_aurocs
from robotwatch.evaluation.metrics import RunSummary
from robotwatch.mtsflow.model_file import TrainedModel
from robotwatch.playback.embedded import ReplayResult
from robotwatch.stream.dashboard import clock_text, reason, verdict_severity
from robotwatch.stream.verdicts import Verdict
from rwcore.thresholds import severity


@dataclass
class ReplaySummary:
    results: pd.DataFrame
    frames: int
    seconds: float
    threshold: float
    detection: RunSummary | None
    alerts: list[Verdict] = field(default_factory=list)  # anomalous or unscored, strongest first

    def latency(self) -> dict[str, float]:
        lat = self.results["latency_ms"].to_numpy() if len(self.results) else np.zeros(1)
        return {f"p{q}": float(np.percentile(lat, q)) for q in (50, 95, 99)} | {"max": float(lat.max())}

    def as_json(self) -> dict[str, object]:
        r = self.results
        doc: dict[str, object] = {
            "verdicts": len(r),
            "anomalous": int(r["flagged"].sum()),
            "incomplete": int(r["incomplete"].sum()),
            "robots": int(r["robot"].nunique()),
            "frames": self.frames,
            "seconds": round(self.seconds, 2),
            "latency_ms": {k: round(v, 2) for k, v in self.latency().items()},
        }
        if self.detection is not None:
            doc["mean_auroc"] = self.detection.mean
            doc["auroc"] = self.detection.per_category
        labels = self._labels()
        doc["alerts"] = [
            v.model_dump(mode="json")
            | {"severity": _severity(v), "why": reason(v), "labelled": labels.get((v.robot_id, v.cycle_id))}
            for v in self.alerts
        ]
        return doc

    def _labels(self) -> dict[tuple[str | None, str], str]:
        r = self.results
        return {
            (robot, str(sample)): _label(c)
            for robot, sample, c in zip(r["robot"], r["sample"], r["category"], strict=True)
        }

    def tables(self) -> list[Table]:
        return [auroc_table({"MTS-Flow (replay)": self.detection})] if self.detection is not None else []

    def renderables(self) -> list[object]:
        r = self.results
        alerts = Table(
            title=f"alerts: {int(r['flagged'].sum())} of {len(r)} cycles over the threshold, strongest first",
            title_justify="left",
        )
        # Robot ids and categories are never cut; the description wraps.
        alerts.add_column("robot", no_wrap=True)
        alerts.add_column("cycle", no_wrap=True)
        alerts.add_column("labelled", no_wrap=True)
        alerts.add_column("severity", justify="right", no_wrap=True)
        alerts.add_column("at", no_wrap=True)
        alerts.add_column("what and where", overflow="fold", ratio=1)
        labels = self._labels()
        for v in self.alerts[:12]:
            alerts.add_row(
                v.robot_id or "?",
                v.cycle_id,
                labels.get((v.robot_id, v.cycle_id), "?"),
                verdict_severity(v),
                clock_text(v.start_time),
                reason(v),
            )
        if len(self.alerts) > 12:
            alerts.caption = f"and {len(self.alerts) - 12} more (--json lists them all)"
        lat = self.latency()
        speed = Table(title="pipeline")
        for name in ("cycles", "frames", "seconds", "frames/s", "latency p50", "p95", "p99", "max"):
            speed.add_column(name, justify="right")
        speed.add_row(
            str(len(r)),
            str(self.frames),
            f"{self.seconds:.1f}",
            f"{self.frames / max(self.seconds, 1e-9):,.0f}",
            *(f"{lat[k]:.0f} ms" for k in ("p50", "p95", "p99", "max")),
        )
        return [*self.tables(), alerts, speed]


def _severity(verdict: Verdict) -> float | None:
    if verdict.score is None:
        return None
    ratio = severity(verdict.score, verdict.threshold)
    return None if np.isnan(ratio) else round(ratio, 4) if np.isfinite(ratio) else None


def _label(category: int) -> str:
    return Category(int(category)).name if 0 <= category <= 12 else "?"


def replay_summary(result: ReplayResult, data: str | PathLike[str], model: TrainedModel) -> ReplaySummary:
    results = result.results(data)
    if "start_time" not in results.columns:  # each verdict's cycle start: the report's time of day
        start = {(v.robot_id, int(v.cycle_id)): v.start_time for v in result.verdicts}
        keys = zip(results["robot"], results["sample"], strict=True)
        results = results.assign(start_time=[start.get((r, int(s)), "") for r, s in keys])
    detection = None
    first_robot = results[results["robot"] == results["robot"].min()]
    labelled = first_robot[(first_robot["setting"] != TRAIN_SETTING) & first_robot["score"].notna()]
    if labelled["anomaly"].any() and (~labelled["anomaly"]).any():
        detection = aggregate_runs([category_aurocs(labelled)])
    alerts = sorted(
        (v for v in result.verdicts if v.anomalous or v.status == "error"),
        key=lambda v: -np.inf if v.score is None else -v.score,
    )
    return ReplaySummary(results, result.frames, result.seconds, model.card.threshold, detection, alerts)
