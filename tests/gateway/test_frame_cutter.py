"""FrameCutter's rules (robotwatch/gateway/frame_cutter.py) as unit tests, and the cycles that
serve's assembler builds from its frames."""

from __future__ import annotations

import numpy as np
import pytest

from robotwatch.gateway import FrameCutter, GatewayError
from robotwatch.program import Program, Step
from robotwatch.stream.assembly import AssemblyLimits, RobotAssembler
from robotwatch.stream.signal_frame import decode, encode, signal_list_id

SIGNALS = ["a", "b", "c"]
PROGRAM = Program(
    name="three steps",
    cycle_start="first_step",
    steps=[
        Step(code=20, name="WAIT", moving=False),
        Step(code=21, name="GO", moving=True),
        Step(code=22, name="BACK", moving=True),
    ],
)


def steps(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, len(SIGNALS))).astype(np.float32)


def cycle_actions(lengths: list[int]) -> np.ndarray:
    """20..22 through each cycle: a cycle starts where 20 is entered."""
    return np.concatenate([np.minimum(np.arange(n) * 3 // n, 2) + 20 for n in lengths])


def test_full_frames_of_consecutive_steps_then_the_rest_on_flush() -> None:
    cutter = FrameCutter(SIGNALS, 500, PROGRAM, frame_steps=25)
    values = steps(60)
    frames = cutter.add(100, 7_000_000, 21, 1, values)
    assert [f.n_steps for f in frames] == [25, 25]
    assert [f.seq for f in frames] == [100, 125]
    assert frames[1].time_ns == 7_000_000 + 25 * 2_000_000
    (rest,) = cutter.flush()
    assert (rest.seq, rest.n_steps) == (150, 10)
    assert cutter.flush() == []
    np.testing.assert_array_equal(np.concatenate([f.signals for f in [*frames, rest]]), values)
    assert all(f.signal_list_id == signal_list_id(SIGNALS) for f in frames)


def test_one_step_at_a_time_gives_the_same_frames_as_blocks() -> None:
    values, actions = steps(70), cycle_actions([30, 40])
    one, block = FrameCutter(SIGNALS, 500, PROGRAM), FrameCutter(SIGNALS, 500, PROGRAM)
    singles = [
        f for i in range(70) for f in one.add(i, i * 2_000_000, actions[i], 1, values[i])
    ] + one.flush()
    blocks = [
        f
        for lo in range(0, 70, 7)
        for f in block.add(lo, lo * 2_000_000, actions[lo : lo + 7], 1, values[lo : lo + 7])
    ] + block.flush()
    assert [encode(f) for f in singles] == [encode(f) for f in blocks]


def test_a_cycle_start_ends_the_frame_and_flags_the_next() -> None:
    cutter = FrameCutter(SIGNALS, 500, PROGRAM, frame_steps=25)
    actions = cycle_actions([30, 30])  # the second cycle starts at step 30
    frames = cutter.add(0, 0, actions, 1, steps(60)) + cutter.flush()
    assert [(f.seq, f.n_steps, f.cycle_start) for f in frames] == [
        (0, 25, False),
        (25, 5, False),
        (30, 25, True),
        (55, 5, False),
    ]


def test_the_first_step_seen_is_no_start_unless_the_caller_says_so() -> None:
    # The gateway may connect in the middle of WAIT: that cycle's beginning is unknown.
    cutter = FrameCutter(SIGNALS, 500, PROGRAM)
    (frame,) = cutter.add(0, 0, 20, 0, steps(3)) + cutter.flush()
    assert not frame.cycle_start
    (frame,) = cutter.add(3, 6_000_000, 20, 0, steps(3), cycle_start=True) + cutter.flush()
    assert frame.cycle_start


def test_a_jump_in_seq_ends_the_frame() -> None:
    cutter = FrameCutter(SIGNALS, 500, PROGRAM)
    frames = (
        cutter.add(0, 0, 21, 1, steps(10)) + cutter.add(15, 30_000_000, 21, 1, steps(10)) + cutter.flush()
    )
    assert [(f.seq, f.n_steps) for f in frames] == [(0, 10), (15, 10)]
    assert frames[1].time_ns == 30_000_000


def test_a_counter_change_starts_a_cycle() -> None:
    voraus_like = Program(
        name="p", steps=PROGRAM.steps
    )  # cycle_start auto: the counter when frames carry one
    cutter = FrameCutter(SIGNALS, 500, voraus_like)
    frames = (
        cutter.add(0, 0, 21, 1, steps(10), cycle=7)
        + cutter.add(10, 0, 21, 1, steps(10), cycle=8)
        + cutter.flush()
    )
    assert [(f.seq, f.cycle, f.cycle_start) for f in frames] == [(0, 7, False), (10, 8, True)]


def test_frames_decode_to_what_was_added() -> None:
    cutter = FrameCutter(SIGNALS, 250, PROGRAM)
    values, actions = steps(40, seed=4), cycle_actions([40])
    frames = cutter.add(9, 123, actions, (actions != 20).astype(int), values) + cutter.flush()
    decoded = [decode(encode(f), {signal_list_id(SIGNALS): 3}) for f in frames]
    np.testing.assert_array_equal(np.concatenate([d.signals for d in decoded]), values)
    np.testing.assert_array_equal(np.concatenate([d.action for d in decoded]), actions)
    assert {d.sample_rate_hz for d in decoded} == {250.0}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"values": np.zeros((2, 4))}, "shape (2, 4), expected (n, 3)"),
        ({"action": [21, 23]}, "step 11: action 23 is no step of 'three steps'"),
        ({"active": [1, 2]}, "step 11: active must be 0 or 1"),
        ({"values": np.array([[0, 0, 0], [0, np.nan, 0]])}, "step 11: value of signal 1 is not finite"),
        ({"seq": -1}, "seq must be a step counter"),
    ],
)
def test_what_serve_would_refuse_is_refused_naming_the_step(change: dict, message: str) -> None:
    args = {
        "seq": 10,
        "time_ns": 0,
        "action": [21, 21],
        "active": [1, 1],
        "values": np.zeros((2, 3)),
    } | change
    with pytest.raises(GatewayError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FrameCutter(SIGNALS, 500, PROGRAM).add(**args)


def test_serve_assembles_the_cycles_the_controller_ran() -> None:
    """Frames of any block size become exactly the controller's cycles (the first, whose
    start the gateway did not see, and the last, still open, aside)."""
    lengths = [40, 55, 61, 38, 47]
    actions, values = cycle_actions(lengths), steps(sum(lengths), seed=2)
    bounds = np.cumsum([0, *lengths])
    for block in (1, 6, 25, 100):
        cutter = FrameCutter(SIGNALS, 500, PROGRAM, frame_steps=25)
        limits = AssemblyLimits(divider=1, max_kept=200, first_code=20, start_rule="first_step")
        assembler = RobotAssembler("r1", len(SIGNALS), limits)
        closed = []
        for offset, lo in enumerate(range(0, len(actions), block)):
            hi = lo + block
            for frame in cutter.add(lo, lo * 2_000_000, actions[lo:hi], 1, values[lo:hi]):
                closed += assembler.feed(decode(encode(frame), {signal_list_id(SIGNALS): 3}), offset)
        assert [c.n_steps for c in closed] == lengths[1:-1], block
        for cycle, lo, hi in zip(closed, bounds[1:-2], bounds[2:-1], strict=True):
            np.testing.assert_array_equal(cycle.signals, values[lo:hi])
            assert not (cycle.incomplete or cycle.gap_steps)
