"""The live view (`serve --dashboard`, `replay`, `demo`): robots, last scores, alerts, latency."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from robotwatch.stream.verdicts import Verdict


@dataclass
class _RobotRow:
    cycles: int = 0
    alerts: int = 0
    last: Verdict | None = None


@dataclass
class LiveView:
    title: str = "robotwatch"
    robots: dict[str, _RobotRow] = field(default_factory=dict)
    alerts: deque[Verdict] = field(default_factory=lambda: deque(maxlen=8))
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=2000))
    total: int = 0

    def add(self, verdicts: list[Verdict]) -> None:
        for v in verdicts:
            row = self.robots.setdefault(v.robot_id or v.cell_id or "?", _RobotRow())
            row.cycles += 1
            row.last = v
            self.total += 1
            self.latencies_ms.append(v.processing_latency_ms)
            if v.anomalous:
                row.alerts += 1
                self.alerts.appendleft(v)

    def render(self, status: dict[str, object] | None = None, max_robots: int = 12) -> Panel:
        robots = Table(expand=True, title="robots (latest first)", title_justify="left")
        for name in ("robot", "cycles", "alerts", "last score", "threshold", "last verdict"):
            robots.add_column(name, justify="left" if name in ("robot", "last verdict") else "right")
        latest = sorted(
            self.robots.items(), key=lambda kv: kv[1].last.produced_at if kv[1].last else "", reverse=True
        )
        for name, row in latest[:max_robots]:
            v = row.last
            if v is None:
                continue
            verdict = Text("ANOMALY", style="bold red") if v.anomalous else Text("normal", style="green")
            robots.add_row(
                name,
                str(row.cycles),
                str(row.alerts),
                "–" if v.score is None else f"{v.score:.4g}",
                f"{v.threshold:.4g}",
                verdict,
            )
        alerts = Table(expand=True, title="latest alerts", title_justify="left")
        for name in ("robot", "cycle", "score", "when in cycle", "action", "axis", "signal"):
            alerts.add_column(name)
        for v in self.alerts:
            e = v.events[0] if v.events else None
            alerts.add_row(
                v.robot_id or v.cell_id or "?",
                v.cycle_id,
                f"{v.score:.4g}" if v.score is not None else "–",
                f"{e.time_s:.2f} s" if e else "–",
                (e.action or "–") if e else "–",
                str(e.top_axes[0].axis) if e and e.top_axes else "–",
                e.top_signals[0].signal if e and e.top_signals else "–",
            )
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        line = (
            f"{self.total} verdicts, {sum(r.alerts for r in self.robots.values())} alerts, "
            f"{len(self.robots)} robots · verdict latency p50 {np.percentile(lat, 50):.0f} ms, "
            f"p99 {np.percentile(lat, 99):.0f} ms"
        )
        if status:
            line += " · " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in status.items())
        return Panel(Group(Text(line), robots, alerts), title=self.title, border_style="blue")
