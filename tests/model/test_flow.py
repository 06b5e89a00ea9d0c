"""MTS-Flow is an exact, invertible flow with the architecture of thesis §8.1."""

from __future__ import annotations

import pytest
import torch

from robotwatch.mtsflow.network import FlowConfig, MTSFlow


def _small(**overrides: object) -> MTSFlow:
    config = FlowConfig(n_signals=6, kernel_size=3, dilation=2, **overrides)  # type: ignore[arg-type]
    torch.manual_seed(0)
    flow = MTSFlow(config).double().eval()
    # Default init gives near-identity scales; push them so the test exercises exp(s).
    with torch.no_grad():
        for p in flow.parameters():
            p.mul_(3.0)
    return flow


def test_parameter_count_matches_the_thesis_model() -> None:
    flow = MTSFlow(FlowConfig())
    assert sum(p.numel() for p in flow.parameters() if p.requires_grad) == 2_031_120
    # the permutations are fixed buffers, not parameters (the official model counts them: 2,032,160)
    assert sum(b.numel() for b in flow.buffers()) == 4 * 130


@pytest.mark.parametrize("clamp_form", ["official", "thesis"])
def test_inverse_reconstructs_the_input(clamp_form: str) -> None:
    flow = _small(clamp_form=clamp_form)
    x = torch.randn(3, 6, 40, dtype=torch.float64)
    z, _ = flow(x)
    assert not torch.allclose(z, x)
    torch.testing.assert_close(flow.inverse(z), x, atol=1e-4, rtol=0)


def test_inverse_reconstructs_in_float32_at_full_size() -> None:
    torch.manual_seed(3)
    flow = MTSFlow(FlowConfig()).eval()
    x = torch.randn(2, 130, 120)
    with torch.no_grad():
        z, _ = flow(x)
        torch.testing.assert_close(flow.inverse(z), x, atol=1e-4, rtol=0)


def test_log_determinant_equals_the_autograd_jacobian() -> None:
    flow = _small()
    x = torch.randn(1, 6, 9, dtype=torch.float64)
    _, logdet = flow(x)
    jac = torch.autograd.functional.jacobian(lambda v: flow(v.view(1, 6, 9))[0].reshape(-1), x.reshape(-1))
    sign, logabs = torch.linalg.slogdet(jac)
    assert sign != 0
    torch.testing.assert_close(logdet.sum(), logabs, atol=1e-8, rtol=1e-8)


def test_odd_number_of_signals_is_a_valid_flow() -> None:
    torch.manual_seed(1)
    flow = MTSFlow(FlowConfig(n_signals=5, kernel_size=3)).double()
    x = torch.randn(2, 5, 20, dtype=torch.float64)
    torch.testing.assert_close(flow.inverse(flow(x)[0]), x)


def test_score_with_lengths_equals_the_full_padded_computation() -> None:
    """The windowed score is the plain full-length score, not an approximation."""
    torch.manual_seed(2)
    flow = MTSFlow(FlowConfig(n_signals=8, kernel_size=5, dilation=2)).eval()
    lengths = torch.tensor([30, 57, 12])
    x = torch.randn(3, 8, 200)
    for i, n in enumerate(lengths):
        x[i, :, n:] = 0
    with torch.no_grad():
        full = flow.nll(x)
        fast = flow.nll(x, lengths)
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-3)
    # and the gradient with respect to the data agrees too
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    (ga,) = torch.autograd.grad(flow.nll(xa).sum(), xa)
    (gb,) = torch.autograd.grad(flow.nll(xb, lengths).sum(), xb)
    for i, n in enumerate(lengths):
        torch.testing.assert_close(gb[i, :, :n], ga[i, :, :n], rtol=1e-4, atol=1e-4)


def test_score_is_the_negative_log_likelihood_up_to_a_constant() -> None:
    """For a flow at identity (zero weights), z = x and the score is 0.5 * sum(x^2)."""
    flow = MTSFlow(FlowConfig(n_signals=4, kernel_size=3))
    with torch.no_grad():
        for p in flow.parameters():
            p.zero_()
    x = torch.randn(2, 4, 10)
    torch.testing.assert_close(flow.nll(x), 0.5 * x.square().sum((1, 2)))


def test_even_kernel_is_refused() -> None:
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        FlowConfig(kernel_size=4)


def test_optimized_score_and_gradient_equal_the_straightforward_reference() -> None:
    from robotwatch.mtsflow.network.reference import reference_nll

    torch.manual_seed(4)
    flow = MTSFlow(FlowConfig(n_signals=130)).eval()
    lengths = torch.tensor([300, 250])
    x = torch.randn(2, 130, 340)
    x[1, :, 250:] = 0
    x[0, :, 300:] = 0
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    fast = flow.nll(xa, lengths)
    slow = reference_nll(flow, xb)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=0)
    (ga,) = torch.autograd.grad(fast.sum(), xa)
    (gb,) = torch.autograd.grad(slow.sum(), xb)
    torch.testing.assert_close(ga[0, :, :300], gb[0, :, :300], rtol=1e-3, atol=1e-3)
