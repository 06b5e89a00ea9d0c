"""`robotwatch alerts`: the verdicts on robot.anomalies, to people (docs/alerts.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from robotwatch.cli.console import console, user_errors
from robotwatch.cli.stopping import stop_on_signals

if TYPE_CHECKING:
    from robotwatch.alerts.service import AlertService


def alerts(
    bootstrap_servers: Annotated[
        str | None, typer.Option(metavar="HOST:PORT[,...]", help="Kafka (default localhost:9092)")
    ] = None,
    webhook: Annotated[str | None, typer.Option(metavar="URL", help="POST every alert to this URL")] = None,
    webhook_format: Annotated[
        str | None, typer.Option(metavar="FORMAT", help="body of --webhook: json (default), slack or teams")
    ] = None,
    alertmanager: Annotated[
        str | None, typer.Option(metavar="URL", help="Alertmanager's base URL, e.g. http://alertmanager:9093")
    ] = None,
    smtp: Annotated[
        str | None,
        typer.Option(metavar="HOST:PORT", help="mail server (STARTTLS; login, TLS: the config)"),
    ] = None,
    mail_to: Annotated[
        list[str] | None, typer.Option(metavar="ADDR", help="mail every alert to ADDR (repeatable)")
    ] = None,
    mail_from: Annotated[
        str | None, typer.Option(metavar="ADDR", help="sender address (default robotwatch@localhost)")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file: channels, routes, limits (docs/alerts.md)")
    ] = None,
    group: Annotated[str | None, typer.Option(help="consumer group (default robotwatch-alerts)")] = None,
    anomalies_topic: Annotated[
        str | None, typer.Option(help="topic of the verdicts (default robot.anomalies)")
    ] = None,
    create_topics: Annotated[
        bool | None, typer.Option("--create-topics/--no-create-topics", help="create the dead-letter topic")
    ] = None,
) -> None:
    """Deliver anomalous verdicts to people: a webhook (JSON, Slack, Teams), Alertmanager, email.

    Each verdict id is delivered once; a robot's burst becomes one message.
    A message that keeps failing goes to the dead-letter topic robot.alerts.dlq.
    Offsets are committed only after delivery.
    Settings: --config (TOML) < ROBOTWATCH_ALERTS_* environment (nested with __) < these options.
    """
    from robotwatch.alerts.channels import build_senders, describe
    from robotwatch.alerts.loading import load_alert_settings, quick_channels
    from robotwatch.alerts.service import AlertService
    from robotwatch.stream.logs import setup_logging

    with user_errors():
        channels = quick_channels(webhook, webhook_format, alertmanager, smtp, mail_to, mail_from)
        settings = load_alert_settings(
            config,
            channels,
            kafka={"bootstrap_servers": bootstrap_servers} if bootstrap_servers else None,
            group=group,
            anomalies_topic=anomalies_topic,
            create_topics=create_topics,
        )
        senders = build_senders(settings)
    setup_logging(settings.log_format)
    console.print(
        f"robotwatch alerts: {settings.anomalies_topic} on {settings.kafka.bootstrap_servers}, group "
        f"{settings.group} -> {'; '.join(describe(settings))}",
        soft_wrap=True,
    )
    service = AlertService(settings, senders)
    asyncio.run(_run(service))
    if service.fatal:
        console.print(f"[bold red]error:[/] {service.fatal}", soft_wrap=True)
    if service.exit_code:
        raise typer.Exit(service.exit_code)


async def _run(service: AlertService) -> None:
    stop_on_signals(service.stop)
    await service.run()
