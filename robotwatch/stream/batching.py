"""How many waiting cycles serve scores together: by deadline, not by a fixed batch size.

A batch is cheaper per cycle than single cycles (one forward pass over many), but every cycle
in it waits for the whole batch. So serve never waits for a batch to fill: it takes what is
queued, and only as many as the oldest waiting cycle's latency budget still allows at the
measured cost per cycle. Once the oldest is late anyway, throughput comes first (the largest
batch), so that an overloaded instance catches up instead of falling further behind.
"""

from __future__ import annotations

from dataclasses import dataclass


def batch_size(queued: int, oldest_age_s: float, per_cycle_s: float, budget_s: float, cap: int) -> int:
    """Cycles to take from a queue of `queued` (≥ 1) whose oldest has waited `oldest_age_s`."""
    most = max(1, min(queued, cap))
    left = budget_s - oldest_age_s
    if left <= 0 or per_cycle_s <= 0:
        return most
    return max(1, min(most, int(left / per_cycle_s)))


@dataclass
class CycleCost:
    """Seconds a cycle costs inside a batch, a moving average over the batches scored."""

    per_cycle_s: float = 0.0  # nothing measured yet: the first batch takes what is queued
    weight: float = 0.3

    def add(self, seconds: float, cycles: int) -> None:
        each = seconds / max(cycles, 1)
        self.per_cycle_s = (
            each if self.per_cycle_s == 0 else (1 - self.weight) * self.per_cycle_s + self.weight * each
        )
