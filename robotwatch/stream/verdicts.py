"""Verdicts on `robot.anomalies` (docs/architecture.md §5): one JSON message per scored cycle
or frame.

A verdict's id is a hash of what identifies the scored thing: the source, the robot (or
cell and camera), where the cycle starts in the controller's step counter *and* its clock
(so that the cycles of two epochs, before and after a controller reboot, never share an
id), and the model. Re-scoring the same cycle after a restart produces the same id and a
consumer drops the repeat (or the topic is compacted on it).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import BaseModel, Field

SCHEMA_VERSION: Final = 2


def verdict_id(source: str, origin: str, start: str, model_id: str) -> str:
    """`start` names where the scored thing starts, e.g. `seq@controller time`."""
    return hashlib.sha256(f"{source}|{origin}|{start}|{model_id}".encode()).hexdigest()[:32]


def iso_ns(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="microseconds")


class SignalShare(BaseModel):
    signal: str
    share: float


class AxisShare(BaseModel):
    axis: int
    share: float


class EventOut(BaseModel):
    """Where the cycle departs from normal: time since cycle start, the action running then."""

    time_s: float
    action: str | None
    strength: float = Field(description="gradient over its typical level on normal cycles at that time")
    top_signals: list[SignalShare]
    top_axes: list[AxisShare]


class CycleFlags(BaseModel):
    incomplete: bool = False
    gap: bool = False
    truncated: bool = False
    gap_steps: int = 0
    repeated_steps: int = 0


class ImageLocalization(BaseModel):
    peak_x: int
    peak_y: int
    peak_value: float
    bbox: tuple[int, int, int, int] | None
    area_fraction: float
    map_path: str | None = None


class Verdict(BaseModel):
    schema_version: Literal[2] = SCHEMA_VERSION
    verdict_id: str
    source: Literal["robot", "vision"]
    robot_id: str | None = None
    cell_id: str | None = None
    cycle_id: str = Field(description="the controller's cycle counter, else the start step")
    start_seq: int | None = None
    end_seq: int | None = None
    start_time: str
    end_time: str
    n_steps: int = Field(description="controller steps received for the cycle (1 for a camera frame)")
    sample_rate_hz: float
    score: float | None = Field(description="None when there is no finite score (see note and status)")
    threshold: float
    anomalous: bool
    status: Literal["ok", "error"] = Field("ok", description="error: the cycle could not be scored")
    error: str | None = Field(None, description="with status error: why")
    note: str | None = None
    events: list[EventOut] = Field(default_factory=list)
    image: ImageLocalization | None = None
    flags: CycleFlags = Field(default_factory=CycleFlags)
    model_id: str
    processing_latency_ms: float = Field(
        description="cycle end (or frame receipt) to verdict, in this service"
    )
    produced_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    @property
    def key(self) -> bytes:
        return (self.robot_id or self.cell_id or "").encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()
