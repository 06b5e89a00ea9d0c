"""`manifest.json` beside the files `robotwatch record` writes: per robot its file, signals, rate,
program, the cycles recorded (and their identity in the stream, so that a second run never
adds one twice) and the cycles left out, with the reason. `robotwatch train` reads the
signals and program of a recorded file from it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from robotwatch.program import Program
from rwcore.errors import UserError

FORMAT = "robotwatch.record/1"
NAME = "manifest.json"


class RecordedCycle(BaseModel):
    sample: int
    start_seq: int
    start_time: str
    start_time_ns: int
    n_steps: int


class LeftOut(BaseModel):
    start_seq: int
    start_time: str
    reason: str  # incomplete, gap, truncated, too short


class RobotRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    signals: list[str]
    sample_rate_hz: float
    program: Program
    label: str
    setting: int
    recorded: list[RecordedCycle] = Field(default_factory=list)
    left_out: list[LeftOut] = Field(default_factory=list)

    @property
    def identities(self) -> set[tuple[int, int]]:
        return {(c.start_seq, c.start_time_ns) for c in self.recorded}

    def time_range(self) -> tuple[str, str] | None:
        return (self.recorded[0].start_time, self.recorded[-1].start_time) if self.recorded else None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = FORMAT
    robots: dict[str, RobotRecord] = Field(default_factory=dict)


def read_manifest(folder: Path) -> Manifest:
    path = folder / NAME
    if not path.exists():
        return Manifest()
    try:
        return Manifest.model_validate_json(path.read_text())
    except (ValidationError, ValueError) as exc:
        raise UserError(f"{path}: not a robotwatch record manifest ({exc})") from None


def write_manifest(folder: Path, manifest: Manifest) -> None:
    path = folder / NAME
    staged = folder / f".{NAME}.new"
    staged.write_text(manifest.model_dump_json(indent=1))
    staged.replace(path)  # atomic: a crash leaves the old manifest, never half a new one


def record_of(data: Path) -> RobotRecord | None:
    """What the manifest beside a recorded file says of it (None for other files)."""
    manifest = read_manifest(data.parent)
    return next((r for r in manifest.robots.values() if r.file == data.name), None)
