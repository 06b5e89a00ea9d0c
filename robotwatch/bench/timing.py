"""Interleaved timing: A and B alternate so that a noisy machine slows both alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def side_by_side(
    work: dict[str, Callable[[], object]], repeats: int, device: torch.device, warmup: int = 3
) -> dict[str, float]:
    """Median seconds per call of each function, after `warmup` calls each.

    The first calls of a process pay for allocator growth and FFT/oneDNN plan caches; a
    serving process pays them once, so they are not part of its per-cycle cost."""
    for _ in range(warmup):
        for fn in work.values():
            fn()
    _sync(device)
    samples: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(repeats):
        for name, fn in work.items():
            start = time.perf_counter()
            fn()
            _sync(device)
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}
