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
        start_time="2026-11-28T10:00:00+00:00",
        end_time="2026-11-28T10:00:11+00:00",
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
    assert "robot-001" in text and "robot-002" in text and "anomaly 9×" in text
    assert "during TO_SCAN_PTP 3.25 s into the cycle, axis 3, motor_torque_3" in " ".join(text.split())
    assert "p50 41 ms" in text and "consumer lag 0" in text
    assert "9×" in text and "0.7×" in text  # severity, not bare scores
    assert "2026-11-28 11:00:11" in text or "2026-11-28 10:00:11" in text or ":00:11" in text


def test_long_robot_ids_are_never_cut_at_80_columns() -> None:
    robot = "plant-3-hall-b-cell-17-palletizer-left-r2"
    view = LiveView()
    view.add([_verdict(robot, 1, 9000.0, True), _verdict("r2", 4, 10.0, False)])
    console = Console(record=True, width=80)
    console.print(view.render({"consumer_lag": 0, "ready": "yes"}))
    text = console.export_text()
    assert text.count(robot) == 2  # in the robots table and in the alerts
    assert "…" not in text


def test_a_replay_clock_reads_as_time_since_the_start_and_a_real_one_as_time_of_day() -> None:
    from robotwatch.stream.dashboard import clock_text

    assert clock_text("1970-01-01T00:01:23.500000+00:00") == "+0:01:23"
    assert clock_text("2026-11-28T10:00:11+00:00").endswith(":00:11")


def test_log_lines_print_above_the_live_view_not_through_it() -> None:
    import io
    import logging

    from rich.live import Live

    from robotwatch.stream.logs import setup_logging

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    view = LiveView(title="cell 7")
    try:
        setup_logging("rich", console=console)
        with Live(view.render(), console=console, auto_refresh=False) as live:
            view.add([_verdict("robot-001", 1, 9000.0, True)])
            logging.getLogger("robotwatch.serve").warning("broker went away; retrying")
            live.update(view.render(), refresh=True)
    finally:
        root.handlers[:], root.level = saved
    lines = out.getvalue().splitlines()
    logged = [line for line in lines if "broker went away; retrying" in line]
    assert logged and all("│" not in line for line in logged)  # a line of its own, outside the panel
    assert any("robot-001" in line and "│" in line for line in lines)  # the view is still drawn
