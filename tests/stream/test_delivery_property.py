"""The delivery rules as a property (docs/architecture.md §6), without a broker: over random
framing, controller reboots, rate changes, acknowledgement delays, commit times and
crashes, and with or without lost, repeated and reordered frames,

(a) a commit never passes the anchor of an open cycle or the hold of an unacknowledged one;
(b) the cycles that get a verdict are exactly those of a run without crashes: none lost,
    none invented;
(c) a cycle read again after a crash has the same content, unless the copy or the original
    is flagged (a gap, or cut short): a frame lost, retried or reordered right where
    re-reading began, or a rate that flips back and forth, can make the copy differ, and
    then its flags say so. On a clean stream every copy is identical."""

from __future__ import annotations

import dataclasses
import hashlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.committer import Committer
from robotwatch.stream.pipeline import CyclePipeline, PipelineSettings
from robotwatch.stream.signal_frame import SignalFrame
from tests.stream.streams import controller_steps, frames_of
from tests.stream.test_pipeline_faults import N_SIGNALS, _model

TP = "signals-0"  # one partition: the committer's bookkeeping is per partition


def _robot_stream(rng: random.Random, robot: int, perturbed: bool = True) -> list[SignalFrame]:
    lengths = [rng.randint(20, 60) for _ in range(rng.randint(3, 6))]
    steps = controller_steps(lengths, n_signals=N_SIGNALS, seed=robot, first_seq=1000 * (robot + 1))
    total = sum(lengths)
    cuts = sorted(rng.sample(range(1, total), k=min(total - 1, rng.randint(3, 25))))
    frames = frames_of(steps, cuts, with_counter=rng.random() < 0.5, flag_starts=rng.random() < 0.5)
    out: list[SignalFrame] = []
    reboot = rng.randint(1, len(frames)) if rng.random() < 0.3 else None
    faster = rng.randint(1, len(frames)) if rng.random() < 0.2 else None
    for i, frame in enumerate(frames):
        if reboot is not None and i >= reboot:  # the controller restarts its counter and clock
            frame = dataclasses.replace(
                frame, seq=frame.seq - frames[reboot].seq + 7, time_ns=frame.time_ns // 7
            )
        if faster is not None and i >= faster:
            frame = dataclasses.replace(frame, sample_rate_hz=1000.0)
        roll = rng.random() if perturbed else 0.5
        if roll < 0.05:
            continue  # lost
        out.append(frame)
        if roll > 0.93:
            out.append(frame)  # a producer retry
    for i in range(len(out) - 1):  # a little reordering
        if perturbed and rng.random() < 0.08:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def _interleaved(rng: random.Random, streams: list[list[SignalFrame]]) -> list[tuple[str, SignalFrame]]:
    queues = [[(f"r{i}", f) for f in s] for i, s in enumerate(streams)]
    out = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        out.append(queue.pop(0))
    return out


def _identity(cycle: AssembledCycle) -> tuple[object, ...]:
    return (cycle.robot, cycle.start_seq, cycle.start_time_ns)


def _content(cycle: AssembledCycle) -> tuple[object, ...]:
    digest = hashlib.sha256(cycle.signals.tobytes()).hexdigest()
    return (cycle.end_seq, cycle.n_steps, cycle.incomplete, cycle.gap_steps, cycle.truncated, digest)


def _pipeline() -> CyclePipeline:
    # idle closes come from the stream (controller clock) and from the end of the run only
    return CyclePipeline.of(_model(padded_length=120), PipelineSettings(idle_close_s=1e6), device="cpu")


def _reference(messages: list[tuple[str, SignalFrame]]) -> dict[tuple[object, ...], tuple[object, ...]]:
    pipeline = _pipeline()
    cycles = [c for offset, (r, f) in enumerate(messages) for c in pipeline.feed(r, f, offset, now=offset)]
    cycles += pipeline.close_idle(now=1e9)
    return {_identity(c): _content(c) for c in cycles}


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_robots=st.integers(1, 3), perturbed=st.booleans())
def test_commits_never_pass_an_open_cycle_and_crashes_change_no_verdict(
    seed: int, n_robots: int, perturbed: bool
) -> None:
    rng = random.Random(seed)
    messages = _interleaved(rng, [_robot_stream(rng, r, perturbed) for r in range(n_robots)])
    expected = _reference(messages)
    seen: dict[tuple[object, ...], set[tuple[object, ...]]] = {}

    def emitted(cycle: AssembledCycle) -> None:
        seen.setdefault(_identity(cycle), set()).add(_content(cycle))

    committed, crashes = 0, 0
    while True:
        pipeline, committer = _pipeline(), Committer()
        unacked: list[tuple[int, AssembledCycle]] = []
        crashed = False
        for offset in range(committed, len(messages)):
            robot, frame = messages[offset]
            committer.consumed(TP, offset)  # type: ignore[arg-type]
            for cycle in pipeline.feed(robot, frame, offset, now=offset):
                unacked.append((committer.hold(TP, cycle.anchor), cycle))  # type: ignore[arg-type]
                emitted(cycle)
            while unacked and rng.random() < 0.6:  # the broker acknowledges some verdicts
                token, acked = unacked.pop(rng.randrange(len(unacked)))
                committer.release(token, acked.start_offset)
            if rng.random() < 0.3:
                open_anchor = pipeline.anchors().get(0)  # every robot is on partition 0
                anchors = {} if open_anchor is None else {TP: open_anchor}
                point = committer.to_commit(anchors).get(TP)  # type: ignore[call-overload]
                if point is not None:
                    open_anchors = [s.assembler.anchor() for s in pipeline.robots.values()]
                    assert all(point <= a for a in open_anchors if a is not None)
                    assert all(point <= c.anchor for _, c in unacked)
                    committer.committed_now({TP: point})  # type: ignore[dict-item]
                    committed = point
            if crashes < 5 and rng.random() < 0.04:
                crashes, crashed = crashes + 1, True
                break
        if not crashed:
            for cycle in pipeline.close_idle(now=1e9):
                emitted(cycle)
            break
    assert set(seen) == set(expected)  # (b)
    for identity, copies in seen.items():  # (c); content[2] is `incomplete`, content[3] the gap
        differing = copies - {expected[identity]}
        flagged = [c[2] or c[3] or expected[identity][2] or expected[identity][3] for c in differing]
        assert not differing if not perturbed else all(flagged)
