"""Which torch device to compute on: `auto` picks CUDA when present, else the CPU."""

from __future__ import annotations

import torch

from rwcore.errors import UserError


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """The device for `name` (auto, cpu, cuda, cuda:N); asking for CUDA where there is none is
    an error rather than a crash deep inside the first tensor operation."""
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise UserError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {str(device)!r} requested but CUDA is not available here")
    return device
