"""The report's logic a plant user relies on: which cycles alarmed and in what order, the
realized rates at the threshold, how a score compares with normal cycles, which examples are
shown, and an axis on which normal cycles and the threshold are readable."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from replay.schema import Category, Variant
from robotwatch.evaluation.alarms import (
    alarm_rates,
    alarmed,
    alarmed_rows,
    normal_percentile,
    time_text,
    verdict_text,
)
from robotwatch.evaluation.cycle_figure import step_numbers
from robotwatch.evaluation.report import example_picks
from robotwatch.evaluation.report_html import alarms_html
from robotwatch.evaluation.scales import compress, expand, linear_width, ticks

NORMAL, TRAIN, TEST = int(Category.NORMAL_OPERATION), int(Variant.PRE_A), int(Variant.BETWEEN_A)


def table(rows: list[tuple[int, int, int, float]], **extra: list[object]) -> pd.DataFrame:
    """(sample, category, setting, score) rows as a results table."""
    sample, category, setting, score = (list(c) for c in zip(*rows, strict=True))
    frame = pd.DataFrame(
        {
            "sample": sample,
            "category": category,
            "setting": setting,
            "anomaly": [c != NORMAL for c in category],
            "score": score,
        }
    )
    return frame.assign(**extra)


def test_a_cycle_alarms_over_the_threshold_or_without_a_finite_score() -> None:
    flags = alarmed(np.array([1.0, 2.0, 2.0001, np.inf, np.nan, -np.inf]), 2.0)
    assert flags.tolist() == [False, False, True, True, True, True]


def test_rates_count_normal_test_cycles_and_each_category() -> None:
    rows = [(i, NORMAL, TEST, 5.0 if i < 3 else 0.0) for i in range(412)]
    rows += [(1000, NORMAL, TRAIN, 9.0)]  # a training cycle says nothing about new cycles
    rows += [(1001, -1, -1, 9.0)]  # nor does a cycle without a known label
    rows += [(2000 + i, int(Category.COLLISION_FOAM), 3, 9.0) for i in range(4)]
    rows += [(3000 + i, int(Category.MISS_CAN), 46, 9.0 if i == 0 else 0.5) for i in range(5)]
    rates = alarm_rates(table(rows), threshold=1.0)
    assert [r.text() for r in rates] == [
        "3 of 412 normal test cycles alarmed (0.7 %)",
        "5 of 9 anomalous test cycles alarmed (55.6 %)",
        "4 of 4 COLLISION_FOAM cycles alarmed (100.0 %)",
        "1 of 5 MISS_CAN cycles alarmed (20.0 %)",
    ]
    assert [r.kind for r in rates[:2]] == ["false-alarm rate", "detection rate"]


def test_alarmed_rows_strongest_first_with_label_event_robot_and_time() -> None:
    results = table(
        [
            (7, NORMAL, TEST, 3.0),
            (8, int(Category.AXIS_FRICTION), 0, 0.5),
            (9, int(Category.LOSE_CAN), 51, np.inf),
            (10, int(Category.ENTANGLED), 60, 12.0),
            (11, int(Category.CAN_WEIGHT), 57, np.nan),
        ],
        robot=["robot-002", "robot-001", "robot-001", None, "robot-003"],
        start_time=["1970-01-01T00:04:01+00:00", "", "1970-01-01T01:00:00+00:00", None, ""],
        event_time_s=[4.98, math.nan, 1.5, 2.0, math.nan],
        event_action=["OVER_OBJECT_PTP", None, "UP_PICK_LIN", "VOID_2", None],
        event_axis=[2, None, 6, 1, None],
        event_signal=["target_position_6", None, "motor_iq_6", "joint_velocity_1", None],
    )
    rows = alarmed_rows(results, threshold=2.0, source="cell.parquet", normal_scores=[1.0, 2.0, 4.0])
    # +inf and no score at all first (both alarm as strongly as anything can), then by score
    assert [r.sample for r in rows] == [9, 11, 10, 7]
    first = rows[0]
    assert (first.robot, first.time, first.truth, first.step, first.axis, first.signal) == (
        "robot-001",
        "+1:00:00",
        "LOSE_CAN",
        "UP_PICK_LIN",
        6,
        "motor_iq_6",
    )
    assert math.isinf(first.severity) and first.percentile == 100.0
    entangled, false_alarm = rows[2], rows[3]
    # no robot in the row: the source names it; no time: the cycle's position among the scored
    assert (entangled.robot, entangled.time, entangled.severity) == ("cell.parquet", "#4 of 5", 6.0)
    assert false_alarm.truth == "normal (false alarm)" and false_alarm.time == "+0:04:01"
    assert false_alarm.percentile == pytest.approx(200 / 3)
    assert rows[1].step == "–" and rows[1].axis is None and math.isnan(rows[1].event_time_s)


def test_the_alarmed_table_is_capped_and_says_how_many_more() -> None:
    results = table([(i, NORMAL, TEST, float(i)) for i in range(10)])
    rows = alarmed_rows(results, threshold=4.5)
    page = alarms_html(rows, n_normal=0, cap=2)
    assert page.count("<tr data-robot") + page.count('<tr class="false-alarm"') == 2
    assert "… and 3 more alarmed cycles not listed." in page
    assert "No cycle was over the threshold." in alarms_html([], n_normal=0, cap=2)


@pytest.mark.parametrize(
    ("score", "threshold", "anomalous", "shown"),
    [
        (48211.4, 11120.1, True, "ALARMED (4.34× the threshold)"),
        (6.0, 10.0, True, "MISSED (0.6× the threshold)"),
        (8.0, 10.0, False, "not alarmed (0.8× the threshold)"),
        (25.0, 10.0, False, "ALARMED (2.5× the threshold), a false alarm"),
        (-35270.0, -70540.0, True, "ALARMED (1.5× the threshold)"),
        (math.inf, 3.0, True, "ALARMED (∞× the threshold)"),
    ],
)
def test_verdict_text(score: float, threshold: float, anomalous: bool, shown: str) -> None:
    assert verdict_text(score, threshold, anomalous) == shown


def test_percentile_among_normal_cycles() -> None:
    normal = [4.0, 1.0, 3.0, 2.0]
    assert [normal_percentile(s, normal) for s in (0.5, 2.5, 4.0, 9.0, math.inf)] == [0, 50, 75, 100, 100]
    assert math.isnan(normal_percentile(math.nan, normal)) and math.isnan(normal_percentile(1.0, []))


def test_time_text() -> None:
    assert time_text("1970-01-01T02:03:04.500000+00:00") == "+2:03:04"  # a replay's own clock
    shown = time_text("2026-03-02T08:15:00+00:00")
    assert shown.startswith("2026-03-0") and shown.count(":") == 2  # local date and time of day
    assert time_text("") == time_text(None) == time_text(math.nan) == "–"


def test_the_axis_is_linear_near_the_centre_and_one_unit_per_decade_beyond() -> None:
    values = np.array([-1e6, -10.0, -1.0, 0.0, 0.5, 1.0, 10.0, 1e6, np.inf, -np.inf, np.nan])
    x = compress(values + 3.0, center=3.0, width=1.0)
    assert x[:8].tolist() == pytest.approx([-7, -2, -1, 0, 0.5, 1, 2, 7])
    assert x[8] == np.inf and x[9] == -np.inf and np.isnan(x[10])
    finite = np.linspace(-1e9, 1e9, 20001)
    back = expand(compress(finite, -7e4, 3e3), -7e4, 3e3)
    assert np.allclose(back, finite, rtol=1e-9, atol=1e-6)
    assert np.all(np.diff(compress(finite, -7e4, 3e3)) > 0)  # monotone: the order of scores is kept
    with pytest.raises(ValueError, match="positive"):
        compress(values, 0.0, 0.0)


def test_normal_cycles_and_the_threshold_are_readable_next_to_scores_of_1e10() -> None:
    """Severity of log-likelihood scores with a threshold of -7.054e4 and anomalies to 1.9e10:
    on a linear axis the normal cycles would share one bar with the threshold."""
    rng = np.random.default_rng(3)
    threshold = -7.054e4
    normal = 1 + (rng.normal(-7.6e4, 2.5e3, 400) - threshold) / abs(threshold)
    anomalous = 1 + (np.array([-7.0e4, 1e6, 1.9e10]) - threshold) / abs(threshold)
    width = linear_width(normal, 1.0)
    x_normal = compress(normal, 1.0, width)
    x_all = compress(np.concatenate([normal, anomalous]), 1.0, width)
    span = x_all.max() - x_all.min()
    assert np.percentile(x_normal, 99) - np.percentile(x_normal, 1) > 0.1 * span
    assert np.mean(np.abs(x_normal) <= 1) >= 0.98  # the normal cycles are drawn undistorted
    linear_span = (normal.max() - normal.min()) / (anomalous.max() - normal.min())
    assert linear_span < 1e-5  # what a linear axis would have left them
    labels = ticks(float(normal.min()), float(anomalous.max()), 1.0, width)
    assert 1.0 in labels and labels == sorted(labels)
    assert {10.0, 100.0, 1000.0} <= set(labels)
    assert all(abs(v) >= width or abs(v - 1.0) <= width for v in labels)  # no 1e-12 labels


def test_examples_include_the_clearest_miss_and_the_strongest_false_alarm() -> None:
    results = table(
        [
            (1, NORMAL, TEST, 0.0),
            (2, NORMAL, TEST, 7.0),
            (3, NORMAL, TEST, 9.0),
            (4, int(Category.MISS_CAN), 46, 0.2),
            (5, int(Category.MISS_CAN), 46, 4.0),
            (6, int(Category.MISS_CAN), 46, 8.0),
            (7, int(Category.LOSE_CAN), 51, 0.9),
        ]
    )
    picks = example_picks(results, threshold=1.0)
    assert picks == {
        5: "typical of its category (median score)",
        7: "typical of its category (median score)",
        4: "the clearest missed anomaly (the lowest-scored one)",
        3: "the strongest false alarm",
    }
    assert set(example_picks(results, threshold=None)) == {5, 7}
    assert set(example_picks(results, threshold=-10.0)) == {5, 7, 3}  # nothing missed


def test_step_legend_numbers_the_steps_present_in_program_order() -> None:
    steps = {20: "WAIT_PART", 21: "TO_PICK", 22: "GRIP", 23: "TO_PLACE"}
    actions = np.array([21, 21, 23, 23, 99, 21], dtype=np.uint8)
    assert step_numbers(actions, steps) == {21: (1, "TO_PICK"), 23: (2, "TO_PLACE"), 99: (3, "code 99")}
