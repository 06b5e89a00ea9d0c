"""Settings of `robotwatch serve` and of the other commands that talk to Kafka: defaults < TOML
file < ROBOTWATCH_* environment < command line (robotwatch.config loads them).

    ROBOTWATCH_KAFKA__BOOTSTRAP_SERVERS=broker:9092 ROBOTWATCH_GROUP=cell-7 robotwatch serve ...
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator

from robotwatch.config import SettingsError
from robotwatch.program import Program


def _names(*librdkafka: str) -> AliasChoices:
    """A field's own name, or librdkafka's (what a cluster's client.properties holds)."""
    return AliasChoices(*librdkafka)


class KafkaSettings(BaseModel):
    """Connection to the user's Kafka cluster; passed through to aiokafka. librdkafka's key
    names (`bootstrap.servers`, `sasl.username`, ...) are accepted too."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bootstrap_servers: str = Field("localhost:9092", validation_alias=_names("bootstrap.servers"))
    client_id: str = Field("robotwatch", validation_alias=_names("client.id"))
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias=_names("security.protocol")
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, validation_alias=_names("sasl.mechanism", "sasl.mechanisms")
    )
    sasl_plain_username: str | None = Field(None, validation_alias=_names("sasl.username"))
    sasl_plain_password: SecretStr | None = Field(None, validation_alias=_names("sasl.password"))
    ssl_cafile: Path | None = Field(None, validation_alias=_names("ssl.ca.location"))
    ssl_certfile: Path | None = Field(None, validation_alias=_names("ssl.certificate.location"))
    ssl_keyfile: Path | None = Field(None, validation_alias=_names("ssl.key.location"))

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value  # librdkafka ignores case here

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_plain_username
            if self.sasl_plain_password is not None:
                options["sasl_plain_password"] = self.sasl_plain_password.get_secret_value()
        if self.security_protocol in ("SSL", "SASL_SSL"):
            context = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
            if self.ssl_certfile:
                context.load_cert_chain(
                    str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None
                )
            options["ssl_context"] = context
        return options


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Path | None = Field(None, description="one MTS-Flow model file for every robot")
    models: dict[str, Path] = Field(
        default_factory=dict,
        description="robot-id globs to model files; the most specific match wins, `default` matches all",
    )
    models_dir: Path | None = Field(None, description="DIR/<robot>.rwmodel, else DIR/default.rwmodel")
    models_poll_s: float = Field(2.0, gt=0, description="how often model files are checked for a new version")
    program: Program | None = Field(
        None, description="the cell's program, for `record` (serve takes each model's own from its file)"
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    signals_topic: str = "robot.signals"
    anomalies_topic: str = "robot.anomalies"
    dead_letter_topic: str = "robot.signals.dlq"
    scores_topic: str | None = Field(None, description="optional compact scores for dashboards")
    group: str = "robotwatch"
    create_topics: bool = False
    topic_partitions: int = 6
    replication_factor: int = 1

    localize: Literal["all", "flagged", "none"] = Field(
        "flagged", description="which cycles get events: all, flagged (over the threshold) or none"
    )
    idle_close_s: float = Field(5.0, gt=0, description="a robot quiet this long: its open cycle closes")
    forget_s: float = Field(600.0, gt=0, description="a robot quiet this long is forgotten")
    max_robots: int = Field(1000, ge=1, description="robots this process keeps state for; more are refused")
    metrics_robots: int = Field(
        200, ge=0, description='robots with series of their own in /metrics; more count as robot="other"'
    )
    mute_s: float | None = Field(
        None,
        gt=0,
        description="a robot streaming this long without a cycle closing is muted (default: "
        "twice the longest a cycle may run, plus idle_close_s)",
    )
    batch_max_cycles: int = Field(32, ge=1, description="the most cycles scored together")
    verdict_budget_s: float = Field(
        1.0,
        gt=0,
        description="a batch grows only while its oldest cycle still gets its verdict within this",
    )
    max_queued: int = Field(512, ge=1, description="work and messages in hand before consumption pauses")
    commit_interval_s: float = Field(1.0, gt=0)
    commit_stall_s: float = Field(120.0, gt=0, description="a commit point still this long: not ready")
    dead_letter_limit: float = Field(
        0.5, gt=0, le=1, description="share of dead letters that makes it not ready"
    )
    dead_letter_max_bytes: int = Field(
        512 * 1024,
        ge=1024,
        description="dead letters are cut to this many bytes (the source is in the headers)",
    )
    broker_timeout_s: float = Field(10.0, gt=0, description="limit of every commit, send and flush")
    session_timeout_s: float = Field(
        10.0, gt=0, description="a crashed instance's partitions move after this long"
    )
    grace_s: float = Field(
        25.0, gt=0, description="shutdown finishes within this; a second signal exits at once"
    )
    device: str = "auto"
    scoring_threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads of one forward pass (default: every core but one, which "
        "reading and assembling the frames keeps)",
    )
    scoring_process: bool = Field(
        False,
        description="run MTS-Flow in processes of their own (one scoring, one localizing), where "
        "it never waits for serve's event loop (about 1 GB more memory); false: in threads of "
        "serve's process",
    )

    vision_model: Path | None = Field(None, description="image model: also score camera frames")
    frames_topic: str = "cell.frames"
    map_dir: Path | None = Field(None, description="save anomaly maps of anomalous camera frames here")

    http_host: str = "127.0.0.1"
    http_port: int = Field(9108, ge=0, le=65535, description="/metrics, /livez, /readyz; 0 = off")
    log_format: Literal["json", "text"] = "json"


def model_files(settings: ServeSettings) -> dict[str, Path]:
    """The registry's patterns and files as the settings give them (docs/architecture.md §9)."""
    if settings.model is None and not settings.models and settings.models_dir is None:
        raise SettingsError("no model: give model (one file for every robot), [models] or models_dir")
    files = dict(settings.models)
    if settings.model is not None:
        files.setdefault("default", settings.model)
    return files
