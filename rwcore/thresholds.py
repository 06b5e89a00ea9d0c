"""The alarm threshold: chosen on normal samples only, for a target false-positive rate."""

from __future__ import annotations

import math

import numpy as np


def threshold_at_fpr(normal_scores: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold t with at most floor(target_fpr * n) of these normal scores above t.

    With n < 1 / target_fpr no score may lie above it, so t is the largest normal score: the
    realized false-positive rate on new normal samples is then likely above the target
    (`samples_needed` says how many it takes).
    """
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64))
    if scores.size == 0:
        raise ValueError("no normal scores to choose a threshold from")
    if not 0 <= target_fpr < 1:
        raise ValueError(f"target false-positive rate must lie in [0, 1), not {target_fpr}")
    allowed = math.floor(target_fpr * scores.size)
    return float(scores[scores.size - 1 - min(allowed, scores.size - 1)])


def samples_needed(target_fpr: float) -> int:
    """Normal samples it takes before one of them may lie above the threshold."""
    return math.ceil(1 / target_fpr - 1e-9)


def severity(score: float, threshold: float) -> float:
    """How far over the threshold a score lies, as a ratio: 4.0 is four times the threshold,
    1.0 at it, below 1 under it. For a threshold at or below zero (a log-likelihood scale)
    the same distance is 1 + (score - threshold) / |threshold|, which equals score / threshold
    for a positive one. NaN for a zero threshold; inf for an infinite score."""
    if threshold == 0 or math.isnan(score):
        return math.nan
    return 1 + (score - threshold) / abs(threshold)


def severity_text(ratio: float) -> str:
    """A severity as people read it: `4.3×`, `0.62×`, `1,200×`, `∞×`, `–`."""
    if math.isnan(ratio):
        return "–"
    if math.isinf(ratio):
        return "∞×" if ratio > 0 else "−∞×"
    if abs(ratio) >= 100:
        return f"{ratio:,.0f}×"
    return f"{ratio:.2g}×" if abs(ratio) < 1 else f"{ratio:.3g}×"
