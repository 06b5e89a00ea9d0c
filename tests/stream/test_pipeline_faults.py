"""The pipeline under faults: every closed cycle gets exactly one verdict, the verdict is a
function of the cycle and the model alone, and one robot's trouble stays that robot's
(issue 10, defects 1, 4, 5, 7, 8 and 9)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from robotwatch.mtsflow.data import Normalizer
from robotwatch.mtsflow.model_file import ModelCard, TrainedModel, TrainingInfo
from robotwatch.mtsflow.network import FlowConfig, MTSFlow
from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.pipeline import CyclePipeline, PipelineSettings
from robotwatch.stream.rejects import Rejected, RejectKind
from robotwatch.stream.verdicts import Verdict
from tests.stream.streams import controller_steps, frames_of

LENGTHS = [37, 52, 41, 60, 45]
N_SIGNALS = 6


def _model(rate_hz: float = 500.0, padded_length: int = 80) -> TrainedModel:
    torch.manual_seed(0)
    config = FlowConfig(n_signals=N_SIGNALS, n_blocks=2, scale=1, kernel_size=3, dilation=1)
    card = ModelCard(
        model_id="mtsflow-test00000000",
        flow=config,
        signals=[f"s{i}" for i in range(N_SIGNALS)],
        sample_rate_hz=rate_hz,
        padded_length=padded_length,
        threshold=500.0,
        target_fpr=0.01,
        calibration_scores=[],
        training=TrainingInfo(
            data="synthetic",
            n_train_cycles=0,
            n_calibration_cycles=0,
            epochs=0,
            batch_size=1,
            learning_rate=0.0,
            final_loss=0.0,
            seed=0,
            seconds=0.0,
        ),
    )
    return TrainedModel(
        flow=MTSFlow(config).eval(),
        normalizer=Normalizer(mean=np.zeros(N_SIGNALS), std=np.ones(N_SIGNALS)),
        card=card,
        gradient_baseline=np.ones(padded_length, np.float32),
    )


def _pipeline(**settings: object) -> CyclePipeline:
    return CyclePipeline.of(_model(), PipelineSettings(**settings), device="cpu")  # type: ignore[arg-type]


def _cycles(pipeline: CyclePipeline, robot: str = "r1", partition: int = 0) -> list[AssembledCycle]:
    frames = frames_of(controller_steps(LENGTHS, n_signals=N_SIGNALS), list(range(10, 240, 10)), True)
    return [c for i, f in enumerate(frames) for c in pipeline.feed(robot, f, i, partition, now=float(i))]


def _content(verdict: Verdict) -> dict[str, object]:
    return verdict.model_dump(exclude={"produced_at", "processing_latency_ms"})


def test_a_frame_at_another_rate_closes_the_open_cycle_instead_of_dropping_it() -> None:
    pipeline = _pipeline()
    closed = _cycles(pipeline)
    open_start = pipeline.robots["r1"].assembler.current.start_seq  # type: ignore[union-attr]
    faster = frames_of(controller_steps([30], n_signals=N_SIGNALS, first_seq=5000), [10], True)[0]
    after = pipeline.feed("r1", dataclasses.replace(faster, sample_rate_hz=1000.0), 99, now=99.0)
    assert [c.start_seq for c in after] == [open_start] and after[0].incomplete
    assert len(closed) == len(LENGTHS) - 1


def test_a_cycle_closed_by_the_idle_timeout_keeps_its_partition_when_its_robot_is_forgotten() -> None:
    pipeline = _pipeline(idle_close_s=1.0, forget_s=1.0)
    _cycles(pipeline, partition=3)
    closed = pipeline.close_idle(now=1000.0)
    assert len(closed) == 1 and closed[0].partition == 3 and "r1" not in pipeline.robots


def test_no_idle_close_while_the_partition_has_not_delivered_past_the_quiet_stretch() -> None:
    pipeline = _pipeline(idle_close_s=5.0)
    _cycles(pipeline, partition=2)
    last_seen = pipeline.robots["r1"].last_seen
    assert pipeline.close_idle(now=last_seen + 60, delivered={2: last_seen + 1}) == []  # broker frozen
    assert len(pipeline.close_idle(now=last_seen + 60, delivered={2: last_seen + 59})) == 1


def test_a_cycle_that_breaks_scoring_gets_an_error_verdict_and_the_others_theirs() -> None:
    pipeline = _pipeline()
    cycles = _cycles(pipeline)
    broken = dataclasses.replace(cycles[1], signals=cycles[1].signals[:, :4])  # a bug's worth of wrong data
    verdicts = pipeline.score([cycles[0], broken, cycles[2]])
    assert [v.status for v in verdicts] == ["ok", "error", "ok"]
    assert verdicts[1].error and verdicts[1].score is None
    assert _content(verdicts[0]) == _content(pipeline.score([cycles[0]])[0])


def test_one_absurd_but_finite_value_gives_an_anomalous_verdict() -> None:
    pipeline = _pipeline()
    cycle = _cycles(pipeline)[0]
    signals = cycle.signals.copy()
    signals[5, 2] = 3e38
    verdict = pipeline.score([dataclasses.replace(cycle, signals=signals)])[0]
    assert verdict.anomalous and verdict.status == "ok"
    assert verdict.score is None or np.isfinite(verdict.score)


def test_a_verdict_does_not_depend_on_what_else_was_in_the_batch() -> None:
    pipeline = _pipeline()
    cycles = _cycles(pipeline)
    alone = [_content(pipeline.score([c])[0]) for c in cycles]
    together = [_content(v) for v in pipeline.score(cycles)]
    reversed_ = [_content(v) for v in pipeline.score(cycles[::-1])][::-1]
    assert alone == together == reversed_


def test_the_number_of_robots_is_capped_and_refusals_are_counted() -> None:
    pipeline = _pipeline(max_robots=2)
    frame = frames_of(controller_steps([30], n_signals=N_SIGNALS), [10], True)[0]
    pipeline.feed("a", frame, 0)
    pipeline.feed("b", frame, 1)
    with pytest.raises(Rejected) as refused:
        pipeline.feed("c", frame, 2)
    assert refused.value.kind is RejectKind.ROBOT_LIMIT and "c" not in pipeline.robots


def test_one_robot_failing_in_the_idle_close_does_not_stop_the_others() -> None:
    pipeline = _pipeline(idle_close_s=1.0)
    _cycles(pipeline, "good")
    _cycles(pipeline, "bad")
    current = pipeline.robots["bad"].assembler.current
    assert current is not None
    current.signals = None  # type: ignore[assignment]  # the state a bug would leave behind
    closed = pipeline.close_idle(now=1000.0)
    by_robot = {c.robot: c for c in closed}
    assert set(by_robot) == {"good", "bad"} and by_robot["bad"].error and not by_robot["good"].error
    assert [v.status for v in pipeline.score([by_robot["good"], by_robot["bad"]])] == ["ok", "error"]
