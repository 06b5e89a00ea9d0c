"""The message says in words what happened: robot, cycle, time of day, how far over the
threshold, when in the cycle, during which step, which axis and signals, and the picture."""

from __future__ import annotations

import zoneinfo

from aiokafka import TopicPartition

from robotwatch.alerts.grouping import Digest, Group
from robotwatch.alerts.loading import load_alert_settings
from robotwatch.alerts.message import build_message
from robotwatch.alerts.text import detail_line, ratio_text
from robotwatch.alerts.webhook import slack_body, teams_body
from robotwatch.stream.verdicts import CycleFlags, Verdict
from tests.alerts.verdicts import robot_verdict, vision_verdict

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
TP = TopicPartition("robot.anomalies", 0)


def _settings(**overrides: object):  # type: ignore[no-untyped-def]
    channels = {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}}
    return load_alert_settings(channels=channels, env={}, timezone="Europe/Berlin", **overrides)


def _group(verdicts: list[Verdict], kind: str = "anomaly") -> Group:
    group = Group("hook", TP, verdicts[0].robot_id or verdicts[0].cell_id or "", kind, 0.0)  # type: ignore[arg-type]
    for offset, verdict in enumerate(verdicts):
        group.add(verdict, offset, offset)
    return group


def test_an_anomalous_cycle_in_words() -> None:
    line = detail_line(robot_verdict(), BERLIN, "https://reports.example/{robot_id}/{cycle_id}.png")
    assert line == (
        "Cycle 9 at 2026-11-28 14:22:38 CET: 4.3× the threshold (48,211 against 11,120), 3.6 s into the "
        "cycle during TO_SCAN_PTP; mostly axis 3 (55%) and axis 2 (18%); signals joint_velocity_3 (21%), "
        "motor_torque_3 (12%). Picture: https://reports.example/robot-002/9.png"
    )


def test_a_score_that_is_not_finite_says_so() -> None:
    note = "the score is not finite (the flow overflowed): the strongest sign of an anomaly"
    verdict = robot_verdict(score=None, note=note, anomalous=True)
    line = detail_line(verdict, BERLIN)
    assert "the score is not finite: beyond any multiple of the threshold" in line
    assert line.endswith(f"Note: {note}.")
    message = build_message(_group([verdict]), _settings())
    assert message.title == "robot-002: anomalous cycle 9 at 14:22:38, a score that is not finite"
    assert message.non_finite and message.worst_severity is None and message.details[0].non_finite


def test_a_cycle_that_could_not_be_scored() -> None:
    why = "scoring failed: RuntimeError: CUDA out of memory"
    verdict = robot_verdict(score=None, status="error", error=why)
    assert detail_line(verdict, BERLIN) == f"Cycle 9 at 2026-11-28 14:22:45 CET could not be scored: {why}."
    assert build_message(_group([verdict], "error"), _settings()).title == (
        "robot-002: cycle 9 could not be scored at 14:22:45"
    )


def test_a_camera_frame_points_at_its_anomaly_map() -> None:
    line = detail_line(vision_verdict(map_path="/var/lib/robotwatch/maps/cell-7_top_41.png"), BERLIN)
    assert line.startswith("Camera frame of cycle 41 at 2026-11-28 14:22:34 CET: 2.1× the threshold")
    assert "the anomaly peaks at x 120, y 88 and covers 3.2% of the image" in line
    assert line.endswith("Picture: /var/lib/robotwatch/maps/cell-7_top_41.png")


def test_how_far_over_reads_as_a_ratio_on_any_scale() -> None:
    # a log-likelihood scale: a negative threshold, and a score above it
    assert "1.5× the threshold (-35,000 against -70,000)" in detail_line(
        robot_verdict(score=-35_000.0, threshold=-70_000.0), BERLIN
    )
    assert [ratio_text(r) for r in (4.26, 27.4, 1250.0, 1.9e6, 7.2e10)] == [
        "4.3×",
        "27×",
        "1,250×",
        "1.9 million×",
        "72.0 billion×",
    ]


def test_a_cycle_cut_short_or_with_lost_steps_says_so() -> None:
    flags = CycleFlags(incomplete=True, gap=True, gap_steps=12)
    line = detail_line(robot_verdict(flags=flags), BERLIN)
    assert "The cycle was cut short" in line and "12 controller step(s) were lost in it." in line


def test_a_burst_is_one_message_with_the_worst_described() -> None:
    verdicts = [
        robot_verdict(cycle=c, score=s, start=f"2026-11-28T13:{20 + c}:00+00:00")
        for c, s in ((1, 20_000.0), (2, 90_000.0), (3, 30_000.0))
    ]
    message = build_message(_group(verdicts), _settings(grouping={"max_details": 2}))
    assert message.title == "robot-002: 3 anomalous cycles 14:21:03–14:23:03, worst 8.1× the threshold"
    lines = message.text.splitlines()
    assert [line.split(" at ")[0] for line in lines[:2]] == [
        "Cycle 2",
        "Cycle 3",
    ]  # the worst two, in time order
    assert lines[2] == "And 1 more like these (every verdict id is in the message)."
    assert message.count == 3 and message.verdict_ids == [v.verdict_id for v in verdicts]
    assert len(message.details) == 3 and message.worst_severity == round(90_000 / 11_120.1, 4)


def test_what_the_rate_limit_held_back_is_told() -> None:
    digest = Digest()
    digest.add(_group([robot_verdict(cycle=c, start=f"2026-11-28T12:{10 + c}:00+00:00") for c in (1, 2)]))
    group = _group([robot_verdict(cycle=3)])
    group.digest = digest
    message = build_message(group, _settings(rate_limit={"messages": 6, "per_s": 3600}))
    assert message.text.splitlines()[-1] == (
        "Before this, the rate limit (at most 6 message(s) per 1 h for this robot here) held back 2 alert(s) "
        "from 13:11:03 to 13:12:03, worst 4.3× the threshold."
    )
    assert message.suppressed is not None and message.suppressed.count == 2


def test_slack_and_teams_bodies() -> None:
    message = build_message(_group([robot_verdict()]), _settings())
    slack = slack_body(message).model_dump(exclude_none=True)
    assert slack["text"] == message.title
    assert slack["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": message.title}}
    assert (
        slack["blocks"][1]["text"]["type"] == "mrkdwn"
        and "4.3× the threshold" in slack["blocks"][1]["text"]["text"]
    )
    teams = teams_body(message).model_dump(by_alias=True)
    card = teams["attachments"][0]
    assert teams["type"] == "message" and card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["body"][0]["text"] == message.title


def test_a_digest_alone_says_how_many_were_held_back() -> None:
    digest = Digest()
    digest.add(_group([robot_verdict(cycle=c, start=f"2026-11-28T12:{10 + c}:00+00:00") for c in (1, 2, 3)]))
    alone = Group("hook", None, "robot-002", "anomaly", 0.0, digest=digest)
    message = build_message(alone, _settings())
    assert message.title == "robot-002: 3 more alert(s) held back by the rate limit since 13:11:03"
    assert message.count == 0 and message.verdict_ids == [] and message.details == []
    assert message.suppressed is not None and message.suppressed.count == 3
