"""The Alertmanager channel: its v2 API, POST {url}/api/v2/alerts, one alert per verdict.

An alert's identity (its fingerprint) is the hash of its labels, and the labels come from the
verdict alone (its id, robot, cycle, kind): the same verdict posted again, after a crash or
a timeout, updates the one alert instead of making a second, and Alertmanager notifies once.
Alertmanager groups and silences by these labels; `severity` is critical from
`critical_severity` times the threshold (or a score that is not finite), else warning.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from robotwatch.alerts.http import post_json
from robotwatch.alerts.payloads import AlertDetail, AlertmanagerAlert, AlertMessage
from robotwatch.alerts.settings import AlertmanagerChannel
from robotwatch.alerts.text import worst_text

ALERT_NAMES = {
    ("robot", "anomaly"): "RobotCycleAnomalous",
    ("robot", "error"): "RobotCycleNotScored",
    ("vision", "anomaly"): "CameraFrameAnomalous",
    ("vision", "error"): "CameraFrameNotScored",
}
HELD_BACK = "RobotwatchAlertsHeldBack"


def level(detail: AlertDetail, kind: str, critical_severity: float) -> str:
    if kind == "anomaly" and (detail.non_finite or (detail.severity or 0) >= critical_severity):
        return "critical"
    return "warning"


def summary(message: AlertMessage, detail: AlertDetail) -> str:
    thing = "camera frame" if message.source == "vision" else "cycle"
    if message.kind == "error":
        return f"{message.robot}: {thing} {detail.cycle_id} could not be scored"
    ratio = math.inf if detail.non_finite else detail.severity
    return f"{message.robot}: anomalous {thing} {detail.cycle_id}, {worst_text(ratio)}"


def alerts_of(
    message: AlertMessage, channel: AlertmanagerChannel, critical_severity: float, now: datetime
) -> list[AlertmanagerAlert]:
    def ends(start: str) -> str:
        begun = datetime.fromisoformat(start) if start else now
        return (max(begun, now) + timedelta(seconds=channel.resolve_after_s)).isoformat()

    alerts = []
    for detail in message.details:
        labels = {
            **channel.labels,
            "alertname": ALERT_NAMES[(message.source, message.kind)],
            "robot": message.robot,
            "source": message.source,
            "kind": message.kind,
            "severity": level(detail, message.kind, critical_severity),
            "cycle": detail.cycle_id,
            "verdict_id": detail.verdict_id,
        }
        annotations = {"summary": summary(message, detail), "description": detail.text}
        if detail.severity is not None:
            annotations["severity_ratio"] = f"{detail.severity:.4g}"
        optional = {"action": detail.action, "picture": detail.picture, "error": detail.error}
        annotations.update({k: v for k, v in optional.items() if v})
        if detail.event_time_s is not None:
            annotations["event_time_s"] = f"{detail.event_time_s:g}"
        link = (
            detail.picture if detail.picture and detail.picture.startswith(("http://", "https://")) else None
        )
        alerts.append(
            AlertmanagerAlert(
                labels=labels,
                annotations=annotations,
                startsAt=detail.time,
                endsAt=ends(detail.time),
                generatorURL=link,
            )
        )
    if message.suppressed is not None:  # what the rate limit held back, as one alert of its own
        held = message.suppressed
        alerts.append(
            AlertmanagerAlert(
                labels={
                    **channel.labels,
                    "alertname": HELD_BACK,
                    "robot": message.robot,
                    "severity": "warning",
                    "since": held.first or "",
                },
                annotations={"summary": message.title, "description": message.text.splitlines()[-1]},
                startsAt=held.first or now.isoformat(),
                endsAt=ends(held.last or ""),
            )
        )
    return alerts


class AlertmanagerSender:
    def __init__(
        self, name: str, channel: AlertmanagerChannel, timeout_s: float, critical_severity: float
    ) -> None:
        self.name, self.channel, self.timeout_s = name, channel, timeout_s
        self.critical_severity = critical_severity
        self.url = channel.url.rstrip("/") + "/api/v2/alerts"

    async def send(self, message: AlertMessage) -> None:
        alerts = alerts_of(message, self.channel, self.critical_severity, datetime.now(UTC))
        body = "[" + ",".join(a.model_dump_json(exclude_none=True) for a in alerts) + "]"
        await post_json(self.url, body.encode(), {}, self.timeout_s)
