"""Temporal localization (thesis §8.1.3): when in the cycle, and on which signals.

The score is backpropagated to the input; the L1 norm over signals per time step,
smoothed, is high where the cycle departs from what the flow learned. Peaks of that
profile, measured against its typical level on normal cycles at the same time step,
become events carrying the time, the running action and the signals behind them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from replay.schema import axis_of
from robotwatch.mtsflow.network import MTSFlow
from robotwatch.program import VORAUS_AD


@dataclass(frozen=True)
class Event:
    step: int
    time_s: float
    action: str | None
    strength: float
    top_signals: tuple[tuple[str, float], ...]
    top_axes: tuple[tuple[int, float], ...]


def input_gradient(
    flow: MTSFlow, x: torch.Tensor, lengths: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores (B,) and d score / d input (B, S, T); no weight gradients are computed."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        scores = flow.nll(x, lengths)
        (grad,) = torch.autograd.grad(scores.sum(), x)
    return scores.detach(), grad


def gradient_profile(grad: np.ndarray, sigma_steps: float) -> np.ndarray:
    """(B, S, T) gradients -> (B, T) smoothed L1 norm over signals."""
    return gaussian_filter1d(np.abs(grad).sum(1), sigma_steps, axis=-1, mode="nearest")


def find_events(
    grad: np.ndarray,
    profile: np.ndarray,
    baseline: np.ndarray,
    *,
    length: int,
    sample_rate_hz: float,
    signals: Sequence[str],
    actions: np.ndarray | None = None,
    step_name: Callable[[int], str] = VORAUS_AD.name_of,
    min_strength: float = 2.0,
    max_events: int = 3,
    min_separation_s: float = 0.5,
    top_k: int = 5,
    first_step: int | None = None,
) -> list[Event]:
    """Events of one cycle from its (S, T) gradient and (T,) smoothed profile.

    Strength is the profile over the normal baseline at the same step; at least the
    strongest peak is returned (an anomalous cycle always gets a 'when'), more only if
    they reach `min_strength`. `first_step`, when given, is the step of the first event
    instead of the strongest peak (the recommended preset's local onset); the other events
    keep their distance from it.
    """
    ratio = profile[:length] / baseline[:length]
    distance = max(1, int(min_separation_s * sample_rate_hz))
    peaks, _ = find_peaks(np.concatenate([[0.0], ratio, [0.0]]), distance=distance)
    peaks = peaks - 1
    if len(peaks) == 0:
        peaks = np.array([int(np.argmax(ratio))])
    peaks = peaks[np.argsort(ratio[peaks])[::-1]]
    keep = [p for i, p in enumerate(peaks) if i == 0 or ratio[p] >= min_strength][:max_events]
    half = max(1, distance // 2)
    if first_step is not None:
        first_step = min(max(0, first_step), length - 1)
        keep = [first_step, *[p for p in keep if abs(p - first_step) > half]][:max_events]
    events = []
    for step in keep:
        window = np.abs(grad[:, max(0, step - half) : step + half + 1]).sum(1)
        share = window / max(window.sum(), 1e-30)
        order = np.argsort(share)[::-1][:top_k]
        per_axis: dict[int, float] = {}
        for name, value in zip(signals, share, strict=True):
            axis = axis_of(name)
            if axis is not None:
                per_axis[axis] = per_axis.get(axis, 0.0) + float(value)
        action = None
        if actions is not None and step < len(actions):
            action = step_name(int(actions[step]))
        events.append(
            Event(
                step=int(step),
                time_s=float(step / sample_rate_hz),
                action=action,
                strength=float(ratio[step]),
                top_signals=tuple((signals[i], float(share[i])) for i in order),
                top_axes=tuple(sorted(per_axis.items(), key=lambda kv: -kv[1])[:3]),
            )
        )
    return events


def gradient_baseline(profiles: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Median smoothed profile over normal cycles per step, floored so that ratios stay finite.

    Steps that only some cycles reach take the median over those cycles.
    """
    n_steps = profiles.shape[1]
    baseline = np.empty(n_steps)
    for t in range(n_steps):
        reached = profiles[lengths > t, t]
        baseline[t] = np.median(reached) if len(reached) else np.nan
    valid = baseline[np.isfinite(baseline)]
    floor = 0.05 * float(np.median(valid)) if len(valid) else 1.0
    baseline = np.where(np.isfinite(baseline), baseline, floor)
    return np.maximum(baseline, floor)
