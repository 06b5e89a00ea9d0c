"""Reading voraus-AD files at a model's sample rate and signal list."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from replay import Cycle, VorausFile
from replay.reader import Part

_NOMINAL_RATES = (1000.0, 500.0, 250.0, 200.0, 100.0, 50.0, 25.0, 20.0, 10.0)


class DataError(ValueError):
    """Data that does not fit what is asked of it; the message names file and problem."""


def nominal_rate(time: np.ndarray) -> float:
    """The controller's nominal rate from a cycle's time column (real clocks drift ~0.6 %)."""
    steps = np.diff(time)
    steps = steps[steps > 0]
    if len(steps) == 0:
        raise ValueError("a cycle needs two time steps to tell its sample rate")
    measured = 1.0 / float(np.median(steps))
    best = min(_NOMINAL_RATES, key=lambda r: abs(np.log(measured / r)))
    return best if abs(np.log(measured / best)) < 0.05 else round(measured, 3)


def file_rate(path: str | PathLike[str]) -> float:
    """Nominal sample rate of a voraus-AD file, from its first cycle."""
    file = VorausFile(path, signals=())
    for cycle in file.cycles():
        if cycle.n_steps > 1:
            return nominal_rate(cycle.time)
    raise DataError(f"{path}: no cycle with two or more time steps")


def divider_for(path: str | PathLike[str], rate_hz: float) -> tuple[float, int]:
    """The file's own rate and the divider that brings it to `rate_hz`."""
    native = file_rate(path)
    divider = native / rate_hz
    if divider < 1 or abs(divider - round(divider)) > 1e-6:
        raise DataError(
            f"{path}: recorded at {native:g} Hz, which cannot be brought to {rate_hz:g} Hz "
            f"by keeping every n-th row"
        )
    return native, round(divider)


def iter_cycles(
    path: str | PathLike[str], signals: Sequence[str], rate_hz: float, part: Part = "all"
) -> Iterator[Cycle]:
    """Cycles of a file at `rate_hz` with the given signals, in file order."""
    _, divider = divider_for(path, rate_hz)
    yield from VorausFile(Path(path), signals).cycles(part, divider=divider)


def check_finite(cycle: Cycle, path: str | PathLike[str]) -> str | None:
    """None if all signals are finite, else a reason naming the cycle and the signals."""
    bad = ~np.isfinite(cycle.signals)
    if not bad.any():
        return None
    names = [cycle.signal_names[i] for i in np.flatnonzero(bad.any(0))]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{path}: cycle {cycle.sample} has NaN/inf values in {shown}"


def scorable_batches(
    cycles: Iterable[Cycle], path: str | PathLike[str], batch_size: int, skipped: list[tuple[int, str]]
) -> Iterator[list[Cycle]]:
    """Batches of the cycles that can be scored; the others go to `skipped` with the reason."""
    batch: list[Cycle] = []
    for cycle in cycles:
        problem = check_finite(cycle, path)
        if problem is None and cycle.n_steps < 2:
            problem = f"{path}: cycle {cycle.sample} has {cycle.n_steps} step(s)"
        if problem:
            skipped.append((cycle.sample, problem))
            continue
        batch.append(cycle)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
