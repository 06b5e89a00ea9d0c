"""Each channel against a real server the test starts: an HTTP server for webhooks, Prometheus
Alertmanager (the Debian package) and an SMTP server with STARTTLS and login (aiosmtpd)."""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage

from aiokafka import TopicPartition

from robotwatch.alerts.channels import build_senders
from robotwatch.alerts.delivery import Sender, deliver
from robotwatch.alerts.grouping import Digest, Group
from robotwatch.alerts.loading import load_alert_settings
from robotwatch.alerts.message import build_message
from robotwatch.alerts.payloads import AlertMessage
from robotwatch.alerts.settings import AlertSettings
from robotwatch.bench.broker import free_port
from robotwatch.stream.verdicts import Verdict
from tests.alerts.servers import Alertmanager, Smtp, Webhook
from tests.alerts.verdicts import robot_verdict

TP = TopicPartition("robot.anomalies", 0)
FAST = {"attempts": 3, "backoff_s": 0.05, "timeout_s": 2.0}


def _settings(channel: dict[str, object], **overrides: object) -> AlertSettings:
    given: dict[str, object] = {"timezone": "UTC", "delivery": FAST, **overrides}
    return load_alert_settings(channels={"out": channel}, env={}, **given)


def _group(verdicts: list[Verdict]) -> Group:
    group = Group("out", TP, verdicts[0].robot_id or "", "anomaly", 0.0)
    for offset, verdict in enumerate(verdicts):
        group.add(verdict, offset, offset)
    return group


def _message(settings: AlertSettings, verdicts: list[Verdict]) -> AlertMessage:
    return build_message(_group(verdicts), settings)


def _sender(settings: AlertSettings) -> Sender:
    return build_senders(settings)["out"]


async def test_webhook_json_carries_the_message_and_its_idempotency_key(webhook: Webhook) -> None:
    settings = _settings({"type": "webhook", "url": webhook.url, "headers": {"Authorization": "Bearer t"}})
    message = _message(settings, [robot_verdict(cycle=1), robot_verdict(cycle=2)])
    outcome = await deliver(_sender(settings), message, settings.delivery)
    assert outcome.delivered and outcome.attempts == 1
    (request,) = webhook.requests
    assert request.path == "/hook" and request.headers["Authorization"] == "Bearer t"
    assert request.headers["Idempotency-Key"] == message.idempotency_key == request.body["idempotency_key"]
    body = request.body
    assert body["schema"] == "robotwatch.alert/1" and body["robot"] == "robot-002" and body["count"] == 2
    assert body["verdict_ids"] == message.verdict_ids
    assert body["details"][0]["action"] == "TO_SCAN_PTP" and body["details"][0]["top_axes"][0]["axis"] == 3
    assert "4.3× the threshold" in body["text"]


