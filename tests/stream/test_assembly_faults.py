"""Assembly under the streams a real plant produces: controller reboots, frames far out of
place, rate changes, pauses. Each test reproduces a way one message used to stop, mute or
lose a robot (issue 10, defects 1, 3 and 5)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.assembly import AssemblyLimits, RobotAssembler
from robotwatch.stream.signal_frame import (
    DEFAULT_SIGNAL_LIST_ID,
    SignalFrame,
    SignalFrameError,
    decode,
    encode,
)
from tests.stream.streams import controller_steps, frames_of

LENGTHS = [37, 52, 41, 60]


def _robot(**limits: int) -> RobotAssembler:
    return RobotAssembler("r1", n_signals=6, limits=AssemblyLimits(divider=1, max_kept=1000, **limits))


def _feed(robot: RobotAssembler, frames: list[SignalFrame], first_offset: int = 0) -> list[AssembledCycle]:
    return [c for i, f in enumerate(frames) for c in robot.feed(f, first_offset + i)]


def _shifted(frames: list[SignalFrame], seq: int, time_ns: int = 0, cycle: int = 0) -> list[SignalFrame]:
    """The same frames after a controller reboot: counters and clock start again."""
    first = frames[0]
    return [
        dataclasses.replace(
            f,
            seq=f.seq - first.seq + seq,
            time_ns=f.time_ns - first.time_ns + time_ns,
            cycle=None if f.cycle is None else f.cycle - (first.cycle or 0) + cycle,
        )
        for f in frames
    ]


def test_a_seq_beyond_the_signed_range_is_refused_at_decoding() -> None:
    frame = frames_of(controller_steps([30]), [10], with_counter=True)[0]
    with pytest.raises(SignalFrameError, match="seq"):
        decode(encode(dataclasses.replace(frame, seq=2**63 + 5)), {DEFAULT_SIGNAL_LIST_ID: 6})


def test_a_far_future_frame_never_crashes_the_idle_close() -> None:
    robot = _robot()
    frames = frames_of(controller_steps(LENGTHS), list(range(10, 190, 10)), with_counter=True)
    _feed(robot, frames[:5])
    robot.feed(dataclasses.replace(frames[5], seq=2**63 + 5), 5)  # as if it had passed decoding
    closed = robot.close_idle()
    assert closed and closed[-1].incomplete


@pytest.mark.parametrize("with_counter", [True, False])
def test_a_controller_reboot_starts_a_new_epoch_instead_of_muting_the_robot(with_counter: bool) -> None:
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(10, 190, 10)), with_counter=with_counter)
    robot = _robot()
    before = _feed(robot, frames)
    # The controller reboots: seq, clock and cycle counter start again near 0.
    after = _feed(robot, _shifted(frames, seq=5, time_ns=10_000), first_offset=len(frames))
    after += robot.close_idle()
    assert [c.start_seq for c in before] == [1000, 1037, 1089]
    # The cycle open at the reboot closes, flagged; the new epoch's cycles come as before.
    assert after[0].start_seq == 1130 and after[0].incomplete
    assert [(c.start_seq, c.incomplete) for c in after[1:]] == [
        (5, False),
        (42, False),
        (94, False),
        (135, True),
    ]
    identities = {(c.start_seq, c.start_time_ns) for c in before + after}
    assert len(identities) == len(before + after)


def test_a_single_far_future_frame_does_not_hold_the_commit_point_forever() -> None:
    frames = frames_of(controller_steps(LENGTHS * 3), list(range(10, 570, 10)), with_counter=True)
    robot = _robot(reorder_frames=4)
    _feed(robot, frames[:3])
    robot.feed(dataclasses.replace(frames[3], seq=frames[3].seq + 10**9), 3)  # one bogus seq
    _feed(robot, frames[4:], first_offset=4)
    anchor = robot.anchor()
    assert anchor is not None and anchor > 3


def test_a_late_frame_before_a_flagged_start_is_put_in_its_place() -> None:
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(10, 190, 10)), with_counter=True)
    start = next(i for i, f in enumerate(frames) if f.cycle == 1)
    late = frames[start - 1]
    order = [*frames[: start - 1], frames[start], late, *frames[start + 1 :]]
    robot = _robot()
    cycles = _feed(robot, order)
    assert cycles[0].start_seq == 1000 and cycles[0].n_steps == LENGTHS[0] and cycles[0].gap_steps == 0
    np.testing.assert_array_equal(cycles[0].signals, steps["signals"][: LENGTHS[0]])


def test_a_frame_lost_before_a_flagged_start_is_a_gap_of_the_cycle_it_ends() -> None:
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(10, 190, 10)), with_counter=True)
    start = next(i for i, f in enumerate(frames) if f.cycle == 1)
    lost = frames[start - 1]
    cycles = _feed(_robot(reorder_frames=3), frames[: start - 1] + frames[start:])
    assert cycles[0].start_seq == 1000 and cycles[0].gap_steps == lost.n_steps
    assert cycles[1].gap_steps == 0


def test_a_reordered_first_frame_keeps_the_anchor_at_or_before_every_frame_of_its_cycle() -> None:
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(10, 190, 10)), with_counter=True)
    start = next(i for i, f in enumerate(frames) if f.cycle == 2)  # past the first frames' sorting
    order = [*frames[:start], frames[start + 1], frames[start], *frames[start + 2 :]]
    robot = _robot()
    _feed(robot, order[: start + 2])
    assert robot.current is not None and robot.current.start_seq == frames[start].seq
    assert robot.pending == {}
    anchor = robot.anchor()
    assert anchor is not None and anchor <= start  # the offset of the early frame


def test_after_a_stretch_with_nothing_open_the_next_cycle_is_rebuilt_from_the_commit_point() -> None:
    """Joined mid-cycle without start flags: nothing is open until the first wrap. Whatever is
    committed in that stretch must still let a new owner see that wrap."""
    steps = controller_steps(LENGTHS)
    cuts = sorted({*range(10, 190, 10), 37})  # cycle 1 starts at a frame boundary
    frames = frames_of(steps, cuts, with_counter=False, flag_starts=False)[1:]
    boundary = next(i for i, f in enumerate(frames) if f.seq == 1037)
    for stop in range(1, boundary + 1):
        first = _robot()
        _feed(first, frames[:stop])
        assert first.current is None
        held = first.anchor()
        commit = held if held is not None else stop  # the furthest a commit may go
        rebuilt = _feed(_robot(), frames[commit:], first_offset=commit)
        live = _feed(first, frames[stop:], first_offset=stop)
        assert [c.start_seq for c in rebuilt] == [c.start_seq for c in live] == [1037, 1089], stop


def test_a_pause_in_controller_time_closes_the_open_cycle_in_the_stream_itself() -> None:
    """Idleness from the data: a restarted process re-reading a backlog sees the same pause."""
    steps = controller_steps(LENGTHS)
    frames = frames_of(steps, list(range(10, 190, 10)), with_counter=True)
    pause = 8
    paused = frames[:pause] + [dataclasses.replace(f, time_ns=f.time_ns + 30 * 10**9) for f in frames[pause:]]
    robot = RobotAssembler("r1", 6, AssemblyLimits(divider=1, max_kept=1000, idle_close_ns=5 * 10**9))
    cycles = _feed(robot, paused)
    # The cycle open at the pause closes there; the next one after the pause is whole.
    assert [(c.start_seq, c.end_seq, c.incomplete) for c in cycles] == [
        (1000, 1036, False),
        (1037, frames[pause].seq - 1, True),
        (1089, 1129, False),
    ]
