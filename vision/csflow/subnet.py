"""The cross-scale coupling subnetwork of CS-Flow (thesis §5.2, the official CrossConvolutions).

Each scale gets its own convolutions; information moves between neighbouring scales by
bilinear upsampling followed by a convolution (coarse → fine) and by a strided convolution
(fine → coarse); each output is the sum of what reaches it. The outputs are multiplied by a
learned γ per scale initialised to 0, so every coupling starts as the identity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CrossConvolutions(nn.Module):
    def __init__(
        self, ins: list[int], outs: list[int], hidden: int, kernel_size: int, leaky_slope: float
    ) -> None:
        super().__init__()
        if len(ins) != 3:
            raise ValueError(f"CS-Flow couples exactly three scales, got {len(ins)}")
        pad = kernel_size // 2

        def conv(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
            return nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=pad)

        self.inner = nn.ModuleList(conv(c, hidden) for c in ins)
        self.outer = nn.ModuleList(conv(hidden, c) for c in outs)
        self.up = nn.ModuleList(conv(hidden, outs[s]) for s in (0, 1))  # from scale s+1 up to s
        self.down = nn.ModuleList(conv(hidden, outs[s], stride=2) for s in (1, 2))  # from scale s-1 down to s
        self.gamma = nn.Parameter(torch.zeros(3))
        self.act = nn.LeakyReLU(leaky_slope)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        hidden = [self.act(conv(x)) for conv, x in zip(self.inner, xs, strict=True)]
        out = [conv(h) for conv, h in zip(self.outer, hidden, strict=True)]
        for s in (0, 1):  # coarse → fine
            up = F.interpolate(hidden[s + 1], size=hidden[s].shape[-2:], mode="bilinear", align_corners=False)
            out[s] = out[s] + self.up[s](up)
        for s in (1, 2):  # fine → coarse
            down = self.down[s - 1](hidden[s - 1])
            if down.shape[-2:] != out[s].shape[-2:]:  # odd sizes: the strided conv rounds differently
                down = F.interpolate(down, size=out[s].shape[-2:], mode="bilinear", align_corners=False)
            out[s] = out[s] + down
        return [o * g for o, g in zip(out, self.gamma, strict=True)]
