"""The live view (`serve --dashboard`, `replay`, `demo`): robots, their last verdict, the latest
alerts with the time of day and the reason, and latency. Robot ids, steps and reasons wrap
instead of being cut at any terminal width."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from robotwatch.stream.verdicts import Verdict
from rwcore.thresholds import severity, severity_text

# Controller clocks before this are a replay's own (seconds since the file's start), not a day.
_EPOCH_OF_REAL_CLOCKS = datetime(2000, 1, 1, tzinfo=UTC)


def clock_text(iso: str) -> str:
    """A verdict's time as a person reads it: the local time of day (with the date when it is
    not today), or, for a replayed file's clock, the time since the replay began."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # verdicts write UTC
    if moment < _EPOCH_OF_REAL_CLOCKS:
        elapsed = int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
        return f"+{elapsed // 3600:d}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}"
    local = moment.astimezone()
    same_day = local.date() == datetime.now().astimezone().date()
    return local.strftime("%H:%M:%S" if same_day else "%m-%d %H:%M:%S")


def verdict_severity(verdict: Verdict) -> str:
    if verdict.score is None:
        return "∞×" if verdict.anomalous and verdict.status == "ok" else "–"
    return severity_text(severity(verdict.score, verdict.threshold))


def reason(verdict: Verdict) -> str:
    """Why it alarmed, in words: the strongest event (step, time in the cycle, axis, signal),
    or the error, and what was odd about the cycle."""
    if verdict.status == "error":
        return f"not scored: {verdict.error}"
    parts = []
    if verdict.events:
        e = verdict.events[0]
        where = f"during {e.action}" if e.action else "at"
        parts.append(f"{where} {e.time_s:.2f} s into the cycle")
        if e.top_axes:
            parts.append(f"axis {e.top_axes[0].axis}")
        if e.top_signals:
            parts.append(e.top_signals[0].signal)
    elif verdict.score is None:
        parts.append(verdict.note or "the score is not finite")
    flags = [name for name in ("incomplete", "gap", "truncated") if getattr(verdict.flags, name)]
    if flags:
        parts.append("cycle " + "/".join(flags))
    return ", ".join(parts) or "over the threshold"


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
            if v.anomalous or v.status == "error":
                row.alerts += 1
                self.alerts.appendleft(v)

    def render(self, status: dict[str, object] | None = None, max_robots: int = 12) -> Panel:
        latest = sorted(
            self.robots.items(), key=lambda kv: kv[1].last.produced_at if kv[1].last else "", reverse=True
        )[:max_robots]
        # Ids are never cut: their column is as wide as the longest shown, the last verdict wraps.
        widest = min(60, max([len(name) for name, _ in latest] or [5]))
        robots = Table(expand=True, title="robots (latest first)", title_justify="left", box=box.SIMPLE_HEAD)
        robots.add_column("robot", no_wrap=True, min_width=widest)
        robots.add_column("cycles", justify="right", no_wrap=True)
        robots.add_column("alerts", justify="right", no_wrap=True)
        robots.add_column("last verdict", overflow="fold", ratio=1)
        for name, row in latest:
            v = row.last
            if v is None:
                continue
            word = (
                ("error", "bold yellow")
                if v.status == "error"
                else (("anomaly", "bold red") if v.anomalous else ("normal", "green"))
            )
            last = Text.assemble(word, f" {verdict_severity(v)} at {clock_text(v.end_time)}")
            robots.add_row(name, str(row.cycles), str(row.alerts), last)
        # One paragraph per alert: it wraps at any width, nothing is cut.
        alerts = [Text("latest alerts", style="italic")] + [
            Text.assemble(
                (clock_text(v.end_time), "bold"),
                "  ",
                (v.robot_id or v.cell_id or "?", "bold"),
                f"  cycle {v.cycle_id}  ",
                (verdict_severity(v), "bold red"),
                f"  {reason(v)}",
            )
            for v in self.alerts
        ]
        if not self.alerts:
            alerts.append(Text("none yet", style="dim"))
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        line = (
            f"{self.total} verdicts, {sum(r.alerts for r in self.robots.values())} alerts, "
            f"{len(self.robots)} robots · verdict latency p50 {np.percentile(lat, 50):.0f} ms, "
            f"p99 {np.percentile(lat, 99):.0f} ms"
        )
        if status:
            line += " · " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in status.items())
        return Panel(Group(Text(line), robots, *alerts), title=self.title, border_style="blue")
