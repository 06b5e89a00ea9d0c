"""The recommended preset's score: the whole cycle's NLL, or its worst stretch, whichever is
further out of the normal range.

The thesis scores a cycle by its negative log-likelihood summed over every signal and step,
G = Σ_t n_t with n_t = 0.5 Σ_s z²_{s,t} − log|det J|_t. A collision of a tenth of a second
changes a few of the ~500 steps of n_t, so in G it drowns in the spread of the rest. The
local score looks at the steps themselves:

1. u_t = (n_t − μ_t) / σ_t: each step's NLL against normal cycles at the same step (μ, σ from
   the training and calibration cycles; σ smoothed over `SMOOTHING_S` and floored at a tenth
   of its median, so that a step where normal cycles happen to agree does not explode).
2. L = the largest mean of u over any `window_s` stretch: the worst local departure.
3. score = max((G − g₀) / g₁, (L − l₀) / l₁), both centred and scaled on the calibration
   cycles, so that either alone can carry a cycle over the threshold.

It costs no extra pass of the flow: z and log|det J| per step come from the same forward
pass the thesis score sums. The threshold is set on this score like the thesis one. The same
u_t says when: a localized cycle's first event is where its strongest departure begins
(`local_onset`); the signals and axes behind it still come from the input gradient.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from robotwatch.mtsflow.network import MTSFlow

WINDOW_S = 0.5
SMOOTHING_S = 0.5
ONSET_SMOOTHING_S = 0.1


class LocalRule(BaseModel):
    """The constants of the local score (the per-step arrays are tensors of the model file)."""

    model_config = ConfigDict(extra="forbid")

    window_s: float = Field(WINDOW_S, gt=0)
    global_center: float
    global_scale: float = Field(gt=0)
    local_center: float
    local_scale: float = Field(gt=0)


def step_nll(flow: MTSFlow, x: torch.Tensor) -> torch.Tensor:
    """n_t per cycle and step, (B, T), over the whole padded length; sums to flow.nll(x)."""
    z, logdet = flow(x)
    return 0.5 * z.square().sum(1) - logdet


def moving_mean(a: np.ndarray, steps: int) -> np.ndarray:
    """Centred moving mean along the last axis, the window cut at the ends."""
    if steps <= 1:
        return a
    kernel = np.ones(steps)
    total = np.apply_along_axis(np.convolve, -1, a, kernel, mode="same")
    count = np.convolve(np.ones(a.shape[-1]), kernel, mode="same")
    return total / count


def step_statistics(normal: np.ndarray, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """μ_t and the smoothed, floored σ_t of normal cycles' n_t, (N, T) -> (T,), (T,)."""
    if len(normal) < 2:
        raise ValueError("the local score needs at least 2 normal cycles")
    mean = normal.mean(0)
    spread = moving_mean(normal.std(0), max(1, round(SMOOTHING_S * rate_hz)))
    return mean, np.maximum(spread, 0.1 * float(np.median(spread)))


def local_part(nll: np.ndarray, mean: np.ndarray, scale: np.ndarray, window_steps: int) -> np.ndarray:
    """L per cycle: the largest mean of u_t over `window_steps` consecutive steps."""
    return moving_mean((nll - mean) / scale, window_steps).max(-1)


def calibrate_rule(
    normal: np.ndarray, calibration: np.ndarray, rate_hz: float, window_s: float = WINDOW_S
) -> tuple[LocalRule, np.ndarray, np.ndarray]:
    """The rule and μ_t, σ_t from normal cycles' n_t (training and calibration cycles, N x T)
    and the calibration cycles' n_t alone (which set the centres and scales)."""
    mean, scale = step_statistics(normal, rate_hz)
    steps = max(1, round(window_s * rate_hz))
    g = calibration.sum(-1)
    loc = local_part(calibration, mean, scale, steps)
    rule = LocalRule(
        window_s=window_s,
        global_center=float(g.mean()),
        global_scale=float(max(g.std(), 1e-6 * max(abs(g.mean()), 1.0))),
        local_center=float(loc.mean()),
        local_scale=float(max(loc.std(), 1e-6)),
    )
    return rule, mean, scale


def local_score(
    nll: np.ndarray, rule: LocalRule, mean: np.ndarray, scale: np.ndarray, rate_hz: float
) -> np.ndarray:
    """The recommended score per cycle from n_t, (B, T) -> (B,)."""
    nll = nll.astype(np.float64)
    g = (nll.sum(-1) - rule.global_center) / rule.global_scale
    loc = local_part(nll, mean, scale, max(1, round(rule.window_s * rate_hz)))
    return np.maximum(g, (loc - rule.local_center) / rule.local_scale)


def local_onset(nll: np.ndarray, mean: np.ndarray, scale: np.ndarray, rate_hz: float, length: int) -> int:
    """The step where a cycle's strongest local departure begins: u_t smoothed over
    `ONSET_SMOOTHING_S`, walked back from its peak while it stays above half the peak. A
    collision peaks where it begins; a lost can departs most later in the move, and its
    onset is the moment the can went."""
    steps = max(1, min(length, len(nll)))
    u = moving_mean((nll[:steps] - mean[:steps]) / scale[:steps], max(1, round(ONSET_SMOOTHING_S * rate_hz)))
    peak = int(u.argmax())
    start = peak
    while start > 0 and u[peak] > 0 and u[start - 1] > 0.5 * u[peak]:
        start -= 1
    return start
