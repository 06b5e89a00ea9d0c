"""Cycle assembly for one robot (docs/architecture.md §3): frames in, finished cycles out.

A cycle closes when the controller's cycle counter changes (or a frame says it starts a
cycle), or, without a counter, when the action sequence wraps back to its start. Repeated
steps (a producer retry) are dropped, gaps are recorded, a cycle running past the model's
length is truncated, and an idle timeout closes a cycle that never finishes.

A robot's assembler starts *unsynchronized*: it drops steps until it sees a cycle start,
so that a cycle is never emitted without its beginning. Each open cycle remembers the
source position (Kafka offset) of its *anchor*: the frame holding the step just before it
(or its first frame, when that frame itself says "cycle start"). Re-reading from the
anchor rebuilds exactly the same cycle, which is what makes restarts and rebalances safe.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from robotwatch.stream.signal_frame import SignalFrame
from robotwatch.stream.verdicts import CycleFlags


@dataclass
class AssembledCycle:
    """A finished cycle at the model's rate (every `divider`-th controller step)."""

    robot: str
    start_seq: int
    end_seq: int
    counter: int | None
    start_time_ns: int
    end_time_ns: int
    signals: np.ndarray
    actions: np.ndarray
    n_steps: int
    anchor: int
    gap_steps: int = 0
    repeated_steps: int = 0
    truncated: bool = False
    incomplete: bool = False
    closed_at: float = 0.0  # monotonic clock when it closed; the start of the verdict latency

    def flags(self) -> CycleFlags:
        return CycleFlags(
            incomplete=self.incomplete,
            gap=self.gap_steps > 0,
            truncated=self.truncated,
            gap_steps=self.gap_steps,
            repeated_steps=self.repeated_steps,
        )


@dataclass
class _Open:
    start_seq: int
    counter: int | None
    start_time_ns: int
    anchor: int
    signals: np.ndarray
    actions: np.ndarray
    kept: int = 0
    n_steps: int = 0
    end_seq: int = 0
    end_time_ns: int = 0
    gap_steps: int = 0
    repeated_steps: int = 0
    truncated: bool = False


@dataclass
class AssemblyLimits:
    divider: int
    max_kept: int  # the model's padded length: more steps are counted, not kept
    reorder_frames: int = 8  # frames held back to put a late (retried) frame in its place
    runaway_factor: int = 4  # a cycle this many times the model's length is closed by force

    @property
    def runaway_steps(self) -> int:
        return self.runaway_factor * self.max_kept * self.divider


