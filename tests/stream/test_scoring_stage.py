"""serve's scoring stage in process, with a real model: normal verdicts go out after one
forward pass, flagged ones after their localization, every cycle exactly once."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import torch
from aiokafka import TopicPartition

from robotwatch.mtsflow.model_file import load_model
from robotwatch.mtsflow.score import Localize
from robotwatch.playback.file_stream import file_frames
from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.pipeline import CyclePipeline, PipelineSettings
from robotwatch.stream.scoring import ScoringStage, available_cores, cpu_threads
from robotwatch.stream.sources import SignalSource, Work
from robotwatch.stream.verdicts import Verdict


def _cycles(pipeline: CyclePipeline, cell: Path, signals: list[str]) -> list[AssembledCycle]:
    cycles: list[AssembledCycle] = []
    for offset, (chunk, value) in enumerate(file_frames(cell, signals, 1)):
        cycles += pipeline.take(chunk.robot, value, offset)
    return cycles + pipeline.finish()


@pytest.mark.parametrize("in_processes", [False, True], ids=["in-threads", "in-scoring-processes"])
async def test_no_normal_verdict_waits_for_the_events_of_a_flagged_cycle(
    tiny_model: Path, small_cell: Path, in_processes: bool
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
        # as many threads as this process's forward passes: the same sums, the same scores
        process_threads=torch.get_num_threads() if in_processes else None,
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


def test_a_forward_pass_leaves_the_event_loop_a_core_unless_told_otherwise() -> None:
    assert cpu_threads(None, cores=2) == 1
    assert cpu_threads(None, cores=16) == 15
    assert cpu_threads(None, cores=1) == 1  # one core: shared, but never zero threads
    assert cpu_threads(4, cores=2) == 4  # a setting wins


def test_a_container_cpu_limit_caps_the_cores(tmp_path: Path) -> None:
    cpu_max, affinity = tmp_path / "cpu.max", len(os.sched_getaffinity(0))
    cpu_max.write_text("max 100000\n")
    assert available_cores(cpu_max) == affinity
    cpu_max.write_text("50000 100000\n")  # half a core: still one
    assert available_cores(cpu_max) == 1
    cpu_max.write_text("150000 100000\n")  # a limit of 1.5 cores: two threads may run
    assert available_cores(cpu_max) == min(2, affinity)
    cpu_max.write_text(f"{affinity * 300000} 100000\n")  # more than the machine has
    assert available_cores(cpu_max) == affinity
    assert available_cores(tmp_path / "absent") == affinity
