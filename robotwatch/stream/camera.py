"""Camera frames of the cell (`cell.frames`, docs/architecture.md §7): decode, score with an
image flow, and turn each frame into a verdict with the localization summarized.

Message: key = cell id; value = a PNG or JPEG; headers `camera`, `cycle` (the controller's
cycle id) and `time` (ns, or ISO 8601).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch

from robotwatch.stream.verdicts import CycleFlags, ImageLocalization, Verdict, verdict_id
from rwcore.errors import UserError


@dataclass
class CameraFrame:
    cell: str
    camera: str
    cycle: str
    time: str
    image: torch.Tensor
    received_at: float
    offset: int


def _header(headers: list[tuple[str, bytes]] | tuple, name: str, default: str) -> str:
    for key, value in headers or ():
        if key == name:
            return value.decode(errors="replace")
    return default


def _time(raw: str) -> str:
    if raw.isdigit():
        return datetime.fromtimestamp(int(raw) / 1e9, UTC).isoformat(timespec="microseconds")
    return raw


class CameraScoring:
    def __init__(self, model_path: Path, device: str = "auto", map_dir: Path | None = None) -> None:
        from vision.deploy import FrameScorer

        self.scorer = FrameScorer(model_path, device=device)
        self.map_dir = map_dir

    @property
    def model_id(self) -> str:
        return self.scorer.model_id

    def decode(self, key: bytes | None, value: bytes | None, headers, offset: int) -> CameraFrame:
        """The frame, or a UserError with the reason (for the dead-letter topic)."""
        if not key:
            raise UserError("no cell id: the message key must be the cell id")
        image = self.scorer.decode(value or b"")
        received = time.time_ns()
        return CameraFrame(
            cell=key.decode(errors="replace"),
            camera=_header(headers, "camera", "camera"),
            cycle=_header(headers, "cycle", str(offset)),
            time=_time(_header(headers, "time", str(received))),
            image=image,
            received_at=time.monotonic(),
            offset=offset,
        )

    def score(self, frames: list[CameraFrame]) -> list[Verdict]:
        """One verdict per frame (image-flow work: call it off the event loop)."""
        from vision.deploy import save_map_png

        results = self.scorer.score([f.image for f in frames])
        verdicts = []
        for frame, result in zip(frames, results, strict=True):
            loc = result.localization
            map_path = None
            if result.anomalous and self.map_dir is not None:
                name = f"{frame.cell}-{frame.camera}-{frame.cycle}.png".replace("/", "_")
                map_path = str(
                    save_map_png(
                        result.anomaly_map, self.map_dir / name, frame.image, vmax=2 * loc.map_threshold
                    )
                )
            verdicts.append(
                Verdict(
                    verdict_id=verdict_id(
                        "vision", f"{frame.cell}/{frame.camera}", frame.cycle, result.model_id
                    ),
                    source="vision",
                    cell_id=frame.cell,
                    cycle_id=frame.cycle,
                    start_time=frame.time,
                    end_time=frame.time,
                    n_steps=1,
                    sample_rate_hz=0.0,
                    score=result.score,
                    threshold=result.threshold,
                    anomalous=result.anomalous,
                    image=ImageLocalization(
                        peak_x=loc.peak_x,
                        peak_y=loc.peak_y,
                        peak_value=loc.peak_value,
                        bbox=loc.bbox,
                        area_fraction=loc.area_fraction,
                        map_path=map_path,
                    ),
                    flags=CycleFlags(),
                    model_id=result.model_id,
                    processing_latency_ms=round(1000 * (time.monotonic() - frame.received_at), 3),
                )
            )
        return verdicts
