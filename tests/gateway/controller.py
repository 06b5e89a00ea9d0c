"""A simulated robot controller for the gateway tests: a voraus-AD file's cycles, back to back,
as the blocks of steps a controller hands its gateway."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from replay import VorausFile
from replay.reader import Part

T0_NS = 1_764_331_200_000_000_000  # 2025-11-28 12:00 UTC


@dataclass(frozen=True)
class Block:
    seq: int
    time_ns: int
    action: np.ndarray
    active: np.ndarray
    values: np.ndarray  # (n, n_signals) float32
    cycle: int  # the file's sample id: the controller's cycle counter
    first: bool  # the block starts a cycle


def controller_blocks(
    path: Path,
    signals: Sequence[str],
    rate_hz: float,
    block: int = 10,
    part: Part = "all",
    first_seq: int = 5_000,
) -> Iterator[Block]:
    """Every cycle of the file in order, in blocks of `block` steps that never span two cycles;
    `seq` counts on across cycles, the clock advances one step per 1/rate."""
    seq = first_seq
    for cycle in VorausFile(path, signals=list(signals)).cycles(part):
        values = cycle.signals.astype(np.float32)
        for lo in range(0, cycle.n_steps, block):
            hi = min(lo + block, cycle.n_steps)
            yield Block(
                seq,
                T0_NS + round((seq - first_seq) * 1e9 / rate_hz),
                cycle.action[lo:hi].astype(np.int64),
                cycle.active[lo:hi].astype(np.int64),
                values[lo:hi],
                cycle.sample,
                lo == 0,
            )
            seq += hi - lo


def cycle_values(path: Path, signals: Sequence[str], part: Part = "all") -> dict[int, np.ndarray]:
    """The file's cycles by sample id, float32 as frames carry them."""
    return {
        c.sample: c.signals.astype(np.float32) for c in VorausFile(path, signals=list(signals)).cycles(part)
    }
