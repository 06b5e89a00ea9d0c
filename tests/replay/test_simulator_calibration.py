"""The default cell against the real voraus-AD excerpt: levels, relations and noise of the signals.

Both are compared standing still (the excerpt holds the first second of four cycles: the
robot stands in the same pose, then starts its first move), plus the drives' relations
over the whole second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replay.schema import SIGNALS, Action, Variant
from replay.simulator.profile import load_profile
from replay.simulator.simulate import Simulator


@pytest.fixture(scope="module")
def real(excerpt: Path) -> pd.DataFrame:
    return pd.read_parquet(excerpt)


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    results = Simulator(load_profile("default"), seed=5, rate=100).simulate(
        [(s, Variant.PRE_A) for s in range(3)]
    )
    frames = [
        pd.DataFrame(c.signals, columns=SIGNALS).assign(sample=c.sample, action=c.action, time=c.time)
        for c, _ in results
    ]
    return pd.concat(frames, ignore_index=True)


def at_rest(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["action"] == Action.VOID_1) & (df["time"] < 0.45)]


def within_cycle_std(df: pd.DataFrame, column: str) -> float:
    return float(df.groupby("sample")[column].std().mean())


def test_supply_brake_and_robot_voltages_match_the_real_cell(real, sim) -> None:
    r, s = at_rest(real), at_rest(sim)
    for axis in range(1, 7):
        assert s[f"supply_voltage_{axis}"].mean() == pytest.approx(
            r[f"supply_voltage_{axis}"].mean(), abs=0.1
        )
        assert s[f"brake_voltage_{axis}"].mean() == pytest.approx(r[f"brake_voltage_{axis}"].mean(), abs=0.1)
        assert within_cycle_std(s, f"brake_voltage_{axis}") == pytest.approx(
            within_cycle_std(r, f"brake_voltage_{axis}"), rel=0.5
        )
    assert s["robot_voltage"].mean() == pytest.approx(r["robot_voltage"].mean(), abs=0.1)
    assert s["io_current"].mean() == pytest.approx(r["io_current"].mean(), abs=0.01)
    assert s["system_current"].mean() == pytest.approx(r["system_current"].mean(), abs=0.03)
    assert 0.3 < s["robot_current"].mean() < 1.0  # real: 0.56 A standing


def test_the_arm_and_its_model_carry_the_real_gravity_torques_at_the_start_pose(real, sim) -> None:
    """The link masses were refitted to the excerpt: the sensed torques are the real arm's,
    computed_torque the real controller's model of it (18-27 % heavier)."""
    r, s = at_rest(real), at_rest(sim)
    for axis in (2, 3, 4):
        for name in ("computed_torque", "torque_sensor_a", "torque_sensor_b"):
            column = f"{name}_{axis}"
            assert s[column].mean() == pytest.approx(r[column].mean(), rel=0.05, abs=0.3), column


def _line(df: pd.DataFrame, y: str, x: str) -> tuple[float, float]:
    slope, intercept = np.polyfit(df[x].to_numpy(), df[y].to_numpy(), 1)
    return float(slope), float(intercept)


def test_drive_relations_match_the_real_drives(real, sim) -> None:
    """motor_torque is an affine function of motor_iq on the real drives (their torque
    estimate carries an offset); axes 2 and 5 change their current too little in the
    excerpt to fix the line, so there their level at rest is compared."""
    for axis in (1, 3, 4, 6):
        (sim_slope, sim_offset), (real_slope, real_offset) = (
            _line(df, f"motor_torque_{axis}", f"motor_iq_{axis}") for df in (sim, real)
        )
        assert sim_slope == pytest.approx(real_slope, rel=0.05), axis
        assert sim_offset == pytest.approx(real_offset, abs=0.6), axis
    r, s = at_rest(real), at_rest(sim)
    for axis in (2, 5):
        column = f"motor_torque_{axis}"
        assert s[column].mean() == pytest.approx(r[column].mean(), rel=0.15, abs=0.5), column

    def ratio(df: pd.DataFrame, axis: int) -> float:
        x = df[f"motor_voltage_{axis}"] * df[f"motor_iq_{axis}"]
        return float(np.sum(df[f"power_motor_el_{axis}"] * x) / np.sum(x * x))

    for axis in range(1, 7):
        assert ratio(sim, axis) == pytest.approx(
            ratio(real, axis), rel=0.16
        )  # real: 1.11 (axis 5, tiny currents) to 1.23


def test_measurement_noise_at_rest_matches_the_real_sensors(real, sim) -> None:
    """Noise of standing joints: rows where the motor encoder stands still (a joint the
    integral pulls back against stiction creeps for a moment, a real one too)."""
    r, s = at_rest(real), at_rest(sim)
    for axis in range(1, 7):
        still_r = r[r[f"motor_velocity_{axis}"] == 0]
        still_s = s[s[f"motor_velocity_{axis}"] == 0]
        for name, tolerance in (
            ("joint_velocity", 0.5),
            ("torque_sensor_a", 1.0),
            ("motor_id", 1.0),
            ("supply_voltage", 0.5),
        ):
            column = f"{name}_{axis}"
            assert within_cycle_std(still_s, column) == pytest.approx(
                within_cycle_std(still_r, column), rel=tolerance
            ), column


def test_the_clock_ticks_like_the_real_controller(real, sim) -> None:
    for df in (real, sim):
        steps = df.groupby("sample")["time"].diff().dropna()
        assert steps.median() == pytest.approx(0.010067, abs=1e-5)
