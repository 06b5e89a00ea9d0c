"""Cycle assembly for one robot (docs/architecture.md §3): frames in, finished cycles out.

A cycle opens at a cycle start: the controller's cycle counter changes, a frame says its
first step starts a cycle, or, without a counter, the action enters the program's first step
(robotwatch.program). It closes at the next start, when the robot goes quiet (flagged `incomplete`), or
by force when it runs past four times the model's length. Steps outside a cycle (before
the first start seen, after a forced close) are dropped: no cycle is ever scored without
its beginning.

The stream is expected to be imperfect, and each imperfection has one rule:

0. An epoch (a fresh robot, a process re-reading from a commit point, a rebooted
   controller) first sorts `reorder_frames` frames by seq and starts at the lowest, so a
   frame reordered across the point where reading began is still put in its place.
1. A repeat (a `seq` already taken, e.g. a producer retry) is dropped and counted.
2. An early frame (a `seq` ahead of the next expected one) is held back, at most
   `reorder_frames` of them, so that a late frame can still be put in its place; when more
   are held, the stream has jumped and the lowest one is taken with a gap. An early frame
   that stays beyond the reorder window while `reorder_frames` frames are taken in order
   is out of place (a bogus seq) and is discarded, so that it can never hold the commit
   point.
3. A jump to a flagged cycle start is taken at once when the cycle counter says whole
   cycles were skipped (a replay of selected cycles); otherwise it waits like any early
   frame, and a forced jump counts as a gap of the cycle it ends.
4. A frame far behind (more than the reorder window) that this epoch has not seen, or
   whose controller clock did not go back, is a controller reboot: the open cycle closes,
   flagged, and a new epoch starts at that frame. A far-behind frame with an older clock
   inside this epoch's seqs is a stale retry, counted as late.
5. A pause in controller time longer than `idle_close_ns` closes the open cycle as
   incomplete before the frame after it is taken; the stream says so, so a process that
   re-reads it after a crash closes the same cycle at the same step.

Each open cycle remembers its *anchor*: the smallest source offset (Kafka offset) of any
frame it was built from, or of the frame holding the step just before its start. Held
frames are anchors too, and while nothing is open the last frame is (the next frame's first
step may be a start, seen only against it). Re-reading from the smallest anchor rebuilds
exactly the same cycles: that is what makes commits, restarts and rebalances safe. A cycle
also remembers `start_offset`, the frame its start was seen in: a re-read that begins
after its anchor but not after that frame would see its start without all its frames, so
the committer never commits a point in between (stream/committer.py, rule 4).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.signal_frame import SignalFrame


@dataclass
class _Open:
    start_seq: int
    counter: int | None
    start_time_ns: int
    anchor: int
    start_offset: int
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
class _Held:
    frame: SignalFrame
    offset: int
    age: int = 0  # frames taken in order since it was held


@dataclass
class AssemblyLimits:
    divider: int
    max_kept: int  # the model's padded length: more steps are counted, not kept
    reorder_frames: int = 8  # frames held back to put a late (retried) frame in its place
    runaway_factor: int = 4  # a cycle this many times the model's length is closed by force
    idle_close_ns: int | None = None  # a pause in controller time this long closes the open cycle
    first_code: int = 0  # the program's first step: a cycle starts where the action enters it
    start_rule: Literal["auto", "counter", "first_step"] = "auto"  # robotwatch.program.Program.cycle_start

    @property
    def runaway_steps(self) -> int:
        return self.runaway_factor * self.max_kept * self.divider


@dataclass
class RobotAssembler:
    robot: str
    n_signals: int
    limits: AssemblyLimits
    next_seq: int | None = None
    epoch_first_seq: int = 0
    last_action: int = -1  # -1: no history (a fresh robot, or a new epoch)
    last_counter: int | None = None
    last_offset: int = -1
    last_end_time_ns: int | None = None
    hold_last: bool = False  # the last frame is an anchor while nothing is open
    frame_steps: int = 1  # the largest frame seen, in steps
    current: _Open | None = None
    pending: dict[int, _Held] = field(default_factory=dict)  # early frames by seq
    dropped_unsynced: int = 0
    late_steps: int = 0
    discarded_frames: int = 0
    resets: int = 0

    def anchor(self) -> int | None:
        """Smallest source offset still needed to rebuild what is open or held back."""
        offsets = [h.offset for h in self.pending.values()]
        if self.current is not None:
            offsets.append(self.current.anchor)
        elif self.hold_last and self.last_offset >= 0:
            offsets.append(self.last_offset)
        return min(offsets) if offsets else None

    def feed(self, frame: SignalFrame, offset: int) -> list[AssembledCycle]:
        """Take one decoded frame read at source position `offset`."""
        self.frame_steps = max(self.frame_steps, frame.n_steps)
        self.hold_last = True
        if self.next_seq is None:
            return self._hold_first(frame, offset)
        window = self.limits.reorder_frames * self.frame_steps  # the reorder window, in steps
        end = frame.seq + frame.n_steps
        if end <= self.next_seq - window:
            if frame.seq >= self.epoch_first_seq and not self._clock_continues(frame, window):
                self.late_steps += frame.n_steps  # rule 4: a stale retry
                return []
            return self._reset() + self._hold_first(frame, offset)  # rule 4: the controller rebooted
        if end <= self.next_seq:  # rule 1: entirely seen, or too late to place
            self._count_repeat(frame.seq, frame.n_steps)
            return []
        if frame.seq > self.next_seq:  # rule 2: a gap, or an early frame: hold it briefly
            self.pending[frame.seq] = _Held(frame, offset)
            return self._release(force=len(self.pending) > self.limits.reorder_frames)
        closed = self._take(frame, offset)
        return closed + self._release(force=False)

    def close_idle(self, incomplete: bool = True) -> list[AssembledCycle]:
        """The robot went quiet: release what is held back and close the open cycle (as
        incomplete, unless the caller knows the stream ended with it, as at a file's end).
        Its last frame stops being an anchor: a quiet robot never holds a commit point."""
        closed = self._release(force=True, drain=True)
        if self.current is not None:
            closed.append(self._close(incomplete=incomplete))
        self.hold_last = False
        return closed

    def abandon(self, reason: str) -> list[AssembledCycle]:
        """Assembly failed on this robot's data (a bug): the open cycle, as far as it is known,
        gets an error verdict and the robot starts afresh at its next frame."""
        out = []
        cur = self.current
        if cur is not None:  # from its bookkeeping alone: its arrays may be what broke
            out.append(
                AssembledCycle(
                    robot=self.robot,
                    start_seq=cur.start_seq,
                    end_seq=cur.end_seq,
                    counter=cur.counter,
                    start_time_ns=cur.start_time_ns,
                    end_time_ns=cur.end_time_ns,
                    signals=np.empty((0, self.n_signals), np.float32),
                    actions=np.empty(0, np.uint8),
                    n_steps=cur.n_steps,
                    anchor=cur.anchor,
                    start_offset=cur.start_offset,
                    incomplete=True,
                    error=reason,
                )
            )
        self.current = None
        self.pending.clear()
        self.next_seq, self.hold_last, self.last_action, self.last_counter = None, False, -1, None
        return out

    def _hold_first(self, frame: SignalFrame, offset: int) -> list[AssembledCycle]:
        """Rule 0: an epoch (a fresh robot, a process re-reading from a commit point, a
        rebooted controller) sorts its first frames before it starts, so that a frame
        reordered across the point where reading began is still put in its place."""
        closed: list[AssembledCycle] = []
        if self.pending:
            top = max(seq + h.frame.n_steps for seq, h in self.pending.items())
            window = self.limits.reorder_frames * self.frame_steps
            if frame.seq + frame.n_steps <= top - window and frame.seq < min(self.pending):
                # rule 4 while sorting: what is held is the epoch before a reboot
                self._start_epoch(min(self.pending))
                closed = self._reset()
        self.pending.setdefault(frame.seq, _Held(frame, offset))
        if len(self.pending) <= self.limits.reorder_frames:
            return closed
        self._start_epoch(min(self.pending))
        return closed + self._release(force=True)

    def _start_epoch(self, seq: int) -> None:
        self.next_seq = self.epoch_first_seq = seq
        self.last_action, self.last_counter, self.last_end_time_ns = -1, None, None

    def _reset(self) -> list[AssembledCycle]:
        closed = self._release(force=True, drain=True)
        if self.current is not None:
            closed.append(self._close(incomplete=True))
        self.resets += 1
        self.next_seq = None
        return closed

    def _clock_continues(self, frame: SignalFrame, window: int) -> bool:
        if self.last_end_time_ns is None:
            return True
        return frame.time_ns >= self.last_end_time_ns - window * 1e9 / frame.sample_rate_hz

    def _paused_before(self, frame: SignalFrame) -> bool:
        """Rule 5: the controller's clock jumped forward by more than the idle timeout."""
        limit, last = self.limits.idle_close_ns, self.last_end_time_ns
        return limit is not None and last is not None and frame.time_ns - last > limit

    def _skips_cycles(self, frame: SignalFrame) -> bool:
        """Rule 3: a flagged start whose counter says whole cycles lie in the jump."""
        return (
            frame.cycle_start
            and frame.cycle is not None
            and self.last_counter is not None
            and frame.cycle != self.last_counter + 1
        )

    def _count_repeat(self, seq: int, steps: int) -> None:
        if self.current is not None and seq >= self.current.start_seq:
            self.current.repeated_steps += steps
        else:
            self.late_steps += steps  # a step of a cycle already closed, or of none

    def _age_pending(self) -> None:
        """Rule 2: a frame that stays beyond the reorder window while the stream flows in
        order is out of place. (One inside the window waits for its turn.)"""
        assert self.next_seq is not None
        far = self.next_seq + self.limits.reorder_frames * self.frame_steps
        for seq in list(self.pending):
            held = self.pending[seq]
            held.age += 1
            if held.age > self.limits.reorder_frames and seq > far:
                del self.pending[seq]
                self.discarded_frames += 1

    def _release(self, force: bool, drain: bool = False) -> list[AssembledCycle]:
        closed: list[AssembledCycle] = []
        if self.next_seq is None and self.pending and drain:
            self._start_epoch(min(self.pending))
        while self.pending and self.next_seq is not None:
            first = min(self.pending)
            if first > self.next_seq and not force and not self._skips_cycles(self.pending[first].frame):
                break
            held = self.pending.pop(first)
            if drain and first > self.next_seq + self.limits.reorder_frames * self.frame_steps:
                self.discarded_frames += 1  # rule 2: far out of place, nothing follows it
            elif first + held.frame.n_steps > self.next_seq:
                gap = 0 if self._skips_cycles(held.frame) else max(0, first - self.next_seq)
                closed += self._take(held.frame, held.offset, gap=gap)
            else:
                self._count_repeat(first, held.frame.n_steps)
            force = force and (drain or len(self.pending) > self.limits.reorder_frames)
        return closed

    def _starts(self, frame: SignalFrame, skip: int, action: np.ndarray) -> list[int]:
        """Indices (after `skip`) where a new cycle starts inside this frame."""
        flagged = frame.cycle_start and skip == 0
        rule = self.limits.start_rule
        if rule == "counter" or (rule == "auto" and frame.cycle is not None):
            # A counter change is only seen against a previous step; a fresh robot waits for one.
            changed = (
                frame.cycle is not None and self.last_counter is not None and frame.cycle != self.last_counter
            )
            return [0] if changed or flagged else []
        first = self.limits.first_code
        previous = np.concatenate([[self.last_action], action[:-1]])
        # The action enters the first step from another one (no history, -1: not at step 0).
        starts = np.flatnonzero((action == first) & (previous != first) & (previous >= 0)).tolist()
        if flagged and 0 not in starts:
            starts = [0, *starts]
        return starts

    def _take(self, frame: SignalFrame, offset: int, gap: int = 0) -> list[AssembledCycle]:
        """Append the frame's new steps (those at or after next_seq) in order; `gap` steps
        were lost just before it."""
        assert self.next_seq is not None
        closed: list[AssembledCycle] = []
        if self._paused_before(frame) and self.current is not None:
            closed.append(self._close(incomplete=True))
        skip = max(0, self.next_seq - frame.seq)
        if skip:
            self._count_repeat(frame.seq, skip)
        first_seq = frame.seq + skip
        n = frame.n_steps - skip
        action = frame.action[skip:].astype(np.int16)
        starts = self._starts(frame, skip, action)
        flagged_start = frame.cycle_start and skip == 0 and 0 in starts
        if gap and self.current is not None:
            self.current.gap_steps += gap  # lost inside the open cycle, or before the start that ends it
        if gap and 0 in starts and not flagged_start:
            # The counter change or action wrap happened somewhere in the lost steps: the
            # cycle's beginning is lost with them. The open one ends; none opens here.
            starts.remove(0)
            if self.current is not None:
                closed.append(self._close(incomplete=False))
        for lo, hi in itertools.pairwise([0, *[s for s in starts if s > 0], n]):
            if lo in starts:
                if self.current is not None:
                    closed.append(self._close(incomplete=False))
                # The anchor is the frame holding the step before this start, unless this
                # frame says so itself or the previous step is inside this frame.
                flagged = flagged_start and lo == 0
                anchor = offset if (lo > 0 or flagged or self.last_offset < 0) else self.last_offset
                self._open(frame, skip + lo, first_seq + lo, anchor, offset)
            if self.current is not None:
                self._append(frame, offset, skip + lo, skip + hi, first_seq + lo)
            else:
                self.dropped_unsynced += hi - lo
            if self.current is not None and self.current.n_steps >= self.limits.runaway_steps:
                closed.append(self._close(incomplete=True))
        self.next_seq = frame.seq + frame.n_steps
        self.last_action = int(frame.action[-1])
        self.last_counter = frame.cycle
        self.last_offset = offset
        self.last_end_time_ns = int(frame.time_ns + (frame.n_steps - 1) * 1e9 / frame.sample_rate_hz)
        self._age_pending()
        return closed

    def _open(self, frame: SignalFrame, index: int, seq: int, anchor: int, offset: int) -> None:
        capacity = min(256, self.limits.max_kept)
        self.current = _Open(
            start_seq=seq,
            counter=frame.cycle,
            start_time_ns=int(frame.time_ns + index * 1e9 / frame.sample_rate_hz),
            anchor=anchor,
            start_offset=offset,
            signals=np.empty((capacity, self.n_signals), np.float32),
            actions=np.empty(capacity, np.uint8),
        )

    def _append(self, frame: SignalFrame, offset: int, lo: int, hi: int, first_seq: int) -> None:
        cur = self.current
        assert cur is not None
        cur.anchor = min(cur.anchor, offset)  # a frame taken out of order may come from before
        # Steps whose seq is a multiple of the divider, computed without forming seq + i
        # (a counter near 2**64 must not overflow int64).
        phase = first_seq % self.limits.divider
        keep = np.flatnonzero((phase + np.arange(hi - lo)) % self.limits.divider == 0) + lo
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
        cur.end_seq = first_seq + (hi - lo) - 1
        cur.end_time_ns = int(frame.time_ns + (hi - 1) * 1e9 / frame.sample_rate_hz)

    def _close(self, incomplete: bool) -> AssembledCycle:
        cur = self.current
        assert cur is not None
        cycle = AssembledCycle(
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
            start_offset=cur.start_offset,
            gap_steps=cur.gap_steps,
            repeated_steps=cur.repeated_steps,
            truncated=cur.truncated,
            incomplete=incomplete,
        )
        self.current = None
        return cycle
