"""The recommended preset's score: whichever of four views of one forward pass is furthest out
of the normal range.

The thesis scores a cycle by its negative log-likelihood summed over every signal and step,
G = Σ_t n_t with n_t = 0.5 Σ_s z²_{s,t} − log|det J|_t. Two kinds of anomaly drown in that
sum. A collision of a tenth of a second changes a few of the ~500 steps of n_t. Extra weight
on a link, or a wobbling platform, changes one or two of the 130 latent channels a little over
the whole cycle. So the score looks at the steps and at the channels themselves:

1. Steps. u_t = (n_t − μ_t) / σ_t, each step's NLL against normal cycles at the same step
   (σ smoothed over `SMOOTHING_S` and floored at a tenth of its median, so that a step where
   normal cycles happen to agree does not explode). L = the largest mean of u over any
   `window_s` stretch: the worst local departure.
2. Channels, over the cycle's own steps (not its padding): the energy e_s = mean_t z²_{s,t}
   and the offset o_s = Σ_t z_{s,t} / √n (a channel pushed one way all cycle long; zero mean
   and unit spread for a perfect flow). Each against normal cycles' mean and spread for that
   channel; E = the largest standardized energy, O = the largest standardized |offset|.
3. score = max over the parts (G, L, E, O) of (part − centre) / scale, centres and scales
   from all normal cycles (training and calibration: a handful of calibration cycles gives
   no spread to speak of), so that any one part can carry a cycle over the threshold. The
   threshold is set on this score over the calibration cycles, like the thesis one.

It costs no extra pass of the flow: everything comes from the z and log|det J| that the
thesis score sums. u_t also says when: a localized cycle's first event is where its
departure begins (`local_onset`); the signals and axes behind it still come from the input
gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from robotwatch.mtsflow.network import MTSFlow

WINDOW_S = 0.5
SMOOTHING_S = 0.5
ONSET_SMOOTHING_S = 0.1
ONSET_SHARE = 0.2
PARTS = ("whole", "stretch", "channel_energy", "channel_offset")  # G, L, E, O above


@dataclass(frozen=True)
class Evidence:
    """What one forward pass says of each cycle, (B, ...) arrays."""

    step_nll: np.ndarray  # n_t over the whole padded length, (B, T); sums to the thesis score
    n_steps: np.ndarray  # the cycle's own steps, (B,): the rest of T is padding
    channel_energy: np.ndarray  # e_s, (B, S)
    channel_offset: np.ndarray  # o_s, (B, S)

    @staticmethod
    def concatenate(parts: list[Evidence]) -> Evidence:
        return Evidence(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Evidence)))

    def __getitem__(self, index: np.ndarray | slice) -> Evidence:
        return Evidence(*(getattr(self, f.name)[index] for f in fields(Evidence)))


@dataclass(frozen=True)
class NormalStatistics:
    """Normal cycles' mean and spread of n_t per step and of e_s, o_s per channel (the
    arrays the model file stores as tensors)."""

    step_mean: np.ndarray
    step_scale: np.ndarray
    energy_mean: np.ndarray
    energy_scale: np.ndarray
    offset_mean: np.ndarray
    offset_scale: np.ndarray


class Standardization(BaseModel):
    model_config = ConfigDict(extra="forbid")

    center: float
    scale: float = Field(gt=0)


class ScoreRule(BaseModel):
    """The constants of the recommended score (the per-step and per-channel arrays are
    tensors of the model file)."""

    model_config = ConfigDict(extra="forbid")

    window_s: float = Field(WINDOW_S, gt=0)
    whole: Standardization
    stretch: Standardization
    channel_energy: Standardization
    channel_offset: Standardization
    onset_level: float = Field(description="the highest smoothed u_t of any calibration cycle")


def evidence(flow: MTSFlow, x: torch.Tensor, lengths: torch.Tensor) -> Evidence:
    """The evidence of padded cycles x (B, S, T) with `lengths` real steps each."""
    z, logdet = flow(x)
    return evidence_from(0.5 * z.square().sum(1) - logdet, z, lengths)


def evidence_from(step_nll: torch.Tensor, z: torch.Tensor, lengths: torch.Tensor) -> Evidence:
    """The evidence from n_t (B, T) and z (B, S, T), as the flow or its ONNX graph gives them."""
    z = z.double()
    own = (torch.arange(z.shape[2], device=z.device) < lengths.to(z.device)[:, None]).double()[:, None]
    n = lengths.to(z).clamp(min=1)[:, None]
    return Evidence(
        step_nll=step_nll.double().cpu().numpy(),
        n_steps=lengths.cpu().numpy(),
        channel_energy=((z.square() * own).sum(2) / n).cpu().numpy(),
        channel_offset=((z * own).sum(2) / n.sqrt()).cpu().numpy(),
    )


def moving_mean(a: np.ndarray, steps: int) -> np.ndarray:
    """Centred moving mean along the last axis, the window cut at the ends."""
    if steps <= 1:
        return a
    kernel = np.ones(steps)
    total = np.apply_along_axis(np.convolve, -1, a, kernel, mode="same")
    count = np.convolve(np.ones(a.shape[-1]), kernel, mode="same")
    return total / count


def _floored(spread: np.ndarray) -> np.ndarray:
    return np.maximum(spread, 0.1 * float(np.median(spread)) + 1e-12)


def normal_statistics(normal: Evidence, rate_hz: float) -> NormalStatistics:
    """The statistics of normal cycles' evidence."""
    if len(normal.step_nll) < 2:
        raise ValueError("the recommended score needs at least 2 normal cycles")
    spread = moving_mean(normal.step_nll.std(0), max(1, round(SMOOTHING_S * rate_hz)))
    return NormalStatistics(
        step_mean=normal.step_nll.mean(0),
        step_scale=_floored(spread),
        energy_mean=normal.channel_energy.mean(0),
        energy_scale=_floored(normal.channel_energy.std(0)),
        offset_mean=normal.channel_offset.mean(0),
        offset_scale=_floored(normal.channel_offset.std(0)),
    )


