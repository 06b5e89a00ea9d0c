"""The invertible block of MTS-Flow: a two-sided affine coupling with 1-D conv subnets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robotwatch.mtsflow.network.clamp import soft_clamp
from robotwatch.mtsflow.network.fftconv import block_size, conv1d_fft, kernel_spectrum


class ConvSubnet(nn.Module):
    """Conv1d(c_in -> hidden, k, dilation, 'same', replicate) -> ReLU -> Conv1d(hidden -> c_out, 1).

    The first convolution runs by overlap-save FFT on sequences long enough to fill a few
    FFT blocks (robotwatch.mtsflow.network.fftconv), directly otherwise; both give the same numbers.
    """

    def __init__(self, c_in: int, hidden: int, c_out: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, hidden, kernel_size, dilation=dilation)
        self.mix = nn.Conv1d(hidden, c_out, 1)
        self.halo = dilation * (kernel_size - 1) // 2
        self.fft_min_steps = 2 * block_size(2 * self.halo + 1)
        self._spectrum: tuple[tuple[int, torch.device], torch.Tensor] | None = None
        # The plain nn.Conv1d path, for export (robotwatch.mtsflow.export): ONNX has no
        # blockwise FFT, and a traced batched GEMM keeps the batch size it was traced with.
        self.direct = False

    def _fixed_spectrum(self) -> torch.Tensor | None:
        """The kernel spectrum, cached while the weights cannot change (no autograd on them)."""
        weight = self.conv.weight
        if torch.is_grad_enabled() and weight.requires_grad:
            return None
        key = (weight._version, weight.device)
        if self._spectrum is None or self._spectrum[0] != key:
            # A plain tensor even under inference mode, so localization can backpropagate through it.
            with torch.inference_mode(False), torch.no_grad():
                n_fft = block_size(2 * self.halo + 1)
                self._spectrum = (key, kernel_spectrum(weight, self.conv.dilation[0], n_fft))
        return self._spectrum[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (self.halo, self.halo), mode="replicate")
        if self.direct:
            return self.mix(torch.relu(self.conv(padded)))
        if x.shape[-1] >= self.fft_min_steps:
            h = conv1d_fft(
                padded, self.conv.weight, self.conv.bias, self.conv.dilation[0], self._fixed_spectrum()
            )
        else:
            h = self.conv(padded)
        h = torch.relu_(h)
        # The 1x1 convolution as one batched GEMM: PyTorch's CPU conv picks a slow
        # non-oneDNN kernel for it under inference mode.
        bias = self.mix.bias
        assert bias is not None
        return torch.baddbmm(bias[:, None], self.mix.weight[:, :, 0].expand(len(h), -1, -1), h)


class AffineCoupling(nn.Module):
    """GLOW-style coupling as in FrEIA and the official voraus-AD code.

    The signals are split into halves (x1, x2); x2 is scaled and shifted by a subnet of
    x1, then x1 by a subnet of the new x2. One subnet predicts scale and shift jointly.
    """

    def __init__(
        self, n_signals: int, hidden: int, kernel_size: int, dilation: int, clamp: float, clamp_form: str
    ) -> None:
        super().__init__()
        self.split1 = n_signals // 2
        self.split2 = n_signals - self.split1
        self.clamp, self.clamp_form = clamp, clamp_form
        self.subnet1 = ConvSubnet(self.split1, hidden, 2 * self.split2, kernel_size, dilation)
        self.subnet2 = ConvSubnet(self.split2, hidden, 2 * self.split1, kernel_size, dilation)

    def _scale_shift(self, subnet: ConvSubnet, u: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        out = subnet(u)
        return soft_clamp(out[:, :n], self.clamp, self.clamp_form), out[:, n:]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns y and log|det J| per time step, shape (B, T)."""
        x1, x2 = x[:, : self.split1], x[:, self.split1 :]
        s2, t2 = self._scale_shift(self.subnet1, x1, self.split2)
        y2 = torch.addcmul(t2, x2, torch.exp(s2))
        s1, t1 = self._scale_shift(self.subnet2, y2, self.split1)
        y1 = torch.addcmul(t1, x1, torch.exp(s1))
        return torch.cat([y1, y2], 1), s1.sum(1) + s2.sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y1, y2 = y[:, : self.split1], y[:, self.split1 :]
        s1, t1 = self._scale_shift(self.subnet2, y2, self.split1)
        x1 = (y1 - t1) * torch.exp(-s1)
        s2, t2 = self._scale_shift(self.subnet1, x1, self.split2)
        x2 = (y2 - t2) * torch.exp(-s2)
        return torch.cat([x1, x2], 1)
