"""Controller steps in, signal frames out: the rules every gateway follows (docs/gateways.md).

1. A frame holds consecutive steps (`seq` + 1 each): a jump in `seq` ends the frame.
2. A frame holds steps of one cycle: a cycle start ends the frame before it, and the new
   frame carries the cycle-start flag (so robotwatch can score that cycle even right after
   it or the gateway restarted).
3. A frame holds at most `frame_steps` steps (25 = 50 ms at 500 Hz).
4. What robotwatch would refuse is refused here, naming the step: values of the wrong
   shape or non-finite, an action code outside the program, `active` other than 0/1.

A cycle starts where the cycle counter changes (when the controller has one), else where
the action enters the program's first step from another step. The very first step seen
only counts as a start when the controller's counter or the caller says so: the gateway
may have connected in the middle of that step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from robotwatch.program import VORAUS_AD, Program
from robotwatch.stream.signal_frame import SignalFrame, signal_list_id


class GatewayError(ValueError):
    """A step the service would refuse; the message names the step and what is wrong."""


class FrameCutter:
    def __init__(
        self,
        signals: Sequence[str],
        rate_hz: float,
        program: Program = VORAUS_AD,
        frame_steps: int = 25,
    ) -> None:
        if not 1 <= frame_steps <= 100_000:
            raise GatewayError(f"frame_steps must be 1..100000, not {frame_steps}")
        if not 0 < rate_hz <= 1e5:
            raise GatewayError(f"rate_hz must be in (0, 100000], not {rate_hz}")
        self.n_signals = len(signals)
        self.list_id = signal_list_id(signals)
        self.rate_hz = float(rate_hz)
        self.program = program
        self.frame_steps = frame_steps
        self._codes = np.zeros(256, bool)
        self._codes[[s.code for s in program.steps]] = True
        self._step_ns = 1e9 / rate_hz
        self._last_action = -1
        self._last_cycle: int | None = None
        self._clear()

    def _clear(self) -> None:
        self._seq = 0  # of the buffered frame's first step
        self._time0 = 0
        self._action: list[np.ndarray] = []
        self._active: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self._cycle: int | None = None
        self._start = False
        self._n = 0

    def add(
        self,
        seq: int,
        time_ns: int,
        action: int | Sequence[int] | np.ndarray,
        active: int | bool | Sequence[int] | np.ndarray,
        values: Sequence[float] | np.ndarray,
        cycle: int | None = None,
        cycle_start: bool = False,
    ) -> list[SignalFrame]:
        """One step, or a block of n consecutive steps (`action`, `active` of length n,
        `values` n x n_signals) starting at `seq` and controller time `time_ns`; `cycle`:
        the controller's cycle counter for the whole block, if it has one; `cycle_start`:
        the block's first step is a cycle's first step. Returns the frames completed."""
        block = np.asarray(values, np.float32)
        block = block.reshape(1, -1) if block.ndim == 1 else block
        n = len(block)
        acts = np.broadcast_to(np.asarray(action, np.int64), (n,))
        moving = np.broadcast_to(np.asarray(active, np.int64), (n,))
        self._validate(seq, block, acts, moving)
        starts = self._starts(acts, cycle, cycle_start)
        out: list[SignalFrame] = []
        lo = 0
        for cut in [*starts, n]:
            if cut > lo:
                out += self._append(
                    seq + lo,
                    time_ns + round(lo * self._step_ns),
                    acts[lo:cut],
                    moving[lo:cut],
                    block[lo:cut],
                    cycle,
                    start=lo in starts,
                )
            lo = cut
        self._last_action = int(acts[-1])
        self._last_cycle = cycle
        return out

    def flush(self) -> list[SignalFrame]:
        """The steps still buffered, as one frame (at the end, or before a pause)."""
        if not self._n:
            return []
        frame = SignalFrame(
            signal_list_id=self.list_id,
            sample_rate_hz=self.rate_hz,
            seq=self._seq,
            time_ns=self._time0,
            cycle=self._cycle,
            cycle_start=self._start,
            action=np.concatenate(self._action).astype(np.uint8),
            active=np.concatenate(self._active).astype(np.uint8),
            signals=np.concatenate(self._values),
        )
        self._clear()
        return [frame]

    def _validate(self, seq: int, block: np.ndarray, action: np.ndarray, active: np.ndarray) -> None:
        if block.ndim != 2 or block.shape[1] != self.n_signals:
            raise GatewayError(f"step {seq}: values of shape {block.shape}, expected (n, {self.n_signals})")
        if not 0 <= seq < 2**63 - len(block):
            raise GatewayError(f"step {seq}: seq must be a step counter in 0..2**63")
        bad = np.flatnonzero((action < 0) | (action > 255) | ~self._codes[np.clip(action, 0, 255)])
        if len(bad):
            raise GatewayError(
                f"step {seq + bad[0]}: action {action[bad[0]]} is no step of {self.program.name!r}"
            )
        bad = np.flatnonzero((active != 0) & (active != 1))
        if len(bad):
            raise GatewayError(f"step {seq + bad[0]}: active must be 0 or 1, not {active[bad[0]]}")
        if not np.isfinite(block).all():
            step, signal = np.argwhere(~np.isfinite(block))[0]
            raise GatewayError(
                f"step {seq + step}: value of signal {signal} is not finite ({block[step, signal]})"
            )

    def _starts(self, action: np.ndarray, cycle: int | None, flagged: bool) -> list[int]:
        rule = self.program.cycle_start
        if rule == "counter" or (rule == "auto" and cycle is not None):
            changed = cycle is not None and self._last_cycle is not None and cycle != self._last_cycle
            return [0] if changed or flagged else []
        first = self.program.first_code
        previous = np.concatenate([[self._last_action], action[:-1]])
        starts = np.flatnonzero((action == first) & (previous != first) & (previous >= 0)).tolist()
        return sorted({0, *starts}) if flagged else starts

    def _append(
        self,
        seq: int,
        time_ns: int,
        action: np.ndarray,
        active: np.ndarray,
        values: np.ndarray,
        cycle: int | None,
        start: bool,
    ) -> list[SignalFrame]:
        out: list[SignalFrame] = []
        follows = self._seq + self._n == seq
        if self._n and (start or not follows or cycle != self._cycle):
            out += self.flush()  # rules 1 and 2
        lo = 0
        while lo < len(action):
            if not self._n:
                self._seq = seq + lo
                self._time0 = time_ns + round(lo * self._step_ns)
                self._cycle = cycle
                self._start = start and lo == 0
            take = min(len(action) - lo, self.frame_steps - self._n)
            self._action.append(action[lo : lo + take])
            self._active.append(active[lo : lo + take])
            self._values.append(values[lo : lo + take])
            self._n += take
            lo += take
            if self._n == self.frame_steps:
                out += self.flush()  # rule 3
        return out
