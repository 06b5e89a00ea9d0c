"""Cycle assembly: the same cycles whatever the framing, repeats dropped, gaps recorded,
late frames put in place, truncation, idle close, and exact rebuilds from an anchor."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.assembly import AssemblyLimits, RobotAssembler
from tests.stream.streams import controller_steps, frames_of

LENGTHS = [37, 52, 41, 60]


def _assemble(frames, divider: int = 1, max_kept: int = 1000) -> tuple[list[AssembledCycle], RobotAssembler]:  # type: ignore[no-untyped-def]
    robot = RobotAssembler("r1", n_signals=6, limits=AssemblyLimits(divider=divider, max_kept=max_kept))
    cycles = []
    for offset, frame in enumerate(frames):
        cycles += robot.feed(frame, offset)
    return cycles, robot


def _expected(steps: dict, divider: int = 1) -> list[tuple[int, np.ndarray]]:
    out = []
    for c in np.unique(steps["counter"]):
        rows = np.flatnonzero((steps["counter"] == c) & (steps["seq"] % divider == 0))
        out.append((int(steps["seq"][steps["counter"] == c][0]), steps["signals"][rows]))
    return out


@settings(max_examples=300, deadline=None)
@given(
    cuts=st.lists(st.integers(1, sum(LENGTHS) - 1), max_size=40),
    with_counter=st.booleans(),
    divider=st.sampled_from([1, 2, 5]),
)
def test_same_cycles_whatever_the_framing(cuts: list[int], with_counter: bool, divider: int) -> None:
    steps = controller_steps(LENGTHS)
    cycles, robot = _assemble(frames_of(steps, cuts, with_counter), divider)
    cycles += robot.close_idle()  # the last cycle ends when the robot goes quiet
    expected = _expected(steps, divider)
    assert [c.start_seq for c in cycles] == [s for s, _ in expected]
    for cycle, (_, signals) in zip(cycles, expected, strict=True):
        np.testing.assert_array_equal(cycle.signals, signals)
        assert cycle.gap_steps == cycle.repeated_steps == 0 and not cycle.truncated
    assert [c.incomplete for c in cycles] == [False] * (len(LENGTHS) - 1) + [True]


def test_without_a_cycle_start_the_first_partial_cycle_is_dropped() -> None:
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(10, 190, 10)), with_counter=False, flag_starts=False)[2:]
    cycles, robot = _assemble(frames)  # joins at step 20 of cycle 0, without start flags
    assert [c.start_seq for c in cycles] == [1037, 1089]  # cycles 1 and 2, seen from their starts
    assert robot.dropped_unsynced == 17  # the rest of cycle 0


def test_repeated_frames_are_dropped_and_counted() -> None:
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(7, 190, 7)), with_counter=True)
    retried = [f for frame in frames for f in ([frame, frame] if frame.seq % 3 == 0 else [frame])]
    cycles, _ = _assemble(retried)
    clean, _ = _assemble(frames)
    assert [c.start_seq for c in cycles] == [c.start_seq for c in clean]
    for a, b in zip(cycles, clean, strict=True):
        np.testing.assert_array_equal(a.signals, b.signals)
    assert sum(c.repeated_steps for c in cycles) > 0


def test_a_late_frame_is_put_back_in_its_place() -> None:
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(9, 190, 9)), with_counter=False)
    swapped = list(frames)
    swapped[3], swapped[4] = swapped[4], swapped[3]
    cycles, _ = _assemble(swapped)
    clean, _ = _assemble(frames)
    for a, b in zip(cycles, clean, strict=True):
        np.testing.assert_array_equal(a.signals, b.signals)
        assert a.gap_steps == 0


def test_a_lost_frame_is_recorded_as_a_gap() -> None:
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(5, 190, 5)), with_counter=True)
    lost = frames[:12] + frames[13:]  # a frame inside cycle 1 never arrives
    robot = RobotAssembler(
        "r1", n_signals=6, limits=AssemblyLimits(divider=1, max_kept=1000, reorder_frames=3)
    )
    cycles = [c for i, f in enumerate(lost) for c in robot.feed(f, i)]
    gaps = {c.start_seq: c.gap_steps for c in cycles}
    assert gaps[1037] == frames[12].n_steps and sum(gaps.values()) == frames[12].n_steps
    assert cycles[1].flags().gap and not cycles[0].flags().gap


def test_cycles_longer_than_the_model_are_truncated_and_runaways_closed() -> None:
    steps = controller_steps([300, 40])
    cycles, robot = _assemble(frames_of(steps, list(range(25, 340, 25)), with_counter=True), max_kept=50)
    assert cycles[0].truncated and len(cycles[0].signals) == 50 and cycles[0].n_steps == 200
    assert cycles[0].incomplete  # closed by force at 4 x 50 steps ...
    assert robot.dropped_unsynced == 100  # ... and the rest of it is not a new cycle
    assert [c.start_seq for c in cycles] == [1000]
    assert robot.current is not None and robot.current.start_seq == 1300  # the next cycle is a cycle again


@pytest.mark.parametrize("with_counter", [True, False])
def test_rebuilding_from_the_anchor_gives_the_same_cycle(with_counter: bool) -> None:
    """What a new owner does after a crash: read again from the open cycle's anchor."""
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(11, 190, 11)), with_counter=with_counter, flag_starts=False)
    for stop in range(1, len(frames)):
        first_run = RobotAssembler("r1", 6, AssemblyLimits(divider=1, max_kept=1000))
        for offset, frame in enumerate(frames[:stop]):
            first_run.feed(frame, offset)
        anchor = first_run.anchor()
        if anchor is None or first_run.current is None:
            continue
        open_start = first_run.current.start_seq
        rebuilt = RobotAssembler("r1", 6, AssemblyLimits(divider=1, max_kept=1000))
        cycles = [c for offset in range(anchor, len(frames)) for c in rebuilt.feed(frames[offset], offset)]
        cycles += rebuilt.close_idle()
        assert cycles[0].start_seq == open_start, f"stopped after frame {stop}"


def test_a_flagged_cycle_start_after_skipped_steps_is_taken_at_once() -> None:
    """A replay of selected cycles (or a paused controller) jumps in seq at a cycle start."""
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(10, 190, 10)), with_counter=True)
    selected = [f for f in frames if f.cycle != 1]  # cycle 1 is skipped
    cycles, robot = _assemble(selected)
    assert [c.start_seq for c in cycles] == [1000, 1089]  # cycle 0 closes as soon as cycle 2 starts
    assert all(c.gap_steps == 0 for c in cycles) and not robot.pending
