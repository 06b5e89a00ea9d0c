"""serve's scoring stage in process, with a real model: normal verdicts go out after one
forward pass, flagged ones after their localization, every cycle exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka import TopicPartition

from robotwatch.mtsflow.model_file import load_model
from robotwatch.mtsflow.score import Localize
from robotwatch.playback.file_stream import file_frames
from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.pipeline import CyclePipeline, PipelineSettings
from robotwatch.stream.scoring import ScoringStage
from robotwatch.stream.sources import SignalSource, Work
from robotwatch.stream.verdicts import Verdict


def _cycles(pipeline: CyclePipeline, cell: Path, signals: list[str]) -> list[AssembledCycle]:
    cycles: list[AssembledCycle] = []
    for offset, (chunk, value) in enumerate(file_frames(cell, signals, 1)):
        cycles += pipeline.take(chunk.robot, value, offset)
    return cycles + pipeline.finish()


async def test_no_normal_verdict_waits_for_the_events_of_a_flagged_cycle(
    tiny_model: Path, small_cell: Path
) -> None:
    model = load_model(tiny_model)
    pipeline = CyclePipeline.of(model, PipelineSettings(localize=Localize.FLAGGED), device="cpu")
    cycles = _cycles(pipeline, small_cell, list(model.card.signals))
    in_one_pass = {c.start_seq: v for c, v in zip(cycles, pipeline.score(cycles), strict=True)}
    # the flagged cycles first in the queue: they would hold up the normal ones in one pass
    cycles.sort(key=lambda c: not in_one_pass[c.start_seq].anomalous)
    assert in_one_pass[cycles[0].start_seq].anomalous and not in_one_pass[cycles[-1].start_seq].anomalous

    published: list[tuple[AssembledCycle, Verdict]] = []
    queue: asyncio.Queue[tuple[Work, int]] = asyncio.Queue()
    stage = ScoringStage(
        SignalSource("signals", pipeline, mute_s=60),
        queue,
        lambda item, _token, verdict: published.append((item.payload, verdict)),
        budget_s=1.0,
        max_batch=64,
        localize_later=True,
    )
    for i, c in enumerate(cycles):
        queue.put_nowait((Work(c, TopicPartition("signals", 0), c.anchor, c.start_offset, c.closed_at), i))
    tasks = stage.tasks()
    try:
        await asyncio.wait_for(queue.join(), 120)  # done only once every verdict is published
    finally:
        for task in tasks:
            task.cancel()
        stage.close()

    assert sorted(c.start_seq for c, _ in published) == sorted(c.start_seq for c in cycles)
    flags = [v.anomalous for _, v in published]
    assert flags == sorted(flags), "a normal verdict was published after a flagged one"
    for cycle, verdict in published:
        alone = in_one_pass[cycle.start_seq]
        assert verdict.anomalous == alone.anomalous and bool(verdict.events) == verdict.anomalous
        assert verdict.events == alone.events
        assert verdict.score == alone.score  # bit for bit: the two passes change no score
