"""`robotwatch demo`: simulate a cell, train on it, replay it through the pipeline, report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from robotwatch.cli.console import console, out, user_errors


def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="where the data, model and report go")] = Path(
        "demo-output"
    ),
    cycles: Annotated[
        int, typer.Option(min=20, help="cycles to simulate (the voraus-AD split, scaled)")
    ] = 150,
    epochs: Annotated[int, typer.Option(min=1, help="training epochs (the thesis trains 70)")] = 6,
    speed: Annotated[
        float | None,
        typer.Option(min=0.001, help="replay at real time x SPEED (default: as fast as possible)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the simulation and the training")] = 1,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda[:N]")] = "auto",
) -> None:
    """Simulate a small cell, train MTS-Flow on its normal cycles, replay the test cycles through
    the service's pipeline with the live view, and write the evaluation report."""
    from rich.rule import Rule

    from replay.simulator import load_profile, write_dataset
    from robotwatch.cli.progress import replay_with_view, train_with_progress
    from robotwatch.evaluation.examples import write_model_report
    from robotwatch.playback.summary import replay_summary

    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    data, model_path, report = out_dir / "cell.parquet", out_dir / "cell.rwmodel", out_dir / "report"
    with user_errors():
        console.print(Rule(f"1/4 simulating {cycles} pick-and-place cycles of a UR10-class cell at 100 Hz"))
        with console.status(
            "simulating (rigid-body dynamics, controller, drives, sensors, 12 anomaly types)"
        ):
            summary = write_dataset(data, load_profile("default"), n_cycles=cycles, rate=100, seed=seed)
        console.print(f"wrote {data} ({summary.rows:,} rows) and the ground truth {data.stem}.truth.parquet")

        console.print(Rule(f"2/4 training MTS-Flow on the normal training cycles ({epochs} epochs at 50 Hz)"))
        model = train_with_progress(
            data,
            model_path,
            epochs=epochs,
            batch_size=16,
            rate=50.0,
            signals="machine",
            seed=seed,
            device=device,
            learning_rate=8e-4,
        )
        console.print(
            f"model {model.model_id}: threshold {model.card.threshold:,.0f} "
            f"(1 % false positives on {model.card.training.n_calibration_cycles} held-out normal cycles)"
        )

        console.print(
            Rule("3/4 replaying the test cycles through the pipeline (frames -> cycles -> verdicts)")
        )
        result = replay_with_view(model, data, 1, speed, "test", device, console.is_terminal)
        replayed = replay_summary(result, data, model)
        for renderable in replayed.renderables():
            out.print(renderable)

        console.print(Rule("4/4 writing the report"))
        with console.status("ROC curves, score histograms and example cycles with their events"):
            title, tables = "robotwatch demo", replayed.tables()
            index = write_model_report(report, model, data, tables, title, device, replayed.results)
    console.print(f"[bold green]done[/] in {time.monotonic() - started:.0f} s: open {index}")
    console.print(
        f"next: robotwatch serve --model {model_path} --bootstrap-servers <your Kafka> "
        f"(and robotwatch replay {data} --to-kafka <your Kafka> to feed it)"
    )