def raw_parts(ev: Evidence, stats: NormalStatistics, window_steps: int) -> dict[str, np.ndarray]:
    """G, L, E and O per cycle, before their centres and scales."""
    u = (ev.step_nll - stats.step_mean) / stats.step_scale
    return {
        "whole": ev.step_nll.sum(-1),
        "stretch": moving_mean(u, window_steps).max(-1),
        "channel_energy": ((ev.channel_energy - stats.energy_mean) / stats.energy_scale).max(-1),
        "channel_offset": np.abs((ev.channel_offset - stats.offset_mean) / stats.offset_scale).max(-1),
    }


def calibrate_rule(
    normal: Evidence, calibration: Evidence, rate_hz: float, window_s: float = WINDOW_S
) -> tuple[ScoreRule, NormalStatistics]:
    """The rule and statistics from normal cycles' evidence (training and calibration cycles),
    and the calibration cycles' alone for the onset level."""
    stats = normal_statistics(normal, rate_hz)
    parts = raw_parts(normal, stats, max(1, round(window_s * rate_hz)))
    onset_level = max(
        float(departure(nll, stats, rate_hz, int(n)).max())
        for nll, n in zip(calibration.step_nll, calibration.n_steps, strict=True)
    )
    rule = ScoreRule(
        window_s=window_s,
        onset_level=onset_level,
        **{
            name: Standardization(
                center=float(p.mean()), scale=float(max(p.std(), 1e-6 * max(abs(p.mean()), 1.0)))
            )
            for name, p in parts.items()
        },
    )
    return rule, stats


def standardized_parts(
    ev: Evidence, rule: ScoreRule, stats: NormalStatistics, rate_hz: float
) -> dict[str, np.ndarray]:
    """Each part per cycle in units of its spread over normal cycles."""
    parts = raw_parts(ev, stats, max(1, round(rule.window_s * rate_hz)))
    return {name: (p - getattr(rule, name).center) / getattr(rule, name).scale for name, p in parts.items()}


def recommended_score(ev: Evidence, rule: ScoreRule, stats: NormalStatistics, rate_hz: float) -> np.ndarray:
    """The recommended score per cycle, (B,)."""
    return np.maximum.reduce(list(standardized_parts(ev, rule, stats, rate_hz).values()))


def departure(nll: np.ndarray, stats: NormalStatistics, rate_hz: float, length: int) -> np.ndarray:
    """u_t of one cycle over its own steps, smoothed over `ONSET_SMOOTHING_S`."""
    steps = max(1, min(length, len(nll)))
    u = (nll[:steps] - stats.step_mean[:steps]) / stats.step_scale[:steps]
    return moving_mean(u, max(1, round(ONSET_SMOOTHING_S * rate_hz)))


def local_onset(
    nll: np.ndarray, stats: NormalStatistics, rule: ScoreRule, rate_hz: float, length: int
) -> int:
    """The step where a cycle's departure begins: the first where its smoothed u_t is above
    any calibration cycle's (`rule.onset_level`) and reaches `ONSET_SHARE` of its peak; the
    peak itself where no step is. A collision peaks where it begins; a lost can, or a pick
    at the wrong place, departs a little at first and most later in the move, and its onset
    is that first departure."""
    u = departure(nll, stats, rate_hz, length)
    over = np.flatnonzero(u > max(rule.onset_level, ONSET_SHARE * float(u.max())))
    return int(over[0]) if len(over) else int(u.argmax())
