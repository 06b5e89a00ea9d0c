"""Settings from the TOML file, the environment and the command line, as one validated
AlertSettings or one AlertSettingsError line.

Layers, each overriding the one before: the defaults, the TOML file, `ROBOTWATCH_ALERTS_*`
environment variables (`__` between a section and its key, e.g.
`ROBOTWATCH_ALERTS_CHANNELS__MAIL__PASSWORD`), the command line.

The quick-start flags are channels: `--webhook URL` is the channel `webhook`,
`--alertmanager URL` the channel `alertmanager`, `--smtp HOST:PORT --mail-to ADDR` the
channel `email` (each replaces a channel of that name in the file). Such a channel gets every
alert: when the file has routes, each flag channel gets a route of its own that matches all.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError

from robotwatch.alerts.problems import AlertSettingsError, one_line
from robotwatch.alerts.settings import AlertSettings, Route

ENV_PREFIX = "ROBOTWATCH_ALERTS_"


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
        raise AlertSettingsError("--webhook-format: needs --webhook URL")
    if alertmanager:
        channels["alertmanager"] = {"type": "alertmanager", "url": alertmanager}
    if smtp or mail_to:
        if not (smtp and mail_to):
            raise AlertSettingsError("--smtp HOST:PORT and --mail-to ADDR go together: give both")
        host, _, port = smtp.rpartition(":")
        if not host or not port.isdigit():
            raise AlertSettingsError(f"--smtp = {smtp!r}: must be HOST:PORT, e.g. smtp.plant.local:587")
        channels["email"] = {"type": "email", "host": host, "port": int(port), "to": mail_to}
        if mail_from:
            channels["email"]["sender"] = mail_from
    return channels


def load_alert_settings(
    config: Path | None = None,
    channels: dict[str, dict[str, Any]] | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> AlertSettings:
    """Validated settings; `channels` from quick_channels, `overrides` top-level keys or
    sections (`kafka={"bootstrap_servers": ...}`), None meaning not given."""
    data: dict[str, Any] = {}
    if config is not None:
        _merge(data, _canonical(AlertSettings, _read(config)))
    _merge(data, _canonical(AlertSettings, environment(os.environ if env is None else env)))
    given = {k: v for k, v in overrides.items() if v is not None}
    if channels:
        # a flag's channel replaces the file's channel of that name whole, never mixes with it
        data.setdefault("channels", {}).update(channels)
    _merge(data, _canonical(AlertSettings, given))
    try:
        settings = AlertSettings.model_validate(data)
    except ValidationError as exc:
        raise one_line(exc, AlertSettings, str(config) if config is not None else None) from None
    if settings.routes and channels:
        routed = {name for route in settings.routes for name in route.channels}
        extra = [Route(channels=[name]) for name in channels if name not in routed]
        settings = settings.model_copy(update={"routes": [*settings.routes, *extra]})
    return settings


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AlertSettingsError(f"{path}: no such configuration file")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise AlertSettingsError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AlertSettingsError(f"{path}: cannot be read ({exc})") from None


def environment(env: Mapping[str, str]) -> dict[str, Any]:
    """`ROBOTWATCH_ALERTS_GROUP=x` -> {"group": "x"}; `..._KAFKA__SASL_PLAIN_PASSWORD=y` -> nested.
    Names whose first part is no setting are left alone."""
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if parts[0] in AlertSettings.model_fields:
            tree = out
            for part in parts[:-1]:
                tree = tree.setdefault(part, {})
            tree[parts[-1]] = value
    return out


def _merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _canonical(model: type[BaseModel], tree: Mapping[str, Any]) -> dict[str, Any]:
    """Keys given by an alias (librdkafka's `bootstrap.servers` in [kafka]) renamed to the field,
    so that layers that spell one setting two ways still override each other."""
    names: dict[str, str] = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if alias else []
        names.update({str(choice): name for choice in choices if isinstance(choice, str)})
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = names.get(key, key)
        field = model.model_fields.get(name)
        section = field.annotation if field is not None else None
        if isinstance(value, Mapping) and isinstance(section, type) and issubclass(section, BaseModel):
            value = _canonical(section, value)
        out[name] = value
    return out
