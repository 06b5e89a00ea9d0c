"""AST's teacher: a conditional normalizing flow on the feature map (thesis §6.2).

Four couplings, each after a fixed channel permutation; the subnetworks are three
convolutions (the last with kernel 5 in the last block) whose output is scaled by a learned γ
initialised to 0, and they see the positional encoding concatenated to their input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vision.flows.coupling import Flow, glow_flow


class ConvSubnet(nn.Module):
    def __init__(
        self, c_in: int, c_out: int, hidden: int, kernel_size: int, leaky_slope: float = 0.1
    ) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(c_in, hidden, kernel_size, padding=pad)
        self.conv2 = nn.Conv2d(hidden, hidden, kernel_size, padding=pad)
        self.conv3 = nn.Conv2d(hidden, c_out, kernel_size, padding=pad)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.leaky_slope = leaky_slope

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        x = F.leaky_relu(self.conv1(xs[0]), self.leaky_slope)
        x = F.leaky_relu(self.conv2(x), self.leaky_slope)
        return [self.conv3(x) * self.gamma]


def build_teacher(
    channels: int, n_blocks: int, hidden: int, kernel_sizes: list[int], alpha: float, cond: int
) -> Flow:
    def subnet(k: int):
        return lambda ins, outs: ConvSubnet(ins[0], outs[0], hidden, kernel_sizes[k])

    return glow_flow([channels], n_blocks, subnet, alpha=alpha, cond_channels=cond)
