"""`robotwatch replay` without a broker: a recorded file through the service's pipeline, in process.

Each chunk of the replayer is encoded as a signal frame and decoded again, exactly as it
would cross Kafka, then assembled, scored in batches and turned into verdicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike

import numpy as np
import pandas as pd

from replay import VorausFile
from replay.reader import Part
from robotwatch.evaluation.results import CycleResult, results_frame
from robotwatch.mtsflow.model_file import TrainedModel
from robotwatch.playback.file_stream import file_frames
from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.pipeline import CyclePipeline, PipelineSettings
from robotwatch.stream.verdicts import Verdict


@dataclass
class ReplayResult:
    verdicts: list[Verdict] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0

    def results(self, path: str | PathLike[str]) -> pd.DataFrame:
        """One row per verdict with the file's labels (the cycle counter is the sample id)."""
        labels = {i.sample: i for i in VorausFile(path, signals=()).cycle_infos()}
        rows = []
        for v in self.verdicts:
            info = labels.get(int(v.cycle_id))
            first = v.events[0] if v.events else None
            rows.append(
                CycleResult(
                    sample=int(v.cycle_id),
                    category=info.category if info else -1,
                    setting=info.setting if info else -1,
                    anomaly=info.anomaly if info else False,
                    score=np.nan if v.score is None else v.score,
                    flagged=v.anomalous,
                    n_steps=v.n_steps,
                    truncated=v.flags.truncated,
                    event_time_s=first.time_s if first else np.nan,
                    event_action=first.action if first else None,
                    event_strength=first.strength if first else np.nan,
                    event_signal=first.top_signals[0].signal if first and first.top_signals else None,
                    event_axis=first.top_axes[0].axis if first and first.top_axes else None,
                    robot=v.robot_id,
                    latency_ms=v.processing_latency_ms,
                    incomplete=v.flags.incomplete,
                )
            )
        return results_frame(rows)


def replay_embedded(
    model: TrainedModel,
    path: str | PathLike[str],
    *,
    robots: int = 1,
    speed: float | None = None,
    part: Part = "test",
    settings: PipelineSettings | None = None,
    device: str = "auto",
    on_verdicts: Callable[[list[Verdict]], None] | None = None,
) -> ReplayResult:
    """Play the file through the pipeline; `speed` None = as fast as possible, else real time x speed."""
    pipeline = CyclePipeline.of(model, settings or PipelineSettings(), device)
    result = ReplayResult()
    ready: list[AssembledCycle] = []

    def score(cycles: list[AssembledCycle]) -> None:
        verdicts = pipeline.score(cycles)
        result.verdicts.extend(verdicts)
        if on_verdicts is not None:
            on_verdicts(verdicts)

    started = time.monotonic()
    for offset, (chunk, data) in enumerate(file_frames(path, model.card.signals, robots, part)):
        if speed is not None:
            delay = started + chunk.due_s / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        ready += pipeline.take(chunk.robot, data, offset)
        result.frames += 1
        if ready:  # scored as soon as they close, as the service does
            score(ready)
            ready = []
    ready += pipeline.finish()
    if ready:
        score(ready)
    result.seconds = time.monotonic() - started
    return result
