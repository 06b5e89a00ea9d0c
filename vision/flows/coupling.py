"""Small composable invertible blocks, in the manner of FrEIA.

Every block maps a *list* of tensors to a list of tensors of the same shapes: DifferNet and
the AST teacher pass one tensor, CS-Flow passes its three scales at once so that one coupling
subnetwork can see all of them. Channels are dim 1; everything after it (nothing for feature
vectors, (H, W) for feature maps) is "position". Each block returns its log-determinant per
tensor and position, shape (B, *positions), so that a loss can weight positions (the AST
foreground mask) before summing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol, cast

import torch
from torch import Tensor, nn

Tensors = list[Tensor]


class Invertible(Protocol):
    """What every block here is: a module with an exact inverse."""

    def __call__(self, xs: Tensors, cond: Tensor | None = None) -> tuple[Tensors, Tensors]: ...

    def inverse(self, zs: Tensors, cond: Tensor | None = None) -> Tensors: ...


# A coupling subnetwork: given the input channels and the output channels for each tensor,
# a module mapping a list of tensors to a list of tensors.
SubnetFactory = Callable[[list[int], list[int]], nn.Module]


def soft_clamp(s: Tensor, alpha: float) -> Tensor:
    """The thesis' soft clamp (2α/π)·atan(s/α): log-scales stay in (-α, α), so exp never explodes."""
    return (2 * alpha / math.pi) * torch.atan(s / alpha)


