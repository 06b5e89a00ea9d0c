"""The 2-D sinusoidal positional encoding that conditions AST's teacher and student."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def positional_encoding_2d(dim: int, height: int, width: int) -> Tensor:
    """(dim, height, width): the first half of the channels encodes x, the second half y.

    Within each half, pairs of channels hold sin and cos of the coordinate at geometrically
    spaced frequencies, as in the Transformer's 1-D encoding.
    """
    if dim % 4:
        raise ValueError(f"the positional encoding needs a multiple of 4 channels, got {dim}")
    half = dim // 2
    freq = torch.exp(torch.arange(0, half, 2, dtype=torch.float32) * -(math.log(10000.0) / half))
    x = torch.arange(width, dtype=torch.float32)[:, None] * freq  # (W, half/2)
    y = torch.arange(height, dtype=torch.float32)[:, None] * freq  # (H, half/2)
    enc = torch.zeros(dim, height, width)
    enc[0:half:2] = torch.sin(x).T[:, None, :].expand(-1, height, -1)
    enc[1:half:2] = torch.cos(x).T[:, None, :].expand(-1, height, -1)
    enc[half::2] = torch.sin(y).T[:, :, None].expand(-1, -1, width)
    enc[half + 1 :: 2] = torch.cos(y).T[:, :, None].expand(-1, -1, width)
    return enc
