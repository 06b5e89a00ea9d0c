"""`robotwatch serve`: the streaming service beside the robot controller."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from robotwatch.cli.console import console, user_errors
from robotwatch.cli.stopping import stop_on_signals


def serve(
    model: Annotated[
        Path | None, typer.Option(help="one MTS-Flow model file for every robot (or `model` in the config)")
    ] = None,
    models: Annotated[
        Path | None,
        typer.Option(help="a model per robot: DIR/<robot>.rwmodel, else DIR/default.rwmodel (or [models])"),
    ] = None,
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers, host:port[,...]")
    ] = None,
    signals_topic: Annotated[str | None, typer.Option(help="topic of the signal frames")] = None,
    anomalies_topic: Annotated[str | None, typer.Option(help="topic the verdicts go to")] = None,
    group: Annotated[
        str | None, typer.Option(help="consumer group; more instances = more throughput")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file with any of the settings")] = None,
    create_topics: Annotated[
        bool | None, typer.Option("--create-topics/--no-create-topics", help="create missing topics")
    ] = None,
    dashboard: Annotated[bool, typer.Option(help="show a live view instead of logs")] = False,
    http_port: Annotated[int | None, typer.Option(help="port of /metrics, /livez, /readyz (0 = off)")] = None,
    http_host: Annotated[
        str | None, typer.Option(help="address they listen on (0.0.0.0 in a container; default 127.0.0.1)")
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto (CUDA when present), cpu or cuda[:N]")] = None,
    localize: Annotated[
        str | None, typer.Option(help="localize events for all, flagged (over the threshold) or none")
    ] = None,
) -> None:
    """Consume signal frames from Kafka, score every pick-and-place cycle and publish one verdict per cycle.

    Settings come from --config (TOML), ROBOTWATCH_* environment variables (nested with __,
    e.g. ROBOTWATCH_KAFKA__SASL_MECHANISM) and these options, the latter winning.
    """
    import torch

    from robotwatch.config import load
    from robotwatch.fleet.registry import ModelRegistry
    from robotwatch.stream.logs import setup_logging
    from robotwatch.stream.service import Service
    from robotwatch.stream.settings import ServeSettings, model_files

    with user_errors():
        overrides = {
            "model": model,
            "models_dir": models,
            "kafka": {"bootstrap_servers": bootstrap_servers},
            "signals_topic": signals_topic,
            "anomalies_topic": anomalies_topic,
            "group": group,
            "create_topics": create_topics,
            "http_port": http_port,
            "http_host": http_host,
            "device": device,
            "localize": localize,
        }
        settings, _ = load(ServeSettings, config, overrides)
        registry = ModelRegistry(model_files(settings), settings.device, settings.models_dir)
        registry.load_all()
    if dashboard:
        setup_logging("rich", console=console)  # log lines print above the live view
    else:
        setup_logging(settings.log_format)
    service = Service(settings, registry, config)
    threads = service.threads
    torch.set_num_threads(threads)  # for the whole process: serve is its only user
    loaded = ", ".join(f"{e['robots']} -> {e['model_id']}" for e in registry.info())
    console.print(
        f"robotwatch serve: {loaded}; {settings.signals_topic} -> {settings.anomalies_topic} "
        f"on {settings.kafka.bootstrap_servers}, group {settings.group}; "
        f"{threads} CPU thread{'s' if threads > 1 else ''} per forward pass"
        f"{', in scoring processes' if settings.scoring_process else ''}",
        soft_wrap=True,
    )
    asyncio.run(_run(service, dashboard))
    if service.fatal:
        console.print(f"[bold red]error:[/] {service.fatal}", soft_wrap=True)
    if service.exit_code:
        raise typer.Exit(service.exit_code)


async def _run(service, dashboard: bool) -> None:
    stop_on_signals(service.stop)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, service.models.request)  # read the model registry again
    view_task = asyncio.create_task(_live(service)) if dashboard else None
    try:
        await service.run()
    finally:
        if view_task is not None:
            view_task.cancel()


async def _live(service) -> None:
    from rich.live import Live

    from robotwatch.stream.dashboard import LiveView

    view = LiveView(title=f"robotwatch serve · {service.settings.group}")
    service.listeners.append(view.add)
    with Live(view.render(), console=console, refresh_per_second=4, transient=False) as live:
        while True:
            await asyncio.sleep(0.5)
            ready, doc = service.readyz()
            status = {k: doc[k] for k in ("frames", "consumer_lag", "dead_letters")}
            live.update(view.render({**status, "ready": "yes" if ready else "; ".join(doc["reasons"])}))
