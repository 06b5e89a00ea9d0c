"""The whole path against a real Kafka-protocol broker (tansu): verdicts on the anomalies topic
reach a webhook, Alertmanager and an SMTP server once each; a burst is one message; a
channel that keeps failing ends in the dead-letter topic; nothing waiting is lost at a clean
stop; and a verdict published again is not sent again, also after `robotwatch alerts` was
killed and started again."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from robotwatch.alerts.channels import build_senders
from robotwatch.alerts.loading import load_alert_settings
from robotwatch.alerts.service import AlertService
from robotwatch.alerts.settings import AlertSettings
from robotwatch.bench.broker import create_topics
from robotwatch.stream.verdicts import Verdict
from tests.alerts.servers import Alertmanager, Smtp, Webhook
from tests.alerts.verdicts import robot_verdict, vision_verdict
from tests.stream.broker import Broker, produce, unique

pytestmark = pytest.mark.kafka
NOT_FINITE = "the score is not finite (the flow overflowed): the strongest sign of an anomaly"


async def _topics(broker: Broker, partitions: int = 2) -> tuple[str, str]:
    anomalies, dlq = unique("anomalies"), unique("alerts-dlq")
    await create_topics(broker.bootstrap, [anomalies], partitions)
    await create_topics(broker.bootstrap, [dlq], 1)
    return anomalies, dlq


def _messages(verdicts: list[Verdict]) -> list[tuple[bytes, bytes]]:
    return [(v.key, v.to_bytes()) for v in verdicts]


async def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        await consumer.stop()


async def _records(bootstrap: str, topic: str, partitions: int, expect: int, limit_s: float = 30) -> list:
    """`expect` records of `topic` from its start, read without a group (no join to wait for)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + limit_s
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            records += [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    assert len(records) == expect, f"{len(records)} records in {topic}, not {expect}"
    return records


async def _ends(bootstrap: str, topic: str, expect: int) -> dict[int, int]:
    """The offset after each partition's last record (tansu's ListOffsets latest is wrong)."""
    ends: dict[int, int] = {}
    for record in await _records(bootstrap, topic, 2, expect):
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    return ends


async def _until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        await asyncio.sleep(0.05)


async def _until_committed(
    broker: Broker, group: str, topic: str, ends: dict[int, int], timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        committed = await _committed(broker.bootstrap, group, topic, 2)
        if all(committed.get(p) == end for p, end in ends.items()):
            return
        assert time.monotonic() < deadline, f"committed {committed}, not {ends}"
        await asyncio.sleep(0.2)


def _settings(broker: Broker, anomalies: str, dlq: str, channels: dict, **overrides: object) -> AlertSettings:
    given: dict[str, object] = {
        "kafka": {"bootstrap_servers": broker.bootstrap},
        "anomalies_topic": anomalies,
        "dead_letter_topic": dlq,
        "group": unique("alerts"),
        "start": "earliest",
        "timezone": "UTC",
        "session_timeout_s": 6.0,
        "grouping": {"wait_s": 0.5},
        **overrides,
    }
    return load_alert_settings(channels=channels, env={}, **given)


@asynccontextmanager
async def _running(settings: AlertSettings) -> AsyncIterator[AlertService]:
    service = AlertService(settings, build_senders(settings))
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, settings.grace_s + 10)
    assert service.exit_code == 0 and service.fatal is None


async def test_every_channel_gets_each_alert_once(
    broker: Broker, webhook: Webhook, alertmanager: Alertmanager, smtp: Smtp
) -> None:
    anomalies, dlq = await _topics(broker)
    burst = [robot_verdict("robot-a", c, score=20_000.0 + 10_000 * c) for c in (1, 2, 3)]
    alone = [
        robot_verdict("robot-b", 4, score=None, note=NOT_FINITE, anomalous=True),
        robot_verdict("robot-c", 5, score=None, status="error", error="scoring failed: RuntimeError: boom"),
        vision_verdict("cell-7", "41", map_path="/var/lib/robotwatch/maps/cell-7_top_41.png"),
    ]
    normal = [robot_verdict("robot-a", c, score=9_000.0) for c in (6, 7)]
    bad = [(b"robot-a", b"{not json"), (b"robot-b", json.dumps({"schema_version": 1, "score": 3}).encode())]
    await produce(
        broker.bootstrap, anomalies, _messages([*burst, *normal, *alone]) + bad + _messages(burst[:1])
    )
    ends = await _ends(broker.bootstrap, anomalies, expect=11)
    channels = {
        "hook": {"type": "webhook", "url": webhook.url},
        "am": {"type": "alertmanager", "url": alertmanager.url},
        "mail": smtp.channel(),
    }
    settings = _settings(broker, anomalies, dlq, channels)
    async with _running(settings) as service:
        await _until(
            lambda: len(webhook.requests) >= 4 and len(smtp.mails.received) >= 4, 30, "4 messages each"
        )
        await _until(lambda: len(alertmanager.alerts()) >= 6, 10, "6 alerts in Alertmanager")
        await _until_committed(broker, settings.group, anomalies, ends, 20)
    alerting = {v.verdict_id for v in [*burst, *alone]}
    bodies = sorted(webhook.bodies(), key=lambda b: b["robot"])
    assert [(b["robot"], b["kind"], b["count"]) for b in bodies] == [
        ("cell-7", "anomaly", 1),
        ("robot-a", "anomaly", 3),  # the burst: one message
        ("robot-b", "anomaly", 1),
        ("robot-c", "error", 1),
    ]
    sent_ids = [i for b in bodies for i in b["verdict_ids"]]
    assert sorted(sent_ids) == sorted(alerting)  # the repeat of cycle 1 and the normal cycles: not sent
    assert bodies[1]["title"] == "robot-a: 3 anomalous cycles at 13:22:38, worst 4.5× the threshold"
    assert "the score is not finite" in bodies[2]["text"] and bodies[2]["non_finite"]
    assert "could not be scored: scoring failed: RuntimeError: boom" in bodies[3]["text"]
    assert bodies[0]["details"][0]["picture"] == "/var/lib/robotwatch/maps/cell-7_top_41.png"
    held = alertmanager.alerts()
    assert sorted(a["labels"]["verdict_id"] for a in held) == sorted(alerting)
    assert {a["labels"]["alertname"] for a in held} == {
        "RobotCycleAnomalous",
        "RobotCycleNotScored",
        "CameraFrameAnomalous",
    }
    subjects = sorted(str(m["Subject"]) for m in smtp.mails.received)
    assert [s.split(":")[0] for s in subjects] == ["cell-7", "robot-a", "robot-b", "robot-c"]
    assert (service.counts.bad, service.counts.repeats, service.counts.alerts) == (2, 1, 6)
    assert service.counts.dead_letters == 0


async def test_a_channel_that_keeps_failing_ends_in_the_dead_letter_topic(
    broker: Broker, webhook: Webhook
) -> None:
    anomalies, dlq = await _topics(broker)
    webhook.status = 503
    refusing = Webhook(status=400)
    try:
        verdicts = [robot_verdict("robot-a", 1), robot_verdict("robot-b", 2)]
        await produce(broker.bootstrap, anomalies, _messages(verdicts))
        ends = await _ends(broker.bootstrap, anomalies, expect=2)
        channels = {
            "failing": {"type": "webhook", "url": webhook.url},
            "refusing": {"type": "webhook", "url": refusing.url},
        }
        delivery = {"attempts": 3, "backoff_s": 0.05, "timeout_s": 2.0}
        settings = _settings(broker, anomalies, dlq, channels, delivery=delivery)
        async with _running(settings):
            letters = await _records(broker.bootstrap, dlq, 1, expect=4)
            await _until_committed(broker, settings.group, anomalies, ends, 20)
        assert len(webhook.requests) == 6 and len(refusing.requests) == 2  # 3 tries each; a refusal once
    finally:
        refusing.stop()
    found = {}
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers}
        body = json.loads(letter.value)
        found[(headers["channel"], body["robot"])] = (headers, body)
    assert sorted(found) == [
        ("failing", "robot-a"),
        ("failing", "robot-b"),
        ("refusing", "robot-a"),
        ("refusing", "robot-b"),
    ]
    headers, body = found[("failing", "robot-a")]
    assert (
        headers["reason_kind"] == "failed" and headers["attempts"] == "3" and "HTTP 503" in headers["reason"]
    )
    assert headers["source_topic"] == anomalies and headers["source_offsets"] == "0"
    assert body["verdict_ids"] == [verdicts[0].verdict_id] and body["title"].startswith(
        "robot-a: anomalous cycle 1"
    )
    headers, _ = found[("refusing", "robot-b")]
    assert (
        headers["reason_kind"] == "refused" and headers["attempts"] == "1" and "HTTP 400" in headers["reason"]
    )


