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
