"""Play a voraus-AD file as the controller streams of N robots: the load generator.

Every robot plays every cycle of the file, in file order, in chunks of consecutive steps
as a gateway would send them; robot i starts i/N of a cycle later than robot 0, so cycle
ends spread out. A chunk never spans two cycles: it carries the cycle's `sample` id as the
cycle counter, and the first chunk of a cycle says it starts one. The step counter `seq`
is the file's global row number, so downsampling by `seq % n` is exactly the official
loader's `index % n`. The file is read once; robots share the cycles it yields.

Pacing (real time x speed) is the caller's: chunks come with their due time in seconds
from the start of the replay.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from replay.cycle import Cycle


@dataclass(frozen=True)
class StepChunk:
    """Consecutive steps of one robot, as one signal frame will carry them."""

    robot: str
    due_s: float
    seq: int
    time_ns: int
    sample_rate_hz: float
    cycle: int
    cycle_start: bool
    action: np.ndarray
    active: np.ndarray
    signals: np.ndarray  # (steps, signals) float32


def robot_ids(n: int, prefix: str = "robot") -> list[str]:
    return [f"{prefix}-{i + 1:03d}" for i in range(n)]


def _chunks_of(cycle: Cycle, robot: str, start_s: float, rate: float, steps: int) -> Iterator[StepChunk]:
    signals = np.ascontiguousarray(cycle.signals, dtype=np.float32)
    seq0 = int(cycle.index[0]) if cycle.index is not None else 0
    for lo in range(0, cycle.n_steps, steps):
        hi = min(lo + steps, cycle.n_steps)
        seq = int(cycle.index[lo]) if cycle.index is not None else seq0 + lo
        yield StepChunk(
            robot=robot,
            # a gateway sends a chunk once its last step exists
            due_s=start_s + (hi - 1) / rate,
            seq=seq,
            time_ns=round((start_s + lo / rate) * 1e9),
            sample_rate_hz=rate,
            cycle=cycle.sample,
            cycle_start=lo == 0,
            action=cycle.action[lo:hi].astype(np.uint8),
            active=cycle.active[lo:hi].astype(np.uint8),
            signals=signals[lo:hi],
        )


def replay_chunks(
    cycles: Iterable[Cycle],
    rate_hz: float,
    robots: list[str],
    steps_per_chunk: int = 25,
) -> Iterator[StepChunk]:
    """All robots' chunks in due-time order, reading each cycle of the file once."""
    n = len(robots)
    heap: list[tuple[float, int, int, StepChunk]] = []
    counter = 0
    cycle_start_s = 0.0
    offsets: list[float] = []
    for cycle in cycles:
        duration = cycle.n_steps / rate_hz
        if not offsets:  # each robot runs the same cycles back to back, shifted by i/n of a cycle
            offsets = [duration * i / n for i in range(n)]
        # Release what is due before this cycle's earliest chunk: nothing later can precede it.
        while heap and heap[0][0] <= cycle_start_s:
            yield heapq.heappop(heap)[3]
        for i, robot in enumerate(robots):
            for chunk in _chunks_of(cycle, robot, cycle_start_s + offsets[i], rate_hz, steps_per_chunk):
                heapq.heappush(heap, (chunk.due_s, i, counter, chunk))
                counter += 1
        cycle_start_s += duration
    while heap:
        yield heapq.heappop(heap)[3]
