"""MTS-Flow speed: forward, forward + localization and a training step, each next to the
straightforward reference computation (the official code's way) on the same weights."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from robotwatch.bench.timing import side_by_side
from robotwatch.mtsflow.localize import input_gradient
from robotwatch.mtsflow.network import FlowConfig, MTSFlow
from robotwatch.mtsflow.network.reference import reference_nll
from robotwatch.mtsflow.recommended_score import calibrate_rule, evidence, recommended_score


@dataclass(frozen=True)
class FlowFigures:
    device: str
    rate_hz: float
    n_steps: int
    n_signals: int
    n_parameters: int
    batch: int
    mean_cycle_steps: float
    forward_ms_per_cycle: float
    reference_forward_ms_per_cycle: float
    localize_ms_per_cycle: float
    reference_localize_ms_per_cycle: float
    train_batch: int
    train_step_ms_per_cycle: float
    reference_train_step_ms_per_cycle: float
    max_score_rel_diff: float
    # onnxruntime on the exported scoring graph (robotwatch export --onnx), CPU only; None
    # where it is not installed or the device is a GPU
    onnxruntime_forward_ms_per_cycle: float | None = None
    onnxruntime_max_score_rel_diff: float | None = None
    # a score as Scorer computes it, over the whole padded length, per preset
    thesis_score_ms_per_cycle: float | None = None
    recommended_score_ms_per_cycle: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _cycles(
    batch: int, n_signals: int, n_steps: int, lengths: torch.Tensor, device: torch.device
) -> torch.Tensor:
    x = torch.randn(batch, n_signals, n_steps, generator=torch.Generator().manual_seed(0))
    for i, n in enumerate(lengths.tolist()):
        x[i, :, n:] = 0
    return x.to(device)


def bench_flow(
    *,
    rate_hz: float = 100.0,
    n_steps: int = 1150,
    dilation: int = 2,
    n_signals: int = 130,
    batch: int = 16,
    train_batch: int = 8,
    fill: float = 1.0,
    repeats: int = 5,
    device: str = "cpu",
) -> FlowFigures:
    """Time the three operations on random z-scored cycles of `fill` * n_steps steps each.

    fill = 1.0 is the worst case (every cycle as long as the longest training cycle); real
    cycles are shorter and the optimized path skips the padding they leave.
    """
    dev = torch.device(device)
    torch.manual_seed(0)
    flow = MTSFlow(FlowConfig(n_signals=n_signals, dilation=dilation)).to(dev).eval()
    lengths = torch.full((batch,), int(fill * n_steps))
    x = _cycles(batch, n_signals, n_steps, lengths, dev)

    runtime = _onnx_session(flow, n_signals, n_steps) if dev.type == "cpu" else None
    with torch.inference_mode():
        # constants from the bench's own cycles: the arithmetic is what is timed, not the values
        normal = evidence(flow, x, lengths)
        rule, stats = calibrate_rule(normal, normal, rate_hz)
        work: dict[str, Callable[[], object]] = {
            "fast": lambda: flow.nll(x, lengths),
            "ref": lambda: reference_nll(flow, x),
            "thesis": lambda: flow.nll(x).cpu().numpy(),
            "recommended": lambda: recommended_score(evidence(flow, x, lengths), rule, stats, rate_hz),
        }
        if runtime is not None:
            x_np = x.numpy()
            work["onnx"] = lambda: runtime.run(["score"], {"x": x_np})
        forward = side_by_side(work, repeats, dev)
        reference = reference_nll(flow, x)
        diff = ((flow.nll(x, lengths) - reference).abs() / reference.abs()).max().item()
        onnx_diff = None
        if runtime is not None:
            onnx_scores = torch.from_numpy(runtime.run(["score"], {"x": x_np})[0])
            onnx_diff = ((onnx_scores - reference).abs() / reference.abs()).max().item()

    for p in flow.parameters():
        p.requires_grad_(False)

    def ref_localize() -> None:
        xr = x.detach().requires_grad_(True)
        torch.autograd.grad(reference_nll(flow, xr).sum(), xr)

    localize = side_by_side(
        {"fast": lambda: input_gradient(flow, x, lengths), "ref": ref_localize}, repeats, dev
    )

    for p in flow.parameters():
        p.requires_grad_(True)
    flow.train()
    optimizer = torch.optim.Adam(flow.parameters(), lr=8e-4)
    xt, lt = x[:train_batch], lengths[:train_batch]
    n_dims = n_signals * n_steps

    def step(fast: bool) -> None:
        optimizer.zero_grad(set_to_none=True)
        nll = flow.nll(xt, lt) if fast else reference_nll(flow, xt)
        (nll.mean() / n_dims).backward()
        optimizer.step()

    train = side_by_side({"fast": lambda: step(True), "ref": lambda: step(False)}, max(3, repeats // 2), dev)
    ms = 1000.0
    return FlowFigures(
        device=str(dev),
        rate_hz=rate_hz,
        n_steps=n_steps,
        n_signals=n_signals,
        n_parameters=sum(p.numel() for p in flow.parameters()),
        batch=batch,
        mean_cycle_steps=float(lengths.float().mean()),
        forward_ms_per_cycle=forward["fast"] * ms / batch,
        reference_forward_ms_per_cycle=forward["ref"] * ms / batch,
        localize_ms_per_cycle=localize["fast"] * ms / batch,
        reference_localize_ms_per_cycle=localize["ref"] * ms / batch,
        train_batch=train_batch,
        train_step_ms_per_cycle=train["fast"] * ms / train_batch,
        reference_train_step_ms_per_cycle=train["ref"] * ms / train_batch,
        max_score_rel_diff=diff,
        onnxruntime_forward_ms_per_cycle=forward["onnx"] * ms / batch if "onnx" in forward else None,
        onnxruntime_max_score_rel_diff=onnx_diff,
        thesis_score_ms_per_cycle=forward["thesis"] * ms / batch,
        recommended_score_ms_per_cycle=forward["recommended"] * ms / batch,
    )


def _onnx_session(flow: MTSFlow, n_signals: int, n_steps: int):
    """An onnxruntime session on the flow's exported scoring graph; None without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None
    from robotwatch.mtsflow.export import export_flow

    with tempfile.TemporaryDirectory(prefix="robotwatch-onnx-") as tmp:
        path = Path(tmp) / "flow.onnx"
        export_flow(flow, n_signals, n_steps, path)
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
