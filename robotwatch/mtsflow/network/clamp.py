"""Soft clamping of the coupling scales, which keeps exp(s) bounded and training stable."""

from __future__ import annotations

import math

import torch

# The official voraus-AD code inherits FrEIA's ATAN clamp: clamp * 0.636 * atan(s).
# 0.636 is FrEIA's rounding of 2/pi, kept so that official weights give identical scores.
_FREIA_TWO_OVER_PI = 0.636


def soft_clamp(s: torch.Tensor, clamp: float, form: str) -> torch.Tensor:
    if form == "official":
        return (clamp * _FREIA_TWO_OVER_PI) * torch.atan(s)
    if form == "thesis":
        return (2.0 * clamp / math.pi) * torch.atan(s / clamp)
    raise ValueError(f"unknown clamp form {form!r} (official or thesis)")
