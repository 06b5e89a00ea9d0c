"""serve's scoring process (robotwatch.stream.scoring_worker), a real spawned process with a
real model: the scores and events of this process, an error verdict where this process gives
one, and no verdict lost when the process is killed."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from robotwatch.fleet.registry import ModelRegistry
from robotwatch.mtsflow.model_file import load_model
from robotwatch.mtsflow.score import Localize
from robotwatch.playback.file_stream import file_frames
from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.pipeline import CyclePipeline, PipelineSettings
from robotwatch.stream.scoring_worker import ScoringWorker, WorkerDied


@pytest.fixture(scope="module")
def worker() -> Iterator[ScoringWorker]:
    """One process for the tests that do not end it (a start costs seconds). As many threads
    as this process's forward passes use: the same sums, the same scores."""
    started = ScoringWorker("test scoring", torch.get_num_threads())
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def own_worker() -> Iterator[ScoringWorker]:
    """A process for a test that ends it."""
    started = ScoringWorker("test scoring", 1)
    try:
        yield started
    finally:
        started.close()


def _pipeline_and_cycles(model_path: Path, cell: Path) -> tuple[CyclePipeline, list[AssembledCycle]]:
    pipeline = CyclePipeline.of(load_model(model_path), PipelineSettings(localize=Localize.ALL), device="cpu")
    cycles: list[AssembledCycle] = []
    for offset, (chunk, value) in enumerate(
        file_frames(cell, list(pipeline.models.models["default"].model.card.signals), 1)
    ):
        cycles += pipeline.take(chunk.robot, value, offset)
    return pipeline, (cycles + pipeline.finish())[:8]


def _wait_dead(pid: int) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if status == "Z":  # ended, not yet reaped by its parent (us)
            return
        time.sleep(0.05)


def test_a_scoring_process_gives_the_scores_and_events_of_this_process(
    tiny_model: Path, small_cell: Path, worker: ScoringWorker
) -> None:
    pipeline, cycles = _pipeline_and_cycles(tiny_model, small_cell)
    here = pipeline.score(cycles)
    there = pipeline.score(cycles, score_cycles=worker.score_cycles)
    assert [v.status for v in there] == ["ok"] * len(cycles)
    assert any(v.anomalous for v in there) and any(v.events for v in there)
    for a, b in zip(here, there, strict=True):
        assert b.score == a.score and b.events == a.events
        assert (b.anomalous, b.verdict_id) == (a.anomalous, a.verdict_id)


def test_a_killed_scoring_process_costs_no_verdict_and_a_new_one_starts(
    tiny_model: Path, small_cell: Path, own_worker: ScoringWorker
) -> None:
    worker = own_worker
    pipeline, cycles = _pipeline_and_cycles(tiny_model, small_cell)
    before = pipeline.score(cycles, Localize.NONE, worker.score_cycles)
    first = worker.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    _wait_dead(first)
    # The batch's call finds the process dead; its cycles, scored one by one, start a new one.
    after = pipeline.score(cycles, Localize.NONE, worker.score_cycles)
    assert [v.status for v in after] == ["ok"] * len(cycles)
    assert [v.score for v in after] == [v.score for v in before]
    assert worker.starts == 2 and worker.pid != first

    model = pipeline.models.models["default"]
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    _wait_dead(worker.pid)
    with pytest.raises(WorkerDied, match=r"test scoring process died \(signal 9\)"):
        worker.score_cycles(model, [c.signals for c in cycles], [c.actions for c in cycles], Localize.NONE)


def test_a_cycle_that_cannot_be_scored_gets_the_error_verdict_of_this_process(
    tiny_model: Path, small_cell: Path, worker: ScoringWorker
) -> None:
    pipeline, cycles = _pipeline_and_cycles(tiny_model, small_cell)
    cycles[3] = replace(cycles[3], signals=cycles[3].signals[:, :-1])  # a signal short of its model
    pid = worker.pid
    here = pipeline.score(cycles, Localize.NONE)
    there = pipeline.score(cycles, Localize.NONE, worker.score_cycles)
    assert here[3].status == there[3].status == "error"
    assert there[3].error == here[3].error and "scoring failed" in (here[3].error or "")
    others = [i for i in range(len(cycles)) if i != 3]
    assert all(there[i].status == "ok" for i in others)
    assert [there[i].score for i in others] == pytest.approx([here[i].score for i in others], rel=1e-6)
    assert worker.pid == pid  # an error in a forward pass does not end the process


def test_a_model_serve_no_longer_holds_is_dropped_from_the_scoring_process(
    tiny_model: Path, small_cell: Path, worker: ScoringWorker
) -> None:
    old = ModelRegistry.single(load_model(tiny_model), "cpu").models["default"]
    new = ModelRegistry.single(load_model(tiny_model), "cpu").models["default"]
    cycle = np.tile(old.model.normalizer.mean.astype(np.float32), (40, 1))
    assert worker.score_cycles(old, [cycle], [None], Localize.NONE)[0].score == pytest.approx(
        old.scorer.score_cycles([cycle], localize=Localize.NONE)[0].score, rel=1e-6
    )
    assert old.token in worker._held
    token = old.token
    del old
    gc.collect()
    worker.score_cycles(new, [cycle], [None], Localize.NONE)
    assert new.token in worker._held and token not in worker._held and token not in worker._watched


def test_a_scoring_process_that_stops_answering_is_replaced(tiny_model: Path, small_cell: Path) -> None:
    pipeline, cycles = _pipeline_and_cycles(tiny_model, small_cell)
    worker = ScoringWorker("test scoring", 1, timeout_s=3.0)
    try:
        before = pipeline.score(cycles, Localize.NONE, worker.score_cycles)
        frozen = worker.pid
        assert frozen is not None
        os.kill(frozen, signal.SIGSTOP)  # alive, and silent: a hang
        after = pipeline.score(cycles, Localize.NONE, worker.score_cycles)
    finally:
        worker.close()
    assert [v.score for v in after] == [v.score for v in before]
    assert worker.starts == 2 and not Path(f"/proc/{frozen}").exists()


def test_a_process_that_never_closes_its_scoring_process_still_exits(tmp_path: Path) -> None:
    """An exception that skips serve's clean-up must not leave the interpreter waiting, at
    exit, for a scoring process that ignores SIGTERM."""
    script = tmp_path / "forgets.py"
    script.write_text(
        "import time\n"
        "from robotwatch.stream.scoring_worker import ScoringWorker\n"
        "if __name__ == '__main__':\n"
        "    worker = ScoringWorker('forgotten', 1)\n"
        "    worker.start()\n"
        "    while not worker.ready():\n"
        "        time.sleep(0.05)\n"
        "    print(worker.pid, flush=True)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not Path(f"/proc/{int(done.stdout)}").exists()
