"""`robotwatch record`: a live robot's normal cycles as a training file (docs/architecture.md §9)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from robotwatch.cli.console import console, user_errors

if TYPE_CHECKING:
    from robotwatch.fleet.record import Progress, RecordOptions
    from robotwatch.stream.settings import ServeSettings


def record(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="folder: <robot>.parquet per robot and manifest.json")
    ],
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers, host:port[,...]")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file with the Kafka settings and [program]")
    ] = None,
    signals_topic: Annotated[str | None, typer.Option(help="topic of the signal frames")] = None,
    robots: Annotated[
        str | None, typer.Option(help="comma-separated robot ids (message keys); default: every robot")
    ] = None,
    cycles: Annotated[
        int | None, typer.Option(min=1, help="stop once each robot has this many new cycles")
    ] = None,
    duration: Annotated[float | None, typer.Option(min=1.0, help="stop after this many seconds")] = None,
    all_robots: Annotated[bool, typer.Option("--all", help="every robot on the topic (the default)")] = False,
    from_time: Annotated[
        str | None, typer.Option(help="read from this time on (ISO 8601, e.g. 2026-12-01T06:00:00+01:00)")
    ] = None,
    from_beginning: Annotated[
        bool, typer.Option(help="read what the topic still holds, not only what arrives from now on")
    ] = False,
    label: Annotated[
        str, typer.Option(help="train (setting 72, to train on) or test-normal (73, normal test cycles)")
    ] = "train",
    signals: Annotated[
        str,
        typer.Option(
            help="signals the frames carry: machine (all 130), electrical, mechanical, measured, computed"
        ),
    ] = "machine",
    group: Annotated[
        str, typer.Option(help="consumer group of the recorder (never serve's)")
    ] = "robotwatch-record",
) -> None:
    """Record normal cycles from robot.signals into voraus-AD files, one per robot, to train on.

    Run it while the cell works normally. It stops at --cycles per robot or after --duration,
    whichever comes first; a second run adds to the files without adding a cycle twice.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from replay.schema import signal_group
    from robotwatch.config import load
    from robotwatch.fleet.record import RecordOptions
    from robotwatch.stream.settings import ServeSettings

    if cycles is None and duration is None:
        raise typer.BadParameter("say when to stop: --cycles N per robot, --duration SECONDS, or both")
    if label not in ("train", "test-normal"):
        raise typer.BadParameter(f"{label!r}: choose train or test-normal", param_hint="--label")
    if robots and all_robots:
        raise typer.BadParameter("--robots and --all exclude each other")
    from_time_ms = _time_ms(from_time) if from_time else None
    chosen: Literal["train", "test-normal"] = "train" if label == "train" else "test-normal"
    with user_errors():
        try:
            names = signal_group(signals)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--signals") from None
        settings, _ = load(
            ServeSettings,
            config,
            {"kafka": {"bootstrap_servers": bootstrap_servers}, "signals_topic": signals_topic},
        )
        options = RecordOptions(
            out=out,
            signals=names,
            program=settings.program,
            cycles=cycles,
            duration_s=duration,
            label=chosen,
            robots=frozenset(r.strip() for r in robots.split(",") if r.strip()) if robots else None,
            from_beginning=from_beginning,
            from_time_ms=from_time_ms,
            group=group,
        )
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            tasks: dict[str, TaskID] = {}

            def shown(robot: str, new: int, left_out: int) -> None:
                if robot not in tasks:
                    tasks[robot] = bar.add_task(robot, total=cycles, info="")
                bar.update(tasks[robot], completed=new, info=f"{left_out} left out" if left_out else "")

            recorded = asyncio.run(_until_interrupted(settings, options, shown))
    total = sum(recorded.values())
    console.print(
        f"[bold green]recorded[/] {total} new cycles of {len(recorded)} robots into {out} "
        f"(manifest.json lists each cycle, and those left out with the reason)",
        soft_wrap=True,
    )
    if not recorded:
        console.print(f"[yellow]no robot sent frames on {settings.signals_topic}[/]", soft_wrap=True)
        raise typer.Exit(1)


async def _until_interrupted(
    settings: ServeSettings, options: RecordOptions, shown: Progress
) -> dict[str, int]:
    """Ctrl-C or SIGTERM ends the recording early; what was recorded is kept and committed."""
    from robotwatch.fleet.record import record as run_record

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await run_record(settings, options, shown, stop)


def _time_ms(text: str) -> int:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is no ISO 8601 time", param_hint="--from-time") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a time without zone is the machine's local time
    return round(moment.timestamp() * 1000)
