"""What `robotwatch replay` reports: detection per category, the alerts with their events,
and the latency and throughput of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np
import pandas as pd
from rich.table import Table

from replay.schema import TRAIN_SETTING, Category
from robotwatch.evaluation import aggregate_runs, auroc_table, category_aurocs
from robotwatch.evaluation.metrics import RunSummary
from robotwatch.mtsflow.model_file import TrainedModel
from robotwatch.playback.embedded import ReplayResult


@dataclass
class ReplaySummary:
    results: pd.DataFrame
    frames: int
    seconds: float
    threshold: float
    detection: RunSummary | None

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
        return doc

    def tables(self) -> list[Table]:
        return [auroc_table({"MTS-Flow (replay)": self.detection})] if self.detection is not None else []

    def renderables(self) -> list[object]:
        r = self.results
        alerts = Table(
            title=f"alerts: {int(r['flagged'].sum())} of {len(r)} cycles over the threshold "
            f"{self.threshold:.4g} (strongest first)"
        )
        for name in ("robot", "cycle", "labelled", "score", "when in cycle", "action", "axis", "signal"):
            alerts.add_column(name)
        for _, row in r[r["flagged"]].sort_values("score", ascending=False).head(12).iterrows():
            alerts.add_row(
                row["robot"],
                str(row["sample"]),
                _label(row["category"]),
                f"{row['score']:.3g}",
                "–" if np.isnan(row["event_time_s"]) else f"{row['event_time_s']:.2f} s",
                str(row["event_action"] or "–"),
                "–" if pd.isna(row["event_axis"]) else str(int(row["event_axis"])),
                str(row["event_signal"] or "–"),
            )
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


def _label(category: int) -> str:
    return Category(int(category)).name if 0 <= category <= 12 else "?"


def replay_summary(result: ReplayResult, data: str | PathLike[str], model: TrainedModel) -> ReplaySummary:
    results = result.results(data)
    detection = None
    first_robot = results[results["robot"] == results["robot"].min()]
    labelled = first_robot[(first_robot["setting"] != TRAIN_SETTING) & first_robot["score"].notna()]
    if labelled["anomaly"].any() and (~labelled["anomaly"]).any():
        detection = aggregate_runs([category_aurocs(labelled)])
    return ReplaySummary(results, result.frames, result.seconds, model.card.threshold, detection)
