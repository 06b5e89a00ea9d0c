"""The overlap-save FFT convolution equals Conv1d, values and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from robotwatch.mtsflow.network.fftconv import block_size, conv1d_fft, kernel_spectrum


@pytest.mark.parametrize(
    ("kernel", "dilation", "steps"),
    [(13, 2, 1174), (13, 10, 700), (3, 1, 64), (1, 1, 100), (13, 2, 25), (5, 3, 301)],
)
def test_equals_conv1d(kernel: int, dilation: int, steps: int) -> None:
    torch.manual_seed(kernel * steps)
    x = torch.randn(3, 7, steps, dtype=torch.float64)
    w = torch.randn(11, 7, kernel, dtype=torch.float64)
    b = torch.randn(11, dtype=torch.float64)
    expected = F.conv1d(x, w, b, dilation=dilation)
    torch.testing.assert_close(
        conv1d_fft(x.float(), w.float(), b.float(), dilation), expected.float(), rtol=1e-4, atol=1e-4
    )
    spectrum = kernel_spectrum(w.float(), dilation, block_size(dilation * (kernel - 1) + 1))
    torch.testing.assert_close(
        conv1d_fft(x.float(), w.float(), b.float(), dilation, spectrum),
        expected.float(),
        rtol=1e-4,
        atol=1e-4,
    )


def test_gradients_equal_conv1d() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 5, 400, requires_grad=True)
    w = torch.randn(8, 5, 13, requires_grad=True)
    b = torch.randn(8, requires_grad=True)
    g = torch.randn(2, 8, 400 - 24)
    direct = torch.autograd.grad(F.conv1d(x, w, b, dilation=2), (x, w, b), g)
    fft = torch.autograd.grad(conv1d_fft(x, w, b, 2), (x, w, b), g)
    for a, e in zip(fft, direct, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-3)
