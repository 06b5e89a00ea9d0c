"""The bodies robotwatch sends, as models: its own alert message (the generic webhook body and
what a dead letter holds), Slack's and Teams' message formats, and Alertmanager's alert."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from robotwatch.alerts.settings import Kind, Source
from robotwatch.stream.verdicts import AxisShare, CycleFlags, SignalShare


class AlertDetail(BaseModel):
    """One verdict of a message."""

    verdict_id: str
    cycle_id: str
    time: str = Field(description="when it happened (ISO 8601): the strongest event, else the cycle's end")
    cycle_start: str
    severity: float | None = Field(description="score / threshold; null: no finite score or no score")
    non_finite: bool = Field(description="the score is not finite: beyond any ratio")
    score: float | None
    threshold: float
    error: str | None = Field(description="why the cycle could not be scored (kind error)")
    note: str | None
    event_time_s: float | None = Field(description="seconds into the cycle")
    action: str | None = Field(description="the program step running then")
    top_axes: list[AxisShare]
    top_signals: list[SignalShare]
    picture: str | None = Field(description="URL or path of the cycle's picture or the frame's map")
    flags: CycleFlags
    text: str = Field(description="this verdict in words")


class Suppressed(BaseModel):
    """Alerts the rate limit held back since the robot's last message on this channel."""

    count: int
    first: str | None
    last: str | None
    worst_severity: float | None
    non_finite: bool


class AlertMessage(BaseModel):
    """robotwatch's own message: the generic webhook body, and what a dead letter holds."""

    alert_schema: Literal["robotwatch.alert/1"] = Field("robotwatch.alert/1", alias="schema")
    idempotency_key: str = Field(description="the same for the same alerts on the same channel")
    channel: str
    kind: Kind
    source: Source
    robot: str = Field(description="robot id; for camera frames the cell id")
    title: str
    text: str = Field(description="the whole message in words, one line per alert")
    count: int = Field(description="alerts in this message; verdict_ids names them all")
    first_time: str | None
    last_time: str | None
    worst_severity: float | None
    non_finite: bool
    verdict_ids: list[str]
    details: list[AlertDetail] = Field(description="the alerts kept in full (the worst, up to 100)")
    suppressed: Suppressed | None = None
    model_id: str | None

    model_config = ConfigDict(populate_by_name=True)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


# -- Slack (incoming webhooks: text as the notification, blocks for the message) -------------
class SlackText(BaseModel):
    type: Literal["plain_text", "mrkdwn"]
    text: str


class SlackBlock(BaseModel):
    type: Literal["header", "section", "context"]
    text: SlackText | None = None
    elements: list[SlackText] | None = None


class SlackMessage(BaseModel):
    text: str
    blocks: list[SlackBlock]


# -- Microsoft Teams (a workflow's "post to a channel when a webhook request is received") ---
class TeamsTextBlock(BaseModel):
    type: Literal["TextBlock"] = "TextBlock"
    text: str
    wrap: bool = True
    weight: Literal["Default", "Bolder"] = "Default"
    size: Literal["Default", "Medium", "Large"] = "Default"


class AdaptiveCard(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    card_schema: str = Field("http://adaptivecards.io/schemas/adaptive-card.json", alias="$schema")
    type: Literal["AdaptiveCard"] = "AdaptiveCard"
    version: str = "1.4"
    body: list[TeamsTextBlock]


class TeamsAttachment(BaseModel):
    contentType: Literal["application/vnd.microsoft.card.adaptive"] = (
        "application/vnd.microsoft.card.adaptive"
    )
    content: AdaptiveCard


class TeamsMessage(BaseModel):
    type: Literal["message"] = "message"
    attachments: list[TeamsAttachment]


# -- Prometheus Alertmanager (POST /api/v2/alerts: a list of these) --------------------------
class AlertmanagerAlert(BaseModel):
    labels: dict[str, str] = Field(description="the alert's identity: its fingerprint is their hash")
    annotations: dict[str, str]
    startsAt: str
    endsAt: str
    generatorURL: str | None = None
