"""Verdicts as serve publishes them (schema_version 2), made directly for the alert tests."""

from __future__ import annotations

from robotwatch.stream.verdicts import (
    AxisShare,
    CycleFlags,
    EventOut,
    ImageLocalization,
    SignalShare,
    Verdict,
    verdict_id,
)

START = "2026-11-28T13:22:34.931500+00:00"
MODEL = "mtsflow-cce185256e16"


def event(time_s: float = 3.62, action: str | None = "TO_SCAN_PTP") -> EventOut:
    return EventOut(
        time_s=time_s,
        action=action,
        strength=41.7,
        top_signals=[
            SignalShare(signal="joint_velocity_3", share=0.21),
            SignalShare(signal="motor_torque_3", share=0.12),
        ],
        top_axes=[AxisShare(axis=3, share=0.55), AxisShare(axis=2, share=0.18)],
    )


def robot_verdict(
    robot: str = "robot-002",
    cycle: int = 9,
    score: float | None = 48211.4,
    threshold: float = 11120.1,
    *,
    anomalous: bool | None = None,
    status: str = "ok",
    error: str | None = None,
    note: str | None = None,
    start: str = START,
    events: list[EventOut] | None = None,
    flags: CycleFlags | None = None,
) -> Verdict:
    if anomalous is None:
        anomalous = status == "ok" and (score is None or score > threshold)
    return Verdict(
        verdict_id=verdict_id("robot", robot, f"{cycle * 1000}@{start}#{cycle}", MODEL),
        source="robot",
        robot_id=robot,
        cycle_id=str(cycle),
        start_seq=cycle * 1000,
        end_seq=cycle * 1000 + 1050,
        start_time=start,
        end_time=start.replace("13:22:34.931500", "13:22:45.431500"),
        n_steps=1051,
        sample_rate_hz=100.0,
        score=score,
        threshold=threshold,
        anomalous=anomalous,
        status=status,  # type: ignore[arg-type]
        error=error,
        note=note,
        events=[event()] if events is None and anomalous else events or [],
        flags=flags or CycleFlags(),
        model_id=MODEL,
        processing_latency_ms=61.2,
    )


def vision_verdict(cell: str = "cell-7", cycle: str = "41", map_path: str | None = None) -> Verdict:
    return Verdict(
        verdict_id=verdict_id("vision", f"{cell}/top", f"frame-{cycle}", "csflow-1"),
        source="vision",
        cell_id=cell,
        cycle_id=cycle,
        start_time=START,
        end_time=START,
        n_steps=1,
        sample_rate_hz=0.0,
        score=3.2,
        threshold=1.5,
        anomalous=True,
        image=ImageLocalization(
            peak_x=120,
            peak_y=88,
            peak_value=9.1,
            bbox=(100, 70, 140, 110),
            area_fraction=0.032,
            map_path=map_path,
        ),
        model_id="csflow-1",
        processing_latency_ms=12.0,
    )
