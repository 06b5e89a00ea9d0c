"""One contract over every normalizing flow in the project (as zuko's test_flows does): MTS-Flow
and the flows of DifferNet, CS-Flow and the AST teacher, each built by the constructor its
model uses, small, in float64, and moved away from the identity it starts at.

For each: the negative log-likelihood has one value per sample; every parameter gets a
finite gradient from it; the inverse reconstructs the input; the log-determinant equals
that of the autograd Jacobian; a save to a model file and a load give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from pydantic import BaseModel
from torch import Tensor, nn

from robotwatch.mtsflow.network import FlowConfig, MTSFlow
from rwcore.model_file import read_model_file, write_model_file
from vision.ast.teacher import build_teacher
from vision.config import CSFlowConfig, DifferNetConfig
from vision.csflow.model import csflow_flow
from vision.differnet.model import differnet_flow
from vision.flows.coupling import Flow


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], nn.Module]
    sample: Callable[[int], list[Tensor]]  # a batch of inputs (one tensor per scale)
    # (z per scale, log|det J| per sample (B,)) of a batch
    forward: Callable[[nn.Module, list[Tensor]], tuple[list[Tensor], Tensor]]
    inverse: Callable[[nn.Module, list[Tensor]], list[Tensor]]


def _mtsflow_forward(flow: nn.Module, xs: list[Tensor]) -> tuple[list[Tensor], Tensor]:
    z, logdet = flow(xs[0])
    return [z], logdet.sum(1)


def _vision_forward(
    flow: nn.Module, xs: list[Tensor], cond: Tensor | None = None
) -> tuple[list[Tensor], Tensor]:
    zs, logdets = flow(xs, cond)
    return zs, sum(ld.reshape(len(ld), -1).sum(1) for ld in logdets)


_AST_COND = 2


def _ast_cond(batch: int) -> Tensor:
    """The same positional encoding for every image, as AST's."""
    return (
        torch.linspace(-1, 1, _AST_COND * 9, dtype=torch.float64)
        .reshape(1, _AST_COND, 3, 3)
        .expand(batch, -1, -1, -1)
    )


def _randn(*shape: int) -> Tensor:
    return torch.randn(*shape, dtype=torch.float64)


CASES = [
    Case(
        "mtsflow",
        lambda: MTSFlow(
            FlowConfig(n_signals=4, n_blocks=2, scale=1, kernel_size=3, dilation=1, permutation_seed=1)
        ),
        lambda b: [_randn(b, 4, 6)],
        _mtsflow_forward,
        lambda flow, zs: [flow.inverse(zs[0])],
    ),
    Case(
        "differnet",
        lambda: differnet_flow(6, DifferNetConfig(hidden=8, n_coupling_blocks=3)),
        lambda b: [_randn(b, 6)],
        _vision_forward,
        lambda flow, zs: flow.inverse(zs),
    ),
    Case(
        "csflow",
        lambda: csflow_flow(4, CSFlowConfig(hidden=6, kernel_sizes=[3, 3, 3, 3])),
        lambda b: [_randn(b, 4, 4, 4), _randn(b, 4, 2, 2), _randn(b, 4, 1, 1)],
        _vision_forward,
        lambda flow, zs: flow.inverse(zs),
    ),
    Case(
        "ast-teacher",
        lambda: build_teacher(4, 2, 6, [3, 3], alpha=3.0, cond=_AST_COND),
        lambda b: [_randn(b, 4, 3, 3)],
        lambda flow, xs: _vision_forward(flow, xs, _ast_cond(len(xs[0]))),
        lambda flow, zs: flow.inverse(zs, _ast_cond(len(zs[0]))),
    ),
]


def _ready(case: Case) -> nn.Module:
    """The flow in float64, its actnorm initialized on one batch, every parameter perturbed so
    that no coupling is the identity it starts as."""
    torch.manual_seed(0)
    flow = case.build().double()
    if isinstance(flow, Flow):
        flow.train()
        case.forward(flow, case.sample(8))
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return flow.eval()


def _nll(case: Case, flow: nn.Module, xs: list[Tensor]) -> Tensor:
    zs, logdet = case.forward(flow, xs)
    return 0.5 * sum(z.reshape(len(z), -1).square().sum(1) for z in zs) - logdet


@pytest.fixture(params=CASES, ids=lambda c: c.name)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


def test_nll_has_one_finite_value_per_sample(case: Case) -> None:
    flow = _ready(case)
    nll = _nll(case, flow, case.sample(3))
    assert nll.shape == (3,) and torch.isfinite(nll).all()


def test_every_parameter_gets_a_finite_gradient(case: Case) -> None:
    flow = _ready(case)
    _nll(case, flow, case.sample(3)).mean().backward()
    for name, p in flow.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_inverse_reconstructs_the_input(case: Case) -> None:
    flow = _ready(case)
    xs = case.sample(3)
    with torch.no_grad():
        zs, _ = case.forward(flow, xs)
        back = case.inverse(flow, zs)
    for x, y in zip(xs, back, strict=True):
        torch.testing.assert_close(y, x, atol=1e-9, rtol=1e-9)


def test_log_determinant_equals_the_autograd_jacobian(case: Case) -> None:
    flow = _ready(case)
    xs = case.sample(2)
    shapes = [x.shape[1:] for x in xs]
    sizes = [s.numel() for s in shapes]

    def as_vector(i: int) -> Callable[[Tensor], Tensor]:
        def f(v: Tensor) -> Tensor:
            parts = [p.reshape(1, *s) for p, s in zip(v.split(sizes), shapes, strict=True)]
            zs, _ = case.forward(flow, parts)  # each sample is transformed on its own
            return torch.cat([z.reshape(-1) for z in zs])

        return f

    _, logdet = case.forward(flow, xs)
    for i in range(len(xs[0])):
        v = torch.cat([x[i].reshape(-1) for x in xs])
        jacobian = torch.autograd.functional.jacobian(as_vector(i), v)
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jacobian).logabsdet, atol=1e-8, rtol=1e-8)


class _Card(BaseModel):
    flow: str


def test_saved_and_loaded_it_gives_the_same_numbers(case: Case, tmp_path: Path) -> None:
    flow = _ready(case)
    path = tmp_path / f"{case.name}.safetensors"
    write_model_file(path, flow.state_dict(), _Card(flow=case.name), "contract")
    tensors, card = read_model_file(path, "contract", _Card)
    fresh = case.build().double()
    fresh.load_state_dict(tensors, strict=True)
    fresh.eval()
    xs = case.sample(3)
    with torch.no_grad():
        assert card.flow == case.name
        torch.testing.assert_close(_nll(case, fresh, xs), _nll(case, flow, xs), atol=0, rtol=0)
