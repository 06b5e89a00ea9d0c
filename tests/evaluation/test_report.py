"""The report writes real, non-empty PNG pictures and an index.html that links them, opening
with the rates at the threshold and the alarmed cycles as a table."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from replay.schema import Category, Variant
from robotwatch.evaluation import aggregate_runs, auroc_table, category_aurocs
from robotwatch.evaluation.report import (
    AlarmSource,
    CycleView,
    cycle_figure,
    top_signal,
    typical_examples,
    write_report,
)
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


def view(sample: int, truth: tuple[float, float] | None, actions: bool, score: float = 123.4) -> CycleView:
    t = np.arange(250) / RATE
    signal = np.sin(2 * t)
    signal[120:140] += 2.0
    events = [event(1.3, 5.2, "motor_torque_3"), event(0.4, 2.1, "motor_torque_3")]
    steps = np.repeat(np.arange(5), 50).astype(np.uint8) if actions else None
    return CycleView(
        sample=sample,
        category="COLLISION_FOAM",
        score=score,
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
        scale=(12.0, 3.5),
        unit="N·m",
        percentile=100.0 if score > 50 else 40.0,
        n_normal=20,
    )


class Page(HTMLParser):
    """What a reader of index.html sees: the alarmed table's rows (cell texts), the rate
    sentences, the figures' sources and captions."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.rates: list[str] = []
        self.images: list[str] = []
        self.captions: list[str] = []
        self._in: list[str] = []
        self._table = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("class") or ""
        if tag == "tr" and self._table == "alarmed" and "data-sample" in a:
            self.rows.append([])
        if tag == "img":
            self.images.append(a["src"] or "")
        self._in.append(tag if tag != "p" else f"p.{a.get('class')}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = ""
        while self._in and self._in.pop().split(".")[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        where = self._in[-1] if self._in else ""
        if where == "td" and self._table == "alarmed" and self.rows:
            self.rows[-1].append(data)
        elif where == "p.rate":
            self.rates.append(data)
        elif where == "figcaption":
            self.captions.append(data)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 5_000
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 0.01  # something is drawn, not a blank canvas


def test_report_writes_valid_pictures_and_an_index(tmp_path: Path) -> None:
    methods = {"MTS-Flow": results(3.0, 0), "1-NN": results(1.0, 1)}
    cycles = [
        view(40, (1.2, 1.4), actions=True),
        view(41, (0.8, 0.8), actions=False, score=30.0),
        view(42, None, True),
    ]
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
    text = index.read_text(encoding="utf-8")
    page = Page(text)
    assert sorted(page.images) == pngs
    assert len(page.captions) == len(pngs)
    # every cycle over the threshold is a row of the alarmed table, strongest first
    scores = methods["MTS-Flow"].set_index("sample")["score"]
    over = scores[scores > 1.5].sort_values(ascending=False)
    assert [int(r[1]) for r in page.rows] == over.index.tolist()
    assert page.rows[0][3] == "∞×"  # the infinite score leads, its severity shown as people read it
    assert page.rows[1][3] == f"{over.iloc[1] / 1.5:.3g}×"
    normal = methods["MTS-Flow"][~methods["MTS-Flow"]["anomaly"]]
    false_alarms = int((normal["score"] > 1.5).sum())
    percent = 100 * false_alarms / len(normal)
    assert page.rates[0] == f"{false_alarms} of {len(normal)} normal test cycles alarmed ({percent:.1f} %)"
    assert sum("normal (false alarm)" in r for r in page.rows) == false_alarms
    # the examples say whether they alarmed, how strongly, and the physical unit
    captions = " ".join(page.captions)
    assert "ALARMED (2.47× the threshold): sample 40" in captions
    assert "MISSED (0.6× the threshold): sample 41" in captions
    assert "in N·m on the right" in captions and "above all 20 held-out normal cycles" in captions
    assert "motor_torque_3" in captions and "ground-truth event" in captions
    # no bare score next to a bare threshold anywhere a score is shown
    assert "123.4" not in text and "e+" not in text
    table = text[text.index('<pre class="table">') : text.index("</pre>")]
    assert "INVALID_POSITION" in table and "mean" in table
    assert f"{100 * summaries['MTS-Flow'].mean:.1f}" in table


def test_the_replays_verdicts_fill_the_alarmed_table(tmp_path: Path) -> None:
    """A replay's rows carry robot and time of day; the offline table names the file."""
    offline = results(3.0, 0)
    replayed = pd.concat([offline.assign(robot=r) for r in ("robot-001", "robot-002")], ignore_index=True)
    replayed["start_time"] = [f"2026-03-02T08:{i // 60:02d}:{i % 60:02d}+00:00" for i in range(len(replayed))]
    index = write_report(
        tmp_path,
        {"MTS-Flow": offline},
        thresholds={"MTS-Flow": 1.5},
        alarms=AlarmSource(replayed, 1.5, "MTS-Flow", "cell.parquet", normal_scores=[0.0, 1.0]),
    )
    page = Page(index.read_text(encoding="utf-8"))
    n_over = int((offline["score"] > 1.5).sum())
    assert len(page.rows) == 2 * n_over
    assert {r[0] for r in page.rows} == {"robot-001", "robot-002"}
    assert all(re.fullmatch(r"2026-03-0[12] \d\d:\d\d:\d\d \S+", r[2]) for r in page.rows)
    assert all(r[4] == "above all 2" for r in page.rows)  # the held-out normal comparison column
    plain = Page(write_report(tmp_path / "plain", {"MTS-Flow": offline}, {"MTS-Flow": 1.5}).read_text())
    assert {r[0] for r in plain.rows} == {"–"} and plain.rows[0][2].endswith(f"of {len(offline)}")


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
