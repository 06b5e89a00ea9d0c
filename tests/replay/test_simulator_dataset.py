"""A simulated dataset: the split, the files, the ground truth, the command, and an honest bench."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from replay import VorausFile
from replay.schema import ANOMALY_CATEGORIES, COLUMNS, Category, Variant
from replay.simulator import anomalies
from replay.simulator.dataset import truth_path, write_dataset
from replay.simulator.plan import REAL_ANOMALIES, REAL_NORMAL_TEST, REAL_TRAIN, parse_categories, plan
from replay.simulator.profile import load_profile
from replay.simulator.program import Cell
from replay.simulator.scenario import draw_normal
from robotwatch.cli.main import app


def test_the_default_plan_has_the_split_of_the_real_dataset() -> None:
    variants = plan(seed=0)
    counts = Counter(anomalies.CATEGORY_OF[v] for v in variants)
    assert sum(v == Variant.PRE_A for v in variants) == REAL_TRAIN
    assert counts[Category.NORMAL_OPERATION] == REAL_TRAIN + REAL_NORMAL_TEST
    assert sum(counts[c] for c in ANOMALY_CATEGORIES) == REAL_ANOMALIES
    assert all(counts[c] >= 60 for c in ANOMALY_CATEGORIES)
    assert set(variants) == set(Variant)  # every variant of every category occurs
    # scaled down, the proportions hold and every category still appears
    small = Counter(anomalies.CATEGORY_OF[v] for v in plan(60, seed=0))
    assert small[Category.NORMAL_OPERATION] == 60 - round(60 * REAL_ANOMALIES / 2122) and len(small) == 13
    assert plan(100, seed=1) == plan(100, seed=1) != plan(100, seed=2)


def test_anomaly_names_are_parsed_or_refused_clearly() -> None:
    assert parse_categories("all") == ANOMALY_CATEGORIES
    assert parse_categories("Lose_Can, collision_foam") == (Category.LOSE_CAN, Category.COLLISION_FOAM)
    assert parse_categories("none") == ()
    with pytest.raises(ValueError, match="unknown anomaly category FOAM"):
        parse_categories("foam")
    assert all(anomalies.CATEGORY_OF[v] == Category.LOSE_CAN for v in plan(30, [Category.LOSE_CAN]) if v < 72)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "cell.parquet"
    write_dataset(path, load_profile("default"), n_cycles=16, seed=8)
    return path


def test_the_written_table_reads_back_as_voraus_ad_with_reader_pandas_and_pyarrow(written: Path) -> None:
    cycles = list(VorausFile(written).cycles())
    assert [c.sample for c in cycles] == list(range(16))
    df = pd.read_parquet(written)
    assert tuple(df.columns) == COLUMNS and df.index.name == "index"
    np.testing.assert_array_equal(df.index.to_numpy(), np.arange(len(df)))
    assert pq.read_schema(written).names == ["index", *COLUMNS]
    assert len(df) == sum(c.n_steps for c in cycles)
    assert (df.groupby("sample")["anomaly"].first() == (df.groupby("sample")["category"].first() != 12)).all()


def test_the_ground_truth_sidecar_describes_every_cycle(written: Path) -> None:
    truth = pd.read_parquet(truth_path(written))
    assert truth_path(written).name == "cell.truth.parquet"
    table = pd.read_parquet(written, columns=["sample", "category", "setting"]).groupby("sample").first()
    assert list(truth["sample"]) == list(table.index)
    assert (truth.set_index("sample")[["category", "setting"]] == table).all().all()
    rows = pd.read_parquet(written, columns=["sample"]).groupby("sample").size()
    np.testing.assert_allclose(truth["duration_s"], rows.to_numpy() * 5 / 496.7, atol=0.03)
    events = truth.dropna(subset=["event_start_s"])
    assert (events["event_start_s"] < events["event_end_s"]).all()
    assert (events["event_end_s"] <= events["duration_s"]).all()


def test_cycle_length_alone_does_not_separate_normal_from_anomalous_cycles() -> None:
    """No timing belongs to anomalies only, except where the anomaly's physics changes it
    (the robot waits at an invalid pick position). Lengths come from the programs; the
    closed loop never changes a cycle's length."""
    profile = load_profile("default")
    cell = Cell(profile, profile.arm_model())

    def length(sample: int, variant: Variant) -> int:
        rng = np.random.default_rng([3, sample, 0])
        s = anomalies.apply(
            variant, draw_normal(profile, rng), profile, np.random.default_rng([3, sample, 1])
        )
        program = cell.program(s.can_offset, s.pick_yaw, s.dwell_s)
        return program.n_steps - program.lead_in

    timed = {Category.INVALID_POSITION}
    others = [v for c in ANOMALY_CATEGORIES if c not in timed for v in anomalies.VARIANTS[c]]
    normal = np.array([length(s, Variant.PRE_A) for s in range(40)])
    anomalous = np.array([length(100 + s, others[s % len(others)]) for s in range(40)])
    auroc = np.mean(anomalous[:, None] > normal[None]) + 0.5 * np.mean(anomalous[:, None] == normal[None])
    assert 0.3 < auroc < 0.7
    invalid = np.array([length(200 + s, Variant.PICK) for s in range(10)])
    assert invalid.min() > np.median(normal)  # the one category whose physics takes longer


def test_simulate_command_writes_a_dataset_and_summarizes_it(tmp_path: Path) -> None:
    out = tmp_path / "cmd.parquet"
    result = CliRunner().invoke(
        app, ["simulate", "--out", str(out), "--cycles", "4", "--anomalies", "lose_can", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "normal_operation" in result.output and "lose_can" in result.output and "rows" in result.output
    assert [c.sample for c in VorausFile(out).cycles()] == [0, 1, 2, 3]
    assert len(pd.read_parquet(truth_path(out))) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "200"], "200 Hz is not a voraus-AD rate"),
        (["--anomalies", "bumps"], "unknown anomaly category BUMPS"),
        (["--profile", "nowhere"], "no profile 'nowhere'"),
        (["--cycles", "0"], "at least 1 cycle"),
    ],
)
def test_simulate_command_refuses_bad_input_with_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "x.parquet"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "x.parquet").exists()
