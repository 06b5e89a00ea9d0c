"""The default cell against the real voraus-AD cell: every figure of issue 13's first table
within its band, computed by the same code (replay.simulator.fidelity) that
tests/bench/bench_fidelity.py prints, from the real excerpt and from simulated cycles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replay.schema import SIGNALS, Variant
from replay.simulator import fidelity
from replay.simulator.profile import load_profile
from replay.simulator.simulate import Simulator


def _table(results) -> pd.DataFrame:
    frames = [
        pd.DataFrame(c.signals, columns=SIGNALS).assign(
            sample=c.sample, category=c.category, setting=c.setting, action=c.action, time=c.time
        )
        for c, _ in results
    ]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def real(excerpt: Path) -> dict[str, float]:
    return fidelity.excerpt_figures(pd.read_parquet(excerpt))


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    """30 normal cycles (training and test normals) and two with more friction on axis 1."""
    batch = [(s, Variant.PRE_A if s % 2 else Variant.PRE_B) for s in range(30)]
    batch += [(100, Variant.A1_B), (101, Variant.A1_A)]
    return _table(Simulator(load_profile("default"), seed=7, rate=100).simulate(batch))


def test_the_figures_read_the_real_excerpt_as_it_is(real) -> None:
    """The figure code against what the excerpt plainly shows (issue 13, column "real")."""
    assert real["lag joint behind target [rows]"] == pytest.approx(1.0, abs=0.1)
    assert real["onset std [ms]"] < 6
    assert real["motor_iq_1 at rest [A]"] == pytest.approx(0.30, abs=0.01)
    assert real["motor_iq_1 at rest, axis-1 friction [A]"] == pytest.approx(-0.53, abs=0.01)
    assert real["model error at rest 2 [Nm]"] == pytest.approx(7.8, abs=0.1)
    assert real["spread of rest motor_iq 1 [A]"] == pytest.approx(0.049, abs=0.001)
    assert real["mean joint_position_2 [rad]"] == pytest.approx(1.573, abs=0.001)
    assert real["gravity torque axis 3 [Nm]"] == pytest.approx(-32.6, abs=0.1)
    assert real["axis 5 range [rad]"] > 0.05
    assert all(6 <= real[f"rise {g}, standing to moving"] <= 10 for g in ("torque sensors", "motor_iq"))
    assert [real[f"R2 motor_torque~motor_iq {a}"] < 0.995 for a in range(1, 7)] == [True] * 6


def test_every_figure_of_the_simulated_cell_is_within_its_band(real, simulated) -> None:
    sim = fidelity.excerpt_figures(simulated)
    sim.update(fidelity.cycle_figures(simulated))
    rows = fidelity.compare({**real, **fidelity.PUBLISHED}, sim, [*real, *fidelity.cycle_figures(simulated)])
    assert len(rows) == len(real) + 5
    outside = [f"{r.figure}: real {r.real:.4g}, simulated {r.sim:.4g} ({r.band})" for r in rows if not r.ok]
    assert outside == []


def test_the_bands_are_the_issues() -> None:
    text, lag = fidelity.band("lag joint behind target [rows]")
    assert text == "0.5..2" and lag(1.0, 0.5) and not lag(1.0, 0.45) and not lag(1.0, 2.1)
    _, factor = fidelity.band("motor_iq_1 at rest [A]")
    assert factor(0.3, 0.59) and not factor(0.3, 0.61) and not factor(0.3, -0.3) and not factor(0.3, 0.14)
    _, r2 = fidelity.band("R2 motor_torque~motor_iq 1")
    assert r2(0.99, 0.995) and not r2(0.99, 0.999)


def test_the_file_readers_give_what_the_figures_need(tmp_path: Path) -> None:
    from replay.simulator.dataset import write_dataset

    path = tmp_path / "cell.parquet"
    write_dataset(path, load_profile("default"), n_cycles=6, seed=3, categories=())
    first = fidelity.read_first_seconds(path)
    assert set(fidelity.COLUMNS) <= set(first.columns) and first["time"].max() < 1.0
    assert first["sample"].nunique() == 6
    timing = fidelity.cycle_figures(fidelity.read_timing(path))
    assert 10.5 < timing["cycle length [s]"] < 11.5
    assert np.isfinite(fidelity.excerpt_figures(first)["lag joint behind target [rows]"])
