"""`robotwatch replay`: a recorded voraus-AD file through the service's pipeline."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from robotwatch.cli.console import console, out, user_errors
from robotwatch.cli.progress import replay_with_view, train_with_progress

if TYPE_CHECKING:
    from replay.reader import Part


def replay(
    data: Annotated[Path, typer.Argument(help="voraus-AD parquet file (real or simulated)")],
    model: Annotated[
        Path | None, typer.Option(help="model file; without it a quick model is trained first")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            min=0.001, help="real time x SPEED (default: as fast as possible in process, real time to Kafka)"
        ),
    ] = None,
    as_fast_as_possible: Annotated[bool, typer.Option("--as-fast-as-possible", help="no pacing")] = False,
    robots: Annotated[int, typer.Option(min=1, help="play the file as this many robots at once")] = 1,
    to_kafka: Annotated[
        str | None, typer.Option(help="publish frames to this Kafka instead (bootstrap servers)")
    ] = None,
    topic: Annotated[str, typer.Option(help="signal topic for --to-kafka")] = "robot.signals",
    part: Annotated[
        str, typer.Option(help="cycles to play: test (voraus-AD test split), train or all")
    ] = "test",
    report: Annotated[Path | None, typer.Option(help="write the evaluation pictures here")] = None,
    dashboard: Annotated[bool, typer.Option(help="live view while replaying")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON summary")] = False,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda[:N]")] = "auto",
) -> None:
    """Replay a recorded file: in process by default (a summary of what was found), or as
    signal frames to Kafka for a running `robotwatch serve` (also the load generator)."""
    if part not in ("test", "train", "all"):
        raise typer.BadParameter("test, train or all", param_hint="--part")
    cycles = cast("Part", part)
    pace = None if as_fast_as_possible else speed
    with user_errors():
        if to_kafka:
            from replay.schema import SIGNALS
            from robotwatch.mtsflow.model_file import load_model

            signals = load_model(model).card.signals if model is not None else list(SIGNALS)
            _publish(
                data,
                signals,
                to_kafka,
                topic,
                robots,
                None if as_fast_as_possible else (speed or 1.0),
                cycles,
            )
            return
        trained = _model(data, model)
        result = replay_with_view(
            trained, data, robots, pace, cycles, device, dashboard and not json_output and console.is_terminal
        )
        from robotwatch.playback.summary import replay_summary

        summary = replay_summary(result, data, trained)
    if json_output:
        typer.echo(json.dumps(summary.as_json()))
    else:
        for renderable in summary.renderables():
            out.print(renderable)
    if report is not None:
        with user_errors(), console.status("writing the report"):
            from robotwatch.evaluation.examples import write_model_report

            title, tables = f"robotwatch replay of {data.name}", summary.tables()
            index = write_model_report(report, trained, data, tables, title, device, summary.results)
        console.print(f"[bold green]report[/] {index}")


def _model(data: Path, model: Path | None):
    from robotwatch.mtsflow.model_file import load_model

    if model is not None:
        return load_model(model)
    out_path = data.with_name(f"{data.stem}.quick.rwmodel")
    console.print(
        f"no --model: training a quick MTS-Flow (8 epochs at 50 Hz) on the training cycles of {data.name} "
        f"first; it is saved as {out_path}"
    )
    return train_with_progress(
        data,
        out_path,
        epochs=8,
        batch_size=16,
        rate=50.0,
        signals="machine",
        seed=177,
        device="auto",
        learning_rate=8e-4,
    )


def _publish(
    data: Path, signals: list[str], bootstrap: str, topic: str, robots: int, speed: float | None, part: Part
) -> None:
    from robotwatch.playback.publisher import publish_file

    pace = "as fast as possible" if speed is None else f"at {speed:g} x real time"
    with console.status(f"publishing {data.name} as {robots} robot(s) to {topic} on {bootstrap}, {pace}"):
        stats = asyncio.run(
            publish_file(
                data, signals, topic, {"bootstrap_servers": bootstrap}, robots=robots, speed=speed, part=part
            )
        )
    console.print(
        f"published {stats.frames} frames ({stats.bytes / 2**20:.1f} MiB) in {stats.seconds:.1f} s"
        + (f", at worst {stats.late_s:.2f} s behind schedule" if speed is not None else "")
    )
