"""Settings of `robotwatch alerts` (docs/alerts.md): what to read, where alerts go, which go
where, and how often.

Defaults < TOML file (--config) < ROBOTWATCH_ALERTS_* environment < the command line
(robotwatch.alerts.loading, through robotwatch.config). Every model forbids unknown keys: a
typo is an error with a suggestion, never a setting silently left at its default.
"""

from __future__ import annotations

import string
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from robotwatch.config import suggestion
from robotwatch.stream.settings import KafkaSettings

Kind = Literal["anomaly", "error"]  # an anomalous verdict, or one that could not be scored
Source = Literal["robot", "vision"]
STRICT = ConfigDict(extra="forbid")
# What a picture URL template may name (robot cycles: the picture is kept outside robotwatch).
PICTURE_FIELDS = ("robot_id", "cell_id", "cycle_id", "verdict_id", "start_seq", "model_id", "source")


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return url


class WebhookChannel(BaseModel):
    """POST one JSON body per message: robotwatch's own (json), or a Slack or Teams message."""

    model_config = STRICT
    type: Literal["webhook"]
    url: str
    format: Literal["json", "slack", "teams"] = "json"
    headers: dict[str, str] = Field(default_factory=dict, description="e.g. Authorization")

    _url = field_validator("url")(_http_url)


class AlertmanagerChannel(BaseModel):
    """Prometheus Alertmanager's v2 API: one alert per verdict, POST {url}/api/v2/alerts."""

    model_config = STRICT
    type: Literal["alertmanager"]
    url: str = Field(description="Alertmanager's base URL, e.g. http://alertmanager:9093")
    resolve_after_s: float = Field(3600.0, gt=0, description="an alert resolves this long after it is sent")
    labels: dict[str, str] = Field(default_factory=dict, description="added to every alert, e.g. plant")

    _url = field_validator("url")(_http_url)


class EmailChannel(BaseModel):
    """One mail per message over SMTP (STARTTLS by default), with login when a username is set."""

    model_config = STRICT
    type: Literal["email"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (port 587), tls from the first byte (465), none (a local relay)"
    )
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = Field(None, description="read the password from this environment variable")
    ca_file: Path | None = Field(None, description="trust this CA (a relay with its own certificate)")
    sender: str = "robotwatch@localhost"
    to: list[str] = Field(min_length=1)

    @field_validator("to")
    @classmethod
    def _addresses(cls, to: list[str]) -> list[str]:
        for address in to:
            if "@" not in address.strip("@"):
                raise ValueError(f"{address!r} is not a mail address")
        return to

    @model_validator(mode="after")
    def _login(self) -> EmailChannel:
        if self.password is not None and self.password_env is not None:
            raise ValueError("password and password_env: give one of them")
        if self.username and self.security == "none":
            raise ValueError(
                f"username with security = 'none' would send the password of {self.username!r} in clear"
            )
        return self


Channel = Annotated[WebhookChannel | AlertmanagerChannel | EmailChannel, Field(discriminator="type")]


class Route(BaseModel):
    """Which alerts go to which channels. Every route that matches sends; a channel gets each
    alert once. Errors (verdicts that could not be scored) have no severity: min_severity
    does not apply to them."""

    model_config = STRICT
    robots: list[str] = Field(["*"], min_length=1, description="globs on the robot id (vision: cell id)")
    sources: list[Source] = Field(["robot", "vision"], min_length=1)
    kinds: list[Kind] = Field(["anomaly", "error"], min_length=1)
    min_severity: float = Field(0.0, ge=0, description="score / threshold at least this")
    channels: list[str] = Field(min_length=1)


class GroupingSettings(BaseModel):
    model_config = STRICT
    wait_s: float = Field(10.0, ge=0, description="one message for a robot's alerts within this long")
    max_details: int = Field(5, ge=1, description="alerts described in full in one message; more counted")


class RateLimitSettings(BaseModel):
    model_config = STRICT
    messages: int = Field(6, ge=1, description="at most this many messages per robot and channel ...")
    per_s: float = Field(3600.0, gt=0, description="... in any window this long; more are suppressed")


class DeliverySettings(BaseModel):
    model_config = STRICT
    timeout_s: float = Field(10.0, gt=0, description="limit of one HTTP request or SMTP session")
    attempts: int = Field(5, ge=1, description="tries before a message goes to the dead-letter topic")
    backoff_s: float = Field(1.0, gt=0, description="wait after the first failure; doubles each time")
    max_backoff_s: float = Field(60.0, gt=0)


class AlertSettings(BaseModel):
    model_config = STRICT

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)  # serve's, librdkafka names too
    anomalies_topic: str = "robot.anomalies"
    dead_letter_topic: str = Field("robot.alerts.dlq", description="messages that could not be delivered")
    group: str = "robotwatch-alerts"
    start: Literal["latest", "earliest"] = Field(
        "latest", description="where a group with no committed offset starts reading"
    )
    create_topics: bool = Field(False, description="create the dead-letter topic when it is missing")
    replication_factor: int = Field(1, ge=1)
    broker_timeout_s: float = Field(10.0, gt=0, description="limit of every Kafka call")
    session_timeout_s: float = Field(10.0, gt=0)
    grace_s: float = Field(20.0, gt=0, description="shutdown delivers and commits within this")
    dedup_lookback: int = Field(
        10_000, ge=0, description="records per partition before the commit point read back at start"
    )
    dedup_memory: int = Field(200_000, ge=1000, description="verdict ids remembered")
    max_in_hand: int = Field(50_000, ge=10, description="alerts waiting or in delivery before reading pauses")

    timezone: str | None = Field(None, description="IANA name for times in messages; default: this host's")
    picture_url: str | None = Field(
        None, description="link to a robot cycle's picture, e.g. https://reports/{robot_id}/{cycle_id}.png"
    )
    critical_severity: float = Field(2.0, ge=1, description="Alertmanager severity=critical from this ratio")
    log_format: Literal["json", "text"] = "json"

    grouping: GroupingSettings = Field(default_factory=GroupingSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    channels: dict[str, Channel] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list, description="none: every channel gets every alert")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError("not a time zone (an IANA name such as 'Europe/Berlin' or 'UTC')") from None
        return name

    @field_validator("picture_url")
    @classmethod
    def _template(cls, template: str | None) -> str | None:
        if template is not None:
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
            except ValueError as exc:
                raise ValueError(f"not a template ({exc})") from None
            unknown = sorted(names - set(PICTURE_FIELDS))
            if unknown:
                raise ValueError(f"unknown field {{{unknown[0]}}}; it may name {', '.join(PICTURE_FIELDS)}")
        return template

    @model_validator(mode="after")
    def _routes_name_channels(self) -> AlertSettings:
        if not self.channels:
            raise ValueError(
                "no channel: give --webhook, --alertmanager or --smtp with --mail-to, "
                "or a table channels.NAME in the config"
            )
        for i, route in enumerate(self.routes):
            for name in route.channels:
                if name not in self.channels:
                    raise ValueError(
                        f"routes[{i}].channels: no channel {name!r}{suggestion(name, list(self.channels))}; "
                        f"the channels are {', '.join(sorted(self.channels))}"
                    )
        return self
