"""A model's view of a voraus-AD file: its cycles at the model's rate and signals, z-scored and
zero-padded at the end, as the official voraus-AD loader prepares them.

Raw signals are cast to float32 before anything else, because that is what a signal frame
carries (docs/architecture.md §2): offline and streamed cycles see identical numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from replay import Cycle, VorausFile
from replay.reader import Part
from rwcore.errors import UserError

_NOMINAL_RATES = (1000.0, 500.0, 250.0, 200.0, 100.0, 50.0, 25.0, 20.0, 10.0)
Z_LIMIT = 1e6


class DataError(UserError):
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


def divider_for(path: str | PathLike[str], rate_hz: float) -> int:
    """The divider (keep every n-th row) that brings the file to `rate_hz`."""
    native = file_rate(path)
    divider = native / rate_hz
    if divider < 1 or abs(divider - round(divider)) > 1e-6:
        raise DataError(
            f"{path}: recorded at {native:g} Hz, which cannot be brought to {rate_hz:g} Hz "
            f"by keeping every n-th row"
        )
    return round(divider)


def iter_cycles(
    path: str | PathLike[str], signals: Sequence[str], rate_hz: float, part: Part = "all"
) -> Iterator[Cycle]:
    """Cycles of a file at `rate_hz` with the given signals, in file order; a signal the file
    lacks is named before the first cycle is read."""
    file = VorausFile(Path(path), signals)
    yield from file.cycles(part, divider=divider_for(path, rate_hz))


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


def training_cycles(
    path: str | PathLike[str], signals: Sequence[str], rate_hz: float
) -> tuple[list[int], list[np.ndarray]]:
    """Sample ids and float32 signals of the file's PRE_A cycles; NaN/inf is an error here."""
    samples, cycles = [], []
    for cycle in iter_cycles(path, signals, rate_hz, part="train"):
        problem = check_finite(cycle, path)
        if problem:
            raise DataError(f"{problem}; training needs clean normal cycles")
        samples.append(cycle.sample)
        cycles.append(cycle.signals.astype(np.float32))
    if not cycles:
        raise DataError(f"{path}: no training cycles (setting 72, PRE_A) in the file")
    return samples, cycles


@dataclass(frozen=True)
class Normalizer:
    """Per-signal mean and standard deviation of the training time steps (population std,
    as scikit-learn's StandardScaler; a constant signal keeps scale 1)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, cycles: Iterable[np.ndarray]) -> Normalizer:
        """Streaming fit over (steps, signals) arrays, shifted by the first cycle's mean so
        that sums of squares do not cancel (supply voltages sit at 47.6 V with 0.03 V spread)."""
        shift = total = total_sq = None
        count = 0
        for signals in cycles:
            x = np.asarray(signals, dtype=np.float32).astype(np.float64)
            if shift is None:
                shift = x.mean(0)
                total = np.zeros_like(shift)
                total_sq = np.zeros_like(shift)
            assert total is not None and total_sq is not None
            d = x - shift
            total += d.sum(0)
            total_sq += np.square(d).sum(0)
            count += len(x)
        if count == 0 or shift is None or total is None or total_sq is None:
            raise ValueError("no training time steps to fit the normalization on")
        mean_d = total / count
        var = np.maximum(total_sq / count - mean_d**2, 0.0)
        std = np.sqrt(var)
        std[std < 1e-12] = 1.0
        return cls(mean=shift + mean_d, std=std)

    def transform(self, signals: np.ndarray) -> np.ndarray:
        """(steps, signals) raw -> (steps, signals) float32 z-scores.

        Computed in float64 and limited to ±Z_LIMIT: one absurd but finite value (3e38)
        gives a z-score of a million sigmas, as anomalous as anything can be, instead of an
        overflow to inf and a NaN score.
        """
        x = np.asarray(signals, dtype=np.float32).astype(np.float64)
        return np.clip((x - self.mean) / self.std, -Z_LIMIT, Z_LIMIT).astype(np.float32)


def pad_batch(cycles: Sequence[np.ndarray], length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack normalized (steps, signals) cycles into (B, S, length), zero-padded at the end.

    Longer cycles are cut to `length`. Returns the batch, the kept steps per cycle and a
    flag per cycle saying whether it was truncated.
    """
    n_signals = cycles[0].shape[1]
    batch = torch.zeros(len(cycles), n_signals, length)
    lengths = torch.tensor([min(len(c), length) for c in cycles])
    truncated = torch.tensor([len(c) > length for c in cycles])
    for i, c in enumerate(cycles):
        n = int(lengths[i])
        batch[i, :, :n] = torch.from_numpy(np.ascontiguousarray(c[:n].T))
    return batch, lengths, truncated


@dataclass(frozen=True)
class TrainingSet:
    """Training cycles as every method sees them: normalized, padded to the longest one."""

    normalizer: Normalizer
    padded_length: int
    x: torch.Tensor  # (N, S, padded_length)
    lengths: torch.Tensor  # (N,) real steps per cycle


def training_set(cycles: Sequence[np.ndarray]) -> TrainingSet:
    normalizer = Normalizer.fit(cycles)
    length = max(len(c) for c in cycles)
    x, lengths, _ = pad_batch([normalizer.transform(c) for c in cycles], length)
    return TrainingSet(normalizer, length, x, lengths)