@dataclass
class RobotAssembler:
    robot: str
    n_signals: int
    limits: AssemblyLimits
    next_seq: int | None = None
    synced: bool = False
    last_action: int = -1
    last_counter: int | None = None
    last_offset: int = -1
    last_time_ns: int = 0
    current: _Open | None = None
    # seq -> (frame, offset) held back until the frames before them arrive
    pending: dict[int, tuple[SignalFrame, int]] = field(default_factory=dict)
    dropped_unsynced: int = 0
    late_steps: int = 0

    def anchor(self) -> int | None:
        """Smallest source offset still needed to rebuild what is open or held back."""
        offsets = [o for _, o in self.pending.values()]
        if self.current is not None:
            offsets.append(self.current.anchor)
        return min(offsets) if offsets else None

    def feed(self, frame: SignalFrame, offset: int) -> list[AssembledCycle]:
        """Take one decoded frame read at source position `offset`."""
        if self.next_seq is None:
            self.next_seq = frame.seq
        end = frame.seq + frame.n_steps
        if end <= self.next_seq:  # entirely seen (a retry) or too late to place
            self._count_repeat(frame.n_steps)
            return []
        if frame.seq > self.next_seq and frame.cycle_start and not self.pending:
            # The controller says a cycle starts here: the steps skipped were between cycles
            # (a pause, or a replay of selected cycles), nothing to wait for.
            self.next_seq = frame.seq
        if frame.seq > self.next_seq:  # a gap, or an early frame: hold it briefly
            self.pending[frame.seq] = (frame, offset)
            return self._release(force=len(self.pending) > self.limits.reorder_frames)
        closed = self._take(frame, offset)
        return closed + self._release(force=False)

    def close_idle(self, incomplete: bool = True) -> list[AssembledCycle]:
        """The robot went quiet: release what is held back and close the open cycle (as
        incomplete, unless the caller knows the stream ended with it, as at a file's end)."""
        closed = self._release(force=True, drain=True)
        if self.current is not None:
            closed.append(self._close(incomplete=incomplete))
            self.synced = False  # the rest of that cycle, should it come, is not a cycle start
        return closed

    def _count_repeat(self, steps: int) -> None:
        if self.current is not None:
            self.current.repeated_steps += steps
        else:
            self.late_steps += steps

    def _release(self, force: bool, drain: bool = False) -> list[AssembledCycle]:
        closed: list[AssembledCycle] = []
        while self.pending:
            first = min(self.pending)
            if first > self.next_seq and not force:  # type: ignore[operator]
                break
            frame, offset = self.pending.pop(first)
            if first + frame.n_steps > self.next_seq:  # type: ignore[operator]
                closed += self._take(frame, offset, gap=max(0, first - self.next_seq))  # type: ignore[operator]
            else:
                self._count_repeat(frame.n_steps)
            force = force and (drain or len(self.pending) > self.limits.reorder_frames)
        return closed

    def _take(self, frame: SignalFrame, offset: int, gap: int = 0) -> list[AssembledCycle]:
        """Append the frame's new steps (those at or after next_seq) in order; `gap` steps
        were lost just before it."""
        skip = max(0, self.next_seq - frame.seq)  # type: ignore[operator]
        if skip:
            self._count_repeat(skip)
        seqs = frame.seq + np.arange(skip, frame.n_steps)
        action = frame.action[skip:].astype(np.int16)
        # Where a new cycle starts inside this frame.
        if frame.cycle is not None:
            # A counter change is only seen against a previous step; a fresh robot waits for one.
            changed = self.last_counter is not None and frame.cycle != self.last_counter
            starts = [0] if changed or (frame.cycle_start and skip == 0) else []
        else:
            previous = np.concatenate([[self.last_action], action[:-1]])
            starts = np.flatnonzero(action < previous).tolist()
            if frame.cycle_start and skip == 0 and 0 not in starts:
                starts = [0, *starts]
        if gap and 0 not in starts and self.current is not None:
            self.current.gap_steps += gap
        closed: list[AssembledCycle] = []
        bounds = [0, *[s for s in starts if s > 0], len(seqs)]
        for lo, hi in itertools.pairwise(bounds):
            if lo in starts:
                if self.current is not None:
                    closed.append(self._close(incomplete=False))
                # The anchor is the frame holding the step before this start, unless this
                # frame says so itself or the previous step is inside this frame.
                flagged = frame.cycle_start and lo == 0 and skip == 0
                anchor = offset if (lo > 0 or flagged or self.last_offset < 0) else self.last_offset
                self._open(frame, skip + lo, int(seqs[lo]), anchor)
                if lo == 0 and gap and not flagged:  # the lost steps may have held this cycle's start
                    self.current.gap_steps += gap  # type: ignore[union-attr]
            if self.synced:
                self._append(frame, skip + lo, skip + hi, seqs[lo:hi])
            else:
                self.dropped_unsynced += hi - lo
            if self.current is not None and self.current.n_steps >= self.limits.runaway_steps:
                closed.append(self._close(incomplete=True))
                self.synced = False
        self.next_seq = frame.seq + frame.n_steps
        self.last_action = int(frame.action[-1])
        self.last_counter = frame.cycle
        self.last_offset = offset
        self.last_time_ns = frame.time_ns
        return closed

    def _open(self, frame: SignalFrame, index: int, seq: int, anchor: int) -> None:
        capacity = min(256, self.limits.max_kept)
        step_ns = 1e9 / frame.sample_rate_hz
        self.current = _Open(
            start_seq=seq,
            counter=frame.cycle,
            start_time_ns=int(frame.time_ns + index * step_ns),
            anchor=anchor,
            signals=np.empty((capacity, self.n_signals), np.float32),
            actions=np.empty(capacity, np.uint8),
        )
        self.synced = True

    def _append(self, frame: SignalFrame, lo: int, hi: int, seqs: np.ndarray) -> None:
        cur = self.current
        assert cur is not None
        keep = np.flatnonzero(seqs % self.limits.divider == 0) + lo
        room = self.limits.max_kept - cur.kept
        if len(keep) > room:
            keep, cur.truncated = keep[:room], True
        if cur.kept + len(keep) > len(cur.signals):
            size = min(self.limits.max_kept, max(2 * len(cur.signals), cur.kept + len(keep)))
            cur.signals = np.resize(cur.signals, (size, self.n_signals))
            cur.actions = np.resize(cur.actions, size)
        cur.signals[cur.kept : cur.kept + len(keep)] = frame.signals[keep]
        cur.actions[cur.kept : cur.kept + len(keep)] = frame.action[keep]
        cur.kept += len(keep)
        cur.n_steps += hi - lo
        cur.end_seq = int(seqs[-1])
        cur.end_time_ns = int(frame.time_ns + (hi - 1) * 1e9 / frame.sample_rate_hz)

    def _close(self, incomplete: bool) -> AssembledCycle:
        cur = self.current
        assert cur is not None
        self.current = None
        return AssembledCycle(
            robot=self.robot,
            start_seq=cur.start_seq,
            end_seq=cur.end_seq,
            counter=cur.counter,
            start_time_ns=cur.start_time_ns,
            end_time_ns=cur.end_time_ns,
            signals=cur.signals[: cur.kept],
            actions=cur.actions[: cur.kept],
            n_steps=cur.n_steps,
            anchor=cur.anchor,
            gap_steps=cur.gap_steps,
            repeated_steps=cur.repeated_steps,
            truncated=cur.truncated,
            incomplete=incomplete,
        )
