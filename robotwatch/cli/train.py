"""`robotwatch train`: fit MTS-Flow on the normal training cycles of a voraus-AD file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from robotwatch.cli.console import console, user_errors
from robotwatch.cli.progress import train_with_progress
from robotwatch.mtsflow.presets import DEFAULT_PRESET, Preset


def train(
    data: Annotated[Path, typer.Argument(help="voraus-AD parquet file (trains on setting 72, PRE_A)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="model file to write")],
    epochs: Annotated[int, typer.Option(min=1, help="training epochs (thesis: 70)")] = 70,
    batch_size: Annotated[int, typer.Option(min=1, help="cycles per batch (thesis: 32)")] = 32,
    rate: Annotated[
        float, typer.Option(min=0.1, help="sample rate the model works at, Hz (100 or 50)")
    ] = 100.0,
    signals: Annotated[
        str | None,
        typer.Option(
            help="signal group: machine, electrical, mechanical, measured, computed "
            "(default: what `robotwatch record` wrote into the file, else machine)"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of weights, permutations and batch order")] = 177,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda[:N]")] = "auto",
    learning_rate: Annotated[
        float, typer.Option("--lr", min=1e-9, max=1.0, help="Adam learning rate")
    ] = 8e-4,
    kernel_size: Annotated[
        int, typer.Option(min=1, help="kernel of the subnet's first convolution (odd)")
    ] = 13,
    dilation: Annotated[
        int, typer.Option(min=1, help="dilation of that convolution (thesis: 2 at 100 Hz, 10 at 500 Hz)")
    ] = 2,
    calibration_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="share of training cycles held out to set the threshold")
    ] = 0.1,
    target_fpr: Annotated[
        float,
        typer.Option(min=0.0001, max=0.5, help="false-positive rate the threshold aims at on normal cycles"),
    ] = 0.01,
    preset: Annotated[
        Preset,
        typer.Option(
            help="thesis: score by the NLL of the whole cycle, as the thesis; recommended: also by "
            "its worst half second and its most abnormal latent channel (README: the presets)"
        ),
    ] = DEFAULT_PRESET,
) -> None:
    """Train MTS-Flow on normal cycles and calibrate its alarm threshold."""
    with user_errors():
        model = train_with_progress(
            data,
            out,
            epochs=epochs,
            batch_size=batch_size,
            rate=rate,
            signals=signals,
            seed=seed,
            device=device,
            learning_rate=learning_rate,
            kernel_size=kernel_size,
            dilation=dilation,
            calibration_fraction=calibration_fraction,
            target_fpr=target_fpr,
            preset=preset,
        )
    card = model.card
    console.print(
        f"[bold green]saved[/] {out}  model [bold]{card.model_id}[/] ({card.preset} preset): "
        f"{card.training.n_train_cycles} training "
        f"cycles, padded length {card.padded_length} at {card.sample_rate_hz:g} Hz, threshold "
        f"{card.threshold:.1f} (target FPR {card.target_fpr:.1%} on {card.training.n_calibration_cycles} "
        f"held-out normal cycles), {card.training.seconds:.0f} s on {card.training.device}"
    )
