"""`robotwatch gateway`: for gateway authors, a check of their frames and a reference gateway."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from robotwatch.cli.console import console, out, user_errors

app = typer.Typer(
    help="For gateway authors: check the frames on the signals topic; bridge OPC UA.", no_args_is_help=True
)


@app.command()
def check(
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers, host:port[,...]")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file: Kafka settings, [models], [program]")
    ] = None,
    signals_topic: Annotated[str | None, typer.Option(help="topic of the signal frames")] = None,
    model: Annotated[Path | None, typer.Option(help="the model the frames are for")] = None,
    models: Annotated[Path | None, typer.Option(help="a model directory, as serve --models")] = None,
    duration: Annotated[float, typer.Option(min=0.5, help="seconds to read")] = 30.0,
    from_beginning: Annotated[
        bool, typer.Option(help="read what the topic holds, not only new frames")
    ] = False,
    robots: Annotated[str | None, typer.Option(help="comma-separated robot ids; default: all")] = None,
) -> None:
    """Read the signals topic and say, per robot, what is wrong with its frames in plain words.

    Exit status 0 when every robot's frames are as serve wants them, 1 when something is wrong.
    """
    from robotwatch.config import load
    from robotwatch.fleet.registry import ModelRegistry
    from robotwatch.gateway.check import check_topic, expectations
    from robotwatch.program import VORAUS_AD
    from robotwatch.stream.settings import ServeSettings, model_files

    with user_errors():
        overrides = {
            "model": model,
            "models_dir": models,
            "signals_topic": signals_topic,
            "kafka": {"bootstrap_servers": bootstrap_servers},
        }
        settings, _ = load(ServeSettings, config, overrides)
        registry = None
        if settings.model is not None or settings.models or settings.models_dir is not None:
            registry = ModelRegistry(model_files(settings), "cpu", settings.models_dir)
            registry.load_all()
        wanted = frozenset(r.strip() for r in robots.split(",") if r.strip()) if robots else None
        console.print(
            f"reading {settings.signals_topic} on {settings.kafka.bootstrap_servers} for {duration:g} s ..."
        )
        result = asyncio.run(
            check_topic(
                settings,
                expectations(registry, settings.program or VORAUS_AD),
                duration_s=duration,
                from_beginning=from_beginning,
                robots=wanted,
            )
        )
    wrong = result.without_key > 0
    if result.without_key:
        out.print(f"[bold red]✗[/] {result.without_key} messages have no key: the key must be the robot id")
    if not result.robots and not result.without_key:
        out.print(f"[yellow]no frames arrived on {settings.signals_topic} in {duration:g} s[/]")
        raise typer.Exit(1)
    for robot, frames in sorted(result.robots.items()):
        problems, advice = frames.findings(), frames.advice()
        wrong |= bool(problems)
        mark = "[bold red]✗[/]" if problems else "[bold green]✓[/]"
        out.print(
            f"{mark} [bold]{escape(robot)}[/]: {frames.summary()}; checked against {frames.expected.source}",
            soft_wrap=True,
        )
        for line in problems:
            out.print(f"    • {escape(line)}", soft_wrap=True)
        for line in advice:
            out.print(f"    [dim]hint:[/] {escape(line)}", soft_wrap=True)
    raise typer.Exit(1 if wrong else 0)


@app.command()
def opcua(
    endpoint: Annotated[str, typer.Option(help="the OPC UA server, opc.tcp://host:4840")],
    robot: Annotated[
        list[str],
        typer.Option(help="ROBOT_ID=NODE_ID of its block variable, e.g. r1=ns=2;s=r1.Block (repeat)"),
    ],
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers, host:port[,...]")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file: Kafka settings, [program]")] = None,
    signals: Annotated[
        str, typer.Option(help="signal group the blocks carry: machine, electrical, ...")
    ] = "machine",
    rate: Annotated[float, typer.Option(min=0.1, help="the controller's step rate, Hz")] = 500.0,
    frame_steps: Annotated[int, typer.Option(min=1, help="steps per frame")] = 25,
) -> None:
    """Bridge robots' block variables on an OPC UA server to the signals topic (docs/gateways.md)."""
    from replay.schema import signal_group
    from robotwatch.config import load
    from robotwatch.gateway.opcua import BridgedRobot, bridge
    from robotwatch.program import VORAUS_AD
    from robotwatch.stream.logs import setup_logging
    from robotwatch.stream.settings import ServeSettings

    with user_errors():
        bridged = []
        for entry in robot:
            robot_id, sep, node = entry.partition("=")
            if not sep or not robot_id or not node:
                raise typer.BadParameter(f"{entry!r}: expected ROBOT_ID=NODE_ID", param_hint="--robot")
            bridged.append(BridgedRobot(robot_id, node))
        try:
            names = signal_group(signals)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--signals") from None
        settings, _ = load(ServeSettings, config, {"kafka": {"bootstrap_servers": bootstrap_servers}})
    setup_logging(settings.log_format)
    console.print(
        f"bridging {len(bridged)} robots from {endpoint} to {settings.signals_topic} "
        f"on {settings.kafka.bootstrap_servers}",
        soft_wrap=True,
    )

    async def run() -> dict[str, int]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await bridge(
            endpoint,
            bridged,
            names,
            rate,
            settings.kafka.client_options(),
            program=settings.program or VORAUS_AD,
            topic=settings.signals_topic,
            frame_steps=frame_steps,
            stop=stop,
        )

    sent = asyncio.run(run())
    console.print("sent " + ", ".join(f"{r}: {n} frames" for r, n in sent.items()))
