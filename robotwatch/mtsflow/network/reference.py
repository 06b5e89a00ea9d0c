"""A straightforward MTS-Flow score, written as the official voraus-AD code computes it
(FrEIA coupling blocks of nn.Conv1d with 'same' replicate padding, over the full padded
length). It shares the weights of an MTSFlow and exists to check and to benchmark the
optimized path against: same numbers, measured side by side."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from robotwatch.mtsflow.network.clamp import soft_clamp
from robotwatch.mtsflow.network.coupling import AffineCoupling, ConvSubnet
from robotwatch.mtsflow.network.flow import MTSFlow


def _subnet(net: ConvSubnet, x: torch.Tensor) -> torch.Tensor:
    h = F.conv1d(
        F.pad(x, (net.halo, net.halo), mode="replicate"),
        net.conv.weight,
        net.conv.bias,
        dilation=net.conv.dilation,
    )
    return F.conv1d(F.relu(h), net.mix.weight, net.mix.bias)


def _coupling(c: AffineCoupling, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x1, x2 = x[:, : c.split1], x[:, c.split1 :]
    a = _subnet(c.subnet1, x1)
    s2 = soft_clamp(a[:, : c.split2], c.clamp, c.clamp_form)
    y2 = torch.exp(s2) * x2 + a[:, c.split2 :]
    a = _subnet(c.subnet2, y2)
    s1 = soft_clamp(a[:, : c.split1], c.clamp, c.clamp_form)
    y1 = torch.exp(s1) * x1 + a[:, c.split1 :]
    return torch.cat([y1, y2], 1), s1.sum((1, 2)) + s2.sum((1, 2))


def reference_nll(flow: MTSFlow, x: torch.Tensor) -> torch.Tensor:
    """0.5 * sum(z^2) - log|det J| per cycle over the whole (B, S, T) input."""
    logdet = x.new_zeros(x.shape[0])
    for perm, coupling in flow.blocks():
        x, ld = _coupling(coupling, x[:, perm])
        logdet = logdet + ld
    return 0.5 * x.square().sum((1, 2)) - logdet
