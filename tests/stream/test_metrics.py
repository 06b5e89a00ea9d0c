from __future__ import annotations

from robotwatch.stream.metrics import ServiceMetrics


def _series(metrics: ServiceMetrics) -> dict[tuple[str, str], float]:
    return {
        (s.labels["robot"], s.labels["result"]): s.value
        for m in metrics.registry.collect()
        if m.name == "robotwatch_robot_verdicts"
        for s in m.samples
        if s.name.endswith("_total")
    }


def test_robots_past_the_labelled_ones_count_as_other() -> None:
    metrics = ServiceMetrics(robots_labelled=2)
    for robot in ("r1", "r2", "r3", "r1", "r4"):
        metrics.robot_verdict(robot, "normal")
    metrics.robot_verdict("r2", "anomalous")
    assert _series(metrics) == {
        ("r1", "normal"): 2.0,
        ("r2", "normal"): 1.0,
        ("r2", "anomalous"): 1.0,
        ("other", "normal"): 2.0,
    }
