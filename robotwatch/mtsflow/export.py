"""MTS-Flow's scoring graph in ONNX, for runtimes without PyTorch.

The graph takes what `Scorer` feeds the flow: cycles normalized by the model's normalizer and
zero-padded at the end to the model's padded length, `x` of shape (batch, signals, steps),
float32, any batch size. It gives `score` (batch,), the anomaly score of each cycle as
`MTSFlow.nll` computes it, and `step_nll` (batch, steps), each step's share of that score
(0.5·Σ z² − log|det J| at that step), which sums to `score`, and `z` (batch, signals, steps),
the latent cycle, from which the recommended preset's channel parts come
(robotwatch.mtsflow.recommended_score).

The convolutions are exported as plain convolutions (`ConvSubnet.direct`): the FFT path that
`ConvSubnet` takes for long inputs computes the same numbers, but ONNX has no operator for its
blockwise rfft/irfft.
Localization is not part of the graph: it needs the input gradient, which only torch gives
(serve and replay keep using torch for it).
"""

from __future__ import annotations

import copy
import warnings
from os import PathLike

import torch
from torch import nn

from robotwatch.mtsflow.model_file import TrainedModel
from robotwatch.mtsflow.network.coupling import ConvSubnet
from robotwatch.mtsflow.network.flow import MTSFlow
from rwcore.errors import UserError

OPSET = 17


class ScoringGraph(nn.Module):
    """(batch, signals, steps) normalized, padded cycles -> (score, step_nll, z)."""

    def __init__(self, flow: MTSFlow) -> None:
        super().__init__()
        self.flow = copy.deepcopy(flow).cpu().eval().requires_grad_(False)
        for module in self.flow.modules():
            if isinstance(module, ConvSubnet):
                module.direct = True

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z, logdet = self.flow(x)
        step_nll = 0.5 * z.square().sum(1) - logdet
        return step_nll.sum(1), step_nll, z


def export_onnx(model: TrainedModel, path: str | PathLike[str]) -> None:
    """Write the model's scoring graph to `path` (ONNX, opset 17, dynamic batch)."""
    export_flow(model.flow, len(model.card.signals), model.card.padded_length, path)


def export_flow(flow: MTSFlow, n_signals: int, n_steps: int, path: str | PathLike[str]) -> None:
    """The scoring graph of `flow` for inputs of (batch, n_signals, n_steps)."""
    try:
        import onnx  # noqa: F401  # torch's exporter writes the file through it
    except ImportError:
        raise UserError("ONNX export needs the onnx package: pip install 'robotwatch[onnx]'") from None
    with warnings.catch_warnings():
        # torch's notice that this (TorchScript) exporter is deprecated: the new one needs
        # onnxscript and exports no more of this graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            ScoringGraph(flow),
            (torch.zeros(2, n_signals, n_steps),),
            str(path),
            input_names=["x"],
            output_names=["score", "step_nll", "z"],
            dynamic_axes={name: {0: "batch"} for name in ("x", "score", "step_nll", "z")},
            opset_version=OPSET,
            dynamo=False,
        )
