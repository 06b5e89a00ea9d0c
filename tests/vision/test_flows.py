"""The shared invertible blocks: exact inverses, exact log-determinants, bounded scales."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from vision.csflow.subnet import CrossConvolutions
from vision.flows import ActNorm, AffineCoupling, negative_log_likelihood, soft_clamp
from vision.flows.coupling import glow_flow


class _Mlp(nn.Module):
    def __init__(self, ins: list[int], outs: list[int]) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(ins[0], 16), nn.Tanh(), nn.Linear(16, outs[0]))

    def forward(self, xs):
        return [self.net(xs[0])]


class _Conv(nn.Module):
    def __init__(self, ins: list[int], outs: list[int]) -> None:
        super().__init__()
        self.net = nn.Conv2d(ins[0], outs[0], 3, padding=1)

    def forward(self, xs):
        return [self.net(xs[0])]


def _scaled(module: nn.Module, factor: float) -> nn.Module:
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(factor)
    return module


def test_vector_flow_inverts_and_its_log_determinant_matches_autograd() -> None:
    torch.manual_seed(0)
    flow = _scaled(glow_flow([5], 3, lambda k: _Mlp, alpha=3.0), 3.0).double()  # far from the identity
    x = torch.randn(4, 5, dtype=torch.double)
    (z,), (logdet,) = flow([x])
    assert torch.allclose(flow.inverse([z])[0], x, atol=1e-10)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: flow([v[None]])[0][0][0], x[i])
        assert torch.allclose(logdet[i], torch.linalg.slogdet(jac).logabsdet, atol=1e-8)


def test_conditional_map_flow_inverts_with_the_same_condition() -> None:
    torch.manual_seed(1)
    flow = _scaled(glow_flow([6], 2, lambda k: _Conv, alpha=3.0, cond_channels=4), 2.0).double()
    x, cond = torch.randn(2, 6, 5, 5, dtype=torch.double), torch.randn(2, 4, 5, 5, dtype=torch.double)
    (z,), (logdet,) = flow([x], cond)
    assert logdet.shape == (2, 5, 5)  # one log-determinant per position, for masked losses
    assert torch.allclose(flow.inverse([z], cond)[0], x, atol=1e-10)
    (z_other,), _ = flow([x], cond + 1)
    assert not torch.allclose(z_other, z)  # the condition matters


@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(0.5, 10))
@settings(max_examples=200, deadline=None)
def test_soft_clamp_keeps_log_scales_within_alpha(s: float, alpha: float) -> None:
    out = float(soft_clamp(torch.tensor(s, dtype=torch.double), alpha))
    assert -alpha <= out <= alpha
    if abs(s) < 1e-3 * alpha:  # linear near 0, with the slope 2/π of the thesis' formula
        assert math.isclose(out, 2 / math.pi * s, rel_tol=1e-3, abs_tol=1e-12)
    assert float(soft_clamp(torch.tensor(s + 1.0, dtype=torch.double), alpha)) >= out  # monotone


def _csflow_maps(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 8, s, s, generator=g, dtype=torch.double) for s in (8, 4, 2)]


def _cross_coupling() -> AffineCoupling:
    return AffineCoupling(
        [8, 8, 8], lambda i, o: CrossConvolutions(i, o, hidden=16, kernel_size=3, leaky_slope=0.1)
    ).double()


def test_cross_scale_coupling_starts_as_identity_because_gamma_is_zero() -> None:
    torch.manual_seed(0)
    xs = _csflow_maps()
    zs, logdets = _cross_coupling()(xs)
    for x, z, ld in zip(xs, zs, logdets, strict=True):
        assert torch.equal(x, z)
        assert torch.count_nonzero(ld) == 0


def test_cross_scale_coupling_mixes_scales_and_inverts() -> None:
    torch.manual_seed(0)
    coupling = _cross_coupling()
    with torch.no_grad():
        coupling.net1.gamma.fill_(0.5)
        coupling.net2.gamma.fill_(0.5)
    xs = _csflow_maps()
    zs, _ = coupling(xs)
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(coupling.inverse(zs), xs, strict=True))
    coarse_changed = [xs[0], xs[1], xs[2] + 1.0]
    zs_changed, _ = coupling(coarse_changed)
    # The coarsest scale reaches the finest one through the middle scale within one block.
    assert not torch.allclose(zs_changed[0], zs[0])


def test_nll_per_dimension_of_standard_normal_data_under_the_identity() -> None:
    z = torch.randn(4000, 8, dtype=torch.double)
    nll = negative_log_likelihood([z], [torch.zeros(4000, dtype=torch.double)])
    assert abs(float(nll) - 0.5) < 0.02  # E[z²]/2 per dimension
    weights = torch.zeros(2, 3, 3, dtype=torch.double)
    weights[:, 0, 0] = 1
    zmap = torch.randn(2, 4, 3, 3, dtype=torch.double)
    masked = negative_log_likelihood([zmap], [torch.zeros(2, 3, 3, dtype=torch.double)], weights)
    expected = 0.5 * (zmap[:, :, 0, 0] ** 2).sum() / 8
    assert torch.isclose(masked, expected)


def test_actnorm_standardizes_the_first_batch_and_then_stays_fixed() -> None:
    norm = ActNorm([3])
    x = torch.randn(64, 3, 4, 4) * torch.tensor([5.0, 0.5, 2.0]).view(1, 3, 1, 1) + 7
    (y,), (logdet,) = norm([x])
    assert torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-3)
    assert logdet.shape == (64, 4, 4)
    assert torch.allclose(logdet[0, 0, 0], -x.transpose(0, 1).reshape(3, -1).std(1).log().sum(), atol=1e-4)
    (y2,), _ = norm([x * 10])  # later batches do not re-initialise it
    assert torch.allclose(
        y2, (x * 10 - norm.shift[0].view(1, 3, 1, 1)) / norm.log_scale[0].exp().view(1, 3, 1, 1)
    )
    assert torch.allclose(norm.inverse([y])[0], x, atol=1e-4)
    assert bool(ActNorm([3]).state_dict()["initialized"]) is False and bool(norm.state_dict()["initialized"])
