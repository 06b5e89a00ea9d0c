"""The settings of `robotwatch alerts`, loaded as every command's are (robotwatch.config): the
defaults, the TOML file, `ROBOTWATCH_ALERTS_*` environment variables (`__` between a section
and its key, e.g. `ROBOTWATCH_ALERTS_CHANNELS__MAIL__PASSWORD`), the command line.

The prefix is alerts' own, not serve's `ROBOTWATCH_`: a variable set for serve on the same
host (`ROBOTWATCH_GROUP`) must never move alerts into serve's consumer group.

The quick-start flags are channels: `--webhook URL` is the channel `webhook`,
`--alertmanager URL` the channel `alertmanager`, `--smtp HOST:PORT --mail-to ADDR` the
channel `email` (each replaces a channel of that name in the file). Such a channel gets every
alert: when the file has routes, each flag channel gets a route of its own that matches all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from robotwatch.alerts.settings import AlertSettings, Route
from robotwatch.config import Key, SettingsError, load

ENV_PREFIX = "ROBOTWATCH_ALERTS_"
# the flag that made each quick channel, for the line that says what is wrong with it
FLAGS: dict[Key, str] = {
    ("channels", "webhook"): "--webhook",
    ("channels", "webhook", "format"): "--webhook-format",
    ("channels", "alertmanager"): "--alertmanager",
    ("channels", "email"): "--smtp",
    ("channels", "email", "to"): "--mail-to",
    ("channels", "email", "sender"): "--mail-from",
}


def quick_channels(
    webhook: str | None = None,
    webhook_format: str | None = None,
    alertmanager: str | None = None,
    smtp: str | None = None,
    mail_to: list[str] | None = None,
    mail_from: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The channels the flags name, as raw settings (validated with the rest)."""
    channels: dict[str, dict[str, Any]] = {}
    if webhook:
        channels["webhook"] = {"type": "webhook", "url": webhook, "format": webhook_format or "json"}
    elif webhook_format:
        raise SettingsError("--webhook-format: needs --webhook URL")
    if alertmanager:
        channels["alertmanager"] = {"type": "alertmanager", "url": alertmanager}
    if smtp or mail_to:
        if not (smtp and mail_to):
            raise SettingsError("--smtp HOST:PORT and --mail-to ADDR go together: give both")
        host, _, port = smtp.rpartition(":")
        if not host or not port.isdigit():
            raise SettingsError(f"--smtp = {smtp!r}: must be HOST:PORT, e.g. smtp.plant.local:587")
        channels["email"] = {"type": "email", "host": host, "port": int(port), "to": mail_to}
        if mail_from:
            channels["email"]["sender"] = mail_from
    return channels


def load_alerts(
    config: Path | None = None,
    channels: dict[str, dict[str, Any]] | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> tuple[AlertSettings, dict[Key, str]]:
    """Validated settings and where each came from; `channels` from quick_channels,
    `overrides` top-level keys or sections (`kafka={"bootstrap_servers": ...}`), None meaning
    not given. Raises SettingsError, one line per problem."""
    given = {**overrides, "channels": channels} if channels else overrides
    settings, origins = load(
        AlertSettings,
        config,
        given,
        env,
        env_prefix=ENV_PREFIX,
        # a flag's channel replaces the file's channel of that name whole, never mixes with it
        replace=[("channels", name) for name in channels or {}],
        flags=FLAGS,
    )
    if settings.routes and channels:
        routed = {name for route in settings.routes for name in route.channels}
        extra = [Route(channels=[name]) for name in channels if name not in routed]
        settings = settings.model_copy(update={"routes": [*settings.routes, *extra]})
    return settings, origins


def load_alert_settings(
    config: Path | None = None,
    channels: dict[str, dict[str, Any]] | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> AlertSettings:
    """load_alerts without the origins: what the service runs with."""
    return load_alerts(config, channels, env, **overrides)[0]
