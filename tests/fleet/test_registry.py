"""A model per robot (issue 11): which model a robot gets, and swapping one without a restart."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from robotwatch.fleet.registry import ModelRegistry, specificity
from robotwatch.mtsflow.model_file import save_model
from robotwatch.program import Program, Step
from robotwatch.stream.pipeline import CyclePipeline, PipelineSettings
from robotwatch.stream.rejects import Rejected, RejectKind
from robotwatch.stream.signal_frame import encode
from tests.stream.streams import controller_steps, frames_of
from tests.stream.test_pipeline_faults import N_SIGNALS, _model

LENGTHS = [37, 52, 41, 60, 45]


def _saved(folder: Path, name: str, seed: int = 0, **card: object) -> Path:
    model = _model()
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.flow.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.card = model.card.model_copy(update=card)
    model.gradient_baseline = np.ones(model.card.padded_length, np.float32)
    path = folder / name
    save_model(model, path)
    return path


def test_the_most_specific_pattern_wins(tmp_path: Path) -> None:
    files = {
        "default": _saved(tmp_path, "default.rwmodel", 0),
        "cell-7-*": _saved(tmp_path, "cell7.rwmodel", 1),
        "cell-7-r2": _saved(tmp_path, "r2.rwmodel", 2),
    }
    registry = ModelRegistry(files, "cpu")
    registry.load_all()
    ids = {p: registry.models[p].model_id for p in files}
    assert registry.resolve("cell-7-r2").model_id == ids["cell-7-r2"]  # type: ignore[union-attr]
    assert registry.resolve("cell-7-r9").model_id == ids["cell-7-*"]  # type: ignore[union-attr]
    assert registry.resolve("cell-9-r1").model_id == ids["default"]  # type: ignore[union-attr]
    assert specificity("cell-7-r2") > specificity("cell-7-*") > specificity("cell-*") > specificity("default")


def test_patterns_that_name_one_file_share_one_model(tmp_path: Path) -> None:
    shared = _saved(tmp_path, "kind-a.rwmodel", 0)
    files = {f"robot-{i}": shared for i in range(50)} | {"default": _saved(tmp_path, "kind-b.rwmodel", 1)}
    registry = ModelRegistry(files, "cpu")
    registry.load_all()
    assert len({id(m) for m in registry.models.values()}) == 2  # 51 patterns, 2 files, 2 models
    assert registry.resolve("robot-7") is registry.resolve("robot-8")


def test_a_directory_gives_each_robot_its_file_before_the_default(tmp_path: Path) -> None:
    _saved(tmp_path, "default.rwmodel", 0)
    own = _saved(tmp_path, "robot-a.rwmodel", 1)
    registry = ModelRegistry({}, "cpu", directory=tmp_path)
    registry.load_all()
    assert registry.resolve("robot-a").path == own  # type: ignore[union-attr]
    assert registry.resolve("robot-b").path == tmp_path / "default.rwmodel"  # type: ignore[union-attr]
    no_default = ModelRegistry({}, "cpu", directory=tmp_path)
    (tmp_path / "default.rwmodel").unlink()
    no_default.set_files({})
    no_default.load_all()
    assert no_default.resolve("robot-b") is None


def test_a_file_renamed_over_the_old_one_is_noticed_and_a_broken_one_refused(tmp_path: Path) -> None:
    path = _saved(tmp_path, "cell.rwmodel", 0)
    registry = ModelRegistry({"default": path}, "cpu")
    registry.load_all()
    assert registry.stale() == []
    new = _saved(tmp_path, "new.rwmodel", 5)
    os.replace(new, path)  # how a user installs a new model
    assert registry.stale() == [("default", path)]
    broken = tmp_path / "broken.rwmodel"
    shutil.copy(path, broken)
    with broken.open("r+b") as f:  # a tensor changed after saving
        f.seek(-16, os.SEEK_END)
        f.write(b"\x7f" * 16)
    os.replace(broken, path)
    (pattern, stale_path) = registry.stale()[0]
    from robotwatch.fleet.registry import load_checked

    with pytest.raises(Exception, match="changed after it was saved"):
        load_checked(stale_path, "cpu")
    registry.refuse(pattern, stale_path, "changed after it was saved")
    assert registry.stale() == []  # not tried again until the file changes again
    assert "refused" in registry.problems()[0] and registry.info()[0]["refused"]


def _frames(first_seq: int = 1000):  # type: ignore[no-untyped-def]
    return frames_of(
        controller_steps(LENGTHS, n_signals=N_SIGNALS, first_seq=first_seq), list(range(10, 240, 10)), True
    )


def test_robots_without_a_model_or_with_frames_that_do_not_fit_are_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry({"robot-a": _saved(tmp_path, "a.rwmodel")}, "cpu")
    registry.load_all()
    pipeline = CyclePipeline(registry, PipelineSettings())
    frame = _frames()[0]
    with pytest.raises(Rejected) as no_model:
        pipeline.feed("robot-z", frame, 0)
    assert no_model.value.kind is RejectKind.NO_MODEL and no_model.value.robot == "robot-z"
    with pytest.raises(Rejected) as wrong_list:
        pipeline.take("robot-a", encode(dataclasses.replace(frame, signal_list_id=1234)), 0)
    assert wrong_list.value.kind is RejectKind.MODEL_MISMATCH
    with pytest.raises(Rejected) as odd_rate:
        pipeline.feed("robot-a", dataclasses.replace(frame, sample_rate_hz=333.0), 1)
    assert odd_rate.value.kind is RejectKind.MODEL_MISMATCH
    with pytest.raises(Rejected) as outside:
        pipeline.feed("robot-a", dataclasses.replace(frame, action=np.full(frame.n_steps, 99, np.uint8)), 2)
    assert outside.value.kind is RejectKind.OUT_OF_PROGRAM and "99" in str(outside.value)
    assert [p.split(":")[0] for p in pipeline.recent_problems()] == ["robot-a"]  # named once


def test_a_cycle_is_scored_by_the_model_current_when_it_closed(tmp_path: Path) -> None:
    first = _saved(tmp_path, "first.rwmodel", 1)
    registry = ModelRegistry({"default": first}, "cpu")
    registry.load_all()
    pipeline = CyclePipeline(registry, PipelineSettings())
    frames = _frames()
    closed = [c for i, f in enumerate(frames[:12]) for c in pipeline.feed("r", f, i)]
    swapped_at = len(closed)
    old_id = registry.models["default"].model_id
    from robotwatch.fleet.registry import load_checked

    registry.swap("default", load_checked(_saved(tmp_path, "second.rwmodel", 2), "cpu"))
    new_id = registry.models["default"].model_id
    closed += [c for i, f in enumerate(frames[12:], 12) for c in pipeline.feed("r", f, i)]
    verdicts = pipeline.score(closed)
    assert {v.model_id for v in verdicts[:swapped_at]} == {old_id}
    assert {v.model_id for v in verdicts[swapped_at:]} == {new_id}
    assert len({c.start_seq for c in closed}) == len(closed)  # none lost, none twice


def test_a_retrained_model_of_the_same_kind_takes_over_the_open_cycle(tmp_path: Path) -> None:
    """Another padded length (it was trained on other cycles) is no reason to cut a cycle."""
    registry = ModelRegistry({"default": _saved(tmp_path, "first.rwmodel", 1)}, "cpu")
    registry.load_all()
    pipeline = CyclePipeline(registry, PipelineSettings())
    frames = _frames()
    closed = [c for i, f in enumerate(frames[:12]) for c in pipeline.feed("r", f, i)]
    open_start = pipeline.robots["r"].assembler.current.start_seq  # type: ignore[union-attr]
    longer = registry.models["default"].model.card.padded_length + 40
    from robotwatch.fleet.registry import load_checked

    registry.swap("default", load_checked(_saved(tmp_path, "longer.rwmodel", 2, padded_length=longer), "cpu"))
    new_id = registry.models["default"].model_id
    after = [c for i, f in enumerate(frames[12:], 12) for c in pipeline.feed("r", f, i)]
    taken_over = next(c for c in after if c.start_seq == open_start)
    assert not taken_over.incomplete and taken_over.n_steps == LENGTHS[len(closed)]
    assert pipeline.score([taken_over])[0].model_id == new_id
    assert len({c.start_seq for c in closed + after}) == len(closed + after)


def test_a_swapped_model_that_assembles_differently_closes_the_open_cycle_under_the_old_one(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry({"default": _saved(tmp_path, "first.rwmodel", 1)}, "cpu")
    registry.load_all()
    pipeline = CyclePipeline(registry, PipelineSettings())
    frames = _frames()
    for i, f in enumerate(frames[:12]):
        pipeline.feed("r", f, i)
    open_start = pipeline.robots["r"].assembler.current.start_seq  # type: ignore[union-attr]
    old_id = registry.models["default"].model_id
    other_program = Program(
        name="other", steps=[Step(code=c, name=f"S{c}", moving=bool(c % 2)) for c in range(15)]
    )
    from robotwatch.fleet.registry import load_checked

    registry.swap("default", load_checked(_saved(tmp_path, "other.rwmodel", 3, program=other_program), "cpu"))
    closed = pipeline.feed("r", frames[12], 12)
    assert closed and closed[0].start_seq == open_start and closed[0].incomplete
    assert pipeline.score(closed[:1])[0].model_id == old_id
