"""The report writes real, non-empty PNG pictures and an index.html that links them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from replay.schema import Category, Variant
from robotwatch.evaluation import aggregate_runs, auroc_table, category_aurocs
from robotwatch.evaluation.report import CycleView, cycle_figure, top_signal, typical_examples, write_report
from robotwatch.mtsflow.localize import Event

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RATE = 100.0


def results(shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    categories = [12] * 30 + [0] * 8 + [5] * 8 + [9] * 8
    anomaly = np.array(categories) != Category.NORMAL_OPERATION
    scores = rng.normal(0, 1, len(categories)) + shift * anomaly
    scores[-1] = np.inf  # an overflowing score must not break the figures
    return pd.DataFrame(
        {
            "sample": np.arange(len(categories)),
            "category": categories,
            "setting": np.where(anomaly, 3, int(Variant.BETWEEN_A)),
            "anomaly": anomaly,
            "score": scores,
        }
    )


def event(time_s: float, strength: float, signal: str) -> Event:
    return Event(
        step=int(time_s * RATE),
        time_s=time_s,
        action="DOWN_PICK_LIN",
        strength=strength,
        top_signals=((signal, 0.6), ("motor_iq_2", 0.2)),
        top_axes=((3, 0.7),),
    )


def view(sample: int, truth: tuple[float, float] | None, actions: bool) -> CycleView:
    t = np.arange(250) / RATE
    signal = np.sin(2 * t)
    signal[120:140] += 2.0
    events = [event(1.3, 5.2, "motor_torque_3"), event(0.4, 2.1, "motor_torque_3")]
    steps = np.repeat(np.arange(5), 50).astype(np.uint8) if actions else None
    return CycleView(
        sample=sample,
        category="COLLISION_FOAM",
        score=123.4,
        sample_rate_hz=RATE,
        signal_name=top_signal(events) or "",
        signal=signal,
        reference=np.sin(2 * np.arange(240) / RATE),
        profile=np.exp(-((t - 1.3) ** 2) / 0.01) + 0.1,
        events=events,
        truth_s=truth,
        actions=steps,
        reference_sample=7,
        threshold=50.0,
    )


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 5_000
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 0.01  # something is drawn, not a blank canvas


def test_report_writes_valid_pictures_and_an_index(tmp_path: Path) -> None:
    methods = {"MTS-Flow": results(3.0, 0), "1-NN": results(1.0, 1)}
    cycles = [view(40, (1.2, 1.4), actions=True), view(41, (0.8, 0.8), actions=False), view(42, None, True)]
    summaries = {name: aggregate_runs([category_aurocs(table)]) for name, table in methods.items()}
    index = write_report(
        tmp_path / "report",
        methods,
        thresholds={"MTS-Flow": 1.5},
        cycles=cycles,
        tables=[auroc_table(summaries)],
    )

    pngs = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    assert pngs == [
        "cycle_40.png",
        "cycle_41.png",
        "cycle_42.png",
        "roc_per_category.png",
        "scores_0_mts_flow.png",
        "scores_1_1_nn.png",
    ]
    for name in pngs:
        assert_png(tmp_path / "report" / name)
    page = index.read_text(encoding="utf-8")
    linked = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(linked) == pngs
    assert page.count("<figcaption>") == len(pngs)
    assert "threshold 1.5" in page and "motor_torque_3" in page and "ground-truth event" in page
    table = page[page.index('<pre class="table">') : page.index("</pre>")]
    assert "INVALID_POSITION" in table and "mean" in table
    assert f"{100 * summaries['MTS-Flow'].mean:.1f}" in table


def test_cycle_figure_alone(tmp_path: Path) -> None:
    assert_png(cycle_figure(view(3, (1.0, 2.0), actions=True), tmp_path / "one.png"))


def test_top_signal_is_the_strongest_events_first_signal() -> None:
    assert (
        top_signal([event(0.4, 2.0, "motor_iq_1"), event(1.0, 7.0, "torque_sensor_a_5")])
        == "torque_sensor_a_5"
    )
    assert top_signal([]) is None


def test_typical_examples_pick_the_median_cycle_per_category() -> None:
    table = pd.DataFrame(
        {
            "sample": [1, 2, 3, 4, 5, 6, 7],
            "category": [12, 0, 0, 0, 5, 5, 5],
            "setting": [int(Variant.PRE_B), 1, 1, 1, 1, 1, 1],
            "anomaly": [False, True, True, True, True, True, True],
            "score": [0.0, 9.0, 1.0, 5.0, np.inf, 2.0, 3.0],
        }
    )
    assert typical_examples(table) == [4, 7]
    two = typical_examples(table, per_category=2)
    assert len(two) == 4 and two[0] == 4 and two[2] == 7


def test_report_without_normal_cycles_is_refused(tmp_path: Path) -> None:
    table = results(1.0, 0)
    with pytest.raises(ValueError, match="no normal test cycles"):
        write_report(tmp_path, {"x": table[table["anomaly"]]})