class ChannelPermutation(nn.Module):
    """A fixed random permutation of the channels of each tensor (log-determinant 0).

    The permutations are buffers, so a saved model reproduces them without relying on a
    random generator staying the same across versions.
    """

    def __init__(self, channels: Sequence[int], seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        for i, c in enumerate(channels):
            perm = torch.randperm(c, generator=generator)
            self.register_buffer(f"perm{i}", perm)
            self.register_buffer(f"inv{i}", torch.argsort(perm))

    def forward(self, xs: Tensors, cond: Tensor | None = None) -> tuple[Tensors, Tensors]:
        ys = [x[:, getattr(self, f"perm{i}")] for i, x in enumerate(xs)]
        return ys, [x.new_zeros(x.shape[:1] + x.shape[2:]) for x in xs]

    def inverse(self, zs: Tensors, cond: Tensor | None = None) -> Tensors:
        return [z[:, getattr(self, f"inv{i}")] for i, z in enumerate(zs)]


class ActNorm(nn.Module):
    """A learned per-channel affine map, initialised from the first training batch so that its
    output has zero mean and unit variance per channel (Glow's actnorm, Kingma & Dhariwal 2018).

    It leads every flow here. Backbone features are far from unit scale: on the synthetic cell
    at 256 px, CS-Flow without it starts at a negative log-likelihood of 21 per dimension and
    is still at 5.9 after 90 steps, spent learning that scale; with it, training starts at 2.
    A CPU budget of a few hundred steps cannot afford the detour.
    """

    initialized: Tensor

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        self.log_scale = nn.ParameterList(nn.Parameter(torch.zeros(c)) for c in channels)
        self.shift = nn.ParameterList(nn.Parameter(torch.zeros(c)) for c in channels)
        self.register_buffer("initialized", torch.tensor(False))

    @staticmethod
    def _view(p: Tensor, x: Tensor) -> Tensor:
        return p.view(1, -1, *([1] * (x.dim() - 2)))

    @torch.no_grad()
    def _initialize(self, xs: Tensors) -> None:
        for x, log_scale, shift in zip(xs, self.log_scale, self.shift, strict=True):
            flat = x.transpose(0, 1).reshape(x.shape[1], -1)
            shift.copy_(flat.mean(1))
            log_scale.copy_(flat.std(1).clamp_min(1e-6).log())
        self.initialized.fill_(True)

    def forward(self, xs: Tensors, cond: Tensor | None = None) -> tuple[Tensors, Tensors]:
        if self.training and not self.initialized:
            self._initialize(xs)
        ys, logdet = [], []
        for x, log_scale, shift in zip(xs, self.log_scale, self.shift, strict=True):
            ys.append((x - self._view(shift, x)) * torch.exp(-self._view(log_scale, x)))
            logdet.append((-log_scale.sum()).expand(x.shape[:1] + x.shape[2:]))
        return ys, logdet

    def inverse(self, zs: Tensors, cond: Tensor | None = None) -> Tensors:
        return [
            z * torch.exp(self._view(s, z)) + self._view(b, z)
            for z, s, b in zip(zs, self.log_scale, self.shift, strict=True)
        ]


class AffineCoupling(nn.Module):
    """A Glow-style affine coupling block that transforms both halves (as in DifferNet, CS-Flow, AST).

    Each tensor is split in two along the channels, x = (a, b). First the b's predict scale
    and shift of the a's, then the transformed a's predict those of the b's:

        a' = a · exp(clamp(s1(b))) + t1(b),    b' = b · exp(clamp(s2(a'))) + t2(a')

    with the soft clamp of parameter α. An optional condition (the AST positional encoding)
    is concatenated to the subnetworks' inputs and is not transformed.
    """

    def __init__(
        self, channels: Sequence[int], subnet: SubnetFactory, alpha: float = 3.0, cond_channels: int = 0
    ) -> None:
        super().__init__()
        self.split = [c // 2 for c in channels]
        rest = [c - h for c, h in zip(channels, self.split, strict=True)]
        self.alpha = alpha
        self.net1 = subnet([r + cond_channels for r in rest], [2 * h for h in self.split])
        self.net2 = subnet([h + cond_channels for h in self.split], [2 * r for r in rest])

    def _scale_shift(
        self, net: nn.Module, sources: Tensors, cond: Tensor | None
    ) -> list[tuple[Tensor, Tensor]]:
        inputs = sources if cond is None else [torch.cat([s, cond], dim=1) for s in sources]
        out = []
        for params in net(inputs):
            s, t = params.chunk(2, dim=1)
            out.append((soft_clamp(s, self.alpha), t))
        return out

    def _halves(self, xs: Tensors) -> tuple[Tensors, Tensors]:
        a = [x[:, :h] for x, h in zip(xs, self.split, strict=True)]
        b = [x[:, h:] for x, h in zip(xs, self.split, strict=True)]
        return a, b

    def forward(self, xs: Tensors, cond: Tensor | None = None) -> tuple[Tensors, Tensors]:
        a, b = self._halves(xs)
        st1 = self._scale_shift(self.net1, b, cond)
        a = [x * torch.exp(s) + t for x, (s, t) in zip(a, st1, strict=True)]
        st2 = self._scale_shift(self.net2, a, cond)
        b = [x * torch.exp(s) + t for x, (s, t) in zip(b, st2, strict=True)]
        logdet = [s1.sum(1) + s2.sum(1) for (s1, _), (s2, _) in zip(st1, st2, strict=True)]
        return [torch.cat(pair, dim=1) for pair in zip(a, b, strict=True)], logdet

    def inverse(self, zs: Tensors, cond: Tensor | None = None) -> Tensors:
        a, b = self._halves(zs)
        st2 = self._scale_shift(self.net2, a, cond)
        b = [(y - t) * torch.exp(-s) for y, (s, t) in zip(b, st2, strict=True)]
        st1 = self._scale_shift(self.net1, b, cond)
        a = [(y - t) * torch.exp(-s) for y, (s, t) in zip(a, st1, strict=True)]
        return [torch.cat(pair, dim=1) for pair in zip(a, b, strict=True)]


class Flow(nn.Module):
    """A chain of invertible blocks; returns z and the summed log-determinant per tensor."""

    def __init__(self, blocks: Sequence[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def _invertible(self) -> list[Invertible]:
        return cast(list[Invertible], list(self.blocks))  # every block has `inverse`

    def forward(self, xs: Tensors, cond: Tensor | None = None) -> tuple[Tensors, Tensors]:
        logdet: Tensors | None = None
        for block in self.blocks:
            xs, ld = block(xs, cond)
            logdet = ld if logdet is None else [acc + d for acc, d in zip(logdet, ld, strict=True)]
        assert logdet is not None, "a flow needs at least one block"
        return xs, logdet

    def inverse(self, zs: Tensors, cond: Tensor | None = None) -> Tensors:
        for block in reversed(self._invertible()):
            zs = block.inverse(zs, cond)
        return zs


def glow_flow(
    channels: Sequence[int],
    n_blocks: int,
    subnet: Callable[[int], SubnetFactory],
    alpha: float,
    cond_channels: int = 0,
) -> Flow:
    """actnorm, then [permutation → coupling] × n_blocks; block k uses the subnet factory `subnet(k)`."""
    blocks: list[nn.Module] = [ActNorm(channels)]
    for k in range(n_blocks):
        blocks.append(ChannelPermutation(channels, seed=k))
        blocks.append(AffineCoupling(channels, subnet(k), alpha=alpha, cond_channels=cond_channels))
    return Flow(blocks)
