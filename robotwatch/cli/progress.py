"""What the commands show while they work: training under a progress bar, a replay under the
live view. Shared by train, evaluate, replay and demo."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from robotwatch.cli.console import console
from robotwatch.mtsflow.presets import DEFAULT_PRESET, Preset

if TYPE_CHECKING:  # the commands import torch only when they run, so `--help` stays fast
    from replay.reader import Part
    from robotwatch.mtsflow.model_file import TrainedModel
    from robotwatch.playback.embedded import ReplayResult


def train_with_progress(
    data: Path,
    out: Path,
    *,
    epochs: int,
    batch_size: int,
    rate: float,
    signals: str | None,
    seed: int,
    device: str,
    learning_rate: float,
    kernel_size: int = 13,
    dilation: int = 2,
    calibration_fraction: float = 0.1,
    target_fpr: float = 0.01,
    preset: Preset = DEFAULT_PRESET,
) -> TrainedModel:
    """Train MTS-Flow on `data` under a progress bar, save it to `out`, return it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from replay.schema import signal_group
    from robotwatch.fleet.manifest import record_of
    from robotwatch.mtsflow.fit import FitOptions, FitProgress, TrainingSettings, fit_model
    from robotwatch.mtsflow.model_file import save_model
    from robotwatch.program import VORAUS_AD
    from rwcore.device import pick_device
    from rwcore.thresholds import samples_needed

    # A file `robotwatch record` wrote says which signals it holds and the robot's program.
    recorded = record_of(data)
    try:
        group = signal_group(signals or "machine") if signals or recorded is None else tuple(recorded.signals)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--signals") from None
    absent = [s for s in group if recorded is not None and s not in recorded.signals]
    if absent:
        raise typer.BadParameter(
            f"{data.name} was recorded without {len(absent)} of these signals ({', '.join(absent[:4])}...)",
            param_hint="--signals",
        )
    options = FitOptions(
        signals=group,
        program=recorded.program if recorded is not None else VORAUS_AD,
        rate_hz=rate,
        calibration_fraction=calibration_fraction,
        target_fpr=target_fpr,
        kernel_size=kernel_size,
        dilation=dilation,
        preset=preset,
    )
    settings = TrainingSettings(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        device=str(pick_device(device)),
    )
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"reading {data.name}", total=None, info="")

        class _Bar(FitProgress):
            def loaded(self, n_train: int, n_calibration: int, padded_length: int) -> None:
                steps = epochs * -(-n_train // batch_size)
                bar.update(
                    task,
                    description=f"training on {settings.device}",
                    total=steps,
                    completed=0,
                    info=f"{n_train} cycles x {padded_length} steps",
                )

            def step(self) -> None:
                bar.advance(task)

            def epoch(self, epoch: int, loss: float) -> None:
                bar.update(task, info=f"epoch {epoch + 1}/{epochs} loss {loss:.4f}")
                if not console.is_terminal:  # a log file or journal gets one line per epoch
                    console.log(f"epoch {epoch + 1}/{epochs}: loss {loss:.4f}")

        model = fit_model(data, options, settings, progress=_Bar())
        bar.update(task, description="calibrated")
    save_model(model, out)
    held, needed = model.card.training.n_calibration_cycles, samples_needed(target_fpr)
    if held < needed:
        console.print(
            f"[yellow]note:[/] the threshold comes from {held} held-out normal cycles, but a "
            f"{target_fpr:.1%} false-positive rate needs at least {needed} to be set at all; with fewer it "
            f"is the highest held-out score and the rate on new normal cycles will likely be higher: "
            f"record more normal cycles or raise --calibration-fraction",
            soft_wrap=True,
        )
    return model


def replay_with_view(
    trained: TrainedModel, data: Path, robots: int, pace: float | None, part: Part, device: str, live: bool
) -> ReplayResult:
    """The file through the pipeline in process, under the live view when `live`."""
    from robotwatch.playback.embedded import replay_embedded
    from robotwatch.stream.dashboard import LiveView

    view = LiveView(title=f"robotwatch replay · {data.name} · {robots} robot(s)")
    if not live:
        with console.status(f"replaying {data.name} through the pipeline"):
            return replay_embedded(
                trained, data, robots=robots, speed=pace, part=part, device=device, on_verdicts=view.add
            )
    from rich.live import Live

    from robotwatch.stream.logs import setup_logging

    setup_logging("rich", logging.WARNING, console)  # a warning prints above the view, not through it
    with Live(view.render(), console=console, refresh_per_second=4) as live_view:

        def show(verdicts) -> None:
            view.add(verdicts)
            live_view.update(view.render())

        return replay_embedded(
            trained, data, robots=robots, speed=pace, part=part, device=device, on_verdicts=show
        )
