"""The live view shows robots, their last scores, the latest alerts with their events, and latency."""

from __future__ import annotations

from rich.console import Console

from robotwatch.stream.dashboard import LiveView
from robotwatch.stream.verdicts import AxisShare, EventOut, SignalShare, Verdict


def _verdict(robot: str, cycle: int, score: float, anomalous: bool) -> Verdict:
    events = (
        [
            EventOut(
                time_s=3.25,
                action="TO_SCAN_PTP",
                strength=12.0,
                top_signals=[SignalShare(signal="motor_torque_3", share=0.4)],
                top_axes=[AxisShare(axis=3, share=0.6)],
            )
        ]
        if anomalous
        else []
    )
    return Verdict(
        verdict_id=f"{robot}-{cycle}",
        source="robot",
        robot_id=robot,
        cycle_id=str(cycle),
        start_time="2026-11-28T10:00:00",
        end_time="2026-11-28T10:00:11",
        n_steps=5500,
        sample_rate_hz=100.0,
        score=score,
        threshold=1000.0,
        anomalous=anomalous,
        events=events,
        model_id="mtsflow-test",
        processing_latency_ms=40.0 + cycle,
    )


def test_live_view_shows_robots_alerts_and_latency() -> None:
    view = LiveView(title="cell 7")
    view.add(
        [
            _verdict("robot-001", 1, 500.0, False),
            _verdict("robot-002", 1, 9000.0, True),
            _verdict("robot-001", 2, 700.0, False),
        ]
    )
    console = Console(record=True, width=160)
    console.print(view.render({"consumer_lag": 0}))
    text = console.export_text()
    assert "cell 7" in text and "3 verdicts, 1 alerts, 2 robots" in text
    assert "robot-001" in text and "robot-002" in text and "ANOMALY" in text
    assert "3.25 s" in text and "TO_SCAN_PTP" in text and "motor_torque_3" in text
    assert "p50 41 ms" in text and "consumer lag 0" in text
