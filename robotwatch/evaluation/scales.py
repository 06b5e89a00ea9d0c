"""The score histogram's axis: linear where the normal cycles and the threshold lie, logarithmic
beyond, so that one picture shows the normal spread, the threshold and anomalies 1e6 times
further out (a linear axis put all normal cycles and the threshold into one bar).

Scores can be negative (log-likelihoods) and reach 1e10, so the axis is a signed log of the
distance from a centre (the threshold's severity 1×, or the median normal score) in units of
the normal cycles' spread: |u| ≤ 1 maps to itself, beyond it to sign(u)·(1 + log10|u|).
"""

from __future__ import annotations

import numpy as np


def compress(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """Axis positions of `values`: linear within `center ± width`, one unit per decade beyond.
    Monotone and continuous; ±inf stays ±inf, NaN stays NaN."""
    if not width > 0:
        raise ValueError(f"the linear width must be positive, not {width}")
    u = (np.asarray(values, dtype=float) - center) / width
    magnitude = np.abs(u)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_part = 1 + np.log10(np.maximum(magnitude, 1.0))
    return np.sign(u) * np.where(magnitude <= 1, magnitude, log_part)


def expand(positions: np.ndarray, center: float, width: float) -> np.ndarray:
    """The inverse of `compress`."""
    x = np.asarray(positions, dtype=float)
    magnitude = np.abs(x)
    u = np.where(magnitude <= 1, magnitude, 10 ** (np.maximum(magnitude, 1.0) - 1))
    return center + width * np.sign(x) * u


def linear_width(normal: np.ndarray, center: float) -> float:
    """Half-width of the linear part: it holds the middle 98 % of the normal values (and the
    centre), so that the normal distribution is drawn undistorted."""
    finite = np.asarray(normal, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return max(abs(center), 1.0)
    low, high = np.percentile(finite, [1, 99])
    width = max(abs(high - center), abs(center - low))
    # a single normal value at the centre has no spread: a tenth of the scale it sits on
    return float(width) if width > 0 else max(abs(center) / 10, 1e-9)


def linear_ticks(center: float, width: float) -> list[float]:
    """Round values inside `center ± width` (a step of 1, 2 or 5 × 10^k, 2 to 3 each side)."""
    raw = width / 3
    magnitude = 10.0 ** np.floor(np.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first, last = np.ceil((center - width) / step), np.floor((center + width) / step)
    # rounded to the step's digits (no 1.2000000000000002), + 0.0 (no -0.0)
    digits = max(0, 1 - int(np.floor(np.log10(step))))
    values = [round(float(k * step), digits) + 0.0 for k in np.arange(first, last + 1)]
    # the values nearest the centre first, so that thinning keeps those
    return sorted((v for v in values if not np.isclose(v, center)), key=lambda v: abs(v - center))


def ticks(low: float, high: float, center: float, width: float, n_max: int = 11) -> list[float]:
    """Values (not positions) to label on the axis from `low` to `high` (values): the centre,
    a few linear ticks inside the linear part, and round values (1, 2, 5 × 10^k, signed)
    beyond it, thinned so that labels stay apart."""
    x_low, x_high = compress(np.array([low, high]), center, width)
    span = max(float(x_high - x_low), 1e-9)
    # order of preference: the centre, round steps inside the linear part, zero, then powers
    # of ten, 5s and 2s beyond it (rounder than the width would only say 1e-12)
    inner = [center, *linear_ticks(center, width)]
    candidates = [*inner, 0.0]
    for m in (1, 5, 2):
        candidates += [s * m * 10.0**k for k in range(-12, 16) for s in (1, -1) if m * 10.0**k >= width]
    positions = compress(np.array(candidates), center, width)
    chosen: list[int] = []
    for i, position in enumerate(positions):
        inside = x_low - 1e-9 <= position <= x_high + 1e-9
        # round values only in the logarithmic part: inside the linear part they would crowd
        placed = i < len(inner) or abs(position) > 1.15
        far = all(abs(position - positions[j]) >= span / 16 for j in chosen)  # ~55 px apart
        if inside and placed and far:
            chosen.append(i)
        if len(chosen) >= n_max:
            break
    return sorted(candidates[i] for i in chosen)
