"""`robotwatch train`: fit MTS-Flow on the normal training cycles of a voraus-AD file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from robotwatch.cli.console import console, user_errors


def train(
    data: Annotated[Path, typer.Argument(help="voraus-AD parquet file (trains on setting 72, PRE_A)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="model file to write")],
    epochs: Annotated[int, typer.Option(help="training epochs (thesis: 70)")] = 70,
    batch_size: Annotated[int, typer.Option(help="cycles per batch (thesis: 32)")] = 32,
    rate: Annotated[float, typer.Option(help="sample rate the model works at, Hz (100 or 50)")] = 100.0,
    signals: Annotated[str, typer.Option(help="signal group: machine, electrical, mechanical, measured, computed")] = "machine",
    seed: Annotated[int, typer.Option(help="seed of weights, permutations and batch order")] = 177,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda[:N]")] = "auto",
    learning_rate: Annotated[float, typer.Option("--lr", help="Adam learning rate")] = 8e-4,
    kernel_size: Annotated[int, typer.Option(help="kernel of the subnet's first convolution")] = 13,
    dilation: Annotated[int, typer.Option(help="dilation of that convolution (thesis: 2 at 100 Hz, 10 at 500 Hz)")] = 2,
    calibration_fraction: Annotated[float, typer.Option(help="share of training cycles held out to set the threshold")] = 0.1,
    target_fpr: Annotated[float, typer.Option(help="false-positive rate the threshold aims at on normal cycles")] = 0.01,
) -> None:
    """Train MTS-Flow on normal cycles and calibrate its alarm threshold."""
    with user_errors():
        model = run_training(
            data, out, epochs=epochs, batch_size=batch_size, rate=rate, signals=signals, seed=seed,
            device=device, learning_rate=learning_rate, kernel_size=kernel_size, dilation=dilation,
            calibration_fraction=calibration_fraction, target_fpr=target_fpr,
        )
    card = model.card
    console.print(
        f"[bold green]saved[/] {out}  model [bold]{card.model_id}[/]: {card.training.n_train_cycles} training "
        f"cycles, padded length {card.padded_length} at {card.sample_rate_hz:g} Hz, threshold "
        f"{card.threshold:.1f} (target FPR {card.target_fpr:.1%} on {card.training.n_calibration_cycles} "
        f"held-out normal cycles), {card.training.seconds:.0f} s on {card.training.device}"
    )


def run_training(data: Path, out: Path, *, epochs: int, batch_size: int, rate: float, signals: str, seed: int,
                 device: str, learning_rate: float, kernel_size: int = 13, dilation: int = 2,
                 calibration_fraction: float = 0.1, target_fpr: float = 0.01):
    """Train with a rich progress bar and save; shared by `train`, `evaluate --runs` and `replay`."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from replay.schema import signal_group
    from robotwatch.artifact import save_model
    from robotwatch.fitting import FitOptions, FitProgress, fit_model
    from robotwatch.scoring import pick_device
    from robotwatch.training import TrainingSettings

    try:
        group = signal_group(signals)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--signals") from None
    options = FitOptions(signals=group, rate_hz=rate, calibration_fraction=calibration_fraction,
                         target_fpr=target_fpr, kernel_size=kernel_size, dilation=dilation)
    settings = TrainingSettings(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                                device=str(pick_device(device)))

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
    ) as bar:
        task = bar.add_task(f"reading {data.name}", total=None, info="")

        class _Progress(FitProgress):
            def loaded(self, n_train: int, n_calibration: int, padded_length: int) -> None:
                steps = epochs * -(-n_train // batch_size)
                bar.update(task, description=f"training on {settings.device}", total=steps, completed=0,
                           info=f"{n_train} cycles x {padded_length} steps")

            def step(self) -> None:
                bar.advance(task)

            def epoch(self, epoch: int, loss: float) -> None:
                bar.update(task, info=f"epoch {epoch + 1}/{epochs} loss {loss:.4f}")
                if not console.is_terminal:  # a log file or journal gets one line per epoch
                    console.log(f"epoch {epoch + 1}/{epochs}: loss {loss:.4f}")

        model = fit_model(data, options, settings, progress=_Progress())
        bar.update(task, description="calibrated")
    save_model(model, out)
    return model
