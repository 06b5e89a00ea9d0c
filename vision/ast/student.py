"""AST's student: a residual CNN that regresses the teacher's output (thesis §6.2).

It sees the same input as the teacher (features, optionally depth, and the positional
encoding) but is a plain convolutional network, not a flow: this asymmetry keeps it from
generalizing to anomalies the way the teacher's likelihood does not.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.LeakyReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.LeakyReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Student(nn.Module):
    def __init__(self, c_in: int, c_out: int, hidden: int, n_blocks: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(c_in, hidden, 3, padding=1)
        self.act = nn.LeakyReLU()
        self.blocks = nn.Sequential(*(ResidualBlock(hidden) for _ in range(n_blocks)))
        self.conv_out = nn.Conv2d(hidden, c_out, 3, padding=1)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        x = self.act(self.conv_in(torch.cat([x, cond], dim=1)))
        return self.conv_out(self.blocks(x))