async def test_slack_and_teams_receive_their_own_formats(webhook: Webhook) -> None:
    for fmt in ("slack", "teams"):
        settings = _settings({"type": "webhook", "url": webhook.url, "format": fmt})
        assert (
            await deliver(_sender(settings), _message(settings, [robot_verdict()]), settings.delivery)
        ).delivered
    slack, teams = webhook.bodies()
    assert slack["text"].startswith("robot-002: anomalous cycle 9") and slack["blocks"][0]["type"] == "header"
    assert teams["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert teams["attachments"][0]["content"]["body"][0]["text"] == slack["text"]


async def test_a_failing_webhook_is_tried_again_with_the_same_key(webhook: Webhook) -> None:
    settings = _settings({"type": "webhook", "url": webhook.url})
    message = _message(settings, [robot_verdict()])
    webhook.status = 503
    outcome = await deliver(_sender(settings), message, settings.delivery)
    assert not outcome.delivered and not outcome.refused and outcome.attempts == 3
    assert outcome.reason is not None and "HTTP 503" in outcome.reason
    assert len(webhook.requests) == 3
    assert {r.headers["Idempotency-Key"] for r in webhook.requests} == {message.idempotency_key}
    webhook.status = 400  # a refusal: asking again will not help
    outcome = await deliver(_sender(settings), message, settings.delivery)
    assert outcome.refused and outcome.attempts == 1 and len(webhook.requests) == 4


async def test_nothing_listening_fails_within_the_time_limit() -> None:
    settings = _settings({"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/hook"})
    started = time.monotonic()
    outcome = await deliver(_sender(settings), _message(settings, [robot_verdict()]), settings.delivery)
    assert (
        not outcome.delivered and outcome.attempts == 3 and "ConnectionRefusedError" in (outcome.reason or "")
    )
    assert time.monotonic() - started < 5


async def test_alertmanager_holds_one_alert_per_verdict_however_often_it_is_sent(
    alertmanager: Alertmanager,
) -> None:
    settings = _settings({"type": "alertmanager", "url": alertmanager.url, "labels": {"plant": "north"}})
    verdicts = [
        robot_verdict(cycle=1, score=15_000.0),
        robot_verdict(cycle=2),
        robot_verdict(cycle=3, score=None),
    ]
    message = _message(settings, verdicts)
    for _ in range(2):  # the second time: as after a crash between delivery and commit
        assert (await deliver(_sender(settings), message, settings.delivery)).delivered
    alerts = sorted(alertmanager.alerts(), key=lambda a: a["labels"]["cycle"])
    assert len(alerts) == 3 and len({a["fingerprint"] for a in alerts}) == 3
    assert [a["labels"]["verdict_id"] for a in alerts] == [v.verdict_id for v in verdicts]
    assert [a["labels"]["severity"] for a in alerts] == [
        "warning",
        "critical",
        "critical",
    ]  # 1.3×, 4.3×, not finite
    first = alerts[0]
    assert first["labels"]["alertname"] == "RobotCycleAnomalous" and first["labels"]["plant"] == "north"
    assert first["labels"]["robot"] == "robot-002" and first["status"]["state"] == "active"
    assert first["annotations"]["summary"] == "robot-002: anomalous cycle 1, 1.3× the threshold"
    assert first["annotations"]["action"] == "TO_SCAN_PTP"
    assert first["startsAt"].startswith("2026-11-28T13:22:38.551")  # the event: cycle start + 3.62 s


async def test_alertmanager_hears_what_the_rate_limit_held_back(alertmanager: Alertmanager) -> None:
    settings = _settings({"type": "alertmanager", "url": alertmanager.url})
    digest = Digest()
    digest.add(_group([robot_verdict(cycle=c) for c in (1, 2)]))
    message = build_message(Group("out", None, "robot-002", "anomaly", 0.0, digest=digest), settings)
    assert (await deliver(_sender(settings), message, settings.delivery)).delivered
    (alert,) = alertmanager.alerts()
    assert (
        alert["labels"]["alertname"] == "RobotwatchAlertsHeldBack" and alert["labels"]["robot"] == "robot-002"
    )
    assert "held back 2 alert(s)" in alert["annotations"]["description"]


async def test_alertmanager_that_is_not_there_is_a_failure_not_a_refusal() -> None:
    settings = _settings({"type": "alertmanager", "url": f"http://127.0.0.1:{free_port()}"})
    outcome = await deliver(_sender(settings), _message(settings, [robot_verdict()]), settings.delivery)
    assert not outcome.delivered and not outcome.refused


async def test_mail_over_starttls_with_login(smtp: Smtp) -> None:
    settings = _settings(smtp.channel())
    message = _message(settings, [robot_verdict()])
    outcome = await deliver(_sender(settings), message, settings.delivery)
    assert outcome.delivered, outcome.reason
    (mail,) = smtp.mails.received
    assert smtp.mails.envelopes == [("robotwatch@cell-7.example", ["maintenance@plant.example"], True)]
    assert mail["Subject"] == message.title
    assert mail["Message-ID"] == f"<{message.idempotency_key}@robotwatch>"
    assert isinstance(mail, EmailMessage) and mail.get_content_type() == "text/plain"
    body = mail.get_content()
    assert "Cycle 9 at 2026-11-28 13:22:38 UTC: 4.3× the threshold" in body
    assert message.verdict_ids[0] in body


async def test_mail_refusals_are_final(smtp: Smtp) -> None:
    cases = {
        "a wrong password": (smtp.channel(password="wrong"), "535"),
        "no TLS against a server that requires it": (
            smtp.channel(username=None, password=None, security="none"),
            "530",
        ),
        "a certificate nobody vouched for": (smtp.channel(ca_file=None), "certificate not trusted"),
    }
    for what, (channel, said) in cases.items():
        settings = _settings(channel)
        outcome = await deliver(_sender(settings), _message(settings, [robot_verdict()]), settings.delivery)
        assert outcome.refused and outcome.attempts == 1, what
        assert said in (outcome.reason or ""), (what, outcome.reason)
    assert smtp.mails.received == []


async def test_a_send_that_hangs_is_cut_off() -> None:
    """A server that accepts the connection and never answers: the try ends at the time limit."""
    hung = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = hung.sockets[0].getsockname()[1]
    try:
        settings = _settings(
            {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook"},
            delivery={"attempts": 1, "timeout_s": 0.5, "backoff_s": 0.05},
        )
        started = time.monotonic()
        outcome = await deliver(_sender(settings), _message(settings, [robot_verdict()]), settings.delivery)
        assert not outcome.delivered and time.monotonic() - started < 2
    finally:
        hung.close()
