"""Grouping (one message for a burst), the per-robot rate limit, routing rules and the memory
of verdict ids: the rules of robotwatch/alerts/grouping.py, routing.py and dedup.py."""

from __future__ import annotations

from aiokafka import TopicPartition

from robotwatch.alerts.dedup import SeenIds
from robotwatch.alerts.grouping import Grouper
from robotwatch.alerts.loading import load_alert_settings
from robotwatch.alerts.routing import channels_for
from robotwatch.alerts.settings import GroupingSettings, RateLimitSettings
from tests.alerts.verdicts import robot_verdict, vision_verdict

TP = TopicPartition("robot.anomalies", 0)


def _grouper(wait_s: float = 10.0, messages: int = 6, per_s: float = 3600.0) -> Grouper:
    return Grouper(GroupingSettings(wait_s=wait_s), RateLimitSettings(messages=messages, per_s=per_s))


def _add(grouper: Grouper, robot: str, cycle: int, now: float, channel: str = "hook") -> None:
    grouper.add(channel, TP, cycle, cycle, robot_verdict(robot, cycle), robot, "anomaly", now)


def test_a_burst_waits_and_goes_as_one_group_per_robot() -> None:
    grouper = _grouper(wait_s=10)
    for i, now in enumerate((0.0, 2.0, 9.0)):
        _add(grouper, "robot-a", i, now)
    _add(grouper, "robot-b", 7, 5.0)
    assert grouper.due(9.9) == ([], [])  # robot-a's group opened at 0: not due before 10
    sending, _ = grouper.due(10.0)
    assert [(g.robot, g.count, g.offsets) for g in sending] == [("robot-a", 3, [0, 1, 2])]
    sending, _ = grouper.due(15.0)
    assert [(g.robot, g.count) for g in sending] == [("robot-b", 1)]
    assert grouper.waiting() == 0


def test_each_channel_has_its_own_group() -> None:
    grouper = _grouper(wait_s=0)
    _add(grouper, "robot-a", 1, 0.0, channel="hook")
    _add(grouper, "robot-a", 1, 0.0, channel="mail")
    sending, _ = grouper.due(0.0)
    assert sorted(g.channel for g in sending) == ["hook", "mail"]


def test_the_rate_limit_suppresses_and_the_digest_follows_when_the_window_allows() -> None:
    grouper = _grouper(wait_s=1, messages=2, per_s=100)
    sent = []
    for cycle, now in enumerate((0.0, 10.0, 20.0, 30.0)):
        _add(grouper, "robot-a", cycle, now)
        sending, suppressed = grouper.due(now + 1)
        sent += sending
        if cycle >= 2:  # two messages in 100 s were spent at 1 and 11
            assert not sending and [g.count for g in suppressed] == [1]
    assert len(sent) == 2 and grouper.digests[("hook", "robot-a")].count == 2
    assert grouper.due(100.5) == ([], [])  # the first message is 99.5 s old: still inside the window
    sending, _ = grouper.due(101.0)
    assert len(sending) == 1 and sending[0].count == 0 and sending[0].tp is None  # the digest alone
    assert sending[0].digest is not None and sending[0].digest.count == 2
    # the next one rides along with a new alert when there is one
    _add(grouper, "robot-a", 9, 200.0)
    _add(grouper, "robot-a", 10, 200.0)
    sending, _ = grouper.due(201.0)
    assert len(sending) == 1 and sending[0].digest is None and sending[0].count == 2


def test_a_shutdown_sends_every_group_and_digest_at_once() -> None:
    grouper = _grouper(wait_s=60, messages=1, per_s=3600)
    _add(grouper, "robot-a", 1, 0.0)
    grouper.due(60.0)
    _add(grouper, "robot-a", 2, 70.0)
    _, suppressed = grouper.due(130.0)
    assert len(suppressed) == 1
    _add(grouper, "robot-a", 3, 140.0)
    sending, suppressed = grouper.due(141.0, flush=True)
    assert not suppressed and len(sending) == 1
    assert sending[0].count == 1 and sending[0].digest is not None and sending[0].digest.count == 1


def test_groups_of_a_revoked_partition_are_dropped() -> None:
    grouper = _grouper()
    _add(grouper, "robot-a", 1, 0.0)
    grouper.add(
        "hook", TopicPartition("robot.anomalies", 1), 5, 5, robot_verdict("robot-b"), "robot-b", "anomaly", 0
    )
    dropped = grouper.drop({TP})
    assert [g.robot for g in dropped] == ["robot-a"]
    assert [g.robot for g in grouper.groups.values()] == ["robot-b"]


def test_routes_by_robot_glob_source_kind_and_severity() -> None:
    channels = {
        name: {"type": "alertmanager", "url": "http://am:9093"}
        for name in ("am", "press-mail", "ops", "camera")
    }
    routes = [
        {"channels": ["am"]},
        {"robots": ["press-*"], "min_severity": 3.0, "kinds": ["anomaly"], "channels": ["press-mail"]},
        {"kinds": ["error"], "channels": ["ops"]},
        {"sources": ["vision"], "channels": ["camera", "am"]},
    ]
    settings = load_alert_settings(channels=channels, routes=routes, env={})
    # 48,211 / 11,120: 4.3 times the threshold
    assert channels_for(settings, robot_verdict("press-4"), "anomaly") == ["am", "press-mail"]
    assert channels_for(settings, robot_verdict("press-4", score=22_000.0), "anomaly") == ["am"]
    assert channels_for(settings, robot_verdict("welder-1"), "anomaly") == ["am"]
    error = robot_verdict("press-4", score=None, status="error", error="boom")
    assert channels_for(settings, error, "error") == ["am", "ops"]
    assert channels_for(settings, vision_verdict(), "anomaly") == ["am", "camera"]
    without_routes = load_alert_settings(channels=channels, env={})
    assert channels_for(without_routes, robot_verdict("welder-1"), "anomaly") == list(channels)


def test_the_memory_of_ids_is_bounded_and_forgets_on_request() -> None:
    seen = SeenIds(capacity=3)
    assert [seen.add(i) for i in ("a", "b", "a", "c", "d")] == [True, True, False, True, True]
    assert "b" not in seen and "a" in seen and len(seen) == 3  # "a" was used again: "b" was the oldest
    seen.forget(["a"])
    assert seen.add("a")
