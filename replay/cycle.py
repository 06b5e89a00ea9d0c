"""One pick-and-place cycle of the voraus-AD table, as plain arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from replay.schema import SIGNALS, Category


@dataclass
class Cycle:
    """The rows of one `sample` of a voraus-AD table.

    `signals` is (steps, len(signal_names)) float64 in the order of `signal_names`.
    `index` holds the table's global row numbers; None lets a writer number the rows.
    """

    sample: int
    anomaly: bool
    category: int
    setting: int
    time: np.ndarray
    action: np.ndarray
    active: np.ndarray
    signals: np.ndarray
    signal_names: tuple[str, ...] = SIGNALS
    index: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        n = len(self.time)
        shapes = {"action": len(self.action), "active": len(self.active), "signals": len(self.signals)}
        if self.index is not None:
            shapes["index"] = len(self.index)
        bad = {k: v for k, v in shapes.items() if v != n}
        if bad:
            raise ValueError(f"cycle {self.sample}: {n} time steps but lengths {bad}")
        if self.signals.ndim != 2 or self.signals.shape[1] != len(self.signal_names):
            raise ValueError(
                f"cycle {self.sample}: signals of shape {self.signals.shape} "
                f"for {len(self.signal_names)} signal names"
            )

    @property
    def n_steps(self) -> int:
        return len(self.time)

    @property
    def category_name(self) -> str:
        return Category(self.category).name
