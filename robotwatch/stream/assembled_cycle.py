"""A cycle as assembly hands it on: its steps at the model's rate and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from robotwatch.stream.verdicts import CycleFlags

if TYPE_CHECKING:
    from robotwatch.fleet.registry import LoadedModel


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
    start_offset: int  # the frame its start was seen in (>= anchor)
    gap_steps: int = 0
    repeated_steps: int = 0
    truncated: bool = False
    incomplete: bool = False
    partition: int = -1  # the source partition, set by the pipeline
    error: str | None = None  # why the cycle could not be assembled (its verdict says so)
    model: LoadedModel | None = None  # the model current for its robot when it closed: it scores it
    closed_at: float = 0.0  # monotonic clock when it closed; the start of the verdict latency

    def flags(self) -> CycleFlags:
        return CycleFlags(
            incomplete=self.incomplete,
            gap=self.gap_steps > 0,
            truncated=self.truncated,
            gap_steps=self.gap_steps,
            repeated_steps=self.repeated_steps,
        )