async def test_a_clean_stop_sends_what_waits_and_commits(broker: Broker, webhook: Webhook) -> None:
    anomalies, dlq = await _topics(broker)
    verdicts = [robot_verdict("robot-a", c) for c in (1, 2)]
    await produce(broker.bootstrap, anomalies, _messages(verdicts))
    ends = await _ends(broker.bootstrap, anomalies, expect=2)
    settings = _settings(
        broker, anomalies, dlq, {"hook": {"type": "webhook", "url": webhook.url}}, grouping={"wait_s": 600}
    )
    async with _running(settings) as service:
        await _until(lambda: service.grouper.waiting() == 2, 20, "both alerts waiting in their group")
        assert webhook.requests == []
    assert [b["count"] for b in webhook.bodies()] == [2]
    await _until_committed(broker, settings.group, anomalies, ends, 5)


async def test_a_second_instance_shares_the_partitions_and_nothing_is_sent_twice(
    broker: Broker, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    """The second member's arrival revokes the first one's partitions while alerts wait in
    its groups: they are read again by whichever member gets the partition, and sent once."""
    anomalies, dlq = await _topics(broker)
    early = [robot_verdict(f"robot-{i}", i) for i in range(6)]
    late = [robot_verdict(f"robot-{i}", i) for i in range(6, 12)]
    settings = _settings(
        broker, anomalies, dlq, {"hook": {"type": "webhook", "url": webhook.url}}, grouping={"wait_s": 5}
    )
    caplog.set_level(logging.INFO, "robotwatch.alerts")
    async with _running(settings) as first:
        await produce(broker.bootstrap, anomalies, _messages(early))
        await _until(lambda: first.grouper.waiting() == 6, 20, "the first six alerts waiting")
        async with _running(settings) as second:
            await produce(broker.bootstrap, anomalies, _messages(late))
            ends = await _ends(broker.bootstrap, anomalies, expect=12)
            await _until(lambda: len(webhook.requests) >= 12, 40, "twelve messages")
            await _until_committed(broker, settings.group, anomalies, ends, 20)
    sent = [i for b in webhook.bodies() for i in b["verdict_ids"]]
    assert sorted(sent) == sorted(v.verdict_id for v in [*early, *late])
    assert first.counts.sent > 0 and second.counts.sent > 0  # each member had a partition
    assert "alert(s) waiting are left to the partitions' next owner" in caplog.text


class AlertsProcess:
    """`robotwatch alerts` as users run it, stopped by its pid."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "robotwatch"), "alerts", "--config", str(config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, sig: int) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        code = self.proc.wait(60)
        self.log.close()
        return code


async def test_a_killed_process_loses_nothing_and_sends_no_repeat(
    broker: Broker, webhook: Webhook, tmp_path: Path
) -> None:
    """`robotwatch alerts` killed (no chance to clean up) while its webhook fails: nothing was
    committed past the undelivered alerts, and the next process delivers them. Killed again
    after that commit; serve then publishes the same verdicts again, as it does after its own
    restart: the third process knows them by their ids and sends only the new one."""
    anomalies, dlq = await _topics(broker)
    group = unique("alerts")
    config = tmp_path / "alerts.toml"
    config.write_text(
        f'anomalies_topic = "{anomalies}"\ndead_letter_topic = "{dlq}"\ngroup = "{group}"\n'
        'start = "earliest"\nlog_format = "text"\nsession_timeout_s = 2\n'
        f'[kafka]\nbootstrap_servers = "{broker.bootstrap}"\n[grouping]\nwait_s = 0.2\n'
        "[delivery]\nattempts = 1000\nbackoff_s = 0.05\nmax_backoff_s = 0.2\n"
        f'[channels.hook]\ntype = "webhook"\nurl = "{webhook.url}"\n'
    )
    log = tmp_path / "alerts.log"
    first, second = [robot_verdict("robot-a", 1), robot_verdict("robot-b", 2)], robot_verdict("robot-c", 3)
    started: list[AlertsProcess] = []
    try:
        webhook.status = 503
        await produce(broker.bootstrap, anomalies, _messages(first))
        started.append(AlertsProcess(config, log))
        await _until(lambda: len(webhook.requests) >= 6, 40, "both alerts tried and failing")
        assert set((await _committed(broker.bootstrap, group, anomalies, 2)).values()) <= {0, None}
        assert started[-1].stop(signal.SIGKILL) == -signal.SIGKILL
        webhook.status = 200
        started.append(AlertsProcess(config, log))
        await _until(lambda: len(webhook.bodies()) == 2, 40, "the two alerts, delivered after the restart")
        await _until_committed(broker, group, anomalies, await _ends(broker.bootstrap, anomalies, 2), 20)
        assert started[-1].stop(signal.SIGKILL) == -signal.SIGKILL
        await produce(broker.bootstrap, anomalies, _messages([*first, second]))
        ends = await _ends(broker.bootstrap, anomalies, expect=5)
        started.append(AlertsProcess(config, log))
        await _until(lambda: len(webhook.bodies()) >= 3, 40, "the new alert after the second restart")
        await _until_committed(broker, group, anomalies, ends, 30)  # the repeats were read too
        assert started[-1].stop(signal.SIGTERM) == 0
    finally:
        for process in started:
            process.stop(signal.SIGKILL)
    sent = [i for b in webhook.bodies() for i in b["verdict_ids"]]
    assert sorted(sent) == sorted(v.verdict_id for v in [*first, second]), log.read_text()
    assert log.read_text().count("seen before: not sent again") == 2
